#!/bin/sh
# sample_encoder.sh RATLIP MAKE_DEMO_CKPT WORKDIR: `ratlip sample` embeds captions with the training data's
# encoder as the checkpoint records it (bow for checkpoints before 2026-12), --text-encoder overrides it,
# and --text-emb FILE.h5 samples from precomputed embeddings:
#   - a checkpoint without the record uses bow: colour-swapped captions give identical pictures (same noise);
#   - one recording ngram uses ngram: the same two captions give different pictures;
#   - `text-embed --out` (ngram) then `sample --text-emb` gives the pictures `sample --caption` gives, and
#     the captions from the file's /captions in index.html;
#   - refusals: --text-emb with --caption (2), embeddings of the wrong width, a model trained on precomputed
#     embeddings sampled from captions (1), each with a message naming what to fix.
set -eu
RATLIP=$1; MK=$2; W=$3
PY=/usr/bin/python3
rm -rf "$W"; mkdir -p "$W"
# passed: the work directory goes (its checkpoints would fill a small CI disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$W"; exit "$st"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
A='a large red circle on a blue background'
B='a large blue circle on a red background'
"$MK" "$W/old.h5" 7 >/dev/null
"$MK" "$W/ngram.h5" 7 3 >/dev/null
"$MK" "$W/clip.h5" 7 0 >/dev/null
sample() { out=$1; shift; "$RATLIP" sample --out "$W/$out" --n 1 --threads 1 "$@" > "$W/$out.log" 2>&1 || { cat "$W/$out.log"; fail "sample $out"; }; }
# the pixels of two PNGs: equal (0) or not (1)
same_pixels() {
  $PY - "$1" "$2" <<'PYEOF'
import sys, matplotlib.image as m, numpy as np
a, b = m.imread(sys.argv[1]), m.imread(sys.argv[2])
sys.exit(0 if a.shape == b.shape and np.array_equal(a, b) else 1)
PYEOF
}
# the noise of a sample follows its (caption index, sample index): one caption per call, so both get the same
pair() {   # pair NAME CKPT [options]: sample A into NAME-a, B into NAME-b
  name=$1; ck=$2; shift 2
  sample "$name-a" --ckpt "$ck" --caption "$A" "$@"
  sample "$name-b" --ckpt "$ck" --caption "$B" "$@"
}
pair old "$W/old.h5"
grep -q "captions embedded with bow" "$W/old-a.log" || { cat "$W/old-a.log"; fail "old checkpoint: not bow"; }
same_pixels "$W/old-a/sample-000-00.png" "$W/old-b/sample-000-00.png" || fail "bow: colour-swapped captions differ"
pair ngram "$W/ngram.h5"
grep -q "captions embedded with ngram" "$W/ngram-a.log" || { cat "$W/ngram-a.log"; fail "ngram checkpoint: not ngram"; }
same_pixels "$W/ngram-a/sample-000-00.png" "$W/ngram-b/sample-000-00.png" &&
  fail "ngram: colour-swapped captions give one picture"
pair forced "$W/ngram.h5" --text-encoder bow
same_pixels "$W/forced-a/sample-000-00.png" "$W/forced-b/sample-000-00.png" || fail "--text-encoder bow not used"
sample ngram --ckpt "$W/ngram.h5" --caption "$A" --caption "$B"
echo "ok   encoder from the checkpoint (bow before 2026-12, ngram recorded), --text-encoder overrides"

"$RATLIP" text-embed --out "$W/emb.h5" "$A" "$B" > "$W/embed.log" || fail "text-embed"
grep -q "ngram" "$W/embed.log" || fail "text-embed does not default to ngram"
sample fromfile --ckpt "$W/ngram.h5" --text-emb "$W/emb.h5"
for i in 0 1; do
  same_pixels "$W/ngram/sample-00$i-00.png" "$W/fromfile/sample-00$i-00.png" || fail "--text-emb row $i differs from --caption"
done
grep -q "a large blue circle on a red background" "$W/fromfile/index.html" || fail "--text-emb captions not in index.html"
echo "ok   --text-emb: the pictures of --caption, captions from the file"

if "$RATLIP" sample --ckpt "$W/ngram.h5" --out "$W/x" --text-emb "$W/emb.h5" --caption "$A" > "$W/both.log" 2>&1; then fail "--text-emb with --caption accepted"; fi
grep -q "no --caption" "$W/both.log" || { cat "$W/both.log"; fail "message for --text-emb with --caption"; }
$PY -c "import h5py, numpy as np; f = h5py.File('$W/narrow.h5', 'w'); f['text_emb'] = np.ones((2, 16), np.float32)"
if "$RATLIP" sample --ckpt "$W/ngram.h5" --out "$W/x" --text-emb "$W/narrow.h5" > "$W/narrow.log" 2>&1; then fail "16-d embeddings accepted"; fi
grep -q "narrow.h5: /text_emb rows have 16 dims" "$W/narrow.log" || { cat "$W/narrow.log"; fail "message for the wrong width"; }
if "$RATLIP" sample --ckpt "$W/clip.h5" --out "$W/x" --caption "$A" > "$W/pre.log" 2>&1; then fail "precomputed model sampled from a caption"; fi
grep -q "give --text-emb" "$W/pre.log" || { cat "$W/pre.log"; fail "message for a precomputed-embedding model"; }
echo "sample_encoder: all checks passed"
