#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with -Werror, runs every test except
# the `slow` label, then builds with ASan+UBSan and runs the unit tests again.
#   tests/run.sh            full run (what CI runs)
#   tests/run.sh --quick    skip the sanitizer build
# Every stage runs even when an earlier one failed (a failed build skips only the tests that need it);
# the script ends with a table of the stages, their times and the CPU, and exits non-zero naming the
# stages that failed.
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0; [ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc)
# MPI tests run as root in CI and need more ranks than cores: the harness, not ratlip, allows that.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

summary=()
failed=()
t_all=$(date +%s)

# Disk: a CI machine's disk may be nearly full. Tests remove their work directories when they pass, so the
# suite's peak is small, but say what there was and the least there was during the run (a full disk fails
# tests in ways that look like bugs: "writing the Adam state failed; 0.0 MB free").
free_kb() { df -Pk . | awk 'NR == 2 { print $4 }'; }
free_at_start=$(free_kb)
least_free_file=$(mktemp)
echo "$free_at_start" >"$least_free_file"
( least=$free_at_start
  while sleep 3; do
    f=$(free_kb)
    if [ "$f" -lt "$least" ]; then least=$f; echo "$least" >"$least_free_file"; fi
  done ) &
disk_sampler=$!
trap 'kill $disk_sampler 2>/dev/null; rm -f "$least_free_file"' EXIT
gb() { awk -v k="$1" 'BEGIN { printf "%.1f GB", k / 1048576 }'; }
echo "tests/run.sh: $(gb "$free_at_start") free on the disk of $(pwd) at the start"
if [ "$free_at_start" -lt $((4 * 1048576)) ]; then
  echo "tests/run.sh: warning: under 4 GB free; the suite needs about 6 GB at its peak (more on a failure, whose" \
       "work directories are kept): tests may fail for lack of disk" >&2
fi
# stage NAME COMMAND...: runs COMMAND, records ok/FAILED and the seconds it took. Returns its status.
stage() {
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "==== tests/run.sh: $name"
  "$@"
  rc=$?
  if [ $rc -eq 0 ]; then
    summary+=("$(printf '  %-34s ok      %5d s' "$name" $(($(date +%s) - t0)))")
  else
    summary+=("$(printf '  %-34s FAILED  %5d s  (exit %d)' "$name" $(($(date +%s) - t0)) $rc)")
    failed+=("$name")
  fi
  return $rc
}
skipped() { summary+=("$(printf '  %-34s skipped (%s)' "$1" "$2")"); failed+=("$1"); }

# Without the dependencies nothing else can run: stop here, saying so.
if ! stage "install dependencies" tests/install-deps.sh; then
  echo "tests/run.sh: FAILED: installing dependencies (see above); nothing else was run" >&2
  exit 1
fi

if stage "build (Release, -Werror)" bash -c \
    "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRATLIP_WERROR=ON >/dev/null && cmake --build build -j$jobs"; then
  stage "ctest -LE slow" bash -c "cd build && ctest -LE slow --output-on-failure -j$jobs"
else
  skipped "ctest -LE slow" "the build failed"
fi

if [ $quick -eq 0 ]; then
  if stage "build (ASan+UBSan, Debug)" bash -c \
      "cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DRATLIP_WERROR=ON -DRATLIP_SANITIZE=ON >/dev/null && cmake --build build-sanitize -j$jobs"; then
    stage "sanitizer: ctest -L unit" bash -c \
      "cd build-sanitize && ASAN_OPTIONS=detect_leaks=0 ctest -L unit -LE slow --output-on-failure -j$jobs"
  else
    skipped "sanitizer: ctest -L unit" "the sanitizer build failed"
  fi
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo
echo "tests/run.sh: $(($(date +%s) - t_all)) s on $(nproc) cores of $cpu" \
     "(OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
printf '%s\n' "${summary[@]}"
least_free=$(cat "$least_free_file")
echo "  disk: $(gb "$free_at_start") free at the start, $(gb "$least_free") at the least" \
     "(the suite used up to $(gb $((free_at_start - least_free))))"
if [ ${#failed[@]} -gt 0 ]; then
  echo "tests/run.sh: FAILED: $(IFS=,; echo "${failed[*]}" | sed 's/,/, /g')" >&2
  exit 1
fi
echo "tests/run.sh: all tests passed"
