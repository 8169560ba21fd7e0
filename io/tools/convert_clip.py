#!/usr/bin/python3
"""convert_clip.py: an OpenAI CLIP checkpoint -> ratlip's CLIP weight file (the image tower only).

    convert_clip.py CHECKPOINT.pt OUT.h5

CHECKPOINT is what clip.load downloads (a TorchScript archive, e.g. ViT-B-32.pt) or a plain
state_dict / pickled model with `visual.*` keys. OUT is the layout tests/reference/ratlip.py writes
with --clip-out and core/clip.h loads: one float32 dataset per `visual.*` key at the root (the
released weights are fp16; they are widened), and int32 root attributes width, layers, heads, patch,
image_size, embed_dim inferred from the shapes as CLIP's build_model does (heads = width/64), plus
source_file, source_sha256, source_dtype.
"""
import argparse
import re
import sys

import numpy as np
import torch

from h5write import load_state_dict, write_weights


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    args = ap.parse_args()
    sd = load_state_dict(args.checkpoint, "convert_clip.py", "a TorchScript CLIP model nor a state_dict",
                         torchscript=True)
    vis = {k: v for k, v in sd.items() if k.startswith("visual.") and torch.is_tensor(v)}
    if "visual.conv1.weight" not in vis or "visual.proj" not in vis:
        raise SystemExit("convert_clip.py: %s: no visual.conv1.weight / visual.proj: not a ViT CLIP checkpoint "
                         "(ResNet CLIPs are not supported)" % args.checkpoint)
    width, _, patch, _ = vis["visual.conv1.weight"].shape
    layers = len({m.group(1) for k in vis for m in [re.match(r"visual\.transformer\.resblocks\.(\d+)\.", k)] if m})
    grid = round((vis["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    attrs = dict(width=width, layers=layers, heads=width // 64, patch=patch, image_size=patch * grid,
                 embed_dim=vis["visual.proj"].shape[1])
    dtypes = sorted({str(t.dtype) for t in vis.values()})
    write_weights(args.out, args.checkpoint, vis, {k: np.int32(v) for k, v in attrs.items()}, ",".join(dtypes))
    print("convert_clip: %s -> %s: %d tensors, %s" % (args.checkpoint, args.out, len(vis),
                                                      " ".join("%s=%d" % kv for kv in attrs.items())))


if __name__ == "__main__":
    sys.exit(main())
