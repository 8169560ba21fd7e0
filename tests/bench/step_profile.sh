#!/bin/sh
# step_profile.sh: where the C training iteration spends its cycles (issue 4, part 2). Runs bench_step
# (1 thread, tiny config) under `perf record` with oneDNN's perf map on (ONEDNN_JIT_PROFILE=2, so its
# JIT kernels have names) and prints the top functions, the JIT instances of one kernel summed, then
# the same samples grouped by kind (oneDNN convs, oneDNN reorders, OpenBLAS GEMM, libm, ratlip's own
# code, kernel). Setup (weight init, first-touch page faults) is in the profile too: bench_step runs
# 2 + 2 x iterations steps after it, so it is a small part. The per-network-part split is step.sh's.
# usage: tests/bench/step_profile.sh [build dir (default: build)] [iterations (default 2)] [sample|batch]
#        [threads (default 1)]
set -eu
build=${1:-build}
iters=${2:-2}
mode=${3:-sample}
threads=${4:-1}
here=$(cd "$(dirname "$0")" && pwd)
bench="$build/tests/bench/bench_step"
[ -x "$bench" ] || { echo "step_profile.sh: $bench not found (build the bench_step target first)" >&2; exit 1; }
command -v perf > /dev/null || { echo "step_profile.sh: perf is not installed" >&2; exit 1; }
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q avx512f /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$here/cpu.sh"
bench_cpu_line
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads ONEDNN_JIT_PROFILE=2 DNNL_JIT_PROFILE=2 \
    perf record -F 499 -o "$tmp/perf.data" "$bench" "$threads" "$iters" "$here/../../jobs/configs/tiny.json" "$mode" \
    > "$tmp/out" 2> "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
grep '^#\|^ITER' "$tmp/out"
perf report -i "$tmp/perf.data" --no-children --sort dso,symbol --stdio 2> /dev/null | grep -v '^#' | grep -v '^$' |
    awk '{ p = $1; sub("%", "", p); dso = $2; $1 = ""; $2 = ""; $3 = ""; name = $0
           sub(/^ +/, "", name); sub(/^[0-9]+ /, "", name); sub(/^\[[.k]\] /, "", name); sub(/[ -]+$/, "", name)
           by[name] += p
           if (dso ~ /JIT/) kind = name ~ /reorder|single_blk/ ? "oneDNN reorders (JIT)" : name ~ /gemm/ ? "oneDNN GEMM (JIT)" : "oneDNN convs (JIT)"
           else if (dso ~ /gomp/) kind = "OpenMP runtime (waits, barriers)"
           else if (dso ~ /openblas/) kind = "OpenBLAS GEMM"
           else if (dso ~ /libm/) kind = "libm (expf, ...)"
           else if (dso ~ /kernel/) kind = "kernel (page faults, scheduling)"
           else if (dso ~ /libc/) kind = "libc (memset, memcpy)"
           else if (dso ~ /dnnl/) kind = "oneDNN (not JIT)"
           else if (dso ~ /bench_step/) kind = "ratlip code"
           else kind = "other"
           kinds[kind] += p }
         END { print "\ntop functions (% of samples, JIT instances of one kernel summed)"
               for (n in by) printf "%6.2f%%  %s\n", by[n], n | "sort -rn | head -20"
               close("sort -rn | head -20")
               print "\nby kind"
               for (k in kinds) printf "%6.2f%%  %s\n", kinds[k], k | "sort -rn" }'
