#!/bin/sh
# step.sh: the training-step benchmark (issue 4). One full iteration of the tiny config at batch 8 on
# one rank (D step with MA-GP, Adam, G step, Adam, EMA), C (bench_step: core/gan.h with the kernels
# ratlip picks) vs the PyTorch reference (step_torch.py: tests/reference/ratlip.py's iteration), same
# machine, same run, at 1 and 2 threads, for both rat modes. Prints
#   1. per (rat_mode, threads): C ms, PyTorch ms, C/PyTorch, GFLOP/s of both sides;
#   2. per network part (from bench_step's re-strung iteration, 1 and 2 threads): C ms, share of the
#      step, GFLOP of the part (counted in PyTorch), C GFLOP/s of the part.
# FLOPs: 2 x MACs of every matrix product and convolution, forward and backward as executed
# (step_torch.py's docstring has the rule); the C side's GFLOP/s uses the sum of the parts, i.e. the
# arithmetic the C iteration does (the reference also computes NetD/NetC weight gradients in the G step
# and the CLIP blocks past the last tap for the real images, which C skips: its total is shown too).
# bf16 rows (issue 14): ratlip with train.precision=bf16 (which runs fp32 on a CPU without AMX or
# avx512_bf16: the "# precision:" line says what ran) against PyTorch under torch.autocast("cpu",
# torch.bfloat16). STEP_MODES (default "sample batch") and STEP_PRECISIONS (default "fp32 bf16") in the
# environment narrow the rows; STEP_BATCH (default 8) sets the batch of both sides (e.g. 2 for the paper
# config: tests/bench/step.sh build 2 2 jobs/configs/paper.json with STEP_BATCH=2).
# usage: tests/bench/step.sh [build dir (default: build)] [iterations per round (default 3)]
#        [rounds (default 3)] [config (default jobs/configs/tiny.json)]
# Every cell is the fastest over the rounds (C and PyTorch alternate): on a shared 2-vCPU machine one
# round's figures move by +-50 % with the other users' load. 1 thread: process CPU time (waiting for
# a core is not counted); 2 threads: wall time.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
iters=${2:-3}
rounds=${3:-3}
config=${4:-$here/../../jobs/configs/tiny.json}
bench="$build/tests/bench/bench_step"
[ -x "$bench" ] || { echo "step.sh: $bench not found (build the bench_step target first)" >&2; exit 1; }

# as ops.sh: OpenBLAS's SkylakeX kernel where the CPU has AVX-512 (Debian's picks Prescott), and
# oneDNN's OpenMP threads passive, as the ratlip command runs them. Values the user set are kept.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q avx512f /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
batch=${STEP_BATCH:-8}
# both sides at the same batch: the C side reads train.batch_per_rank from a copy of the config
/usr/bin/python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); c["train"]["batch_per_rank"] = int(sys.argv[2]); json.dump(c, open(sys.argv[3], "w"), indent=1)' \
    "$config" "$batch" "$tmp/config.json"
config_c=$tmp/config.json
. "$here/cpu.sh"
bench_cpu_line torch
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# rows: rat mode x precision (fp32, and bf16: ratlip's train.precision=bf16, PyTorch's autocast)
for mode in ${STEP_MODES:-sample batch}; do
  for prec in ${STEP_PRECISIONS:-fp32 bf16}; do
    label=$mode
    torch_prec=""
    [ "$prec" = fp32 ] || { label=$mode-bf16; torch_prec=--bf16; }
    for t in 1 2; do
        r=0
        while [ $r -lt "$rounds" ]; do
            OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$bench" "$t" "$iters" "$config_c" "$mode" "$prec" >> "$tmp/c"
            parts=""
            [ $r -eq 0 ] && [ $t -eq 1 ] && parts=--parts
            OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 "$here/step_torch.py" --threads "$t" \
                --iters "$iters" --config "$config" --batch "$batch" --rat-mode "$mode" $torch_prec $parts |
                sed "s/^PART/PART\t$label/" >> "$tmp/t"
            r=$((r + 1))
        done
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -m1 '^#' "$tmp/c"
grep -m1 '^# cpu:' "$tmp/c" || true
grep '^# precision:' "$tmp/c" | sort -u || true
grep -m1 '^#' "$tmp/t"

# C rows: ITER mode threads wall cpu; PART name wall cpu (after an ITER row: mode/threads from it)
# torch rows: ITER mode threads ms gflop_executed; PART mode name gflop
awk -F'\t' -v rounds="$rounds" -v iters="$iters" -v batch="$batch" '
    function lo(a, b) { return a == "" || b < a ? b : a }
    FILENAME == ARGV[1] && $1 == "ITER" { k = $2 "\t" $3; tms[k] = lo(tms[k], $4); tgf[$2] = $5; next }
    FILENAME == ARGV[1] && $1 == "PART" { pgf[$2 "\t" $3] = $4; gsum[$2] += $4; next }
    FILENAME == ARGV[2] && $1 == "ITER" {
        mode = $2; thr = $3; k = mode "\t" thr
        if (!(k in cms)) order[++n] = k
        cms[k] = lo(cms[k], thr == 1 ? $5 : $4); next
    }
    FILENAME == ARGV[2] && $1 == "PART" {
        k = mode "\t" thr "\t" $2
        if (!(k in pms)) { if (!seen[$2]++) pname[++np] = $2 }
        pms[k] = lo(pms[k], thr == 1 ? $4 : $3); next
    }
    END {
        printf "\none training iteration, batch %d, one rank (ms: fastest of %d rounds x %d iterations)\n", batch, rounds, iters
        printf "%-12s %4s %9s %9s %7s %9s %9s %10s %10s\n", "rat_mode", "thr", "C ms", "torch ms", "C/t",
               "C GF/s", "torch GF/s", "GF (C)", "GF (torch)"
        for (i = 1; i <= n; i++) {
            split(order[i], a, "\t"); m = a[1]
            printf "%-12s %4d %9.1f %9.1f %7.2f %9.1f %9.1f %10.2f %10.2f\n", m, a[2], cms[order[i]], tms[order[i]],
                   cms[order[i]] / tms[order[i]], gsum[m] / (cms[order[i]] * 1e-3), tgf[m] / (tms[order[i]] * 1e-3),
                   gsum[m], tgf[m]
        }
        for (i = 1; i <= n; i++) {
            split(order[i], a, "\t"); m = a[1]; thr = a[2]
            tot = 0
            for (j = 1; j <= np; j++) tot += pms[order[i] "\t" pname[j]]
            printf "\nC iteration by part, rat_mode %s, %d thread(s): parts sum %.1f ms\n", m, thr, tot
            printf "%-14s %9s %7s %8s %8s\n", "part", "C ms", "share", "GFLOP", "GF/s"
            for (j = 1; j <= np; j++) {
                p = pname[j]; ms = pms[order[i] "\t" p]; gf = pgf[m "\t" p]
                if (gf == "") printf "%-14s %9.1f %6.1f%% %8s %8s\n", p, ms, 100 * ms / tot, "-", "-"
                else printf "%-14s %9.1f %6.1f%% %8.2f %8.1f\n", p, ms, 100 * ms / tot, gf, gf / (ms * 1e-3)
            }
        }
    }' "$tmp/t" "$tmp/c"
echo
echo "(C/t = C / PyTorch, below 1 means C is faster; 1 thread: CPU time, 2 threads: wall time;"
echo " GF (C) = the arithmetic the C iteration does (sum of the parts), GF (torch) = what the reference executes)"

# peak resident memory of one process (MB): C after its warm-up iteration, PyTorch after its two
awk -F'\t' '
    FILENAME == ARGV[1] && $1 == "RSS" { k = $2 "\t" $3; if ($4 > t[k]) t[k] = $4; next }
    FILENAME == ARGV[2] && $1 == "RSS" { k = $2 "\t" $3; if (!(k in c)) o[++n] = k; if ($4 > c[k]) c[k] = $4; next }
    END {
        if (!n) exit
        printf "\npeak RSS, one process (MB, largest over the rounds)\n%-12s %4s %9s %9s %7s\n", "rat_mode", "thr", "C", "torch", "C/t"
        for (i = 1; i <= n; i++) { split(o[i], a, "\t"); printf "%-12s %4d %9.0f %9.0f %7.2f\n", a[1], a[2], c[o[i]], t[o[i]], c[o[i]] / t[o[i]] }
    }' "$tmp/t" "$tmp/c"
