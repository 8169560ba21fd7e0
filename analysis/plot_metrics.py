#!/usr/bin/python3
"""plot_metrics.py RUN_DIR... [--out DIR] [--columns loss_d,loss_g,...]

PNG plots of a run's metrics.h5 over steps, several runs overlaid (e.g. the trials of a sweep:
`plot_metrics.py sweeps/lr/runs/*`). One PNG per column: every /train column (losses, gradient
norms, throughput) and every /eval column (fid, kid, clip_score). Reads only the complete rows
(len of the group's `step`, see io/metrics.h), so it also works while the runs train.
Writes DIR/<group>_<column>.png (default DIR: ./plots) and prints the paths.
Needs Debian's python3-h5py and python3-matplotlib.
"""
import argparse
import os
import sys

import h5py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_run(d):
    path = os.path.join(d, "metrics.h5")
    out = {}
    try:
        with h5py.File(path, "r") as f:
            for g in f:
                if "step" not in f[g]:
                    continue
                n = len(f[g]["step"])
                steps = np.asarray(f[g]["step"][:n])
                out[g] = {c: (steps, np.asarray(f[g][c][:n], dtype=np.float64)) for c in f[g] if c != "step"}
    except OSError as e:
        sys.stderr.write("plot_metrics.py: %s: cannot read (%s); skipped\n" % (path, e))
        return None
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[2])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", default="plots")
    ap.add_argument("--columns", help="comma-separated column names (default: all)")
    a = ap.parse_args()
    runs = [(os.path.basename(os.path.normpath(d)), read_run(d)) for d in a.runs]
    runs = [(n, r) for n, r in runs if r]
    if not runs:
        sys.exit("plot_metrics.py: no readable metrics.h5 in the given run directories")
    want = set(a.columns.split(",")) if a.columns else None
    keys = sorted({(g, c) for _, r in runs for g in r for c in r[g] if want is None or c in want})
    os.makedirs(a.out, exist_ok=True)
    for g, c in keys:
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, r in runs:
            if g in r and c in r[g]:
                s, v = r[g][c]
                ok = np.isfinite(v)
                ax.plot(s[ok], v[ok], marker="o" if ok.sum() < 30 else None, ms=3, label=name)
        ax.set_xlabel("step")
        ax.set_ylabel(c)
        ax.set_title("%s/%s" % (g, c))
        ax.grid(alpha=0.3)
        if len(runs) > 1:
            ax.legend(fontsize=7, ncol=2)
        path = os.path.join(a.out, "%s_%s.png" % (g, c))
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        print(path)


if __name__ == "__main__":
    main()
