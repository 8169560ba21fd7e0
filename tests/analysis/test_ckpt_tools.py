#!/usr/bin/python3
"""`ratlip ckpt diff` and `ratlip ckpt export --format torch` on checkpoints of the real tiny nets.

argv: RATLIP MAKE_CKPT SOURCE_DIR
diff:   a.h5 vs b.h5 (made by make_ckpt with fc_code.weight x1.5 and main.gamma +0.25) must report
        relative change 0.5 for fc_code.weight, |B-A| = 0.25 for main.gamma, every other tensor
        bit-identical; --fail-if-different exits 3; a.h5 vs itself exits 0 with 0 different.
export: the .pth loads with torch.load; stripped of 'module.' its netG/netD/netC state_dicts load
        with strict=True into the PyTorch reference model (tests/reference/ratlip.py, upstream
        names) built from the checkpoint's own config, in the reference's key order, with the
        checkpoint's values; the optimizer dicts load into torch.optim.Adam over netG.parameters()
        and netD+netC parameters, with exp_avg/exp_avg_sq equal to the checkpoint's moments.
        Without a CLIP file exactly the mapping.CLIP_ViT.* keys are missing; a rat_mode "sample"
        checkpoint is refused with a message naming rat_mode.
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch

ratlip, make_ckpt, src = sys.argv[1:4]
sys.path.insert(0, os.path.join(src, "tests", "reference"))
import ratlip as ref  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += not cond


def run(*args, expect=0):
    p = subprocess.run([*args], capture_output=True, text=True)
    if p.returncode != expect:
        print(p.stdout, p.stderr)
    check(p.returncode == expect, "%s exits %d (got %d)" % (" ".join(os.path.basename(a) for a in args[:3]), expect, p.returncode))
    return p


def diff_rows(text):
    rows = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 7 and "/" in f[0] and f[1].startswith("["):
            rows[f[0]] = f
    return rows


with tempfile.TemporaryDirectory(prefix="ratlip_ckpt_tools_") as w:
    for mode in ("batch", "sample"):
        os.makedirs(os.path.join(w, mode))
        run(make_ckpt, os.path.join(w, mode), mode)
    a, b, clip = (os.path.join(w, "batch", n) for n in ("a.h5", "b.h5", "clip.h5"))

    # ---- diff
    p = run(ratlip, "ckpt", "diff", a, b)
    rows = diff_rows(p.stdout)
    with h5py.File(a, "r") as f:
        n_tensors = 0
        f.visititems(lambda n, o: None)
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    check(len(rows) == len(names), "diff lists every tensor of A (%d rows, %d datasets)" % (len(rows), len(names)))
    # fl(1.5*w) is within 1.5u = 9e-8 of 1.5*w, so |B-A|/|A| (printed %.4g) reads 0.5 exactly; main.gamma
    # + 0.25 is within u*|gamma + 0.25| of it (printed %.6g: 0.25 to the last digit)
    fc = rows.get("netG/fc_code.weight")
    check(fc is not None and abs(float(fc[5]) - 0.5) < 1e-6, "fc_code.weight x1.5: |B-A|/|A| = %s (want 0.5)" % (fc[5] if fc else "?"))
    gm = rows.get("netD/main.gamma")
    check(gm is not None and abs(float(gm[4]) - 0.25) < 1e-7, "main.gamma +0.25: |B-A| = %s (want 0.25)" % (gm[4] if gm else "?"))
    same = [n for n, r in rows.items() if r[-1] == "="]
    check(len(same) == len(rows) - 2, "all other tensors bit-identical (%d of %d)" % (len(same), len(rows)))
    check("2 different" in p.stdout, "summary counts 2 different tensors")
    run(ratlip, "ckpt", "diff", "--fail-if-different", a, b, expect=3)
    p = run(ratlip, "ckpt", "diff", "--fail-if-different", a, a, expect=0)
    check(" 0 different" in p.stdout, "A vs A: 0 different")
    run(ratlip, "ckpt", "diff", a, os.path.join(w, "missing.h5"), expect=1)

    # ---- export
    out = os.path.join(w, "g.pth")
    run(ratlip, "ckpt", "export", "--format", "torch", "--out", out, a)
    st = torch.load(out, map_location="cpu")
    check(set(st) >= {"model", "optimizers", "epoch"}, "top-level keys model, optimizers, epoch")
    with h5py.File(a, "r") as f:
        cfg = json.loads(f.attrs["config_json"])
        h5 = {n: np.asarray(f[n], dtype=np.float32) for n in names}
        h5_step = {net: int(f[net].attrs["adam_step"]) for net in ("netG", "netD", "netC")}
    cfg_path = os.path.join(w, "cfg.json")
    with open(cfg_path, "w") as fh:
        json.dump(cfg, fh)
    model = ref.Model(ref.load_config(cfg_path), perturb=False)
    for net_name, net in (("netG", model.netG), ("netD", model.netD), ("netC", model.netC)):
        sd = st["model"][net_name]
        check(all(k.startswith("module.") for k in sd), "%s: every key module.-prefixed" % net_name)
        plain = {k[len("module."):]: v for k, v in sd.items()}
        check(list(plain) == list(net.state_dict()), "%s: %d keys in the reference's state_dict order" % (net_name, len(plain)))
        try:
            net.load_state_dict(plain, strict=True)
            check(True, "%s: load_state_dict(strict=True) into the reference model" % net_name)
        except RuntimeError as e:
            check(False, "%s: load_state_dict: %s" % (net_name, str(e)[:300]))
        worst = 0.0
        for k, v in plain.items():
            if k.endswith("num_batches_tracked"):
                check(v.dtype == torch.int64 and v.shape == () and int(v) == 11, "%s: %s int64 [] = 11" % (net_name, k)) if k.startswith("mapping.FBlocks.0.") else None
                continue
            want = h5.get("%s/%s" % (net_name, k))
            if want is None:  # CLIP copy: from the CLIP weight file
                with h5py.File(clip, "r") as cf:
                    want = np.asarray(cf["visual." + k[len("mapping.CLIP_ViT."):]], dtype=np.float32)
            worst = max(worst, float(np.abs(v.numpy().reshape(want.shape) - want).max()) if want.size else 0.0)
        check(worst == 0.0, "%s: every value equals the checkpoint's (max |diff| %g)" % (net_name, worst))
    og = torch.optim.Adam(model.netG.parameters())
    od = torch.optim.Adam(list(model.netD.parameters()) + list(model.netC.parameters()))
    try:
        og.load_state_dict(st["optimizers"]["optimizer_G"])
        od.load_state_dict(st["optimizers"]["optimizer_D"])
        check(True, "optimizer dicts load into torch.optim.Adam (netG; netD+netC)")
    except (ValueError, KeyError) as e:
        check(False, "optimizer load_state_dict: %s" % e)
    gnames = [k for k, _ in model.netG.named_parameters()]
    sg = st["optimizers"]["optimizer_G"]["state"]
    trainable_g = [i for i, k in enumerate(gnames) if not k.startswith("mapping.CLIP_ViT.")]
    check(sorted(sg) == trainable_g, "optimizer_G: state for the %d trainable indices, none for CLIP" % len(trainable_g))
    worst = 0.0
    for i in trainable_g:
        worst = max(worst, float(np.abs(sg[i]["exp_avg"].numpy() - h5["netG/adam_m/" + gnames[i]].reshape(sg[i]["exp_avg"].shape)).max()))
        worst = max(worst, float(np.abs(sg[i]["exp_avg_sq"].numpy() - h5["netG/adam_v/" + gnames[i]].reshape(sg[i]["exp_avg"].shape)).max()))
    check(worst == 0.0 and float(sg[trainable_g[0]]["step"]) == h5_step["netG"], "optimizer_G moments and step equal the checkpoint's")
    dnames = [k for k, _ in model.netD.named_parameters()] + [k for k, _ in model.netC.named_parameters()]
    unused = [i for i, k in enumerate(dnames) if k.startswith("DBlocks.") and ".conv_s." in k]
    check(sorted(st["optimizers"]["optimizer_D"]["state"]) == [i for i in range(len(dnames)) if i not in unused],
          "optimizer_D: no state for the unused DBlocks.*.conv_s (indices %s), as upstream" % unused)
    pg = st["optimizers"]["optimizer_G"]["param_groups"][0]
    check(abs(pg["lr"] - cfg["train"]["lr_g"]) < 1e-12 and tuple(pg["betas"]) == (cfg["train"]["beta1"], cfg["train"]["beta2"]),
          "optimizer_G hyper-parameters from the config (lr %g, betas %s)" % (pg["lr"], pg["betas"]))

    # no CLIP file named: exactly the CLIP copies are missing, with a warning
    cfg_noclip = dict(cfg, model=dict(cfg["model"], clip_weights=""))
    with h5py.File(a, "r") as f, h5py.File(os.path.join(w, "noclip.h5"), "w") as g:
        for k in f:
            f.copy(f[k], g, name=k)
        for k, v in f.attrs.items():
            g.attrs[k] = v
        g.attrs["config_json"] = json.dumps(cfg_noclip)
    p = run(ratlip, "ckpt", "export", "--format", "torch", "--out", os.path.join(w, "n.pth"), os.path.join(w, "noclip.h5"))
    check("warning" in p.stderr and "CLIP" in p.stderr, "no CLIP file: warning on stderr")
    sdn = {k[7:]: v for k, v in torch.load(os.path.join(w, "n.pth"))["model"]["netG"].items()}
    r = model.netG.load_state_dict(sdn, strict=False)
    check(sorted(r.missing_keys) == sorted(k for k in model.netG.state_dict() if k.startswith("mapping.CLIP_ViT.")) and not r.unexpected_keys,
          "no CLIP file: exactly the %d mapping.CLIP_ViT.* keys are missing" % len(r.missing_keys))
    p = run(ratlip, "ckpt", "export", "--format", "torch", "--clip-weights", clip, "--out", os.path.join(w, "c.pth"),
            os.path.join(w, "noclip.h5"))
    check(len(torch.load(os.path.join(w, "c.pth"))["model"]["netG"]) == len(model.netG.state_dict()),
          "--clip-weights fills the CLIP copies")

    # rat_mode sample has no upstream names: refused, naming the key
    p = run(ratlip, "ckpt", "export", "--format", "torch", "--out", os.path.join(w, "s.pth"),
            os.path.join(w, "sample", "a.h5"), expect=1)
    check("rat_mode" in p.stderr and not os.path.exists(os.path.join(w, "s.pth")), "sample-mode checkpoint refused: " + p.stderr.strip()[:120])
    run(ratlip, "ckpt", "export", "--format", "onnx", "--out", os.path.join(w, "x"), a, expect=1)   # an invalid option value

print("test_ckpt_tools: %d failure(s)" % failures)
sys.exit(1 if failures else 0)
