#!/usr/bin/python3
"""export_torch.py: a ratlip HDF5 checkpoint (io/ckpt.h) -> the upstream RATLIP checkpoint dict.

    export_torch.py CKPT.h5 --out FILE.pth [--ema] [--clip-weights CLIP.h5]
    (normally run through `ratlip ckpt export --format torch --out FILE.pth CKPT.h5`)

Writes what OxygenLu/RATLIP code/lib/utils.py:save_models_opt writes (shared/spec/state-dict.md §1):
    {'model': {'netG': sd, 'netD': sd, 'netC': sd},          keys 'module.'-prefixed (DDP layout,
     'optimizers': {'optimizer_G': ..., 'optimizer_D': ...},   loads on every upstream path)
     'epoch': int,
     'ratlip': {...}}                                         provenance; upstream ignores it
* netG holds every upstream key in upstream order: the BatchNorm buffers with num_batches_tracked
  (int64, shape []) and the frozen CLIP copies mapping.CLIP_ViT.* taken from the CLIP weight file
  (--clip-weights, else the checkpoint config's model.clip_weights). When no CLIP file is named
  (the run used ratlip's seeded random CLIP tower, which no file holds) those keys are left out
  and a warning says so: the file then loads with load_state_dict(strict=False), or after the keys
  are filled from the CLIP model the run used.
* Only model.rat_mode "batch" (the released code: one LSTM per affine) has upstream names; a
  checkpoint of the paper's "sample" mode is refused (spec/state-dict.md §2.5).
* optimizer_G indexes netG.parameters() (CLIP copies included, never with state), optimizer_D
  indexes netD then netC parameters; the unused DBlocks.*.conv_s get no state, as upstream.
  Adam's step is a 0-d float tensor (torch >= 1.12).
* --ema: the EMA generator (netG_ema) is exported as netG; its optimiser state is netG's.
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np
import torch


def die(msg):
    sys.stderr.write("export_torch.py: %s\n" % msg)
    sys.exit(1)


# ---- upstream key order (spec/state-dict.md §2-§4), from the config's dimensions

def conv_shuffle(p):
    return [p + "conv.weight", p + "bn.weight", p + "bn.bias", p + "bn.running_mean", p + "bn.running_var",
            p + "bn.num_batches_tracked", p + "se.cweight", p + "se.cbias", p + "se.sweight", p + "se.sbias",
            p + "se.gn.weight", p + "se.gn.bias"]


def affine_rnn(p):
    return ([p + "rnn." + k for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")] +
            [p + f + "." + i + "." + w for f in ("fc_gamma", "fc_beta") for i in ("0", "2") for w in ("weight", "bias")])


def affine(p):
    return [p + f + "." + i + "." + w for f in ("fc_gamma", "fc_beta") for i in ("linear1", "linear2")
            for w in ("weight", "bias")]


CLIP_BLOCK = ["attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias",
              "ln_1.weight", "ln_1.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
              "mlp.c_proj.bias", "ln_2.weight", "ln_2.bias"]


def clip_mapper_keys(layers):
    keys = ["class_embedding", "positional_embedding", "conv1.weight", "ln_pre.weight", "ln_pre.bias"]
    keys += ["transformer.resblocks.%d.%s" % (b, k) for b in range(layers) for k in CLIP_BLOCK]
    return keys


def netg_order(m):
    out = ["fc_code.weight", "fc_code.bias"]
    for j in range(m["mblocks"]):
        p = "mapping.FBlocks.%d." % j
        out += [p + "conv1.weight", p + "conv1.bias"]
        out += affine_rnn(p + "fuse1.affine0.") + affine_rnn(p + "fuse1.affine1.")
        out += conv_shuffle(p + "conv2.")
        out += affine_rnn(p + "fuse2.affine0.") + affine_rnn(p + "fuse2.affine1.")
    out += ["mapping.conv_fuse.weight", "mapping.conv_fuse.bias"]
    out += ["mapping.CLIP_ViT." + k for k in clip_mapper_keys(m["clip_layers"])]
    out += ["mapping.conv.weight", "mapping.conv.bias", "mapping.fc_prompt.weight", "mapping.fc_prompt.bias"]
    ch = m["g_channels"]
    for i in range(len(ch) - 1):
        p = "GBlocks.%d." % i
        out += conv_shuffle(p + "c1.") + conv_shuffle(p + "c2.")
        out += affine(p + "fuse1.affine0.") + affine(p + "fuse1.affine1.")
        out += affine(p + "fuse2.affine0.") + affine(p + "fuse2.affine1.")
        if ch[i] != ch[i + 1]:
            out += [p + "c_sc.weight", p + "c_sc.bias"]
    return out + ["to_rgb.1.weight", "to_rgb.1.bias"]


def netd_order(m):
    out = []
    for i in range(len(m["clip_taps"]) - 1):
        p = "DBlocks.%d." % i
        out += [p + "gamma", p + "beta", p + "conv_r.0.weight", p + "conv_r.2.weight", p + "conv_s.weight",
                p + "conv_s.bias"]
    return out + ["main.gamma", "main.conv_r.0.weight", "main.conv_r.2.weight", "main.conv_s.weight",
                  "main.conv_s.bias"]


NETC_ORDER = ["joint_conv.0.weight", "joint_conv.2.weight"]


def is_buffer(k):
    return k.endswith(".running_mean") or k.endswith(".running_var") or k.endswith(".num_batches_tracked")


# ---- reading the ratlip checkpoint

def tensor(ds):
    a = np.asarray(ds, dtype=np.float32)
    if int(ds.attrs.get("ndim", a.ndim)) == 0:
        a = a.reshape(())
    return torch.from_numpy(np.ascontiguousarray(a))


def read_net(f, net, path):
    if net not in f:
        die("%s: group /%s missing (not a ratlip training checkpoint?)" % (path, net))
    g = f[net]
    params = {k: tensor(g[k]) for k in g if isinstance(g[k], h5py.Dataset)}
    m = {k: tensor(g["adam_m"][k]) for k in g["adam_m"]} if "adam_m" in g else {}
    v = {k: tensor(g["adam_v"][k]) for k in g["adam_v"]} if "adam_v" in g else {}
    return params, m, v, int(g.attrs.get("adam_step", 0))


def check_names(net, have, want, path):
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    if missing or extra:
        die("%s: /%s does not have the upstream parameter names: missing %s, unexpected %s" %
            (path, net, missing[:5] or "none", extra[:5] or "none"))


def adam_group(lr, b1, b2, eps, n):
    # the installed torch's own param_group keys (they change between torch versions)
    g = torch.optim.Adam([torch.zeros(1)], lr=lr, betas=(b1, b2), eps=eps).state_dict()["param_groups"][0]
    g["params"] = list(range(n))
    return g


def optimizer_dict(order, params, m, v, step, group, skip):
    state = {}
    for i, k in enumerate(order):
        if k in skip or k not in m:
            continue
        if tuple(m[k].shape) != tuple(params[k].shape):
            die("Adam moment of %s has shape %s, the parameter %s" % (k, tuple(m[k].shape), tuple(params[k].shape)))
        state[i] = {"step": torch.tensor(float(step)), "exp_avg": m[k], "exp_avg_sq": v[k]}
    return {"state": state, "param_groups": [group]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ckpt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--ema", action="store_true", help="export the EMA generator as netG")
    ap.add_argument("--clip-weights", help="CLIP weight file for the mapping.CLIP_ViT.* copies")
    a = ap.parse_args()

    try:
        f = h5py.File(a.ckpt, "r")
    except OSError as e:
        die("%s: cannot open (%s)" % (a.ckpt, e))
    with f:
        if int(f.attrs.get("complete", 0)) != 1:
            die("%s: not a complete ratlip checkpoint (attribute complete != 1)" % a.ckpt)
        cj = f.attrs["config_json"]
        cfg = json.loads(cj.decode() if isinstance(cj, bytes) else cj)
        m, t = cfg["model"], cfg["train"]
        if m.get("rat_mode") != "batch":
            die("%s: model.rat_mode is '%s': only 'batch' (the released code's one LSTM per affine) has upstream "
                "names; the paper's 'sample' mode has no upstream module to load into (spec/state-dict.md §2.5)" %
                (a.ckpt, m.get("rat_mode")))
        g, gm, gv, gstep = read_net(f, "netG", a.ckpt)
        if a.ema:
            g, _, _, _ = read_net(f, "netG_ema", a.ckpt)
        d, dm, dv, dstep = read_net(f, "netD", a.ckpt)
        c, cm, cv, _ = read_net(f, "netC", a.ckpt)
        tracked = 0
        if "extra" in f and "netG.num_batches_tracked" in f["extra"].attrs:
            tracked = int(f["extra"].attrs["netG.num_batches_tracked"])
        step = int(f.attrs.get("step", 0))
        epoch = int(f.attrs.get("epoch", 0))

    g_order = netg_order(m)
    clip_keys = [k for k in g_order if k.startswith("mapping.CLIP_ViT.")]
    check_names("netG", g.keys(), [k for k in g_order if k not in clip_keys and not k.endswith("num_batches_tracked")],
                a.ckpt)
    d_order = netd_order(m)
    check_names("netD", d.keys(), d_order, a.ckpt)
    check_names("netC", c.keys(), NETC_ORDER, a.ckpt)

    clip_file = a.clip_weights or m.get("clip_weights") or ""
    clip = {}
    if clip_file:
        try:
            with h5py.File(clip_file, "r") as cf:
                for k in clip_keys:
                    name = "visual." + k[len("mapping.CLIP_ViT."):]
                    if name not in cf:
                        die("%s: dataset %s missing (a CLIP weight file has every visual.* key)" % (clip_file, name))
                    clip[k] = tensor(cf[name])
        except OSError as e:
            die("%s: cannot open the CLIP weight file (%s); pass --clip-weights FILE" % (clip_file, e))
    else:
        sys.stderr.write("export_torch.py: warning: the config names no CLIP weight file (the run used ratlip's seeded "
                         "random CLIP tower), so netG lacks the %d mapping.CLIP_ViT.* keys: load it with "
                         "strict=False or pass --clip-weights FILE\n" % len(clip_keys))

    sd_g = {}
    for k in g_order:
        if k.endswith("num_batches_tracked"):
            sd_g[k] = torch.tensor(tracked, dtype=torch.int64)
        elif k in clip_keys:
            if clip:
                sd_g[k] = clip[k]
        else:
            sd_g[k] = g[k]
    sd_d = {k: d[k] for k in d_order}
    sd_c = {k: c[k] for k in NETC_ORDER}
    prefix = lambda sd: {"module." + k: v for k, v in sd.items()}

    g_params = [k for k in g_order if not is_buffer(k)]          # = netG.parameters() order
    dc_params = d_order + NETC_ORDER                              # optimizer_D: netD then netC
    unused = {k for k in d_order if k.startswith("DBlocks.") and ".conv_s." in k}
    opt_g = optimizer_dict(g_params, {**g, **clip}, gm, gv, gstep,
                           adam_group(t["lr_g"], t["beta1"], t["beta2"], t["adam_eps"], len(g_params)), set(clip_keys))
    opt_d = optimizer_dict(dc_params, {**d, **c}, {**dm, **cm}, {**dv, **cv}, dstep,
                           adam_group(t["lr_d"], t["beta1"], t["beta2"], t["adam_eps"], len(dc_params)), unused)
    state = {
        "model": {"netG": prefix(sd_g), "netD": prefix(sd_d), "netC": prefix(sd_c)},
        "optimizers": {"optimizer_G": opt_g, "optimizer_D": opt_d},
        "epoch": epoch,
        "ratlip": {"step": step, "source": os.path.abspath(a.ckpt), "ema": bool(a.ema),
                   "clip_copies": clip_file if clip else "missing", "config": cfg},
    }
    tmp = a.out + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, a.out)
    print("exported %s -> %s: netG %d keys%s, netD %d, netC %d, optimizer_G %d params (%d with state), "
          "optimizer_D %d (%d with state), step %d" %
          (a.ckpt, a.out, len(sd_g), "" if clip else " (no CLIP copies)", len(sd_d), len(sd_c), len(g_params),
           len(opt_g["state"]), len(dc_params), len(opt_d["state"]), step))


if __name__ == "__main__":
    main()
