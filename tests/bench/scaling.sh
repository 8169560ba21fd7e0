#!/bin/sh
# scaling.sh: data-parallel scaling of `ratlip train` (issue 5) on a synthetic dataset (`ratlip data
# synth`), tiny config:
#   strong: 1 rank x 2 threads (batch 16) vs 2 ranks x 1 thread (batch 8 each): same global batch 16
#   weak:   1 rank x 1 thread (batch 8)   vs 2 ranks x 1 thread (batch 8 each): same per-rank batch
# images/s from ratlip's own log lines, and from RATLIP_PROFILE=1 (jobs/trainer.c) rank 0's split of
# the step: data wait, D step, D reduce wait, G step, G reduce wait. The allreduce bandwidth ratlip
# achieves on D's gradients (all of D's buckets start after its backward, so D's reduce wait is the
# whole reduction) is compared with a plain MPI_Allreduce of the same bytes (bench_allreduce).
# usage: tests/bench/scaling.sh [build dir (default: build)] [steps per run (default 13)] [rounds (default 2)]
#        [config (default jobs/configs/tiny.json)]
# Every figure is the best log window (log every 4 steps, the first window, with the warm-up step,
# dropped) over the rounds: on a shared 2-vCPU machine one window moves by +-50 % with others' load.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
steps=${2:-13}
rounds=${3:-2}
config=${4:-$here/../../jobs/configs/tiny.json}
ratlip="$build/ratlip"
allreduce="$build/tests/bench/bench_allreduce"
for x in "$ratlip" "$allreduce"; do
    [ -x "$x" ] || { echo "scaling.sh: $x not found (build ratlip and bench_allreduce first)" >&2; exit 1; }
done
# as the ratlip command would set them (it re-execs for these otherwise), kept if the user set them
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q avx512f /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
. "$here/cpu.sh"
bench_cpu_line
# benchmark-only mpirun flags: this machine runs as root and has 2 vCPUs; no binding, so a 1-rank
# run's two threads are not pinned to one core
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the dataset at the config's image size (a test split of another size is refused)
size=$("$ratlip" config show "$config" | grep -m1 '"image_size"' | tr -dc '0-9')
"$ratlip" data synth --out "$tmp/data" --size "$size" --train 256 --test 16 > /dev/null

# run NAME RANKS THREADS BATCH: one training run, its log in $tmp/NAME.<round>
run() {
    name=$1 np=$2 thr=$3 batch=$4
    set -- train --config "$config" --data "$tmp/data" --run-dir "$tmp/run-$name-$r" --steps "$steps" \
        --threads "$thr" --set train.batch_per_rank="$batch" --set train.log_every=4 --set train.ckpt_every=0 \
        --set train.sample_every=0 --set train.eval_every=0 --set dist.check_every=100000
    if [ "$np" -eq 1 ]; then
        RATLIP_PROFILE=1 OMP_NUM_THREADS=$thr OPENBLAS_NUM_THREADS=$thr "$ratlip" "$@" > "$tmp/$name.$r" 2>&1
    else
        $MPIRUN -np "$np" -x RATLIP_PROFILE=1 -x OMP_NUM_THREADS="$thr" -x OPENBLAS_NUM_THREADS="$thr" \
            -x OPENBLAS_CORETYPE -x OMP_WAIT_POLICY "$ratlip" "$@" > "$tmp/$name.$r" 2>&1
    fi || { echo "scaling.sh: run $name failed:" >&2; tail -20 "$tmp/$name.$r" >&2; exit 1; }
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
r=0
while [ $r -lt "$rounds" ]; do
    run 1x2 1 2 16
    run 2x1 2 1 8
    run 1x1 1 1 8
    r=$((r + 1))
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

# best window of a configuration: "img/s ms/step data D Dwait G Gwait share" (the profile line
# printed just before the step line of the window with the most images/s, first window dropped)
best() {
    cat "$tmp/$1".* | awk '
        /^profile:/ { split($0, f, "|"); p = ""
                      for (i = 1; i <= 7; i++) { n = split(f[i], w, " "); for (j = 1; j <= n; j++) if (w[j] ~ /^[0-9.]+$/) { p = p " " w[j]; break } }
                      next }
        /^step / { win++; split($0, f, "|"); split(f[2], w, " ")
                   if ($2 ~ /^ *4\// || $2 == "4/" ) next
                   if (w[1] + 0 > bestv) { bestv = w[1] + 0; bestp = p } }
        END { print bestv, bestp }'
}
# parameter counts (floats) from the model line: G and D + C
counts=$(grep -m1 '^model:' "$tmp/1x1.0" | sed -E 's/.*G ([0-9]+) trainable \| D ([0-9]+) \+ C ([0-9]+).*/\1 \2 \3/')
set -- $counts
g_mb=$(awk -v n="$1" 'BEGIN { printf "%.3f", n * 4 / 1048576 }')
d_mb=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.3f", (a + b) * 4 / 1048576 }')
grep -m1 'BLAS\|oneDNN' "$tmp/1x1.0" || true
grep -m1 '^cpu:' "$tmp/1x1.0" || true

b11=$(best 1x1) b12=$(best 1x2) b21=$(best 2x1)
echo
printf "%-26s %8s %9s %7s %7s %8s %7s %8s %7s\n" "run (ranks x threads, batch)" "img/s" "ms/step" "data" "D step" "D wait" \
       "G step" "G wait" "wait %"
for x in "1x1 1 x 1, batch 8:$b11" "1x2 1 x 2, batch 16:$b12" "2x1 2 x 1, batch 8+8:$b21"; do
    label=${x#* }; label=${label%%:*}; vals=${x#*:}
    echo "$vals" | awk -v l="$label" '{ printf "%-26s %8.2f %9.1f %7.1f %7.1f %8.1f %7.1f %8.1f %6.1f%%\n", l, $1, $2, $3, $4, $5, $6, $7, 100 * ($5 + $7) / $2 }'
done
echo "$b11|$b12|$b21" | awk -F'|' '{ split($1, a, " "); split($2, b, " "); split($3, c, " ")
    printf "\nstrong scaling (global batch 16): 2x1 / 1x2 images/s = %.2f\n", c[1] / b[1]
    printf "weak scaling efficiency (batch 8 per rank): 2x1 / (2 x 1x1) images/s = %.2f\n", c[1] / (2 * a[1]) }'

# the same bytes through a plain MPI_Allreduce (and DpGrads without overlap), on 2 ranks
echo
echo "allreduce on 2 ranks: D+C gradients $d_mb MiB, G gradients $g_mb MiB"
for mb in "$d_mb" "$g_mb"; do
    $MPIRUN -np 2 "$allreduce" "$mb" 4096 0 2>&1 | grep -E "^buffer|plain MPI_Allreduce|DpGrads \(bucketed"
done
echo "$b21" | awk -v d="$d_mb" '{ printf "ratlip train, 2x1: D+C reduce wait %.1f ms per step = %.3f GB/s algbw (%.2f MiB; includes waiting for the slower rank)\n", $5, d * 1.048576e6 / ($5 * 1e-3) / 1e9, d }'
echo "(wait % = share of rank 0's step spent in the D and G reduce waits; G's buckets overlap its backward, D's cannot)"
