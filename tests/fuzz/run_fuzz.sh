#!/usr/bin/env bash
# run_fuzz.sh: the ctest side of tests/fuzz (label `fuzz`; see CMakeLists.txt there).
#   run_fuzz.sh build BIN              configure (once) and build the clang-14 fuzz project in BIN
#   run_fuzz.sh run BIN TARGET [SECS]  replay tests/fuzz/corpus/TARGET (seeds and every reproducer
#                                      found so far), then fuzz SECS seconds (default 20) from it
#   run_fuzz.sh long BIN TARGET SECS DIR  the long campaign: fuzz SECS seconds in libFuzzer's fork mode,
#                                      going on past crashes (inputs in DIR/artifacts, corpus in
#                                      DIR/corpus), then triage every crash input (ours or a library's)
# A crash, leak, UB report, an input taking over 5 s or a process over 2 GB fails the test, unless
# triage.py puts it inside libhdf5/libpng/libjpeg (README.md); the input is kept in BIN/artifacts/TARGET/
# and the message says how to replay it. Fuzzing starts from a fixed seed (RATLIP_FUZZ_SEED, default 1)
# so a run explores the same way each time, up to timing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:?usage: run_fuzz.sh build BIN | run BIN TARGET [SECS] | long BIN TARGET SECS DIR}
bin=${2:?missing BIN}

if [ "$mode" = build ]; then
  cc=$(command -v clang-14 || true)
  if [ -z "$cc" ]; then
    echo "run_fuzz: clang-14 not found: apt-get install clang-14 libclang-rt-14-dev (tests/install-deps.sh does)"
    exit 1
  fi
  if [ ! -f "$bin/CMakeCache.txt" ]; then
    cmake -S "$here" -B "$bin" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$bin" -j2
  exit 0
fi

case $mode in run|long) ;; *) echo "run_fuzz: unknown mode $mode"; exit 2 ;; esac
t=${3:?missing TARGET}
secs=${4:-20}
exe=$bin/fuzz_$t
seeds=$here/corpus/$t
[ -x "$exe" ] || { echo "run_fuzz: $exe missing (run the fuzz_build test first)"; exit 1; }
[ -d "$seeds" ] || { echo "run_fuzz: seed corpus $seeds missing"; exit 1; }
work=$bin/work/$t art=$bin/artifacts/$t
rm -rf "$work" "$bin/tmp/$t"
mkdir -p "$work" "$art" "$bin/tmp/$t"
export TMPDIR=$bin/tmp/$t   # the targets' scratch files
# A malloc over 2 GB returns NULL, as it would on a machine without the memory: code that does not
# check crashes, code that does reports an error. Leaks inside libhdf5 are suppressed (lsan.supp).
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:max_allocation_size_mb=2048:detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
opts=(-timeout=5 -rss_limit_mb=2048 -malloc_limit_mb=2048)   # inputs take milliseconds

fail() {
  echo "run_fuzz: fuzz_$t FAILED ($1). The input is in $art/; replay it with"
  echo "  $exe $art/<file>"
  echo "Fix the io/ code, then copy the input into $seeds/ so every run replays it."
  exit 1
}

if [ "$mode" = long ]; then
  dir=${5:?missing DIR}
  mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
  export TMPDIR=$dir/tmp
  "$exe" "${opts[@]}" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$secs" \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" "$seeds" || true
  echo "run_fuzz: fuzz_$t: triage of $(ls "$dir/artifacts" | wc -l) failure input(s)"
  for f in "$dir/artifacts"/*; do
    [ -f "$f" ] || continue
    "$exe" "${opts[@]}" "$f" > "$dir/triage.log" 2>&1 && { echo "  $(basename "$f"): does not fail on replay"; continue; }
    echo "  $(basename "$f"): $(python3 "$here/triage.py" "$dir/triage.log")"
  done
  exit 0
fi

files=("$seeds"/*)
echo "run_fuzz: fuzz_$t: replaying ${#files[@]} inputs of $seeds"
"$exe" "${opts[@]}" -artifact_prefix="$art/" "${files[@]}" > "$bin/replay-$t.log" 2>&1 ||
  { tail -n 60 "$bin/replay-$t.log"; fail "replay"; }

# Fuzz until the time is up. A crash that triage.py puts inside a system library (libhdf5 1.10.8 has
# several on damaged files) is noted, its input moved to $art/library/, and fuzzing goes on with the
# next seed; any other failure fails the test.
seed=${RATLIP_FUZZ_SEED:-1} end=$((SECONDS + secs)) execs=0 library=0
while [ $((end - SECONDS)) -ge 1 ]; do
  log=$bin/fuzz-$t.log
  if "$exe" "${opts[@]}" -artifact_prefix="$art/seed$seed-" -seed="$seed" -max_total_time=$((end - SECONDS)) \
       -print_final_stats=1 "$work" "$seeds" > "$log" 2>&1; then
    ok=1
  else
    ok=0
  fi
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  execs=$((execs + ${n:-0}))
  [ $ok = 1 ] && break
  verdict=$(python3 "$here/triage.py" "$log") && v=0 || v=$?
  if [ $v -ne 3 ]; then
    tail -n 80 "$log"
    echo "run_fuzz: triage: $verdict"
    fail "fuzzing"
  fi
  library=$((library + 1))
  mkdir -p "$art/library"
  mv "$art/seed$seed-"* "$art/library/" 2>/dev/null || true
  echo "run_fuzz: fuzz_$t: seed $seed: $verdict (not ratlip's code; input in $art/library/); going on"
  seed=$((seed + 1))
done
grep -E '^#[0-9]+.*DONE' "$log" || true
echo "run_fuzz: fuzz_$t: ok: $execs executions in ${secs} s, $library crash(es) inside system libraries," \
     "corpus $(ls "$work" | wc -l) new inputs"
