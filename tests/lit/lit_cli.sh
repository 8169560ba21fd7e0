#!/bin/sh
# `ratlip clip train` end to end on the synthetic dataset, with a reduced CLIP tower (width 64, 2 blocks)
# so it runs in seconds. Cases:
#   gap     a short run: top-1 retrieval on the test split well above chance both ways, the CLIP score
#           of test images with their own captions clearly above that with shuffled captions, and
#           the output is a CLIP weight file (every visual.* tensor, the dims attributes); the zero-shot
#           attribute accuracies (synthetic set) equal zero_shot_ref.py's (reference tower, to one image
#           of 128 per attribute: near-ties), colour and background well above chance
#   ranks   1 rank x batch 16 and 2 ranks x batch 8 (same global batch), with a caption bank of 256 extra
#           negatives (clip.text_negatives): the same bank, weights and metrics
#   resume  8 straight steps == 4 steps, then --resume auto to 8 (bit-exact; with a caption bank)
# usage: lit_cli.sh RATLIP WORKDIR CASE
set -eu
RATLIP=$1; WORK=$2; CASE=$3
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
# passed: the work directory goes (disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$WORK"; exit "$st"' EXIT
SMALL="--set model.clip_width=64 --set model.clip_layers=2 --set model.clip_heads=2 --set model.clip_taps=[0,1]
       --set model.prompt_first=0 --set model.prompt_last=1 --set train.log_every=10"
"$RATLIP" data synth --out data --size 64 --train 1200 --test 128 --seed 3 > /dev/null
case $CASE in
gap)
  "$RATLIP" clip train --data data --out clip.h5 --run-dir run --threads 2 $SMALL --steps 120 \
      --set clip.lr=0.002 --set clip.batch_per_rank=32 --set clip.eval_every=0 --set clip.eval_samples=0
  $PY - <<'PYEOF'
import h5py, numpy as np
m = h5py.File("run/metrics.h5", "r")
n = len(m["eval/step"])
get = lambda k: float(m["eval/" + k][n - 1])
i2t, t2i, ch, own, sh = get("acc_i2t"), get("acc_t2i"), get("chance"), get("clip_score"), get("clip_score_shuffled")
print("test split: top-1 image->text %.3f text->image %.3f chance %.4f (%.1fx / %.1fx) | CLIP score own %.4f shuffled %.4f gap %.4f"
      % (i2t, t2i, ch, i2t / ch, t2i / ch, own, sh, own - sh))
assert i2t >= 4 * ch and t2i >= 4 * ch, "retrieval not clearly above chance"
assert own - sh > 0.1, "CLIP score gap %.4f is not clearly positive" % (own - sh)
loss = m["train/loss"][: len(m["train/step"])]
assert loss[-1] < 0.8 * loss[0], "loss did not fall: %s" % loss
f = h5py.File("clip.h5", "r")
assert {k: int(f.attrs[k]) for k in ("width", "layers", "heads", "patch", "image_size", "embed_dim")} == \
    dict(width=64, layers=2, heads=2, patch=8, image_size=64, embed_dim=512), dict(f.attrs)
keys = [k for k in f if k.startswith("visual.")]
assert len(keys) == 6 + 12 * 2 + 2 and f["visual.proj"].shape == (64, 512), (len(keys), f["visual.proj"].shape)
assert all(np.isfinite(f[k][()]).all() for k in keys)
print("clip.h5: %d visual.* tensors, attributes ok; loss %.3f -> %.3f" % (len(keys), loss[0], loss[-1]))
zs = {a: float(m["eval/zs_" + a][n - 1]) for a in ("shape", "colour", "background", "size")}
print("zero-shot attributes:", zs)
assert zs["colour"] > 3 / 7 and zs["background"] > 3 / 7, "colour/background not clearly above chance 1/7: %s" % zs
PYEOF
  $PY "$HERE/zero_shot_ref.py" "$RATLIP" clip.h5 data - model.clip_width=64 model.clip_layers=2 \
      model.clip_heads=2 "model.clip_taps=[0,1]" model.prompt_first=0 model.prompt_last=1 \
      --compare run/metrics.h5 --tol 1
  ;;
ranks)
  COMMON="--data data --threads 1 $SMALL --set train.log_every=1 --steps 6 --set clip.lr=0.002 --set clip.eval_samples=64
          --set clip.eval_every=0 --set clip.text_negatives=256"
  "$RATLIP" clip train $COMMON --out one.h5 --run-dir run1 --set clip.batch_per_rank=16 | tee one.log
  mpirun --oversubscribe --allow-run-as-root -np 2 "$RATLIP" clip train $COMMON --out two.h5 --run-dir run2 \
      --set clip.batch_per_rank=8 | tee two.log
  # 1200 images x 5 captions hold far more than 256 distinct captions: the bank is full, and the same
  grep -h "caption bank of 256 distinct" one.log two.log | sort -u > bank.txt
  [ "$(wc -l < bank.txt)" -eq 1 ] || { echo "bank lines differ or are missing:"; cat bank.txt; exit 1; }
  $PY - <<'PYEOF'
import h5py, numpy as np
a, b = h5py.File("one.h5", "r"), h5py.File("two.h5", "r")
# absolute: 6 Adam steps of lr 2e-3 move weights by up to 1.2e-2; tensors whose exact gradient is zero
# (the key part of in_proj_bias: softmax ignores it) get Adam-normalised rounding noise, so a
# per-tensor relative figure would measure that noise, not the data-parallel arithmetic.
# Budget: 2 ranks regroup every gradient sum over the 16 samples' tokens (float32: ~2*lambda*u*sqrt(K),
# 3e-5 relative for K = 16*65); Adam turns a gradient error dg into an update error lr*dg/(|g| + eps) (eps
# 1e-6), <= lr*3e-5 for gradients well above eps and up to lr*|dg|/eps for the noise-only ones, whose
# |dg| ~ u*(their sums' scale ~1e-4) = 6e-12: 6 steps * lr * 6e-6 ~ 1e-10 - so 5e-5 (8x the 5.9e-6
# measured) is set by the steps' compounding through the tower, not bounded here; see the issue 11 report.
# The loss (rtol 1e-5) and the eval metrics (atol 1e-4; retrieval accuracy 2e-2: one of 64 test images
# flipping) move ~1e-8 on the kernel setups measured.
worst = max(float(np.abs(a[k][()] - b[k][()]).max()) for k in a)
big = max(float(np.abs(a[k][()]).max()) for k in a)
print("1 rank x 16 vs 2 ranks x 8 after 6 steps: max |weight difference| %.2e (largest weight %.3f) over %d tensors"
      % (worst, big, len(a)))
assert worst < 5e-5, worst
assert abs(a.attrs["logit_scale"] - b.attrs["logit_scale"]) < 1e-6
m1, m2 = h5py.File("run1/metrics.h5", "r"), h5py.File("run2/metrics.h5", "r")
for k in ("loss",):
    x, y = m1["train/" + k][()], m2["train/" + k][()]
    print("train %s: %s vs %s" % (k, x, y)); assert np.allclose(x, y, rtol=1e-5), k
for k in ("acc_i2t", "acc_t2i", "clip_score", "clip_score_shuffled"):
    x, y = m1["eval/" + k][()], m2["eval/" + k][()]
    print("eval %s: %s vs %s" % (k, x, y)); assert np.allclose(x, y, atol=2e-2 if k.startswith("acc") else 1e-4), k
PYEOF
  ;;
resume)
  COMMON="--data data --threads 2 $SMALL --set clip.batch_per_rank=8 --set clip.ckpt_every=4 --set clip.eval_samples=32
          --set clip.eval_every=0 --set clip.text_negatives=64"
  "$RATLIP" clip train $COMMON --out straight.h5 --run-dir runA --steps 8
  "$RATLIP" clip train $COMMON --out half.h5 --run-dir runB --steps 4
  "$RATLIP" clip train $COMMON --out resumed.h5 --run-dir runB --steps 8 --resume auto | tee resume.log
  grep -q "resume: runB/ckpt-00000004.h5 (step 4)" resume.log
  $PY - <<'PYEOF'
import h5py, numpy as np
a, b = h5py.File("straight.h5", "r"), h5py.File("resumed.h5", "r")
diff = max(float(np.abs(a[k][()] - b[k][()]).max()) for k in a)
print("8 straight steps vs 4 + resume 4: max |difference| %.3g over %d tensors" % (diff, len(a)))
assert diff == 0.0 and a.attrs["logit_scale"] == b.attrs["logit_scale"]
m = h5py.File("runB/metrics.h5", "r")
steps = list(m["train/step"][: len(m["train/step"])])
print("runB train rows at steps", steps); assert steps == sorted(set(steps)), steps
PYEOF
  ;;
*) echo "lit_cli.sh: unknown case $CASE"; exit 2 ;;
esac
echo "lit_cli.sh $CASE: ok"
