#!/usr/bin/python3
"""clip_convert_ref.py: a test of io/tools/convert_clip.py. Builds the reference CLIP tower of
tests/reference/ratlip.py (tiny config, model.clip_remap as given), randomly initialised, saves it as an
OpenAI-style checkpoint (state_dict with `visual.*` keys, fp16 like the released ones, plus a text-side key
the converter must drop), converts it, loads the converted file back into the tower (ratlip.py's own
loader) and writes /img [B,3,S,S] in [-1,1], /emb [B,E] and /emb_f64 (the same tower in float64) to --out.

    clip_convert_ref.py --out REF.h5 --weights-out CLIP.h5 [--batch 3] [--remap standard|galip]
"""
import argparse
import copy
import os
import subprocess
import sys

import h5py
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ratlip  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--weights-out", required=True)
    ap.add_argument("--batch", type=int, default=3)
    ap.add_argument("--remap", default="standard")
    args = ap.parse_args()
    cfg = ratlip.load_config(sets=["model.clip_remap=%s" % args.remap])
    tower = ratlip.VisionTower(cfg["model"]).eval()
    tower.init_random(77)
    sd = {"visual." + k: v.detach().clone().half() for k, v in tower.state_dict().items()}
    sd["token_embedding.weight"] = torch.zeros(10, 4).half()
    pth = args.weights_out + ".pt"
    torch.save(sd, pth)
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "io", "tools", "convert_clip.py")
    subprocess.run([sys.executable, tool, pth, args.weights_out], check=True)
    with h5py.File(args.weights_out, "r") as f:
        if "token_embedding.weight" in f:
            raise SystemExit("clip_convert_ref.py: the converter kept a text-side tensor")
        m = cfg["model"]
        for k, want in (("width", m["clip_width"]), ("layers", m["clip_layers"]), ("heads", m["clip_heads"]),
                        ("patch", m["clip_patch"]), ("image_size", m["clip_image_size"]),
                        ("embed_dim", m["clip_embed_dim"])):
            if int(f.attrs[k]) != want:
                raise SystemExit("clip_convert_ref.py: attribute %s = %d, expected %d" % (k, f.attrs[k], want))
    tower.load_file(args.weights_out)
    tower.mean, tower.std = tower.mean.float(), tower.std.float()   # kept float64 for ratlip.py --double
    gen = torch.Generator().manual_seed(5)
    S = cfg["model"]["clip_image_size"]
    img = torch.rand(args.batch, 3, S, S, generator=gen) * 2 - 1
    with torch.no_grad():
        _, emb = tower.encode(img)
        # the same tower in float64 (the fp16 weights widened): the truth for the C encode, and the float32
        # run's distance from it the yardstick of its tolerance
        t64 = copy.deepcopy(tower).double()
        t64.mean, t64.std = t64.mean.double(), t64.std.double()
        _, emb64 = t64.encode(img.double())
    with h5py.File(args.out, "w") as f:
        f["img"] = img.numpy()
        f["emb"] = emb.numpy()
        f["emb_f64"] = emb64.numpy()
        f.attrs["remap"] = args.remap
    print("clip_convert_ref: %d images %dx%d, emb %s" % (args.batch, S, S, tuple(emb.shape)))


if __name__ == "__main__":
    main()
