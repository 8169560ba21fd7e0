#!/bin/sh
# ops.sh: the op benchmark. Runs bench_ops (C, with the kernels ratlip picks: oneDNN convs when built
# with it), bench_ops again with RATLIP_KERNELS=openblas (the im2col + OpenBLAS path, "old") and
# ops_torch.py (PyTorch) at the same thread count (1, then 2) on the tiny config's shapes and prints
# one table per thread count:
#   op, shape, C ms, old ms and PyTorch ms (forward; forward+backward), ratio C/torch, C GFLOP/s.
# usage: tests/bench/ops.sh [build dir (default: build)] [min seconds per measurement (default 0.5)]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
secs=${2:-0.5}
bench="$build/tests/bench/bench_ops"
[ -x "$bench" ] || { echo "ops.sh: $bench not found (build the bench_ops target first)" >&2; exit 1; }

# Debian's OpenBLAS picks the slow Prescott kernel on this CPU; SkylakeX is the right one where the
# CPU has AVX-512. OpenBLAS reads the variable when it loads, so it must be set before the programs
# start. A value the user set is kept.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q avx512f /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
fi

# ratlip itself runs oneDNN's OpenMP threads with OMP_WAIT_POLICY=passive (core/kernels.h,
# kern_startup_env); measure what it does. A value the user set is kept.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in 1 2; do
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$bench" "$t" "$secs" > "$tmp/c$t"
    RATLIP_KERNELS=openblas OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$bench" "$t" "$secs" > "$tmp/o$t"
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 "$here/ops_torch.py" --threads "$t" \
        --min-seconds "$secs" > "$tmp/t$t"
    grep '^#' "$tmp/c$t" "$tmp/o$t" "$tmp/t$t" | sed 's/^[^:]*://'
    # join the three outputs on (op, shape); GFLOP/s from the C time (fwd+bwd counts 3x the forward flops)
    awk -F'\t' -v threads="$t" '
        FILENAME == ARGV[1] && $1 == "ROW" { key = $2 "\t" $3; tf[key] = $4; tfb[key] = $5; next }
        FILENAME == ARGV[2] && $1 == "ROW" { key = $2 "\t" $3; of[key] = $4; ofb[key] = $5; next }
        FILENAME == ARGV[3] && $1 == "ROW" {
            key = $2 "\t" $3; g = $6
            if (!header++) {
                printf "\n%d thread(s)\n", threads
                printf "%-10s %-30s %8s %8s %8s %6s %8s %8s %8s %6s %7s %7s\n", "op", "shape", "C fwd", "old",
                       "torch", "C/t", "C f+b", "old", "torch", "C/t", "GF/s f", "GF/s fb"
            }
            printf "%-10s %-30s %8.3f %8.3f %8.3f %6.2f %8.3f %8.3f %8.3f %6.2f %7.1f %7.1f\n", $2, $3, $4, of[key],
                   tf[key], $4 / tf[key], $5, ofb[key], tfb[key], $5 / tfb[key], g / ($4 * 1e-3), 3 * g / ($5 * 1e-3)
        }' "$tmp/t$t" "$tmp/o$t" "$tmp/c$t"
    echo "(times in ms, fastest run; old = RATLIP_KERNELS=openblas; C/t = C / PyTorch, below 1 means C is faster)"
done
