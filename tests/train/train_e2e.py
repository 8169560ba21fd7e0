#!/usr/bin/python3
"""End-to-end checks of `ratlip train` (run by ctest; see tests/train/CMakeLists.txt).

    train_e2e.py RATLIP WORKDIR resume    2 ranks: 4 steps straight == 2 steps, stop, resume, 2 more (bit-exact)
    train_e2e.py RATLIP WORKDIR preempt   2 ranks: SIGUSR1 mid-run -> exit 3, status "preempted"; --resume auto
                                          finishes with the same bytes as an uninterrupted run
    train_e2e.py RATLIP WORKDIR equiv     1 rank x batch 8 == 2 ranks x batch 4 (sync BN) after one iteration:
                                          to 1e-10 in double (ratlip_f64), within the measured rounding
                                          budget in float (ratlip)
    train_e2e.py RATLIP WORKDIR resume_short  1 rank x batch 4: 2 steps straight == 1 + resume + 1 (kernel matrix)
    train_e2e.py RATLIP WORKDIR equiv_float  the float half of equiv, reusing equiv's double runs (kernel matrix)
    train_e2e.py RATLIP WORKDIR reshape   2 ranks for 2 steps, then --resume auto on 1 rank: continues at step 2,
                                          says the global batch changed, finishes
    train_e2e.py RATLIP WORKDIR evalbest  1 rank, evaluation every step: /eval rows in metrics.h5, and the best-FID
                                          checkpoint survives retention (keep_last 1)
    train_e2e.py RATLIP WORKDIR badinput  missing dataset, embedding size that disagrees with the config, unknown
                                          --set key: exit 1, one line naming the culprit, status "failed"
    train_e2e.py RATLIP WORKDIR kill      kill -9 one of 2 ranks mid-run: the job ends within the deadline with a
                                          non-zero status naming the rank; --resume auto continues and finishes
    train_e2e.py RATLIP WORKDIR stall     SIGSTOP one of 2 ranks mid-run (dist.timeout_s=15): the job ends within
                                          timeout_s + 10 s with status 4 (stalled), a message naming the stopped
                                          rank, and status file "stalled"; --resume auto then finishes
    train_e2e.py RATLIP WORKDIR mismatch_labels  train.hard_mismatch_labels: "" == every column named in order,
                                          "shape" != "colour" (D's mismatched-pair loss of one step)
Every check asserts; the script exits non-zero on the first failure.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

RATLIP, WORK, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
RATLIP_F64 = os.path.join(os.path.dirname(RATLIP), "ratlip_f64")   # the same program in double
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]   # test harness only
FAST = ["--set", "train.log_every=1", "--set", "train.sample_every=0", "--set", "dist.check_every=1",
        "--threads", "1"]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(args, ranks=2, check=True, prog=None, **kw):
    cmd = (MPIRUN + ["-np", str(ranks)] if ranks > 1 else []) + [prog or RATLIP] + args
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


kinds = {}


def tensors(path):
    """Every dataset of the checkpoint's networks (parameters, buffers, Adam moments) as numpy arrays."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name.split("/")[0] in ("netG", "netD", "netC", "netG_ema"):
                out[name] = obj[()]
                kinds[name] = int(obj.attrs.get("kind", -1))   # 0 trainable, 2 buffer; -1 Adam moments
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


CREATED = []   # run directories made by fresh(): removed by clean_up() when the case passed


def fresh(*names):
    """Run directories of this case, emptied (a rerun must not resume from the last run's checkpoints)."""
    dirs = [os.path.join(WORK, n) for n in names]
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
        if d not in CREATED:
            CREATED.append(d)
    return dirs if len(dirs) > 1 else dirs[0]


def clean_up(keep=()):
    """After a passing case: its run directories go (a tiny-model checkpoint is ~240 MB, the suite's
    would add up to ~10 GB and fill a CI machine's disk); a failing case keeps them to be looked at.
    `keep`: directories a later test reuses (equiv's double runs, for the kernel matrix's equiv_float;
    the cleanup test train_equiv_cleanup removes them after it)."""
    for d in CREATED:
        if os.path.basename(d) not in keep:
            shutil.rmtree(d, ignore_errors=True)


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


def case_resume_short():
    """resume at its cheapest, for the kernel matrix: 1 rank x batch 4, 2 steps straight == 1 step, stop,
    resume, 1 more (bit-exact: the same kernels in the same order give the same bits)."""
    data = dataset("data")
    a, b = fresh("resume_short_a", "resume_short_b")
    small = ["--set", "train.batch_per_rank=4"] + FAST
    run(["train", "--data", data, "--run-dir", a, "--steps", "2"] + small, ranks=1)
    run(["train", "--data", data, "--run-dir", b, "--steps", "1"] + small, ranks=1)
    p = run(["train", "--data", data, "--run-dir", b, "--steps", "2", "--resume", "auto"] + small, ranks=1)
    if "resume: " not in p.stdout:
        fail("the second run did not report resuming")
    compare(os.path.join(a, "ckpt-00000002.h5"), os.path.join(b, "ckpt-00000002.h5"))


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


# Unit roundoff of the two programs: `ratlip` computes in float32, `ratlip_f64` (same sources,
# RATLIP_F64) in float64.
U32, U64 = 2.0 ** -24, 2.0 ** -53


def checkpoint_config(path):
    with h5py.File(path, "r") as f:
        c = f.attrs["config_json"]
    return json.loads(c if isinstance(c, str) else c.decode())


def equiv_pair(prog, tag, common):
    """1 rank x batch 8 and 2 ranks x batch 4 of `prog`; returns both step-1 checkpoints' tensors."""
    one, two = fresh("eq_%s_1x8" % tag, "eq_%s_2x4" % tag)
    run(["train", "--run-dir", one, "--set", "train.batch_per_rank=8"] + common, ranks=1, prog=prog)
    run(["train", "--run-dir", two, "--set", "train.batch_per_rank=4"] + common, ranks=2, prog=prog)
    a, b = (os.path.join(d, "ckpt-00000001.h5") for d in (one, two))
    return tensors(a), tensors(b), checkpoint_config(a)


def adam_bound(k, a, b, cfg, u):
    """Per-entry bound on |p_a - p_b| for a parameter after Adam's first step, given the two runs'
    gradients. With beta1 = 0 the checkpoint's adam_m is the gradient g and the first update is
    p0 - lr*g/(|g| + eps), whose derivative in g is lr*eps/(|g| + eps)^2: up to lr/eps (1e4 here) for
    g near 0. So |dp| <= lr*eps/(min|g| + eps)^2 * |dg| (min|g| taken as 0 when the signs differ), plus
    the rounding of the update in each run: the final subtraction (u|p|) and the five operations of the
    step (sqrt, /sqrt(bc2), +eps, m/denom, *lr: 5u*lr), twice (two runs) with a margin:
    4u|p| + 12u*lr. netG_ema after one step is d*p0 + (1-d)*p1: its
    difference is (1-d) times that of netG, below the same bound."""
    net, name = k.split("/", 1)
    src = "netG" if net == "netG_ema" else net
    lr = cfg["train"]["lr_g"] if src == "netG" else cfg["train"]["lr_d"]
    eps = cfg["train"]["adam_eps"]
    ga = np.asarray(a["%s/adam_m/%s" % (src, name)], dtype=np.float64)
    gb = np.asarray(b["%s/adam_m/%s" % (src, name)], dtype=np.float64)
    gmin = np.where(np.sign(ga) == np.sign(gb), np.minimum(np.abs(ga), np.abs(gb)), 0.0)
    p = np.abs(np.asarray(a[k], dtype=np.float64))
    # (1 + 1e-9): numpy's own rounding of this bound, where the sensitivity term is all of the difference
    return lr * eps / (gmin + eps) ** 2 * np.abs(ga - gb) * (1 + 1e-9) + 4 * u * p + 12 * u * lr


def case_equiv():
    """1 rank x batch 8 == 2 ranks x batch 4 (sync BN, hard mismatched captions) after one iteration.
    Double (ratlip_f64): the two differ only in summation order (per-rank partial sums, the allreduce,
    the sync-BN sums), ~1e-16 relative per operation: every gradient (Adam m), Adam v and BatchNorm
    statistic must agree to 1e-10 of its tensor's scale; parameters within Adam's sensitivity to those
    gradient differences (adam_bound).
    Float (ratlip): the same claim with a budget measured, not chosen: the float rounding error of each
    tensor is estimated three ways — the 1-rank float run against the exact (double) answer, the double
    runs' own difference scaled by u32/u64, and the network's overall float error ratio times the
    tensor's norm — and the 2-rank float run must be within 8x the largest of them of the exact answer
    (two roundings of the same conditioning have errors of the same size; 8 covers the spread of a
    ratio of two such errors). A missing or doubled share of the batch is an O(1) error: far outside."""
    equiv(reuse_double=False)


def case_equiv_float():
    """The float half of `equiv` (for the kernel matrix, which varies only the float kernels): the
    double runs are reused from the last `equiv` when their checkpoints are there."""
    equiv(reuse_double=True)


def equiv(reuse_double):
    data = dataset("data")
    if not os.path.exists(RATLIP_F64):
        fail("%s is missing: configure with -DRATLIP_F64_PROGRAM=ON (the default)" % RATLIP_F64)
    # with hard mismatched captions for half of the pairs (train.hard_mismatch): chosen per global sample
    common = ["--data", data, "--steps", "1", "--set", "model.sync_bn=true", "--set", "model.rat_mode=sample",
              "--set", "train.hard_mismatch=0.5"] + FAST
    done = [os.path.join(WORK, "eq_f64_%s" % d, "ckpt-00000001.h5") for d in ("1x8", "2x4")]
    if reuse_double and all(os.path.exists(p) for p in done):
        print("double runs reused from %s" % os.path.dirname(done[0]))
        d1, d2, cfg = tensors(done[0]), tensors(done[1]), checkpoint_config(done[0])
    else:
        d1, d2, cfg = equiv_pair(RATLIP_F64, "f64", common)
    f1, f2, _ = equiv_pair(RATLIP, "f32", common)
    if set(d1) != set(d2) or set(d1) != set(f1) or set(f1) != set(f2):
        fail("the four checkpoints hold different tensor sets")
    computed = [k for k in d1 if not k.startswith("@") and ("/adam_" in k or kinds[k] == 2)]
    params = [k for k in d1 if not k.startswith("@") and k not in computed]

    # --- double: exactness
    worst = max((rel(d1[k], d2[k]), k) for k in computed)
    print("double: gradients, Adam v, BN statistics: worst relative difference %.2e in %s (bound 1e-10)" % worst)
    if worst[0] > 1e-10:
        fail("double: 1x8 and 2x4 differ: %.2e in %s" % worst)
    check_params("double", d1, d2, params, cfg, U64)

    # --- float: within the measured rounding budget of the exact answer
    for net in ("netG", "netD", "netC"):
        ks = [k for k in computed if k.startswith(net + "/")]
        cat = lambda t: np.concatenate([np.asarray(t[k], dtype=np.float64).ravel() for k in ks])
        ex, one, two = cat(d1), cat(f1), cat(f2)
        ratio = np.linalg.norm(one - ex) / max(np.linalg.norm(ex), 1e-300)
        ratio2 = np.linalg.norm(two - ex) / max(np.linalg.norm(ex), 1e-300)
        print("float %s: relative L2 error against double, 1x8 %.2e, 2x4 %.2e" % (net, ratio, ratio2))
        # the float program as a whole: within float's reach of the exact answer (u32 * 1e5: depth x
        # conditioning of a deep network's backward, far below any wrong result)
        if ratio > 1e5 * U32 or ratio2 > 1e5 * U32:
            fail("float %s is %.2e / %.2e away from the double answer" % (net, ratio, ratio2))
        worst = (0.0, "")
        for k in ks:
            ex, one, two = (np.asarray(t[k], dtype=np.float64) for t in (d1, f1, f2))
            norm = np.linalg.norm(ex)
            scale = max(np.linalg.norm(one - ex), np.linalg.norm(d1[k] - np.asarray(d2[k], np.float64)) * (U32 / U64),
                        ratio * norm, U32 * norm)
            r = np.linalg.norm(two - ex) / scale if scale > 0 else 0.0
            worst = max(worst, (r, k))
        print("float %s: worst 2x4 error / rounding scale %.2f in %s (bound 8)" % ((net,) + worst))
        if worst[0] > 8:
            fail("float: %s of the 2-rank run is %.1fx its rounding scale away from the exact answer" % (worst[1], worst[0]))
    check_params("float", f1, f2, params, cfg, U32)


def check_params(what, a, b, params, cfg, u):
    worst, worst_rel = (0.0, ""), (0.0, "")
    for k in params:
        x, y = np.asarray(a[k], dtype=np.float64), np.asarray(b[k], dtype=np.float64)
        if not x.size:
            continue
        over = np.abs(x - y) / adam_bound(k, a, b, cfg, u)
        worst = max(worst, (float(over.max()), k))
        worst_rel = max(worst_rel, (rel(x, y), k))
    print("%s: parameters: worst relative difference %.2e in %s; worst |diff| / Adam bound %.3f in %s (bound 1)"
          % (what, worst_rel[0], worst_rel[1], worst[0], worst[1]))
    if worst[0] > 1:
        fail("%s: parameter %s differs beyond what its gradient difference explains (%.2fx)" % (what, worst[1], worst[0]))


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


def rank_of(pid):
    """The MPI rank of a process mpirun started (Open MPI puts it in the environment)."""
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    return int(env.get(b"OMPI_COMM_WORLD_RANK", b"-1"))


def case_stall():
    data = dataset("data")
    d = fresh("stall")
    timeout_s, slack_s = 15, 10
    cmd = MPIRUN + ["-np", "2", RATLIP, "train", "--data", data, "--run-dir", d, "--steps", "400",
                    "--set", "train.ckpt_every=2", "--set", "dist.timeout_s=%d" % timeout_s] + FAST
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = None
    try:
        deadline = time.time() + 180
        while time.time() < deadline and not glob.glob(os.path.join(d, "ckpt-*.h5")) and p.poll() is None:
            time.sleep(0.2)
        pids = subprocess.run(["pgrep", "-f", "ratlip train --data %s --run-dir %s" % (data, d)],
                              stdout=subprocess.PIPE, text=True).stdout.split()
        ranks = {rank_of(int(x)): int(x) for x in pids}
        if 1 not in ranks:
            fail("expected rank processes, found %s" % ranks)
        victim = ranks[1]   # not rank 0: it writes the status file
        t0 = time.time()
        os.kill(victim, signal.SIGSTOP)
        try:
            out, _ = p.communicate(timeout=timeout_s + slack_s + 20)
        except subprocess.TimeoutExpired:
            fail("the job still runs %d s after SIGSTOP of rank 1 (dist.timeout_s=%d)" % (time.time() - t0, timeout_s))
        took = time.time() - t0
    finally:
        if victim is not None:   # nothing may linger: wake the stopped rank and end it
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(victim, sig)
                except ProcessLookupError:
                    pass
        if p.poll() is None:
            p.kill()
            p.wait()
    print(out[-2000:])
    print("job ended %.1f s after SIGSTOP of rank 1 (dist.timeout_s=%d), status %d" % (took, timeout_s, p.returncode))
    if p.returncode != 4:
        fail("exit status %d, expected 4 (RATLIP_EXIT_STALLED)" % p.returncode)
    if took > timeout_s + slack_s:
        fail("took %.1f s, over dist.timeout_s + %d s" % (took, slack_s))
    if "ranks not arrived: 1" not in out:
        fail("no message naming rank 1 as the one that did not arrive")
    if status(d) != "stalled":
        fail("status file says %r, expected 'stalled'" % status(d))
    newest = max(int(os.path.basename(x)[5:13]) for x in glob.glob(os.path.join(d, "ckpt-*.h5")))
    run(["train", "--data", data, "--run-dir", d, "--steps", str(newest + 2), "--resume", "auto"] + FAST)
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
    # a copy of the dataset without /labels: train.hard_mismatch has nothing to pick captions by
    nolabels = os.path.join(WORK, "data_nolabels")
    if not os.path.isdir(nolabels):
        shutil.copytree(data, nolabels)
        for f in glob.glob(os.path.join(nolabels, "*.h5")):
            with h5py.File(f, "a") as h:
                if "labels" in h:
                    del h["labels"]
                if "label_names" in h.attrs:
                    del h.attrs["label_names"]
    cases = [(["--data", os.path.join(WORK, "no-such-dir")], "no-such-dir"),
             (["--data", data, "--set", "model.text_dim=256"], "model.text_dim is 256"),
             (["--data", data, "--set", "train.lr_q=1"], "did you mean train.lr_g"),
             (["--data", data, "--set", "train.hard_mismatch=1.5"], "train.hard_mismatch: must be in [0, 1]"),
             (["--data", nolabels, "--set", "train.hard_mismatch=0.5"], "has no /labels"),
             (["--data", data, "--set", "train.hard_mismatch=0.5", "--set", "train.hard_mismatch_labels=shape,hue"],
              "'hue' is not a label of"),
             (["--data", data, "--set", "train.hard_mismatch=0.5", "--set", "train.hard_mismatch_labels=size,size"],
              "'size' is named twice")]
    for args, want in cases:
        p = run(["train", "--run-dir", d, "--steps", "1"] + args + FAST, ranks=1, check=False)
        if p.returncode != 1 or want not in p.stdout:
            fail("%s: exit %d, expected 1 and %r in the output" % (args, p.returncode, want))
    if status(d) != "failed":
        fail("status after a failed start: %r" % status(d))


def case_mismatch_labels():
    """train.hard_mismatch_labels picks the label columns a hard mismatched caption may differ in: with
    every mismatched pair a hard one, one step's mismatched-pair loss of D is the same for "" and for all
    four columns named in order (the same draws), and differs between "shape" and "colour" (other
    captions); the start-up line names the columns."""
    data = dataset("data")
    d = fresh("mislabels")

    def mis_loss(labels):
        shutil.rmtree(d, ignore_errors=True)
        p = run(["train", "--run-dir", d, "--data", data, "--steps", "1", "--set", "train.batch_per_rank=4",
                 "--set", "train.hard_mismatch=1", "--set", "train.hard_mismatch_labels=" + labels,
                 "--set", "train.ckpt_every=0"] + FAST, ranks=1)
        named = labels or "shape,colour,background,size"
        if "differs in one of the labels %s\n" % named not in p.stdout:
            fail("the start-up line does not name the columns %s" % named)
        m = re.search(r"step +1/1 .* mis ([0-9.]+) ", p.stdout)
        if not m:
            fail("no step line with the mismatched-pair loss")
        return m.group(1)
    every, named, shape, colour = (mis_loss(x) for x in ("", "shape,colour,background,size", "shape", "colour"))
    print("D's mismatched-pair loss: all columns %s, named in order %s, shape %s, colour %s" % (every, named, shape, colour))
    if every != named:
        fail("naming every column in order changed the draws (%s vs %s)" % (every, named))
    if shape == colour:
        fail("hard mismatches restricted to shape and to colour gave the same loss %s: the columns are not used" % shape)


def case_precision():
    """train.precision (issue 14), 1 rank x batch 4, bf16 forced (RATLIP_BF16_FORCE: oneDNN emulates it where
    the CPU lacks it): the run says which precision it uses; bf16 resume is bit-exact (2 straight == 1 + 1);
    a bf16 checkpoint resumes in fp32 and the other way round (checkpoints are fp32 in both); a bad value
    is refused naming the key. Without oneDNN in the build bf16 falls back to fp32, which the line says."""
    data = dataset("data")
    a, b, c = fresh("prec_a", "prec_b", "prec_c")
    small = ["--set", "train.batch_per_rank=4"] + FAST
    bf16 = small + ["--set", "train.precision=bf16"]
    env = dict(os.environ, RATLIP_BF16_FORCE="1")
    p = run(["train", "--data", data, "--run-dir", a, "--steps", "2"] + bf16, ranks=1, env=env)
    if "precision: bf16" not in p.stdout and "no oneDNN" not in p.stdout and "no bf16 kernels" not in p.stdout:
        fail("the forced bf16 run did not say it trains in bf16")
    # without the force, on a CPU lacking AMX / avx512_bf16, it says it trains in fp32 instead
    p = run(["train", "--data", data, "--run-dir", b, "--steps", "1"] + bf16, ranks=1)
    if "precision: " not in p.stdout:
        fail("no precision line")
    if "avx512_bf16 no, AMX no" in p.stdout and "this CPU has neither AMX nor avx512_bf16" not in p.stdout:
        fail("bf16 on a CPU without native bf16 did not say that it runs fp32")
    run(["train", "--data", data, "--run-dir", c, "--steps", "1"] + bf16, ranks=1, env=env)
    run(["train", "--data", data, "--run-dir", c, "--steps", "2", "--resume", "auto"] + bf16, ranks=1, env=env)
    compare(os.path.join(a, "ckpt-00000002.h5"), os.path.join(c, "ckpt-00000002.h5"))
    # a bf16 checkpoint goes on in fp32, and an fp32 one in bf16
    p = run(["train", "--data", data, "--run-dir", c, "--steps", "3", "--resume", "auto"] + small, ranks=1)
    if "precision: fp32" not in p.stdout or "resume: " not in p.stdout:
        fail("the fp32 continuation of a bf16 run did not resume in fp32")
    run(["train", "--data", data, "--run-dir", c, "--steps", "4", "--resume", "auto"] + bf16, ranks=1, env=env)
    run(["ckpt", "verify", os.path.join(c, "ckpt-00000004.h5")], ranks=1)
    # evaluation inside a bf16 run is fp32: its FID is what `ratlip eval` (fp32) gives for the same checkpoint
    if not glob.glob(os.path.join(data, "fid-stats-test-*.h5")):
        run(["data", "stats", data, "--split", "test"], ranks=1)
    e = fresh("prec_eval")
    ev = ["--set", "train.eval_every=2", "--set", "eval.n_samples=4"]
    run(["train", "--data", data, "--run-dir", e, "--steps", "2"] + bf16 + ev, ranks=1, env=env)
    with h5py.File(os.path.join(e, "metrics.h5"), "r") as f:
        fid_train = float(f["eval/fid"][0])
    out = os.path.join(e, "eval_out")
    run(["eval", "--ckpt", os.path.join(e, "ckpt-00000002.h5"), "--data", data, "--n", "4", "--threads", "1",
         "--out", out], ranks=1)
    with h5py.File(os.path.join(out, "metrics.h5"), "r") as f:
        fid_eval = float(f["eval/fid"][0])
    print("FID in the bf16 run %.6f, ratlip eval (fp32) %.6f" % (fid_train, fid_eval))
    if abs(fid_train - fid_eval) > 1e-6 * max(abs(fid_eval), 1):
        fail("the bf16 run's evaluation differs from ratlip eval's: %.6f vs %.6f" % (fid_train, fid_eval))
    p = run(["train", "--data", data, "--run-dir", fresh("prec_bad"), "--steps", "1", "--set", "train.precision=fp16"]
            + FAST, ranks=1, check=False)
    if p.returncode != 1 or "train.precision" not in p.stdout or "fp16" not in p.stdout:
        fail("train.precision=fp16: exit %d, expected 1 and a message naming the key" % p.returncode)


if __name__ == "__main__":   # tests/train/train_faults.py imports the helpers above
    {"resume": case_resume, "badinput": case_badinput, "evalbest": case_evalbest, "reshape": case_reshape,
     "preempt": case_preempt, "equiv": case_equiv, "equiv_float": case_equiv_float,
     "resume_short": case_resume_short, "kill": case_kill, "stall": case_stall,
     "precision": case_precision, "mismatch_labels": case_mismatch_labels}[CASE]()
    clean_up(keep=("eq_f64_1x8", "eq_f64_2x4"))
    print("ok:", CASE)
