#!/usr/bin/python3
"""npz_to_fidstats.py: pytorch-fid reference statistics (.npz) -> ratlip's statistics file (io/fidstats.h).

    npz_to_fidstats.py NPZ OUT.h5 --inception-weights INCEPTION.h5 [--n COUNT] [--source TEXT]

NPZ is what pytorch-fid saves (`python -m pytorch_fid --save-stats`), e.g. the published
npz/<name>_val256_FIDK0.npz of CUB, Oxford-102 and COCO: arrays mu [d] and sigma [d,d] (d = 2048, pool3
of pytorch-fid's FID Inception), no features. They are checked (mu 1-D, sigma [d,d], both floating point
and finite, sigma symmetric within 1e-6 of its largest entry); an error names the file and the array and
exits 1.

OUT gets /mu and /sigma (float64) as given and NO /features, so it is moments only: FID, not KID. Root
attributes: n (int64, --n; the npz does not record its image count, 0 = unknown), network
"inception_fid", weights_sha256 (the source_sha256 of INCEPTION.h5), random_weights 0, note "moments
only (converted from pytorch-fid npz): FID only, no KID", source "pytorch-fid npz <NPZ's name>" and
--source, inception_size 299 (pytorch-fid's resize: evaluate with eval.inception_size 299). Written to
OUT.tmp, fsynced, then renamed over OUT.

--inception-weights is required. pytorch-fid's statistics are comparable only with features of the
same network and weights, and ratlip records which weights a statistics file belongs to by the SHA-256
of the PyTorch checkpoint its Inception weight file was converted from. Make that file from pytorch-fid's
own checkpoint, pt_inception-2015-12-05-6726825d.pth (the one pytorch-fid downloads to
~/.cache/torch/hub/checkpoints/), with
    io/tools/convert_inception.py pt_inception-2015-12-05-6726825d.pth inception-fid.h5 --network fid
and give the same file to ratlip (`ratlip data stats --weights`, eval.inception_weights). Its network
must be inception_fid; torchvision's Inception (inception_tv) gives different features.

Where OUT can be used: `ratlip fid OUT.h5 OTHER.h5` (FID only; OTHER from `ratlip data stats` or
`ratlip eval` with the same weights), and as eval.ref_stats: `ratlip eval` and the evaluation in training
compute FID against it and report "KID n/a" (KID needs the reference's features).
Needs numpy and h5py (/usr/bin/python3 has both).
"""
import argparse
import os
import sys

import h5py
import numpy as np

TOOL = "npz_to_fidstats.py"
NOTE = "moments only (converted from pytorch-fid npz): FID only, no KID"
FID_DIM = 2048   # pool3 of the FID Inception: what `ratlip eval` compares against
INCEPTION_SIZE = 299   # pytorch-fid resizes every image to 299x299 before its Inception (eval.inception_size)
WEIGHTS_HELP = ("pytorch-fid's statistics are comparable only with features of the same Inception network and "
                "weights, and ratlip ties a statistics file to its weights by the SHA-256 of the checkpoint they "
                "were converted from. Convert pytorch-fid's checkpoint (pt_inception-2015-12-05-6726825d.pth, "
                "which pytorch-fid downloads to ~/.cache/torch/hub/checkpoints/) with "
                "`io/tools/convert_inception.py pt_inception-2015-12-05-6726825d.pth inception-fid.h5 --network "
                "fid`, pass it here as --inception-weights inception-fid.h5, and evaluate with the same file "
                "(eval.inception_weights, `ratlip data stats --weights`)")


def fail(msg):
    raise SystemExit("%s: %s" % (TOOL, msg))


def read_npz(path):
    """(mu, sigma) as float64 from a pytorch-fid .npz, checked; exits naming the file and array."""
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as ex:   # missing, not a zip, pickled objects, a damaged archive
        fail("%s: cannot read as a numpy .npz (%s)" % (path, ex))
    if not isinstance(z, np.lib.npyio.NpzFile):
        fail("%s: a single .npy array, not an .npz archive with mu and sigma" % path)
    arrays = {}
    with z:
        for name in ("mu", "sigma"):
            if name not in z.files:
                fail("%s: array %s missing (has: %s)" % (path, name, ", ".join(sorted(z.files)) or "nothing"))
            a = z[name]
            if not np.issubdtype(a.dtype, np.floating):
                fail("%s: array %s has dtype %s, not floating point" % (path, name, a.dtype))
            arrays[name] = a.astype(np.float64)
    mu, sigma = arrays["mu"], arrays["sigma"]
    if mu.ndim != 1 or mu.shape[0] < 1:
        fail("%s: array mu has shape %s, not [d]" % (path, list(mu.shape)))
    d = mu.shape[0]
    if sigma.ndim == 2 and sigma.shape[0] == sigma.shape[1] and sigma.shape[0] != d:
        fail("%s: array mu has length %d, but sigma is [%d,%d]" % (path, d, sigma.shape[0], sigma.shape[1]))
    if sigma.shape != (d, d):
        fail("%s: array sigma has shape %s, not [%d,%d] (d = len(mu))" % (path, list(sigma.shape), d, d))
    for name, a in (("mu", mu), ("sigma", sigma)):
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            where = np.unravel_index(bad[0], a.shape)
            fail("%s: array %s has %d non-finite value(s), first %r at %s" % (path, name, bad.size, a[where],
                                                                              list(map(int, where))))
    scale = float(np.abs(sigma).max())
    asym = float(np.abs(sigma - sigma.T).max())
    if asym > 1e-6 * scale:
        i, j = np.unravel_index(int(np.argmax(np.abs(sigma - sigma.T))), sigma.shape)
        fail("%s: array sigma is not symmetric: |sigma[%d,%d] - sigma[%d,%d]| = %.3g > 1e-6 x max|sigma| (%.3g)"
             % (path, i, j, j, i, asym, scale))
    return mu, sigma


def weights_id(path):
    """The source_sha256 of a convert_inception.py weight file whose network is inception_fid."""
    try:
        with h5py.File(path, "r") as f:
            network = f.attrs.get("network")
            sha = f.attrs.get("source_sha256")
    except OSError as ex:
        fail("%s: cannot open as HDF5 (%s); %s" % (path, ex, WEIGHTS_HELP))
    network = network.decode() if isinstance(network, bytes) else network
    sha = sha.decode() if isinstance(sha, bytes) else sha
    if not network or not sha:
        fail("%s: attributes network/source_sha256 missing: not made by io/tools/convert_inception.py. %s"
             % (path, WEIGHTS_HELP))
    if network != "inception_fid":
        fail("%s: network %s, but pytorch-fid's statistics come from its FID Inception (inception_fid). %s"
             % (path, network, WEIGHTS_HELP))
    return str(sha)


def write_stats(out, mu, sigma, attrs):
    """OUT.tmp, fsynced, renamed over OUT; OUT is never half-written."""
    tmp = out + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("mu", data=mu.astype("<f8"))
            f.create_dataset("sigma", data=sigma.astype("<f8"))
            for k, v in attrs.items():
                f.attrs[k] = v
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, out)
    except OSError as ex:
        if os.path.exists(tmp):
            os.remove(tmp)
        fail("%s: cannot write (%s)" % (tmp, ex))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("npz", help="pytorch-fid statistics: arrays mu [d], sigma [d,d]")
    ap.add_argument("out", help="ratlip statistics file to write (io/fidstats.h)")
    ap.add_argument("--inception-weights", metavar="W.h5",
                    help="required: the weight file convert_inception.py made from pytorch-fid's checkpoint")
    ap.add_argument("--n", type=int, default=0, metavar="COUNT",
                    help="images behind the statistics, recorded as attribute n (default 0: unknown)")
    ap.add_argument("--source", default="", metavar="TEXT", help="appended to the source attribute")
    a = ap.parse_args(argv)
    if not a.inception_weights:
        fail("--inception-weights W.h5 is required: " + WEIGHTS_HELP)
    if a.n < 0:
        fail("--n %d: must be >= 0 (0 = unknown)" % a.n)
    sha = weights_id(a.inception_weights)
    mu, sigma = read_npz(a.npz)
    source = "pytorch-fid npz " + os.path.basename(a.npz) + (" " + a.source if a.source else "")
    attrs = {"n": np.int64(a.n), "network": "inception_fid", "weights_sha256": sha, "random_weights": np.int64(0),
             "note": NOTE, "source": source, "inception_size": np.int64(INCEPTION_SIZE)}
    write_stats(a.out, mu, sigma, attrs)
    print("npz_to_fidstats: %s -> %s: d %d, n %s, network inception_fid, weights %s; %s"
          % (a.npz, a.out, mu.shape[0], a.n or "unknown", sha, NOTE))
    if mu.shape[0] != FID_DIM:
        print("npz_to_fidstats: note: d = %d, not the %d of pool3: only files of the same d compare with it"
              % (mu.shape[0], FID_DIM), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
