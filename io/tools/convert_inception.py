#!/usr/bin/python3
"""convert_inception.py: an Inception-v3 PyTorch checkpoint -> ratlip's HDF5 weight file.

    convert_inception.py CHECKPOINT.pth OUT.h5 [--network fid|tv]

CHECKPOINT is a state_dict (or a pickled module) of
  fid  pytorch-fid's FID Inception (pt_inception-2015-12-05-6726825d.pth, 1008 classes), or
  tv   torchvision's inception_v3 (inception_v3_google-*.pth, 1000 classes, AuxLogits).
--network defaults to what the checkpoint says: fc.weight with 1008 rows -> fid, else tv.

OUT holds one float32 dataset per state_dict key at the root, named by the key
(`Mixed_5b.branch_pool.conv.weight`, `...bn.running_var`, `fc.weight`, ...; num_batches_tracked is
dropped), conv weights OIHW, BatchNorm tensors raw (ratlip folds them at load time, eps 0.001), and root
attributes: network ("inception_fid" | "inception_tv"), source_file, source_sha256 (SHA-256 of the
checkpoint file: `ratlip data stats` records it so statistics of other weights are refused),
source_dtype, bn_eps, layout "OIHW", feature "pool3", format "ratlip-inception-1".
Needs torch, numpy, h5py. Run where the checkpoint is; the result is plain HDF5.
"""
import argparse
import sys

import numpy as np
import torch

from h5write import load_state_dict, write_weights


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--network", choices=["fid", "tv"])
    args = ap.parse_args()
    sd = load_state_dict(args.checkpoint, "convert_inception.py", "a state_dict nor a module")
    if "Mixed_7c.branch_pool.conv.weight" not in sd or "Conv2d_1a_3x3.conv.weight" not in sd:
        raise SystemExit("convert_inception.py: %s: no Conv2d_1a_3x3/Mixed_7c keys: not an Inception-v3 state_dict"
                         % args.checkpoint)
    network = args.network
    if network is None:
        network = "fid" if "fc.weight" in sd and sd["fc.weight"].shape[0] == 1008 else "tv"
    dtypes = sorted({str(t.dtype) for t in sd.values() if torch.is_tensor(t) and t.is_floating_point()})
    tensors = {k: t for k, t in sd.items() if torch.is_tensor(t) and not k.endswith("num_batches_tracked")}
    attrs = {"network": "inception_" + network, "bn_eps": np.float64(0.001), "layout": "OIHW", "feature": "pool3",
             "format": "ratlip-inception-1"}
    write_weights(args.out, args.checkpoint, tensors, attrs, ",".join(dtypes))
    print("convert_inception: %s -> %s: %d tensors, network inception_%s" % (args.checkpoint, args.out, len(tensors),
                                                                            network))


if __name__ == "__main__":
    sys.exit(main())
