#!/bin/sh
# ops.sh: the op benchmark. Runs bench_ops (C, with the kernels ratlip picks: oneDNN convs when built
# with it), bench_ops again with RATLIP_KERNELS=openblas (the im2col + OpenBLAS path, "old") and
# ops_torch.py (PyTorch) at the same thread count (1, then 2) on the tiny config's shapes and prints
# one table per thread count:
#   op, shape, C ms, old ms and PyTorch ms (forward; forward+backward), ratio C/torch, C GFLOP/s.
# usage: tests/bench/ops.sh [build dir (default: build)] [min seconds per measurement (default 0.5)]
#        [rounds (default 3)]
# Each program runs `rounds` times, alternating, and every cell is the fastest over the rounds: on a
# shared 2-vCPU machine one round's figures move by +-50 % with the other users' load.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
secs=${2:-0.5}
rounds=${3:-3}
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
. "$here/cpu.sh"
bench_cpu_line torch

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in 1 2; do
    : > "$tmp/c$t"; : > "$tmp/o$t"; : > "$tmp/t$t"
    r=0
    while [ $r -lt "$rounds" ]; do
        OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$bench" "$t" "$secs" >> "$tmp/c$t"
        RATLIP_KERNELS=openblas OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$bench" "$t" "$secs" >> "$tmp/o$t"
        OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 "$here/ops_torch.py" --threads "$t" \
            --min-seconds "$secs" >> "$tmp/t$t"
        r=$((r + 1))
    done
    for f in c o t; do grep -m1 '^#' "$tmp/$f$t"; done
    grep -m1 '^# cpu:' "$tmp/c$t" || true
    # join the three outputs on (op, shape); GFLOP/s from the C time (fwd+bwd counts 3x the forward flops)
    awk -F'\t' -v threads="$t" '
        function lo(a, b) { return a == "" || b < a ? b : a }
        FILENAME == ARGV[1] && $1 == "ROW" { key = $2 "\t" $3; tf[key] = lo(tf[key], $4); tfb[key] = lo(tfb[key], $5); next }
        FILENAME == ARGV[2] && $1 == "ROW" { key = $2 "\t" $3; of[key] = lo(of[key], $4); ofb[key] = lo(ofb[key], $5); next }
        FILENAME == ARGV[3] && $1 == "ROW" {  # C: keep the fastest per key, print in first-seen order
            key = $2 "\t" $3
            if (!(key in cf)) { order[++n] = key; op[key] = $2; shp[key] = $3; gf[key] = $6 }
            cf[key] = lo(cf[key], $4); cfb[key] = lo(cfb[key], $5); next
        }
        END {
          for (i = 1; i <= n; i++) {
            key = order[i]; g = gf[key]
            if (!header++) {
                printf "\n%d thread(s)\n", threads
                printf "%-10s %-30s %8s %8s %8s %6s %8s %8s %8s %6s %7s %7s\n", "op", "shape", "C fwd", "old",
                       "torch", "C/t", "C f+b", "old", "torch", "C/t", "GF/s f", "GF/s fb"
            }
            printf "%-10s %-30s %8.3f %8.3f %8.3f %6.2f %8.3f %8.3f %8.3f %6.2f %7.1f %7.1f\n", op[key], shp[key],
                   cf[key], of[key], tf[key], cf[key] / tf[key], cfb[key], ofb[key], tfb[key], cfb[key] / tfb[key],
                   g / (cf[key] * 1e-3), 3 * g / (cfb[key] * 1e-3)
          }
        }' "$tmp/t$t" "$tmp/o$t" "$tmp/c$t"
    echo "(times in ms, fastest of $rounds rounds: CPU time at 1 thread, wall at 2; old = RATLIP_KERNELS=openblas; C/t = C / PyTorch, below 1 means C is faster)"
done
