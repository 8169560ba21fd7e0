#!/usr/bin/python3
"""`ratlip sweep expand` and `ratlip analyze runs` (argv: RATLIP SOURCE_DIR).

sweep: a 2x2 grid x 2 random samples -> 8 trial configs in grid-major order (last grid key
fastest), random values inside their bounds (ints integral), fixed `set` values applied, names
<sweep>-NNNN; re-expansion is byte-identical, another seed changes the random values only; an
unknown key or distribution fails naming it.
analyze: run directories with metrics.h5 written here by h5py (the io/metrics.h layout), config.json,
status and requeues files; the CSV must carry the swept values, steps done, status (with the
requeue count), the last losses, and last/best/best-step of fid, kid (min) and clip_score (max)
computed here with numpy (NaN rows skipped). plot_metrics.py writes one PNG per metric column.
"""
import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ratlip, src = sys.argv[1:3]
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += not cond


def run(*args, expect=0):
    p = subprocess.run([ratlip, *args], capture_output=True, text=True)
    if p.returncode != expect:
        print(p.stdout, p.stderr)
    check(p.returncode == expect, "ratlip %s exits %d (got %d)" % (" ".join(args[:2]), expect, p.returncode))
    return p


def load(path):
    with open(path) as f:
        return json.load(f)


with tempfile.TemporaryDirectory(prefix="ratlip_sweep_") as w:
    spec = {"name": "lr", "base": os.path.join(src, "jobs/configs/tiny.json"), "set": {"train.steps": 3},
            "grid": {"train.lr_g": [1e-4, 2e-4], "model.rat_mode": ["sample", "batch"]},
            "random": {"train.beta2": {"uniform": [0.9, 0.99]}, "train.seed": {"int": [0, 9]},
                       "train.lr_d": {"log_uniform": [1e-4, 1e-2]}},
            "samples": 2, "seed": 3}
    sp = os.path.join(w, "sweep.json")
    with open(sp, "w") as f:
        json.dump(spec, f)
    out = os.path.join(w, "out")
    run("sweep", "expand", sp, "--out", out)
    man = load(os.path.join(out, "sweep.json"))
    check(man["n_trials"] == 8 and len(man["trials"]) == 8, "8 trials (2x2 grid x 2 samples)")
    check(man["keys"] == ["train.lr_g", "model.rat_mode", "train.beta2", "train.seed", "train.lr_d"], "manifest keys")
    cfgs = [load(os.path.join(out, "trials", "trial-%04d.json" % t)) for t in range(8)]
    grid = [(c["train"]["lr_g"], c["model"]["rat_mode"]) for c in cfgs]
    want = [(lr, m) for lr in (1e-4, 2e-4) for m in ("sample", "batch") for _ in range(2)]
    check(grid == want, "grid-major order, last grid key fastest")
    b2 = [c["train"]["beta2"] for c in cfgs]
    check(all(0.9 <= v < 0.99 for v in b2) and len(set(b2)) == 8, "beta2 uniform in [0.9, 0.99), all distinct")
    check(all(c["train"]["seed"] in range(10) for c in cfgs), "seed an integer in [0, 9]")
    check(all(1e-4 <= c["train"]["lr_d"] <= 1e-2 for c in cfgs), "lr_d log-uniform in [1e-4, 1e-2]")
    check(all(c["train"]["steps"] == 3 for c in cfgs), "set: train.steps = 3 in every trial")
    check([c["name"] for c in cfgs] == ["lr-%04d" % t for t in range(8)], "trial names lr-NNNN")
    check(all(man["trials"][t]["values"]["train.beta2"] == b2[t] for t in range(8)), "manifest values = trial configs")
    before = [open(os.path.join(out, "trials", "trial-%04d.json" % t)).read() for t in range(8)]
    run("sweep", "expand", sp, "--out", out, "--quiet")
    after = [open(os.path.join(out, "trials", "trial-%04d.json" % t)).read() for t in range(8)]
    check(before == after, "re-expansion is byte-identical")
    spec["seed"] = 4
    with open(sp, "w") as f:
        json.dump(spec, f)
    run("sweep", "expand", sp, "--out", os.path.join(w, "out4"), "--quiet")
    c4 = [load(os.path.join(w, "out4", "trials", "trial-%04d.json" % t)) for t in range(8)]
    check([c["train"]["beta2"] for c in c4] != b2 and [(c["train"]["lr_g"], c["model"]["rat_mode"]) for c in c4] == want,
          "another seed: other random values, same grid")
    for bad, needle in (({"grid": {"train.lr_x": [1]}}, "train.lr_x"), ({"random": {"train.beta2": {"normal": [0, 1]}}}, "normal"),
                        ({"grid": {"train.batch_per_rank": [-1]}}, "batch_per_rank"), ({"grdi": {}}, "grdi")):
        with open(sp, "w") as f:
            json.dump(bad, f)
        p = run("sweep", "expand", sp, "--out", os.path.join(w, "bad"), expect=1)
        check(needle in p.stderr, "bad spec names '%s': %s" % (needle, p.stderr.strip()[:110]))

    # ---- analyze runs over a 4-trial sweep with hand-written metrics
    spec = {"name": "s4", "grid": {"train.lr_g": [1e-4, 2e-4], "train.lr_d": [4e-4, 8e-4]}, "set": {"train.steps": 40}}
    with open(sp, "w") as f:
        json.dump(spec, f)
    sw = os.path.join(w, "s4")
    run("sweep", "expand", sp, "--out", sw, "--quiet")
    rng = np.random.default_rng(0)
    expect = {}
    statuses = ["finished", "finished", "running", None]
    for t in range(3):   # trial 3 never started
        rd = os.path.join(sw, "runs", "trial-%04d" % t)
        os.makedirs(rd)
        shutil.copy(os.path.join(sw, "trials", "trial-%04d.json" % t), os.path.join(rd, "config.json"))
        with open(os.path.join(rd, "status"), "w") as f:
            f.write(statuses[t] + "\n")
        if t == 1:
            with open(os.path.join(rd, "requeues"), "w") as f:
                f.write("job 7 requeue 1\njob 7 requeue 2\n")
        n = 40 if t < 2 else 20
        steps = np.arange(1, n + 1)
        ev_steps = np.arange(10, n + 1, 10)
        fid = rng.uniform(20, 80, len(ev_steps)); kid = rng.uniform(0, 0.1, len(ev_steps)); cs = rng.uniform(0.2, 0.3, len(ev_steps))
        fid[0] = np.nan   # a NaN row is skipped
        rp = rng.uniform(0, 1, len(ev_steps))   # R-precision: higher is better
        ld, lg = rng.normal(size=n), rng.normal(size=n)
        with h5py.File(os.path.join(rd, "metrics.h5"), "w") as f:
            f["train/step"] = steps.astype(np.int64); f["train/loss_d"] = ld; f["train/loss_g"] = lg
            f["eval/step"] = ev_steps.astype(np.int64); f["eval/fid"] = fid; f["eval/kid"] = kid; f["eval/clip_score"] = cs
            if t == 0:   # runs before R-precision existed have no column: "-" in their cells
                f["eval/r_precision"] = rp
        def best(v, mx):
            ok = ~np.isnan(v)
            i = np.flatnonzero(ok)[np.argmax(v[ok]) if mx else np.argmin(v[ok])]
            return v[ok][-1], v[i], ev_steps[i]
        expect["trial-%04d" % t] = dict(steps="%d/40" % n, ld=ld[-1], lg=lg[-1], fid=best(fid, 0), kid=best(kid, 0), cs=best(cs, 1),
                                     rp=best(rp, 1) if t == 0 else None)
    p = run("analyze", "runs", sw, "--csv")
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    check([r["run"] for r in rows] == ["trial-%04d" % t for t in range(4)], "analyze lists the 4 trials")
    check([(float(r["train.lr_g"]), float(r["train.lr_d"])) for r in rows] == [(a, b) for a in (1e-4, 2e-4) for b in (4e-4, 8e-4)],
          "swept columns carry each trial's values")
    check([r["status"] for r in rows] == ["finished", "finished (preempted 2x, resumed)", "running", "pending"],
          "status: %s" % [r["status"] for r in rows])
    # analyze prints metrics with %.6g: within 5e-6 relative of the stored double
    close = lambda a, b: math.isclose(float(a), float(b), rel_tol=1e-5, abs_tol=1e-9)
    for r in rows[:3]:
        e = expect[r["run"]]
        ok = r["steps"] == e["steps"] and close(r["loss_d_last"], e["ld"]) and close(r["loss_g_last"], e["lg"])
        for col, key in (("fid", "fid"), ("kid", "kid"), ("clip_score", "cs"), ("r_precision", "rp")):
            if e[key] is None:
                ok = ok and r[col + "_last"] == "-" and r[col + "_best"] == "-"
                continue
            last, b, bs = e[key]
            ok = ok and close(r[col + "_last"], last) and close(r[col + "_best"], b) and int(r[col + "_best_step"]) == bs
        check(ok, "%s: steps, last losses, last/best/best-step of fid, kid, clip_score, r_precision" % r["run"])
    check(rows[3]["steps"] == "0" and rows[3]["fid_best"] == "-", "not-started trial: 0 steps, no metrics")
    p = run("analyze", "runs", os.path.join(sw, "runs", "trial-0000"), os.path.join(sw, "runs", "trial-0002"))
    head = p.stdout.splitlines()[0].split()
    check("train.lr_g" in head and "train.lr_d" not in head and "train.steps" not in head,
          "run dirs without a manifest: only keys that differ are shown (%s)" % head[:3])
    run("analyze", "runs", os.path.join(w, "nope"), expect=1)

    # plot_metrics.py: one PNG per column, the runs overlaid
    runs = [os.path.join(sw, "runs", "trial-%04d" % t) for t in range(4)]
    p = subprocess.run([sys.executable, os.path.join(src, "analysis", "plot_metrics.py"), *runs, "--out",
                        os.path.join(w, "plots")], capture_output=True, text=True)
    pngs = sorted(os.path.basename(x) for x in p.stdout.split())
    want = sorted(["train_loss_d.png", "train_loss_g.png", "eval_fid.png", "eval_kid.png", "eval_clip_score.png",
                   "eval_r_precision.png"])
    check(p.returncode == 0 and pngs == want, "plot_metrics.py writes %s (got %s %s)" % (want, pngs, p.stderr[-200:]))
    check(all(open(os.path.join(w, "plots", x), "rb").read(8) == b"\x89PNG\r\n\x1a\n" for x in pngs), "the plots are PNG files")

    # plot_quality.py: the learning-curve table (one row per eval step) and one PNG with the runs overlaid
    q = os.path.join(w, "quality.png")
    p = subprocess.run([sys.executable, os.path.join(src, "analysis", "plot_quality.py"),
                        os.path.join(runs[0], "metrics.h5") + ":a", os.path.join(runs[1], "metrics.h5") + ":b",
                        "--out", q, "--cpu", "test cpu"], capture_output=True, text=True)
    rows_a = [l for l in p.stdout.split("\n\nb\n")[0].splitlines() if l.startswith("| ") and l[2].isdigit()]
    check(p.returncode == 0 and len(rows_a) == 4 and os.path.exists(q) and open(q, "rb").read(8) == b"\x89PNG\r\n\x1a\n",
          "plot_quality.py: a table row per eval step and a PNG (%s %s)" % (p.stdout[-300:], p.stderr[-300:]))

print("test_sweep_runs: %d failure(s)" % failures)
sys.exit(1 if failures else 0)
