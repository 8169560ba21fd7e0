#!/bin/sh
# eval_cli.sh RATLIP MAKE_DEMO_CKPT WORKDIR: the evaluation commands end to end on a synthetic dataset
# and a demo checkpoint, with the seeded (random-weight) Inception network:
#   data stats → eval on 1, 2, 3 ranks (same FID/KID/CLIP score within 1e-6 relative; metrics.h5 /eval
#   row and attributes; the random-weight label everywhere) → fid (self = 0, refusal of other weights,
#   --force) → eval refuses statistics of other weights.
set -eu
RATLIP=$1; MK=$2; W=$3
PY=/usr/bin/python3
MPIRUN="mpirun --oversubscribe --allow-run-as-root -x OPENBLAS_NUM_THREADS=1"
NOTE="random-weight features: not comparable to published FID"
rm -rf "$W"; mkdir -p "$W/run"
# passed: the work directory goes (its checkpoints would fill a small CI disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$W"; exit "$st"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$RATLIP" data synth --out "$W/data" --size 64 --train 8 --test 8 --seed 3 >/dev/null
"$RATLIP" data stats "$W/data" --split test --threads 1 | tee "$W/stats.log"
grep -q "$NOTE" "$W/stats.log" || fail "data stats does not say '$NOTE'"
STATS="$W/data/fid-stats-test-inception_fid.h5"
[ -f "$STATS" ] || fail "no $STATS"
# the attribute probe (a quick one: 8 training images, 2 epochs): attribute accuracy joins the report
"$RATLIP" data probe "$W/data" --epochs 2 --threads 1 > "$W/probe.log" || { cat "$W/probe.log"; fail "data probe"; }
"$MK" "$W/run/ckpt-00000005.h5" 7

for np in 1 2 3; do
  # diversity: 3 captions x 2 noise vectors (6 more images through Inception, not the default 32)
  $MPIRUN -np $np "$RATLIP" eval --ckpt "$W/run/ckpt-00000005.h5" --data "$W/data" --n 6 --threads 1 \
      --set eval.diversity_captions=3 --set eval.diversity_samples=2 \
      --out "$W/out$np" > "$W/eval$np.log" 2>&1 || { cat "$W/eval$np.log"; fail "eval on $np ranks"; }
  cat "$W/eval$np.log"
  grep -q "$NOTE" "$W/eval$np.log" || fail "eval log ($np ranks) does not say '$NOTE'"
  [ -f "$W/out$np/eval-00000005.png" ] || fail "no sample grid from eval on $np ranks"
done

$PY - "$W" <<'PYEOF'
import sys, h5py, re
w = sys.argv[1]
def values(np):
    t = open("%s/eval%d.log" % (w, np)).read()
    return dict(fid=float(re.search(r"^FID (\S+)", t, re.M).group(1)),
                kid=float(re.search(r"^KID (\S+)", t, re.M).group(1)),
                clip=float(re.search(r"^CLIP score (\S+)", t, re.M).group(1)),
                rprec=float(re.search(r"^R-precision (\S+)", t, re.M).group(1)),
                rprec_real=float(re.search(r"^R-precision real (\S+)", t, re.M).group(1)),
                diversity=float(re.search(r"^diversity (\S+)", t, re.M).group(1)),
                diversity_real=float(re.search(r"^diversity real (\S+)", t, re.M).group(1)),
                **{"acc_" + m.group(1): float(m.group(2)) for m in re.finditer(r"^accuracy (\S+) (\S+)", t, re.M)})
v = {np: values(np) for np in (1, 2, 3)}
worst = 0.0
for np in (2, 3):
    # Budget: every sample is generated and embedded by the same arithmetic whatever the rank count (its
    # features are bit-identical: measured 0), and the statistics are double sums over 6 samples regrouped
    # by rank: <= 2*lambda*u64*sqrt(6) = 4e-15 relative on each sum, times FID's sensitivity to them (a
    # difference of traces ~1e3 here: ~1e-11). 1e-6 is that plus room for a kernel that picks another
    # algorithm at another batch size (float32 features ~1e-7 apart, FID's relative sensitivity ~1).
    for k in v[1]:
        rel = abs(v[np][k] - v[1][k]) / max(abs(v[1][k]), 1e-12)
        worst = max(worst, rel)
        if rel > 1e-6:
            sys.exit("FAIL: %s on %d ranks %.10g vs 1 rank %.10g (rel %.2e)" % (k, np, v[np][k], v[1][k], rel))
print("ok   rank-count invariance: FID/KID/CLIP score/R-precision/diversity on 1, 2, 3 ranks agree, worst rel diff %.2e"
      % worst)
# R-precision is a rate over the 6 samples, with chance 1/(1+candidates): the test split has 8 images
chance = float(re.search(r"^R-precision chance (\S+)", open("%s/eval1.log" % w).read(), re.M).group(1))
assert abs(chance - 1 / 8) < 1e-6, "R-precision chance %r (8 test images: 7 candidates)" % chance
for k in ("rprec", "rprec_real"):
    # the mean over eval.rprec_repeats = 3 draws of a rate over 6 samples: a multiple of 1/18
    assert 0 <= v[1][k] <= 1 and abs(v[1][k] * 18 - round(v[1][k] * 18)) < 1e-4, "%s %r: not k/18" % (k, v[1][k])
assert v[1]["diversity"] > 0, "diversity %r: the samples of a caption are identical" % v[1]["diversity"]
# attribute accuracy: shares of the 6 samples (each attribute and "all"), one per /labels column of the synthetic set
accs = sorted(k for k in v[1] if k.startswith("acc_"))
assert accs == ["acc_all", "acc_background", "acc_colour", "acc_shape", "acc_size"], "accuracy lines %r" % accs
for k in accs:
    assert abs(v[1][k] * 6 - round(v[1][k] * 6)) < 1e-4, "%s %r is not a share of 6 samples" % (k, v[1][k])
assert v[1]["acc_all"] <= min(v[1][k] for k in accs), "all attributes right more often than one of them"
print("     1 rank: FID %.6f KID %.8f CLIP %.4f" % (v[1]["fid"], v[1]["kid"], v[1]["clip"]))
for np in (1, 3):
    with h5py.File("%s/out%d/metrics.h5" % (w, np), "r") as f:
        g = f["eval"]
        n = len(g["step"])
        assert n == 1 and g["step"][0] == 5, "metrics: /eval/step %r" % g["step"][:n]
        # the log prints FID with 6 decimals, KID with 8, CLIP score with 4: half a printed digit (5e-7, 5e-9,
        # 5e-5) relative to max(1, |v|) is within these; metrics.h5 holds the unrounded double
        for col, key, prec in (("fid", "fid", 1e-6), ("kid", "kid", 1e-6), ("clip_score", "clip", 1e-4)):
            got = g[col][0]
            if abs(got - v[np][key]) > prec * max(1.0, abs(got)):
                sys.exit("FAIL: metrics /eval/%s = %r, printed %r" % (col, got, v[np][key]))
        note = g.attrs["features_note"]
        note = note.decode() if isinstance(note, bytes) else note
        if "random-weight features: not comparable to published FID" not in note:
            sys.exit("FAIL: /eval attribute features_note = %r" % note)
        assert g["n_samples"][0] == 6
        for col, key in (("r_precision", "rprec"), ("r_precision_real", "rprec_real"), ("diversity", "diversity"),
                         ("acc_shape", "acc_shape"), ("acc_all", "acc_all")):
            assert abs(g[col][0] - v[np][key]) <= 1e-6 * max(1.0, abs(g[col][0])), "metrics /eval/%s" % col
print("ok   metrics.h5 /eval: step 5, fid/kid/clip_score as printed, features_note labels random weights")
# a statistics file that claims other weights, for the refusal checks
with h5py.File("%s/data/fid-stats-test-inception_fid.h5" % w, "r") as src, h5py.File("%s/other.h5" % w, "w") as dst:
    for k in src:
        src.copy(k, dst)
    for k, a in src.attrs.items():
        dst.attrs[k] = a
    dst.attrs["weights_sha256"] = "0" * 64
PYEOF

"$RATLIP" fid "$STATS" "$STATS" | tee "$W/fid_self.log"
$PY -c "
import re,sys; v=float(re.search(r'FID (\S+)', open('$W/fid_self.log').read()).group(1))
sys.exit(0 if abs(v) < 1e-6 else 'FAIL: FID of a file with itself = %g' % v)"  # printed to 6 decimals
grep -q "$NOTE" "$W/fid_self.log" || fail "ratlip fid does not say '$NOTE'"
if "$RATLIP" fid "$STATS" "$W/other.h5" > "$W/fid_other.log" 2>&1; then fail "ratlip fid compared other weights"; fi
grep -q "not comparable: weights differ" "$W/fid_other.log" || { cat "$W/fid_other.log"; fail "refusal message"; }
"$RATLIP" fid "$STATS" "$W/other.h5" --force > "$W/fid_force.log" || fail "--force"
grep -q "^FID" "$W/fid_force.log" || fail "--force printed no FID"
if "$RATLIP" eval --ckpt "$W/run/ckpt-00000005.h5" --data "$W/data" --n 4 --threads 1 --out "$W/out_bad" \
     --set eval.ref_stats="$W/other.h5" > "$W/eval_bad.log" 2>&1; then fail "eval used statistics of other weights"; fi
grep -q "statistics made with weights" "$W/eval_bad.log" || { cat "$W/eval_bad.log"; fail "eval refusal message"; }
echo "ok   fid: self 0, other weights refused (--force overrides); eval refuses other weights' statistics"

# moments only (what io/tools/npz_to_fidstats.py makes of pytorch-fid's .npz): the same FID as the full
# file, and the report says KID is not available instead of failing
$PY - "$STATS" "$W/moments.h5" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as src, h5py.File(sys.argv[2], "w") as dst:
    for k in ("mu", "sigma"):
        src.copy(k, dst)
    for k, a in src.attrs.items():
        dst.attrs[k] = a
PYEOF
"$RATLIP" eval --ckpt "$W/run/ckpt-00000005.h5" --data "$W/data" --n 6 --threads 1 --out "$W/out_mom" \
    --set eval.diversity_samples=0 --set eval.ref_stats="$W/moments.h5" > "$W/eval_mom.log" 2>&1 ||
  { cat "$W/eval_mom.log"; fail "eval with moments-only statistics"; }
grep -q "KID n/a (reference statistics without features)" "$W/eval_mom.log" || { cat "$W/eval_mom.log"; fail "KID line"; }
$PY - "$W" <<'PYEOF'
import re, sys
w = sys.argv[1]
full = float(re.search(r"^FID (\S+)", open("%s/eval1.log" % w).read(), re.M).group(1))
mom = float(re.search(r"^FID (\S+)", open("%s/eval_mom.log" % w).read(), re.M).group(1))
if abs(full - mom) > 1e-6 * max(1.0, abs(full)):
    sys.exit("FAIL: FID with moments-only statistics %r, with the full file %r" % (mom, full))
print("ok   moments-only statistics: FID %.6f as with the full file, KID reported as n/a" % mom)
PYEOF

# a test split of another image size than the checkpoint's model: refused, the dataset and both sizes named
# (it used to evaluate 64-pixel samples against 32-pixel references without a word)
"$RATLIP" data synth --out "$W/data32" --size 32 --train 4 --test 4 --seed 3 >/dev/null
if "$RATLIP" eval --ckpt "$W/run/ckpt-00000005.h5" --data "$W/data32" --n 4 --threads 1 --out "$W/out32" \
     > "$W/eval32.log" 2>&1; then fail "eval accepted 32x32 test images for a 64x64 model"; fi
grep -q "$W/data32: the test images are 32x32 but model.image_size is 64" "$W/eval32.log" ||
  { cat "$W/eval32.log"; fail "refusal message for the test split's size"; }
# a test split whose caption embeddings are not model.text_dim wide: refused the same way
mkdir -p "$W/data256"
cp "$W/data/train-"*.h5 "$W/data256/"
$PY - "$W/data/test-00000-of-00001.h5" "$W/data256/test-00000-of-00001.h5" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as src, h5py.File(sys.argv[2], "w") as dst:
    for k in src:
        if k != "text_emb":
            src.copy(k, dst)
    dst["text_emb"] = src["text_emb"][..., :256]
    for k, a in src.attrs.items():
        dst.attrs[k] = a
    dst.attrs["embed_dim"] = 256
PYEOF
if "$RATLIP" eval --ckpt "$W/run/ckpt-00000005.h5" --data "$W/data256" --n 4 --threads 1 --out "$W/out256" \
     > "$W/eval256.log" 2>&1; then fail "eval accepted 256-wide caption embeddings for model.text_dim 512"; fi
grep -q "$W/data256: caption embeddings have dimension 256, model.text_dim is 512" "$W/eval256.log" ||
  { cat "$W/eval256.log"; fail "refusal message for the test split's embedding width"; }
echo "ok   a test split of another size or embedding width than the model's is refused"
echo "eval_cli: all checks passed"
