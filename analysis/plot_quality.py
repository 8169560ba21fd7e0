#!/usr/bin/python3
"""plot_quality.py METRICS.h5[:LABEL]... [--out FILE.png] [--cpu NAME]

The learning-curve view of tests/bench/quality.sh: for each run's metrics.h5, the /eval rows (FID, KID,
CLIP score, R-precision with its real-image ceiling, diversity per caption beside real images', attribute
accuracies beside the probe's real-image accuracy) against the step and the training wall time
(/train/time at the eval step: seconds since the process started, so a resumed run restarts it).
Prints a Markdown table per run and writes one PNG with a panel per metric, the runs overlaid
(compare recipes: plot_quality.py a/run/metrics.h5:lr1e-4 b/run/metrics.h5:lr2e-4).
Needs Debian's python3-h5py and python3-matplotlib.
"""
import argparse
import math
import sys

import h5py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_group(f, g):
    if g not in f or "step" not in f[g]:
        return {}
    n = len(f[g]["step"])
    return {k: np.asarray(f[g][k][:n], dtype=float) for k in f[g] if isinstance(f[g][k], h5py.Dataset)}


def read_run(spec):
    path, _, label = spec.partition(":")
    with h5py.File(path, "r") as f:
        ev, tr = read_group(f, "eval"), read_group(f, "train")
        attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f["eval"].attrs.items()} if "eval" in f else {}
    if not ev:
        sys.exit("plot_quality: %s has no /eval rows (train.eval_every > 0?)" % path)
    # wall time at each eval step: the last /train row at or before it
    t = []
    for s in ev["step"]:
        if tr and "time" in tr:
            i = np.searchsorted(tr["step"], s, side="right") - 1
            t.append(tr["time"][i] if i >= 0 else math.nan)
        else:
            t.append(math.nan)
    ev["wall_s"] = np.asarray(t)
    return label or path, ev, attrs


def fmt(v, d=3):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else ("%.*f" % (d, v))


def table(label, ev):
    accs = sorted(k for k in ev if k.startswith("acc_") and not k.endswith("_real"))
    cols = ["step", "wall_s", "fid", "kid", "clip_score", "r_precision", "r_precision_real", "diversity",
            "diversity_real"] + accs
    cols = [c for c in cols if c in ev]
    print("\n%s\n" % label)
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for i in range(len(ev["step"])):
        cells = []
        for c in cols:
            v = float(ev[c][i])
            cells.append("%d" % v if c == "step" else ("%.0f" % v if c == "wall_s" and not math.isnan(v) else fmt(v)))
        print("| " + " | ".join(cells) + " |")
    ceilings = {k: ev[k + "_real"][-1] for k in accs if k + "_real" in ev}
    if ceilings:
        print("\nprobe on real test images (ceiling): " + ", ".join("%s %.3f" % (k[4:], v) for k, v in ceilings.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="METRICS.h5[:LABEL]")
    ap.add_argument("--out", default="quality.png")
    ap.add_argument("--cpu", default="", help="named in the title (every figure names its CPU)")
    a = ap.parse_args()
    runs = [read_run(s) for s in a.runs]
    for label, ev, _ in runs:
        table(label, ev)
    panels = [("fid", "FID (lower is better)", None), ("clip_score", "CLIP score", None),
              ("r_precision", "R-precision", "r_precision_real"), ("diversity", "diversity per caption", "diversity_real")]
    accs = sorted({k for _, ev, _ in runs for k in ev if k.startswith("acc_") and not k.endswith("_real")})
    panels += [(k, "attribute accuracy: " + k[4:], k + "_real") for k in accs]
    cols = 3
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, (col, title, ceil) in zip(axes.flat, panels):
        for label, ev, _ in runs:
            if col not in ev:
                continue
            line, = ax.plot(ev["step"], ev[col], marker="o", ms=3, label=label)
            if ceil and ceil in ev and np.isfinite(ev[ceil]).any():
                ax.axhline(np.nanmax(ev[ceil]), color=line.get_color(), ls="--", lw=0.8)
        if col == "r_precision":
            ax.axhline(0.01, color="grey", ls=":", lw=0.8)
        ax.set_title(title + (" (dashed: real images)" if ceil else ""), fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("ratlip learning curves" + (" — " + a.cpu if a.cpu else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(a.out, dpi=90)
    print("\nwrote %s" % a.out)


if __name__ == "__main__":
    main()
