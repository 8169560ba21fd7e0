#!/usr/bin/env bash
# The README's first quick-start command. On a fresh Debian 12 machine: installs the dependencies
# (tests/install-deps.sh demo: what the build and the demo need, not the test tools),
# builds ratlip, makes the built-in synthetic dataset, trains a CLIP image tower on it (LiT, a minute or
# two), then trains the tiny RATLIP at 32x32 on 2 MPI ranks (1500 steps, ~15 min on 2 cores with bf16). Everything lands in runs/demo/:
#   data/            the synthetic dataset (HDF5 shards)
#   clip.h5          the self-trained CLIP tower (+ clip.run/ with its metrics)
#   ckpt-*.h5        GAN checkpoints          metrics.h5   losses, and the final evaluation (CLIP score,
#                                             FID/KID on a seeded Inception: 256 samples, indicative only)
#   samples/         sample grids *.png (fixed noise, test captions), index.html: them with captions as text
#   train.log, status
# Rerunning continues where the last run stopped (--resume auto). Environment knobs:
#   RATLIP_DEMO_DIR (runs/demo), RATLIP_DEMO_STEPS (GAN iterations, 1500), RATLIP_DEMO_RANKS (2),
#   RATLIP_DEMO_CONFIG (jobs/configs/demo.json: the tiny model at 32x32, EMA 0.995, a 100-step CLIP at lr 3e-4,
#   bf16, learning rates 2e-4/8e-4, text loss 10 (issue 15's recipe B), hard mismatched captions (another shape)
#   for half of D's mismatched pairs; the recipe tests/bench/quality.sh measures; jobs/configs/tiny.json is the
#   64x64 one). The colours follow the captions by 1500 steps, the shape from ~2100 (RATLIP_DEMO_STEPS=2700: README)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${RATLIP_DEMO_DIR:-runs/demo}
steps=${RATLIP_DEMO_STEPS:-1500}
ranks=${RATLIP_DEMO_RANKS:-2}
config=${RATLIP_DEMO_CONFIG:-jobs/configs/demo.json}

tests/install-deps.sh demo   # the build's and the demo's packages only (tests/run.sh installs the rest)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target ratlip
ratlip=build/ratlip

mpirun_flags=(-np "$ranks")
# Open MPI refuses root and more ranks than cores unless told; the demo runs as root on fresh machines.
[ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)
[ "$(nproc)" -lt "$ranks" ] && mpirun_flags+=(--oversubscribe)
threads=$(( $(nproc) / ranks )); [ "$threads" -lt 1 ] && threads=1

size=$($ratlip config show "$config" | grep -m1 '"image_size"' | tr -dc '0-9')
if ! ls "$out"/data/train-*.h5 >/dev/null 2>&1; then
  $ratlip data synth --out "$out/data" --size "$size" --train 4000 --test 256 --seed 1
fi
$ratlip data verify "$out/data"
# FID reference statistics of the test split (the demo's Inception is seeded: its FID/KID are only
# comparable between runs of this demo; the CLIP score uses the CLIP trained below and means something)
ls "$out"/data/fid-stats-test-*.h5 >/dev/null 2>&1 || $ratlip data stats "$out/data" --split test
# the attribute probe: a small CNN fitted on the real training images (cached next to the data); the
# final evaluation asks it whether each sample shows the shape and colours its caption asked for
$ratlip data probe "$out/data"

if [ ! -f "$out/clip.h5" ]; then
  echo "== demo: training a CLIP image tower on the synthetic captions (LiT)"
  mpirun "${mpirun_flags[@]}" $ratlip clip train --config "$config" --data "$out/data" \
    --out "$out/clip.h5" --run-dir "$out/clip.run" --threads "$threads" --resume auto
fi

echo "== demo: training RATLIP (tiny) on $ranks ranks for $steps steps"
mpirun "${mpirun_flags[@]}" $ratlip train --config "$config" --set model.clip_weights="$out/clip.h5" \
  --data "$out/data" --run-dir "$out" --steps "$steps" --threads "$threads" --resume auto \
  --set train.sample_every=100 --set train.ckpt_every=100 --set train.log_every=10 \
  --set train.eval_every="$steps" --set eval.n_samples=256

# does it follow the captions: the final evaluation's conditioning lines, each figure beside its ceiling
echo "== demo: how well the samples follow their captions (final evaluation, 256 samples of test captions):"
grep -E "^eval step [0-9]+: (R-precision|attributes|no attribute)" "$out/train.log" | tail -2 | sed 's/^/   /'
# what the CLIP tower the GAN learned from can tell apart: an attribute it sees at chance cannot be taught
clip_seen=$(grep -E "^eval step [0-9]+: zero-shot attributes" "$out/clip.run/train.log" 2>/dev/null | tail -1 || true)
if [ -n "$clip_seen" ]; then
  echo "   the CLIP tower it learned from, on real test images: ${clip_seen#*: }"
fi
echo "== demo: done. Sample grids: $out/samples/ (latest: $(ls "$out"/samples/*.png | tail -1));"
echo "   with their captions: $out/samples/index.html"
echo "   try: $ratlip sample --ckpt $(ls "$out"/ckpt-*.h5 | tail -1) --caption 'a large red circle on a blue background' --out $out/try"
