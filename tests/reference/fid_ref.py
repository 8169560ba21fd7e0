#!/usr/bin/python3
"""fid_ref.py: reference values for the C FID/KID (core/fid.c), from numpy/scipy.

    fid_ref.py --out FILE.h5

Each case /<name>/ holds x1 [n1,d], x2 [n2,d] (float32 features), mu1, sigma1, mu2, sigma2
(float64, numpy mean and np.cov(rowvar=False) of the float32 features widened to float64),
fid_scipy (pytorch-fid 0.3.0's calculate_frechet_distance: scipy.linalg.sqrtm of sigma1.sigma2,
eps path when not finite, real part), fid_nuclear (the same distance from the nuclear norm of the
centred features' cross product: exact also for singular covariances), kid (unbiased MMD^2 with
k(x,y) = (x.y/d + 1)^3 over the whole sets; n1 = n2 in every case).
Cases: full rank (n >> d), singular (n < d: both covariances rank-deficient), shifted and scaled.
"""
import argparse
import numpy as np
import h5py
from scipy import linalg


def fid_pytorch_fid(mu1, sigma1, mu2, sigma2, eps=1e-6):
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_nuclear(x1, x2):
    a = x1 - x1.mean(0)
    b = x2 - x2.mean(0)
    s1 = a.T @ a / (len(a) - 1)
    s2 = b.T @ b / (len(b) - 1)
    tr = np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt((len(a) - 1) * (len(b) - 1))
    diff = x1.mean(0) - x2.mean(0)
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr)


def kid_whole(x, y):
    d = x.shape[1]
    m = len(x)
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    return float((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / m ** 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(6)
    cases = {}
    # post-ReLU-like features with correlations
    d = 48
    A = rng.normal(size=(d, d)) / np.sqrt(d)
    x1 = np.maximum(rng.normal(size=(400, d)) @ A + 0.3, 0)
    x2 = np.maximum(rng.normal(size=(400, d)) @ (A * 1.1) + 0.35, 0)
    cases["full"] = (x1, x2)
    d = 64   # n < d: singular covariances (rank <= n-1)
    x1 = np.abs(rng.normal(size=(24, d)))
    x2 = np.abs(rng.normal(size=(24, d)) * 1.2 + 0.1)
    cases["singular"] = (x1, x2)
    d = 32
    x1 = rng.gamma(2.0, 0.5, size=(300, d))
    x2 = x1[::-1] * 0.9 + 0.2 + 0.05 * rng.normal(size=(300, d))
    cases["shifted"] = (x1, x2)
    with h5py.File(args.out, "w") as f:
        for name, (x1, x2) in cases.items():
            x1 = x1.astype(np.float32)
            x2 = x2.astype(np.float32)
            a, b = x1.astype(np.float64), x2.astype(np.float64)
            mu1, mu2 = a.mean(0), b.mean(0)
            s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
            g = f.create_group(name)
            for k, v in dict(x1=x1, x2=x2, mu1=mu1, sigma1=s1, mu2=mu2, sigma2=s2).items():
                g.create_dataset(k, data=v)
            g["fid_scipy"] = fid_pytorch_fid(mu1, s1, mu2, s2)
            g["fid_nuclear"] = fid_nuclear(a, b)
            g["kid"] = kid_whole(a, b)
            print("%-8s d=%d n=%d fid_scipy=%.10f fid_nuclear=%.10f kid=%.8g" % (
                name, x1.shape[1], len(x1), g["fid_scipy"][()], g["fid_nuclear"][()], g["kid"][()]))


if __name__ == "__main__":
    main()
