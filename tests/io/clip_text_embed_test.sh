#!/usr/bin/env bash
# io/tools/clip_text_embed.py: the caption order checks run everywhere; the embedding itself needs
# OpenAI's `clip` package, so without it this test reports SKIPPED (ctest: skip code 77), never passes.
set -u
tool=$1; work=$2
rm -rf "$work"; mkdir -p "$work/img" "$work/cap"
printf '\x89PNG' > "$work/img/b.png"; cp "$work/img/b.png" "$work/img/a.JPG"
printf 'a red circle\n\nred, round\n' > "$work/cap/a.txt"
out=$(/usr/bin/python3 "$tool" --images "$work/img" --captions "$work/cap" --out "$work/e.h5" 2>&1); rc=$?
echo "$out"
# b.txt is missing: the tool must say so (naming the file) before any model is loaded
if [ $rc -eq 0 ] || ! grep -q "cap/b.txt: missing" <<<"$out"; then echo "FAIL: missing caption file not reported"; exit 1; fi
printf 'blue square\n' > "$work/cap/b.txt"
out=$(/usr/bin/python3 "$tool" --images "$work/img" --captions "$work/cap" --out "$work/e.h5" 2>&1); rc=$?
echo "$out"
if [ $rc -eq 3 ]; then
  grep -q "clip. package is not installed" <<<"$out" || { echo "FAIL: no reason given"; exit 1; }
  echo "SKIPPED: OpenAI's clip package is not installed here; the embedding step was not run"; exit 77
fi
[ $rc -eq 0 ] || { echo "FAIL: exit $rc"; exit 1; }
/usr/bin/python3 - "$work/e.h5" <<'PY' || exit 1
import sys, h5py
f = h5py.File(sys.argv[1]); e = f["text_emb"]
assert e.shape[0] == 3 and e.dtype == "float32", e.shape   # a.JPG's 2 lines, then b.png's 1
assert f.attrs["n_captions"] == 3 and str(f.attrs["text_encoder"]).startswith("clip-")
print("ok:", e.shape)
PY
