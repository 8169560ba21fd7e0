#!/usr/bin/python3
"""clip_text_embed.py: CLIP text embeddings of a caption directory, for `ratlip data import --text-emb`.

    clip_text_embed.py --images DIR --captions DIR [--recursive] [--train-list F --test-list F] --out FILE.h5
                       [--model ViT-B/32] [--device cpu] [--batch 256]
    clip_text_embed.py --layout dfgan --data-dir DIR --dataset birds|flower|faces|coco [--train-list F --test-list F]
                       --out FILE.h5 [...]

The DF-GAN layout (`ratlip data import --layout dfgan`): the keys of DIR/train/filenames.pickle then those of
DIR/test/filenames.pickle (or the text lists, which win), each key's non-blank lines of DIR/text/<key>.txt
(flower: the key without its extension). --print-order prints the rows' keys and stops (no model needed).

Writes /text_emb float32 [total_captions, D] with one row per caption in the order `ratlip data import`
reads them: image files (*.png, *.jpg, *.jpeg, case-insensitive; names starting with '.' skipped) sorted by
the bytes of their paths under DIR (--recursive: in class subfolders too, jobs/import_flat.h), only the keys
of --train-list/--test-list when given (a key: the path without extension), and for each image the
non-blank lines of captions/<path without extension>.txt in order. Embeddings are the CLIP text
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


def caption_lines(path, image):
    """The non-blank lines of one caption file, as the importer reads them; errors name the file."""
    if not os.path.exists(path):
        raise SystemExit("clip_text_embed.py: %s: missing (captions of %s)" % (path, image))
    with open(path, encoding="utf-8") as f:
        lines = [l.strip() for l in f if l.strip()]
    if not lines:
        raise SystemExit("clip_text_embed.py: %s: no caption lines" % path)
    return lines


def image_paths(images, recursive):
    """The image paths under images (relative), as `ratlip data import` lists them (before sorting)."""
    if not recursive:
        return [n for n in os.listdir(images) if not n.startswith(".") and os.path.splitext(n)[1].lower() in EXTS]
    paths, seen = [], set()
    for d, subdirs, files in os.walk(images, followlinks=True):
        st = os.stat(d)
        if (st.st_dev, st.st_ino) in seen:
            raise SystemExit("clip_text_embed.py: %s: a folder met twice (symlink loop)" % d)
        seen.add((st.st_dev, st.st_ino))
        subdirs[:] = [s for s in subdirs if not s.startswith(".")]
        rel = os.path.relpath(d, images)
        paths += [os.path.normpath(os.path.join(rel, n)) for n in files
                  if not n.startswith(".") and os.path.splitext(n)[1].lower() in EXTS]
    return paths


def list_keys(path):
    """The keys of a list file as `ratlip data import` reads it: a pickle (.pickle, .pkl), else text."""
    return read_keys(path, None) if path.endswith((".pickle", ".pkl")) else read_keys(None, path)


def caption_rows(images, captions, recursive=False, train_list=None, test_list=None):
    """[(image path, [captions])] in import order; errors name the file."""
    names = sorted(image_paths(images, recursive), key=lambda n: n.encode())
    if not names:
        raise SystemExit("clip_text_embed.py: %s: no *.png, *.jpg or *.jpeg files" % images)
    if train_list:   # the listed images only (the importer checks the lists themselves)
        listed = set(list_keys(train_list)) | set(list_keys(test_list))
        names = [n for n in names if os.path.splitext(n)[0] in listed]
    rows = []
    for n in names:
        rows.append((n, caption_lines(os.path.join(captions, os.path.splitext(n)[0] + ".txt"), n)))
    return rows


def read_keys(pickle_path, text_list):
    if text_list:
        with open(text_list, encoding="utf-8") as f:
            return [l.strip() for l in f if l.strip() and not l.strip().startswith("#")]
    import pickle
    with open(pickle_path, "rb") as f:
        keys = pickle.load(f, encoding="latin1")   # Python 2 files hold byte strings
    if not isinstance(keys, list) or not all(isinstance(k, (str, bytes)) for k in keys):
        raise SystemExit("clip_text_embed.py: %s: not a pickled list of strings" % pickle_path)
    return [k.decode() if isinstance(k, bytes) else k for k in keys]


def dfgan_rows(data_dir, dataset, train_list, test_list):
    """[(key, [captions])]: train keys then test keys, as `ratlip data import --layout dfgan` reads them."""
    rows = []
    for split, lst in (("train", train_list), ("test", test_list)):
        for k in read_keys(os.path.join(data_dir, split, "filenames.pickle"), lst):
            stem = os.path.splitext(k)[0] if dataset == "flower" else k
            rows.append((k, caption_lines(os.path.join(data_dir, "text", stem + ".txt"), k)))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images")
    ap.add_argument("--captions")
    ap.add_argument("--layout", choices=("flat", "dfgan"), default="flat")
    ap.add_argument("--data-dir")
    ap.add_argument("--dataset", choices=("birds", "flower", "faces", "coco"))
    ap.add_argument("--recursive", action="store_true", help="flat: images in class subfolders")
    ap.add_argument("--train-list")
    ap.add_argument("--test-list")
    ap.add_argument("--print-order", action="store_true", help="print each row's key and caption count, then stop")
    ap.add_argument("--out")
    ap.add_argument("--model", default="ViT-B/32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args(argv)
    if a.layout == "dfgan":
        if not a.data_dir or not a.dataset:
            ap.error("--layout dfgan needs --data-dir and --dataset")
        rows = dfgan_rows(a.data_dir, a.dataset, a.train_list, a.test_list)
    else:
        if not a.images or not a.captions:
            ap.error("the flat layout needs --images and --captions")
        if bool(a.train_list) != bool(a.test_list):
            ap.error("the flat layout takes --train-list and --test-list together")
        rows = caption_rows(a.images, a.captions, a.recursive, a.train_list, a.test_list)   # before the model load
    if a.print_order:
        for k, caps in rows:
            print("%s\t%d" % (k, len(caps)))
        return 0
    if not a.out:
        ap.error("--out is required")
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
