#!/usr/bin/python3
"""End-to-end checks of `ratlip train` (run by ctest; see tests/train/CMakeLists.txt).

    train_e2e.py RATLIP WORKDIR resume    2 ranks: 4 steps straight == 2 steps, stop, resume, 2 more (bit-exact)
    train_e2e.py RATLIP WORKDIR preempt   2 ranks: SIGUSR1 mid-run -> exit 3, status "preempted"; --resume auto
                                          finishes with the same bytes as an uninterrupted run
    train_e2e.py RATLIP WORKDIR equiv     1 rank x batch 8 == 2 ranks x batch 4 (sync BN) after one iteration
    train_e2e.py RATLIP WORKDIR reshape   2 ranks for 2 steps, then --resume auto on 1 rank: continues at step 2,
                                          says the global batch changed, finishes
    train_e2e.py RATLIP WORKDIR evalbest  1 rank, evaluation every step: /eval rows in metrics.h5, and the best-FID
                                          checkpoint survives retention (keep_last 1)
    train_e2e.py RATLIP WORKDIR badinput  missing dataset, embedding size that disagrees with the config, unknown
                                          --set key: exit 1, one line naming the culprit, status "failed"
    train_e2e.py RATLIP WORKDIR kill      kill -9 one of 2 ranks mid-run: the job ends within the deadline with a
                                          non-zero status naming the rank; --resume auto continues and finishes
Every check asserts; the script exits non-zero on the first failure.
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

RATLIP, WORK, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]   # test harness only
FAST = ["--set", "train.log_every=1", "--set", "train.sample_every=0", "--set", "dist.check_every=1",
        "--threads", "1"]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(args, ranks=2, check=True, **kw):
    cmd = (MPIRUN + ["-np", str(ranks)] if ranks > 1 else []) + [RATLIP] + args
    print("+", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    print(p.stdout[-3000:])
    if check and p.returncode != 0:
        fail("exit status %d" % p.returncode)
    return p


def dataset(name, n=64):
    d = os.path.join(WORK, name)
    if not glob.glob(os.path.join(d, "train-*.h5")):
        run(["data", "synth", "--out", d, "--train", str(n), "--test", "16", "--seed", "7"], ranks=1)
    return d


def tensors(path):
    """Every dataset of the checkpoint's networks (parameters, buffers, Adam moments) as numpy arrays."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name.split("/")[0] in ("netG", "netD", "netC", "netG_ema"):
                out[name] = obj[()]
        f.visititems(visit)
        out["@adam_step"] = [f[n].attrs.get("adam_step", -1) for n in ("netG", "netD", "netC")]
        out["@step"] = f.attrs["step"]
    return out


def compare(a_path, b_path, tol=0.0):
    a, b = tensors(a_path), tensors(b_path)
    if set(a) != set(b):
        fail("different tensor sets: %s" % sorted(set(a) ^ set(b))[:5])
    worst, worst_name = 0.0, ""
    for k in a:
        x, y = np.asarray(a[k], dtype=np.float64), np.asarray(b[k], dtype=np.float64)
        if x.shape != y.shape:
            fail("%s: shapes %s vs %s" % (k, x.shape, y.shape))
        if tol == 0.0:
            if not np.array_equal(np.asarray(a[k]), np.asarray(b[k])):
                fail("%s differs (max |diff| %.3g)" % (k, np.abs(x - y).max()))
        else:
            r = np.abs(x - y).max() / max(np.abs(y).max(), 1e-12) if x.size else 0.0
            if r > worst:
                worst, worst_name = r, k
    if tol:
        print("worst relative difference %.3e in %s (tolerance %.0e)" % (worst, worst_name, tol))
        if worst > tol:
            fail("%s differs by %.3e > %.0e" % (worst_name, worst, tol))
    print("compared %d tensors of %s and %s: %s" % (len(a), a_path, b_path, "identical" if tol == 0 else "close"))


def fresh(*names):
    """Run directories of this case, emptied (a rerun must not resume from the last run's checkpoints)."""
    dirs = [os.path.join(WORK, n) for n in names]
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
    return dirs if len(dirs) > 1 else dirs[0]


def status(run_dir):
    with open(os.path.join(run_dir, "status")) as f:
        return f.read().strip()


def case_resume():
    data = dataset("data")
    a, b = fresh("resume_a", "resume_b")
    run(["train", "--data", data, "--run-dir", a, "--steps", "4"] + FAST)
    run(["train", "--data", data, "--run-dir", b, "--steps", "2"] + FAST)
    p = run(["train", "--data", data, "--run-dir", b, "--steps", "4", "--resume", "auto"] + FAST)
    if "resume: " not in p.stdout or "step 2" not in p.stdout:
        fail("the second run did not report resuming from step 2")
    compare(os.path.join(a, "ckpt-00000004.h5"), os.path.join(b, "ckpt-00000004.h5"))
    with h5py.File(os.path.join(b, "metrics.h5"), "r") as f:
        steps = list(f["train/step"][()])
    if steps != [1, 2, 3, 4]:
        fail("metrics of the resumed run: steps %s, expected [1, 2, 3, 4]" % steps)


def case_preempt():
    data = dataset("data")
    a, b = fresh("pre_a", "pre_b")
    run(["train", "--data", data, "--run-dir", a, "--steps", "6"] + FAST)
    cmd = MPIRUN + ["-np", "2", RATLIP, "train", "--data", data, "--run-dir", b, "--steps", "6"] + FAST
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not os.path.exists(os.path.join(b, "metrics.h5")):
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(signal.SIGUSR1)   # mpirun forwards SIGUSR1 to every rank
    out, _ = p.communicate(timeout=120)
    print(out[-3000:])
    if p.returncode != 3:
        fail("preempted run exited with %d, expected 3" % p.returncode)
    if status(b) != "preempted":
        fail("status file says %r" % status(b))
    run(["train", "--data", data, "--run-dir", b, "--steps", "6", "--resume", "auto"] + FAST)
    if status(b) != "finished":
        fail("status after resume: %r" % status(b))
    compare(os.path.join(a, "ckpt-00000006.h5"), os.path.join(b, "ckpt-00000006.h5"))


def case_equiv():
    data = dataset("data")
    one, two = fresh("eq_1x8", "eq_2x4")
    common = ["--steps", "1", "--set", "model.sync_bn=true", "--set", "model.rat_mode=sample"] + FAST
    run(["train", "--data", data, "--run-dir", one, "--set", "train.batch_per_rank=8"] + common, ranks=1)
    run(["train", "--data", data, "--run-dir", two, "--set", "train.batch_per_rank=4"] + common, ranks=2)
    a, b = tensors(os.path.join(one, "ckpt-00000001.h5")), tensors(os.path.join(two, "ckpt-00000001.h5"))
    # Averaged gradients: after one step with beta1 = 0, Adam's m is the gradient and v its square.
    # float32 partial sums in another order (per rank, then allreduce): 1e-4 of each tensor's scale.
    worst = max((rel(a[k], b[k]), k) for k in a if "/adam_" in k)
    print("averaged gradients (Adam m, v): worst relative difference %.2e in %s" % worst)
    if worst[0] > 1e-4:
        fail("gradients differ: %.2e in %s" % worst)
    # Updated parameters, where the update is well conditioned: Adam's first step is lr*g/(|g|+eps), a
    # sign for |g| >> eps, so entries whose gradient is within float noise of 0 (|g| < 1e-3 max|g|,
    # e.g. zero-initialised affine outputs) may legitimately step either way; everything else must agree.
    worst, skipped, total = (0.0, ""), 0, 0
    for k in a:
        parts = k.split("/")
        if "/adam_" in k or k.startswith("@") or parts[0] == "netG_ema":
            continue
        g = np.abs(np.asarray(a.get("%s/adam_m/%s" % (parts[0], "/".join(parts[1:])), 0.0), dtype=np.float64))
        x, y = np.asarray(a[k], dtype=np.float64), np.asarray(b[k], dtype=np.float64)
        keep = g >= 1e-3 * g.max() if np.ndim(g) and g.max() > 0 else np.ones(x.shape, bool)
        skipped += int(x.size - keep.sum())
        total += x.size
        if keep.any():
            r = np.abs(x - y)[keep].max() / max(np.abs(y).max(), 1e-12)
            worst = max(worst, (r, k))
    print("updated parameters: worst relative difference %.2e in %s (%d of %d entries with |g| < 1e-3 max|g| "
          "not compared)" % (worst[0], worst[1], skipped, total))
    if worst[0] > 1e-5:
        fail("parameters differ: %.2e in %s" % worst)


def rel(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-12)) if x.size else 0.0


def case_kill():
    data = dataset("data")
    d = fresh("kill")
    cmd = MPIRUN + ["-np", "2", RATLIP, "train", "--data", data, "--run-dir", d, "--steps", "40",
                    "--set", "train.ckpt_every=2", "--set", "dist.timeout_s=30"] + FAST
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and not glob.glob(os.path.join(d, "ckpt-00000002.h5")):
        time.sleep(0.2)
    pids = subprocess.run(["pgrep", "-f", "ratlip train --data %s --run-dir %s" % (data, d)], stdout=subprocess.PIPE,
                          text=True).stdout.split()
    if len(pids) < 2:
        fail("expected 2 rank processes, found %s" % pids)
    victim = max(int(x) for x in pids)
    t0 = time.time()
    os.kill(victim, signal.SIGKILL)
    try:
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("the job did not end within 60 s after a rank was killed")
    print(out[-2000:])
    print("job ended %.1f s after kill -9, status %d" % (time.time() - t0, p.returncode))
    if p.returncode == 0:
        fail("the job exited 0 after a rank was killed")
    if "signal 9" not in out and "rank" not in out:
        fail("no message naming the dead process")
    run(["train", "--data", data, "--run-dir", d, "--steps", "6", "--resume", "auto"] + FAST)
    if status(d) != "finished":
        fail("status after resume: %r" % status(d))


def case_reshape():
    data = dataset("data")
    d = fresh("reshape")
    run(["train", "--data", data, "--run-dir", d, "--steps", "2"] + FAST, ranks=2)
    p = run(["train", "--data", data, "--run-dir", d, "--steps", "4", "--resume", "auto"] + FAST, ranks=1)
    if "checkpoint from 2 ranks, now 1" not in p.stdout:
        fail("resuming on another rank count was not reported")
    if status(d) != "finished" or tensors(os.path.join(d, "ckpt-00000004.h5"))["@step"] != 4:
        fail("the resumed 1-rank run did not finish at step 4")


def case_evalbest():
    data = dataset("data")
    if not glob.glob(os.path.join(data, "fid-stats-test-*.h5")):
        run(["data", "stats", data, "--split", "test"], ranks=1)
    d = fresh("evalbest")
    run(["train", "--data", data, "--run-dir", d, "--steps", "4", "--set", "train.eval_every=1",
         "--set", "eval.n_samples=8", "--set", "train.ckpt_every=1", "--set", "train.keep_last=1"] + FAST, ranks=1)
    with h5py.File(os.path.join(d, "metrics.h5"), "r") as f:
        steps, fid = list(f["eval/step"][()]), np.asarray(f["eval/fid"][()])
        for col in ("kid", "clip_score"):
            if not np.all(np.isfinite(f["eval/" + col][()])):
                fail("eval/%s is not finite" % col)
    if steps != [1, 2, 3, 4] or not np.all(np.isfinite(fid)):
        fail("eval rows: steps %s fid %s" % (steps, fid))
    best = int(steps[int(np.argmin(fid))])
    kept = sorted(os.path.basename(p) for p in glob.glob(os.path.join(d, "ckpt-*.h5")))
    want = sorted({"ckpt-%08d.h5" % best, "ckpt-00000004.h5"})
    if kept != want:
        fail("checkpoints kept %s, expected %s (best FID at step %d, keep_last 1)" % (kept, want, best))


def case_badinput():
    data = dataset("data")
    d = fresh("badinput")
    cases = [(["--data", os.path.join(WORK, "no-such-dir")], "no-such-dir"),
             (["--data", data, "--set", "model.text_dim=256"], "model.text_dim is 256"),
             (["--data", data, "--set", "train.lr_q=1"], "did you mean train.lr_g")]
    for args, want in cases:
        p = run(["train", "--run-dir", d, "--steps", "1"] + args + FAST, ranks=1, check=False)
        if p.returncode != 1 or want not in p.stdout:
            fail("%s: exit %d, expected 1 and %r in the output" % (args, p.returncode, want))
    if status(d) != "failed":
        fail("status after a failed start: %r" % status(d))


{"resume": case_resume, "badinput": case_badinput, "evalbest": case_evalbest, "reshape": case_reshape, "preempt": case_preempt, "equiv": case_equiv, "kill": case_kill}[CASE]()
print("ok:", CASE)
