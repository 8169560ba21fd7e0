#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with -Werror, runs every test except
# the `slow` label, then builds with ASan+UBSan and runs the unit tests again.
#   tests/run.sh            full run (what CI runs)
#   tests/run.sh --quick    skip the sanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; [ "${1:-}" = "--quick" ] && quick=1
tests/install-deps.sh
jobs=$(nproc)
# MPI tests run as root in CI and need more ranks than cores: the harness, not ratlip, allows that.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRATLIP_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest -LE slow --output-on-failure -j"$jobs")
if [ $quick -eq 0 ]; then
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DRATLIP_WERROR=ON -DRATLIP_SANITIZE=ON >/dev/null
  cmake --build build-sanitize -j"$jobs"
  (cd build-sanitize && ASAN_OPTIONS=detect_leaks=0 ctest -L unit -LE slow --output-on-failure -j"$jobs")
fi
echo "tests/run.sh: all tests passed"
