#!/bin/sh
# eval_recipe.sh RATLIP MAKE_DEMO_CKPT WORKDIR: the evaluation recipe keys (issue 17) end to end, with the
# seeded Inception network on a synthetic dataset of 4 test images:
#   eval.samples_per_caption = 3 (upstream's sample_times): 3 x 4 = 12 samples, with no --n, on 1, 2 and 3
#     ranks (FID/KID/CLIP score/R-precision within 1e-6 relative); the same numbers as eval.n_samples = 12
#     (the recipe is k passes of the one sample plan); --n still wins over it;
#   eval.inception_size = 75: `data stats --inception-size 75` writes fid-stats-test-inception_fid-75px.h5
#     (the default name of that size), evaluation finds it, and refuses statistics of another size naming
#     the file and both sizes; metrics.h5 /eval says the size and the plan;
#   in training: train.eval_every with both keys evaluates 12 samples at 75 px, and `ratlip eval` of that
#     checkpoint (its stored config) gives the same FID.
set -eu
RATLIP=$1; MK=$2; W=$3
PY=/usr/bin/python3
MPIRUN="mpirun --oversubscribe --allow-run-as-root -x OPENBLAS_NUM_THREADS=1"
rm -rf "$W"; mkdir -p "$W/run"
# passed: the work directory goes (its checkpoints would fill a small CI disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$W"; exit "$st"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
RECIPE="--set eval.samples_per_caption=3 --set eval.inception_size=75"
SMALL="--set eval.diversity_captions=2 --set eval.diversity_samples=2 --threads 1"

"$RATLIP" data synth --out "$W/data" --size 64 --train 8 --test 4 --seed 5 >/dev/null
"$RATLIP" data stats "$W/data" --split test --threads 1 --inception-size 75 | tee "$W/stats.log"
STATS="$W/data/fid-stats-test-inception_fid-75px.h5"
[ -f "$STATS" ] || fail "no $STATS (the default name at 75 px)"
grep -q "at 75 px" "$W/stats.log" || fail "data stats does not say the size"
[ -f "$W/data/fid-stats-test-inception_fid.h5" ] && fail "data stats at 75 px wrote the 299 px file name"
"$MK" "$W/run/ckpt-00000005.h5" 7 >/dev/null

for np in 1 2 3; do
  # shellcheck disable=SC2086
  $MPIRUN -np $np "$RATLIP" eval --ckpt "$W/run/ckpt-00000005.h5" --data "$W/data" $RECIPE $SMALL \
      --out "$W/out$np" > "$W/eval$np.log" 2>&1 || { cat "$W/eval$np.log"; fail "eval on $np ranks"; }
  grep -q "12 samples (eval.samples_per_caption x test images) on $np rank" "$W/eval$np.log" ||
    { cat "$W/eval$np.log"; fail "eval on $np ranks: not 3 x 4 = 12 samples"; }
  grep -q "Inception at 75 px" "$W/eval$np.log" || fail "eval on $np ranks does not say the Inception size"
done
cat "$W/eval1.log"
# the same plan by count, and --n over the recipe
# shellcheck disable=SC2086
"$RATLIP" eval --ckpt "$W/run/ckpt-00000005.h5" --data "$W/data" --set eval.n_samples=12 \
    --set eval.inception_size=75 $SMALL --out "$W/out_n" > "$W/eval_n.log" 2>&1 || { cat "$W/eval_n.log"; fail "eval.n_samples=12"; }
# shellcheck disable=SC2086
"$RATLIP" eval --ckpt "$W/run/ckpt-00000005.h5" --data "$W/data" --n 6 $RECIPE $SMALL \
    --out "$W/out_6" > "$W/eval_6.log" 2>&1 || { cat "$W/eval_6.log"; fail "--n 6 with the recipe"; }
grep -q "eval: .* 6 samples on 1 rank" "$W/eval_6.log" || { cat "$W/eval_6.log"; fail "--n 6 did not win"; }

$PY - "$W" <<'PYEOF'
import re, sys, h5py
w = sys.argv[1]
def values(name):
    t = open("%s/%s.log" % (w, name)).read()
    return {k: float(re.search(r"^%s (\S+)" % pat, t, re.M).group(1)) for k, pat in
            (("fid", "FID"), ("kid", "KID"), ("clip", "CLIP score"), ("rprec", "R-precision"))}
v = {np: values("eval%d" % np) for np in (1, 2, 3)}
for np in (2, 3):   # the budget of eval_cli.sh: the same samples, double sums regrouped by rank
    for k in v[1]:
        rel = abs(v[np][k] - v[1][k]) / max(abs(v[1][k]), 1e-12)
        if rel > 1e-6:
            sys.exit("FAIL: %s on %d ranks %.10g vs 1 rank %.10g (rel %.2e)" % (k, np, v[np][k], v[1][k], rel))
n = values("eval_n")
for k in v[1]:   # one rank both: the same samples in the same order, the same arithmetic
    if n[k] != v[1][k]:
        sys.exit("FAIL: %s with eval.samples_per_caption=3 %r, with eval.n_samples=12 %r" % (k, v[1][k], n[k]))
for np in (1, 3):
    with h5py.File("%s/out%d/metrics.h5" % (w, np), "r") as f:
        g = f["eval"]
        assert g["n_samples"][0] == 12, "metrics n_samples %r" % g["n_samples"][0]
        attr = lambda a: g.attrs[a].decode() if isinstance(g.attrs[a], bytes) else g.attrs[a]
        assert attr("inception_size") == "75", "metrics inception_size %r" % attr("inception_size")
        assert "samples_per_caption 3" in attr("sample_plan"), "metrics sample_plan %r" % attr("sample_plan")
print("ok   samples_per_caption 3 x 4 test images = 12 samples at 75 px: FID %.6f, the same on 1, 2, 3 ranks and as "
      "eval.n_samples=12; metrics.h5 says size and plan" % v[1]["fid"])
# statistics that claim another size, for the refusal
with h5py.File("%s/data/fid-stats-test-inception_fid-75px.h5" % w, "r") as src, h5py.File("%s/at299.h5" % w, "w") as dst:
    for k in src:
        src.copy(k, dst)
    for k, a in src.attrs.items():
        dst.attrs[k] = a
    dst.attrs["inception_size"] = 299
PYEOF

# shellcheck disable=SC2086
if "$RATLIP" eval --ckpt "$W/run/ckpt-00000005.h5" --data "$W/data" $RECIPE $SMALL --out "$W/out_bad" \
     --set eval.ref_stats="$W/at299.h5" > "$W/eval_bad.log" 2>&1; then fail "eval used statistics of another size"; fi
grep -q "$W/at299.h5: statistics of images resized to 299 px for Inception, eval.inception_size is 75" "$W/eval_bad.log" ||
  { cat "$W/eval_bad.log"; fail "size refusal message"; }
# the default statistics at 299 px do not exist: the message names the file evaluation looked for
if "$RATLIP" eval --ckpt "$W/run/ckpt-00000005.h5" --data "$W/data" --n 4 --threads 1 --out "$W/out_299" \
     > "$W/eval_299.log" 2>&1; then fail "eval at 299 px found statistics"; fi
grep -q "fid-stats-test-inception_fid.h5" "$W/eval_299.log" || { cat "$W/eval_299.log"; fail "299 px: file not named"; }
echo "ok   statistics of another size refused naming the file and both sizes"

# in training: both keys honoured, and ratlip eval of the checkpoint (its stored config) agrees
"$RATLIP" train --data "$W/data" --run-dir "$W/train" --steps 1 --threads 1 --set train.batch_per_rank=2 \
    --set train.eval_every=1 --set train.sample_every=0 --set train.log_every=1 $RECIPE \
    --set eval.diversity_captions=2 --set eval.diversity_samples=2 \
    --set 'model.g_channels=[64,64,32,32,16]' --set model.clip_width=64 --set model.clip_heads=2 \
    --set model.d_out_ch=64 --set model.mblock_mid=16 --set model.rat_hidden=32 --set model.netc_mid=32 \
    > "$W/train.log" 2>&1 || { cat "$W/train.log"; fail "train with evaluation"; }
grep -q "12 samples = 3 per test image, inception_fid [^ ]* at 75 px" "$W/train.log" ||
  { cat "$W/train.log"; fail "in-training evaluation: not 12 samples at 75 px"; }
"$RATLIP" eval --ckpt "$W/train/ckpt-00000001.h5" --data "$W/data" --threads 1 --out "$W/out_train" \
    > "$W/eval_train.log" 2>&1 || { cat "$W/eval_train.log"; fail "eval of the trained checkpoint"; }
$PY - "$W" <<'PYEOF'
import re, sys, h5py
w = sys.argv[1]
with h5py.File("%s/train/metrics.h5" % w, "r") as f:
    fid_train, n_train = float(f["eval/fid"][-1]), int(f["eval/n_samples"][-1])
t = open("%s/eval_train.log" % w).read()
fid_eval = float(re.search(r"^FID (\S+)", t, re.M).group(1))
assert n_train == 12, "in-training evaluation drew %d samples" % n_train
assert "12 samples (eval.samples_per_caption x test images)" in t, "ratlip eval of the checkpoint: %s" % t[-400:]
if abs(fid_train - fid_eval) > 1e-6 * max(1.0, abs(fid_eval)):   # eval prints 6 decimals
    sys.exit("FAIL: in-training FID %.6f, ratlip eval of its checkpoint %.6f" % (fid_train, fid_eval))
print("ok   in training: 12 samples at 75 px, FID %.6f = ratlip eval of the checkpoint" % fid_train)
PYEOF
echo "eval_recipe: all checks passed"
