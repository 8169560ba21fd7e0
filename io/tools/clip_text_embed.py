#!/usr/bin/python3
"""clip_text_embed.py: CLIP text embeddings of a caption directory, for `ratlip data import --text-emb`.

    clip_text_embed.py --images DIR --captions DIR --out FILE.h5 [--model ViT-B/32] [--device cpu] [--batch 256]

Writes /text_emb float32 [total_captions, D] with one row per caption in the order `ratlip data import`
reads them: image files (*.png, *.jpg, *.jpeg, case-insensitive) sorted by their names' bytes, and for
each image the non-blank lines of captions/<image stem>.txt in order. Embeddings are the CLIP text
tower's projected EOT feature, NOT normalised (GALIP/RATLIP feed the raw vector, tobran/GALIP#11),
computed with `clip.tokenize(caption, truncate=True)`. Root attributes: text_encoder ("clip-<model>"),
model, n_images, n_captions.

Needs OpenAI's `clip` package and its weights (pip install git+https://github.com/openai/CLIP, which
downloads the model on first use): run it where those exist, and copy FILE.h5 to the machine that
imports the dataset. Without the package the script exits with status 3 and says so.
"""
import argparse
import os
import sys

import h5py
import numpy as np

EXTS = (".png", ".jpg", ".jpeg")


def caption_rows(images, captions):
    """[(image name, [captions])] in import order; errors name the file."""
    names = sorted((n for n in os.listdir(images) if os.path.splitext(n)[1].lower() in EXTS),
                   key=lambda n: n.encode())
    if not names:
        raise SystemExit("clip_text_embed.py: %s: no *.png, *.jpg or *.jpeg files" % images)
    rows = []
    for n in names:
        path = os.path.join(captions, os.path.splitext(n)[0] + ".txt")
        if not os.path.exists(path):
            raise SystemExit("clip_text_embed.py: %s: missing (captions of %s)" % (path, n))
        with open(path, encoding="utf-8") as f:
            lines = [l.strip() for l in f if l.strip()]
        if not lines:
            raise SystemExit("clip_text_embed.py: %s: no caption lines" % path)
        rows.append((n, lines))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True)
    ap.add_argument("--captions", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="ViT-B/32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args(argv)
    rows = caption_rows(a.images, a.captions)   # checked before the (slow) model load
    try:
        import clip
        import torch
    except ImportError:
        print("clip_text_embed.py: OpenAI's `clip` package is not installed here (pip install "
              "git+https://github.com/openai/CLIP); run this script where it is", file=sys.stderr)
        return 3
    model, _ = clip.load(a.model, device=a.device)
    model.eval()
    texts = [c for _, caps in rows for c in caps]
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), a.batch):
            tok = clip.tokenize(texts[i:i + a.batch], truncate=True).to(a.device)
            out.append(model.encode_text(tok).float().cpu().numpy())
    emb = np.concatenate(out).astype(np.float32)
    tmp = a.out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("text_emb", data=emb)
        f.attrs["text_encoder"] = "clip-" + a.model.replace("/", "-")
        f.attrs["model"] = a.model
        f.attrs["n_images"] = len(rows)
        f.attrs["n_captions"] = len(texts)
    os.replace(tmp, a.out)
    print("clip_text_embed.py: %d captions of %d images -> %s [%d, %d]" % (len(texts), len(rows), a.out, *emb.shape))
    return 0


if __name__ == "__main__":
    sys.exit(main())
