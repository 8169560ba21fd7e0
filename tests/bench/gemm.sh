#!/bin/sh
# gemm.sh: which GEMM kernel is fastest for the shapes a training step uses (issue 14, item 4). Traces
# the distinct GEMM shapes of one tiny (or given config's) iteration (bench_step with
# RATLIP_GEMM_TRACE=1), then times each at one thread with OpenBLAS's core in use, oneDNN's sgemm and,
# where the CPU has AMX / avx512_bf16, oneDNN's bf16 matmul (bench_gemm). Run it twice to see what a
# preset slow core costs and what ratlip then picks:
#   tests/bench/gemm.sh build                              # the core ratlip/OpenBLAS picks itself
#   OPENBLAS_CORETYPE=Haswell tests/bench/gemm.sh build    # as the Zen 5 machines preset it
# usage: tests/bench/gemm.sh [build dir (default: build)] [config (default jobs/configs/tiny.json)]
#        [seconds per kernel and shape (default 0.2)]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
config=${2:-$here/../../jobs/configs/tiny.json}
secs=${3:-0.2}
for b in bench_step bench_gemm; do
    [ -x "$build/tests/bench/$b" ] || { echo "gemm.sh: $build/tests/bench/$b not found (build it first)" >&2; exit 1; }
done
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
shapes=$(mktemp)
trap 'rm -f "$shapes"' EXIT
RATLIP_GEMM_TRACE=1 OMP_NUM_THREADS=1 "$build/tests/bench/bench_step" 1 1 "$config" sample 2>&1 >/dev/null |
    sed -n 's/^gemm-shape //p' > "$shapes"
echo "$(wc -l < "$shapes") distinct GEMM shapes in one iteration ($config)"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$build/tests/bench/bench_gemm" "$secs" < "$shapes"
