#!/usr/bin/python3
"""test_ratlip_self.py: the reference checked against the spec's formulas, written out independently.

The C parity tests trust ratlip.py, so the parts where torch modules could hide a different meaning
are re-derived here from shared/spec/model.md: attention (vs nn.MultiheadAttention), the RAT
recurrence in both modes (LSTM equations by hand, gate order i,f,g,o; state carried across the 4
affines of a block and across blocks in "sample" mode; sequence = batch in "batch" mode),
ShuffleAttention with its channel shuffle (§1.8), nearest resizing (§1.2), the CLIP remap (§2.1),
and MA-GP (per-sample gradient norms by separate backward passes; parameter gradient vs central
finite differences in double). Exit status 0 when all hold.
"""
import copy
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ratlip  # noqa: E402

failures = []


# Two float64 computations of one formula in different orders (torch modules vs the loops written out
# here): sums of K <= 512 terms through a few layers differ by <= 2*lambda*u64*sqrt(n*K) ~ 1e-13 relative
# (tests/testutil.h's model, lambda = 8, u64 = 2^-53); the checks run in float64 for that reason (in
# float32 the same budget is ~1e-4, which would hide a wrong formula of small effect).
TOL_F64 = 1e-12


def close(what, got, want, tol):
    err = (got - want).abs().max().item() / max(want.abs().max().item(), 1e-6)
    ok = err <= tol
    print("%s %-60s rel err %.2e (tol %.0e)" % ("ok  " if ok else "FAIL", what, err, tol))
    if not ok:
        failures.append(what)


def lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """Spec §1.4: g = W_ih x + b_ih + W_hh h + b_hh; gates i, f, g, o."""
    H = h.shape[-1]
    g = x @ w_ih.t() + b_ih + h @ w_hh.t() + b_hh
    i, f, u, o = (g[..., k * H:(k + 1) * H] for k in range(4))
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(u)
    return torch.sigmoid(o) * torch.tanh(c), c


def capture_rat_inputs(netG):
    """Forward hooks on every AffineRNN.fc_gamma, in call order: the h each affine used."""
    seen = []
    hooks = [mod.fc_gamma.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
             for mod in netG.modules() if isinstance(mod, ratlip.AffineRNN)]
    return seen, hooks


def check_rat(cfg_sets, B=3):
    cfg = ratlip.load_config(None, cfg_sets)
    model = ratlip.Model(cfg, seed=3, dtype=torch.float64)
    model.reset()
    z, s = torch.randn(B, 100, dtype=torch.float64), torch.randn(B, 512, dtype=torch.float64)
    cond = torch.cat([z, s], 1)
    seen, hooks = capture_rat_inputs(model.netG)
    with torch.no_grad():
        model.netG(z, s)
    for h in hooks:
        h.remove()
    mode = cfg["model"]["rat_mode"]
    want = []
    with torch.no_grad():
        if mode == "sample":
            h = c = torch.zeros(B, 64, dtype=torch.float64)
            for blk in model.netG.mapping.FBlocks:
                cell = blk.rat_cell
                for _ in range(4):  # fuse1.affine0, fuse1.affine1, fuse2.affine0, fuse2.affine1
                    h, c = lstm_step(cond, h, c, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
                    want.append(h.clone())
        else:
            for blk in model.netG.mapping.FBlocks:
                for aff in (blk.fuse1.affine0, blk.fuse1.affine1, blk.fuse2.affine0, blk.fuse2.affine1):
                    r = aff.rnn
                    h = c = torch.zeros(64, dtype=torch.float64)
                    for t in range(B):  # the sequence is the batch
                        h, c = lstm_step(cond[t], h, c, r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)
                    want.append(h.view(1, 64))
    ok = len(seen) == len(want) == 16
    print("%s rat_mode %s: 16 affine calls in forward order (%d)" % ("ok  " if ok else "FAIL", mode, len(seen)))
    if not ok:
        failures.append("rat call count " + mode)
        return
    close("rat_mode %s: h used by each affine == hand LSTM" % mode, torch.stack(seen), torch.stack(want), TOL_F64)


def check_attention():
    torch.manual_seed(0)
    W, H, B, L = 64, 4, 2, 10
    att = ratlip.Attention(W, H).double()
    nn.init.normal_(att.in_proj_weight, std=0.1)
    nn.init.normal_(att.in_proj_bias, std=0.1)
    mha = nn.MultiheadAttention(W, H, batch_first=True).double()
    mha.load_state_dict(att.state_dict())
    x = torch.randn(B, L, W, dtype=torch.float64)
    close("Attention == nn.MultiheadAttention (same state_dict)", att(x), mha(x, x, x, need_weights=False)[0], TOL_F64)


def check_shuffle_attention():
    torch.manual_seed(1)
    C, G, B, Hs = 64, 8, 2, 5
    sa = ratlip.ShuffleAttention(C, G).double()
    for p in sa.parameters():
        nn.init.normal_(p, std=0.5)
    x = torch.randn(B, C, Hs, Hs, dtype=torch.float64)
    k = C // (2 * G)
    o = torch.empty_like(x)
    with torch.no_grad():
        for b in range(B):
            for g in range(G):
                for j in range(2 * k):
                    ch = g * (C // G) + j
                    v = x[b, ch]
                    if j < k:  # channel gate on the spatial mean
                        gate = torch.sigmoid(sa.cweight[0, j, 0, 0] * v.mean() + sa.cbias[0, j, 0, 0])
                    else:      # spatial gate on the instance-normalised map
                        i = j - k
                        n = (v - v.mean()) / torch.sqrt(v.var(unbiased=False) + 1e-5) * sa.gn.weight[i] + sa.gn.bias[i]
                        gate = torch.sigmoid(sa.sweight[0, i, 0, 0] * n + sa.sbias[0, i, 0, 0])
                    o[b, ch] = v * gate
        want = torch.empty_like(o)
        for j in range(C // 2):
            for q in range(2):
                want[:, 2 * j + q] = o[:, q * C // 2 + j]
        close("ShuffleAttention == spec §1.8 loops", sa(x), want, TOL_F64)


def check_resize_and_remap():
    x = torch.arange(7.0).view(1, 1, 1, 7).expand(1, 1, 7, 7)
    got = F.interpolate(x, size=(8, 8), mode="nearest")[0, 0, 0].tolist()
    ok = got == [0, 0, 1, 2, 3, 4, 5, 6]
    print("%s nearest 7->8 maps to [0,0,1,2,3,4,5,6]: %s" % ("ok  " if ok else "FAIL", got))
    if not ok:
        failures.append("resize 7->8")
    x = torch.arange(128.0).view(1, 1, 1, 128).expand(1, 1, 2, 128)
    got = F.interpolate(x, size=(2, 224), mode="nearest")[0, 0, 0]
    scale = torch.tensor(128 / 224, dtype=torch.float32)
    want = torch.clamp(torch.floor(torch.arange(224, dtype=torch.float32) * scale), max=127)
    close("nearest 128->224: src = min(floor(dst*(in/out)), in-1)", got, want, 0)
    # remap: galip sends x to 0.25x+0.75 before CLIP's normalisation
    cfg = ratlip.load_config(None, [])
    tower = ratlip.VisionTower(cfg["model"]).double()
    tower.init_random()
    img = torch.rand(1, 3, 64, 64, dtype=torch.float64) * 2 - 1
    std_img = img * 0.5 + 0.5  # standard maps y to 0.5y+0.5 = 0.25x+0.75 for y = 0.5x+0.5
    cfg2 = ratlip.load_config(None, ["model.clip_remap=standard"])
    tower2 = ratlip.VisionTower(cfg2["model"]).double()
    tower2.load_state_dict(tower.state_dict())
    with torch.no_grad():
        close("clip_remap galip(x) == standard(0.5x+0.5)", tower.encode(img)[1], tower2.encode(std_img)[1], TOL_F64)


def check_magp():
    torch.set_default_dtype(torch.float64)
    cfg = ratlip.load_config(None, ["model.clip_width=32", "model.d_out_ch=16", "model.text_dim=8", "model.netc_mid=8"])
    model = ratlip.Model(cfg, seed=5)
    D, C = model.netD, model.netC
    B = 3
    taps = torch.randn(B, 3, 32, 8, 8, requires_grad=True)
    s = torch.randn(B, 8, requires_grad=True)
    value, norm = ratlip.magp(C(D(taps), s), taps, s, 2.0, 6.0)
    # per-sample norms by separate backward passes
    norms = []
    for b in range(B):
        gt, gs = torch.autograd.grad(C(D(taps), s)[b], (taps, s))
        norms.append(torch.cat([gt[b].flatten(), gs[b].flatten()]).norm())
        others = torch.cat([gt[:b].flatten(), gt[b + 1:].flatten(), gs[:b].flatten(), gs[b + 1:].flatten()])
        if others.abs().max() > 0:
            print("FAIL MA-GP: sample %d's output has a gradient on other samples' inputs" % b)
            failures.append("magp: sample %d leaks into others" % b)
    # float64: the same sums regrouped (~1e-14 after the 6th power) within 1e-10; the finite differences
    # below (h = 1e-6) err by h^2*|f'''|/6 + u64*|value|/h ~ 1e-10 relative: tolerance 1e-5
    close("MA-GP per-sample norms == separate backward passes", norm, torch.stack(norms), 1e-10)
    close("MA-GP value == 2 mean ||g||^6", value, 2 * torch.stack(norms).pow(6).mean(), 1e-10)
    params = dict(list(("netD." + k, p) for k, p in D.named_parameters()) + list(("netC." + k, p) for k, p in C.named_parameters()))
    grads = dict(zip(params, torch.autograd.grad(value, list(params.values()), allow_unused=True)))
    gen = torch.Generator().manual_seed(0)
    got, want = [], []
    for name in ("netD.DBlocks.0.gamma", "netD.DBlocks.0.beta", "netD.DBlocks.1.gamma", "netD.main.gamma",
                 "netD.DBlocks.0.conv_r.0.weight", "netD.DBlocks.1.conv_r.2.weight", "netD.main.conv_r.0.weight",
                 "netD.main.conv_s.weight", "netC.joint_conv.0.weight", "netC.joint_conv.2.weight"):
        p = params[name]
        for _ in range(2):
            i = int(torch.randint(p.numel(), (1,), generator=gen))
            h = 1e-6
            old = p.view(-1)[i].item()
            vals = []
            for x in (old + h, old - h, old):
                with torch.no_grad():
                    p.view(-1)[i] = x
                vals.append(ratlip.magp(C(D(taps), s), taps, s, 2.0, 6.0)[0].item())
            vp, vm = vals[:2]
            g = grads[name]
            got.append(0.0 if g is None else g.reshape(-1)[i].item())
            want.append((vp - vm) / (2 * h))
    close("MA-GP d/dparam (autograd) == central differences (double)", torch.tensor(got), torch.tensor(want), 1e-5)
    torch.set_default_dtype(torch.float32)


def main():
    check_attention()
    check_shuffle_attention()
    check_rat(["model.rat_mode=sample"])
    check_rat(["model.rat_mode=batch"])
    check_resize_and_remap()
    check_magp()
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
