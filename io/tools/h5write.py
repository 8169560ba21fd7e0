"""h5write.py: what the weight converters (convert_clip.py, convert_inception.py) share: reading a
PyTorch checkpoint as a state_dict, and writing tensors as float32 datasets at the root of an HDF5
weight file with the source attributes (source_file, source_sha256, source_dtype), through a
temporary name so that OUT is never a half-written file. Imported from the converters' directory.
"""
import hashlib
import os

import h5py
import torch


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_state_dict(path, tool, expect, torchscript=False):
    """The state_dict in path (a TorchScript archive first when torchscript, else torch.load); exits
    with "<tool>: <path>: neither <expect>" when it is not a dict."""
    obj = None
    if torchscript:
        try:
            obj = torch.jit.load(path, map_location="cpu")
        except Exception:
            obj = None
    if obj is None:
        obj = torch.load(path, map_location="cpu")
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise SystemExit("%s: %s: neither %s" % (tool, path, expect))
    return obj


def write_weights(out, checkpoint, tensors, attrs, source_dtype):
    """tensors {name: tensor} -> float32 datasets of OUT; attrs {name: value} and the source attributes
    of the checkpoint file on the root."""
    tmp = out + ".tmp"
    with h5py.File(tmp, "w") as f:
        for k, t in tensors.items():
            f.create_dataset(k, data=t.detach().to(torch.float32).cpu().numpy())
        for k, v in attrs.items():
            f.attrs[k] = v
        f.attrs["source_file"] = os.path.basename(checkpoint)
        f.attrs["source_sha256"] = sha256_of(checkpoint)
        f.attrs["source_dtype"] = source_dtype
    os.replace(tmp, out)
