#!/bin/sh
# iter.sh: one tiny training iteration (batch 8, one rank): C with oneDNN convs, C with im2col convs
# (RATLIP_KERNELS=openblas's path) and the PyTorch reference (tests/bench/iter_torch.py), at 1 and 2
# threads. CPU time is the steady figure at 1 thread on a shared machine; wall time at 2.
# usage: tests/bench/iter.sh [build dir (default: build)] [iterations (default 3)]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
iters=${2:-3}
bench="$build/tests/bench/bench_iter"
[ -x "$bench" ] || { echo "iter.sh: $bench not found (build the bench_iter target first)" >&2; exit 1; }
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q avx512f /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX  # as the ratlip command selects it
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}  # as the ratlip command runs oneDNN's threads
. "$here/cpu.sh"
bench_cpu_line torch
for t in 1 2; do
    echo "== $t thread(s)"
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$bench" "$t" "$iters" | grep -v '^#'
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 "$here/iter_torch.py" --threads "$t" \
        --iters "$iters" | grep -v '^#'
done
