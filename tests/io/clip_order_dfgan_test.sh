#!/bin/sh
# clip_order_dfgan_test.sh RATLIP TOOL WORKDIR (issue 17): io/tools/clip_text_embed.py --layout dfgan lists
# the captions in the order `ratlip data import --layout dfgan --text-emb` reads its rows (train keys, then
# test keys, each key's caption lines). Checked without OpenAI's clip: a stand-in embedding file whose row
# for each caption is a hash of its text (rows in the tool's --print-order order) is imported, and every
# stored sample's embeddings must be the hashes of its own stored captions.
set -eu
RATLIP=$1; TOOL=$2; W=$3
PY=/usr/bin/python3
rm -rf "$W"; mkdir -p "$W"
# passed: the work directory goes (its checkpoints would fill a small CI disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$W"; exit "$st"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
$PY - "$W" <<'PYEOF'
import os, pickle, struct, sys, zlib
w = sys.argv[1]
d = os.path.join(w, "faces")
for sub in ("train", "test", "text", "images"):
    os.makedirs(os.path.join(d, sub))
def png(path, rgb):   # an 8x8 RGB PNG (the importer decodes by content, whatever the name says)
    raw = b"".join(b"\0" + bytes(rgb) * 8 for _ in range(8))
    chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)) +
                           chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
keys = {"train": ["k%02d" % i for i in (7, 3, 11, 0, 5)], "test": ["k%02d" % i for i in (9, 1)]}   # not sorted
for split, ks in keys.items():
    pickle.dump(ks, open(os.path.join(d, split, "filenames.pickle"), "wb"), protocol=2)
    for i, k in enumerate(ks):
        png(os.path.join(d, "images", k + ".jpg"), (20 * i, 100, 200))
        n = 1 + int(k[1:]) % 3
        open(os.path.join(d, "text", k + ".txt"), "w").write("".join("caption %d of %s\n\n" % (j, k) for j in range(n)))
PYEOF
$PY "$TOOL" --layout dfgan --data-dir "$W/faces" --dataset faces --print-order > "$W/order.txt" || fail "--print-order"
[ "$(head -1 "$W/order.txt")" = "$(printf 'k07\t2')" ] || { cat "$W/order.txt"; fail "first row is not k07 (train list order)"; }
$PY - "$W" <<'PYEOF'
import h5py, hashlib, numpy as np, os, sys
w = sys.argv[1]
rows = []
for line in open(os.path.join(w, "order.txt")):
    k, n = line.split("\t")
    rows += ["caption %d of %s" % (j, k) for j in range(int(n))]
def vec(text):   # a stand-in embedding: 512 floats from the caption's hash
    h = hashlib.sha256(text.encode()).digest()
    return np.frombuffer(h * 64, dtype=np.uint8)[:512].astype(np.float32) / 255
with h5py.File(os.path.join(w, "emb.h5"), "w") as f:
    f["text_emb"] = np.stack([vec(t) for t in rows])
    f.attrs["text_encoder"] = "clip-standin"
PYEOF
"$RATLIP" data import --layout dfgan --data-dir "$W/faces" --dataset faces --out "$W/ds" --shards 1 --size 8 \
    --text-emb "$W/emb.h5" > "$W/import.log" 2>&1 || { cat "$W/import.log"; fail "import with --text-emb"; }
$PY - "$W" <<'PYEOF'
import glob, h5py, hashlib, numpy as np, sys
w = sys.argv[1]
def vec(text):
    h = hashlib.sha256(text.encode()).digest()
    return np.frombuffer(h * 64, dtype=np.uint8)[:512].astype(np.float32) / 255
n = 0
for shard in sorted(glob.glob(w + "/ds/*.h5")):
    with h5py.File(shard, "r") as f:
        caps, emb, cnt = f["captions"][()], f["text_emb"][()], f["text_count"][()]
        for i in range(len(cnt)):
            for j in range(cnt[i]):
                c = caps[i, j].decode() if isinstance(caps[i, j], bytes) else caps[i, j]
                if not np.array_equal(emb[i, j], vec(c)):
                    sys.exit("FAIL: %s sample %d caption %d (%r): its embedding row is another caption's" % (shard, i, j, c))
                n += 1
if n != 13:
    sys.exit("FAIL: %d captions checked, the replica has 13" % n)
print("ok: %d captions: every stored embedding is its own caption's (tool order == import order)" % n)
PYEOF
# without --text-emb: the built-in encoder, with a warning that it is not the paper's
"$RATLIP" data import --layout dfgan --data-dir "$W/faces" --dataset faces --out "$W/ds_ngram" --shards 1 --size 8 \
    > "$W/import_ngram.log" 2>&1 || { cat "$W/import_ngram.log"; fail "import without --text-emb"; }
grep -q "warning: captions embedded with the built-in ngram encoder, not the CLIP text encoder" "$W/import_ngram.log" ||
  { cat "$W/import_ngram.log"; fail "no warning that ngram is not the paper's encoder"; }
echo "clip_order_dfgan: all checks passed"
