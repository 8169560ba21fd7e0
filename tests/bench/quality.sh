#!/usr/bin/env bash
# quality.sh: the learning-curve benchmark (issue 15) — not a pass/fail test. The demo recipe (synthetic
# set, LiT CLIP, tiny RATLIP on 2 ranks) for QUALITY_STEPS steps, evaluating every QUALITY_EVAL_EVERY
# steps in training (FID, KID, CLIP score, R-precision, diversity and, once the attribute probe exists,
# attribute accuracies; wall time from metrics.h5 /train/time), then a table and a PNG plot
# (analysis/plot_quality.py). Recipe knobs: QUALITY_CONFIG (jobs/configs/demo.json, the demo's recipe;
# the dataset is made at its model.image_size), QUALITY_SETS ("section.key=value ..." passed as --set to
# `ratlip train`), QUALITY_CLIP_SETS (to `ratlip clip train`), QUALITY_ENCODER (ngram | bow).
# usage: tests/bench/quality.sh [build dir (default build)] [out dir (default runs/quality)]
# Environment: QUALITY_STEPS (3000), QUALITY_EVAL_EVERY (300), QUALITY_SAMPLES (eval.n_samples, 256),
#   QUALITY_RANKS (2), QUALITY_TRAIN (4000 training images).
# Rerunning with the same out dir resumes the training (--resume auto) and redraws the table and plot.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
build=${1:-build}
out=${2:-runs/quality}
steps=${QUALITY_STEPS:-3000}
every=${QUALITY_EVAL_EVERY:-300}
samples=${QUALITY_SAMPLES:-256}
ranks=${QUALITY_RANKS:-2}
ntrain=${QUALITY_TRAIN:-4000}
encoder=${QUALITY_ENCODER:-ngram}
config=${QUALITY_CONFIG:-$root/jobs/configs/demo.json}
ratlip=$build/ratlip
[ -x "$ratlip" ] || { echo "quality.sh: $ratlip not found (build ratlip first)" >&2; exit 1; }
size=$($ratlip config show "$config" | grep -m1 '"image_size"' | tr -dc '0-9')
mpirun_flags=(-np "$ranks")
[ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)
[ "$(nproc)" -lt "$ranks" ] && mpirun_flags+=(--oversubscribe)
threads=$(( $(nproc) / ranks )); [ "$threads" -lt 1 ] && threads=1
sets=(); for kv in ${QUALITY_SETS:-}; do sets+=(--set "$kv"); done
clip_sets=(); for kv in ${QUALITY_CLIP_SETS:-}; do clip_sets+=(--set "$kv"); done
mkdir -p "$out"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "quality: $(basename "$config") (${size}x$size), $steps steps, eval every $every ($samples samples), $ranks ranks x $threads threads, encoder $encoder, on $cpu"
echo "quality: train --set ${QUALITY_SETS:-(none)} | clip --set ${QUALITY_CLIP_SETS:-(none)}"

t0=$(date +%s)
if ! ls "$out"/data/train-*.h5 >/dev/null 2>&1; then
  $ratlip data synth --out "$out/data" --size "$size" --train "$ntrain" --test 256 --seed 1 --text-encoder "$encoder"
fi
ls "$out"/data/fid-stats-test-*.h5 >/dev/null 2>&1 || $ratlip data stats "$out/data" --split test --threads "$(nproc)"
# the attribute probe (when this build has it): cached next to the data, its real-image accuracy is the ceiling
if $ratlip data probe --help >/dev/null 2>&1; then $ratlip data probe "$out/data" --threads "$(nproc)"; fi
if [ ! -f "$out/clip.h5" ]; then
  mpirun "${mpirun_flags[@]}" $ratlip clip train --config "$config" --data "$out/data" \
    --out "$out/clip.h5" --run-dir "$out/clip.run" --threads "$threads" --resume auto "${clip_sets[@]}"
fi
t1=$(date +%s)
mpirun "${mpirun_flags[@]}" $ratlip train --config "$config" --set model.clip_weights="$out/clip.h5" \
  --data "$out/data" --run-dir "$out/run" --steps "$steps" --threads "$threads" --resume auto \
  --set train.sample_every="$every" --set train.ckpt_every="$every" --set train.log_every=50 \
  --set train.eval_every="$every" --set eval.n_samples="$samples" "${sets[@]}"
t2=$(date +%s)
echo "quality: set-up (data, stats, probe, CLIP) $((t1 - t0)) s, training with evaluations $((t2 - t1)) s"
/usr/bin/python3 "$root/analysis/plot_quality.py" "$out/run/metrics.h5" --out "$out/quality.png" --cpu "$cpu" \
  || echo "quality: no plot (python3 with h5py and matplotlib needed)"
