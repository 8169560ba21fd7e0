#!/usr/bin/python3
"""PyTorch side of the training-step benchmark (tests/bench/step.sh): one full iteration of the
reference (tests/reference/ratlip.py: D step with MA-GP, Adam, G step, Adam, EMA), the same loop
body as ratlip.py's train() with the optimisers built once, timed like bench_step (fastest of the
timed iterations after two warm-ups; process CPU time at 1 thread, wall time at more), and the
FLOPs of one iteration.

FLOP counting rule: 2 x MACs of every matrix product and convolution that PyTorch actually executes
in one iteration (aten mm, addmm, bmm, baddbmm, convolution, and convolution_backward's grad-input
and grad-weight halves, as its output_mask asks), caught at the ATen dispatcher, so forward,
backward, MA-GP's double backward, the CLIP passes and the frozen CLIP (input gradients only, no
weight gradients) are all counted as executed. Elementwise ops, norms, softmax and Adam are not
counted. With --parts the count is also split by network part (each part run on its own under the
counter) as the C iteration runs it: their sum leaves out two things the reference computes and
the C code skips (NetD/NetC weight gradients in the G step, the CLIP blocks past the last tap for
the real images), so it is the FLOP count used for the C side's GFLOP/s.

Prints tab-separated rows:
  ITER <rat_mode> <threads> <ms> <gflop>
  PART <name> <gflop>        (with --parts; names as bench_step's parts)
usage: step_torch.py --threads T [--iters N] [--config FILE] [--rat-mode sample|batch] [--batch B] [--parts]"""
import argparse
import contextlib
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import ratlip  # noqa: E402
from benchcpu import cpu_model  # noqa: E402


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def conv_flops(x_shape, w_shape, out_shape):
    """2 * N * Cout * Hout * Wout * (Cin/groups) * kh * kw (w is [Cout, Cin/groups, kh, kw])."""
    return 2 * out_shape[0] * _numel(out_shape[1:]) * _numel(w_shape[1:])


class FlopCounter(TorchDispatchMode):
    """Adds the FLOPs of every matrix product and convolution dispatched while active."""
    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name == "mm":
            (M, K), N = args[0].shape, args[1].shape[1]
            self.flops += 2 * M * K * N
        elif name == "addmm":
            (M, K), N = args[1].shape, args[2].shape[1]
            self.flops += 2 * M * K * N
        elif name in ("bmm", "baddbmm"):
            a, b = (args[0], args[1]) if name == "bmm" else (args[1], args[2])
            Bt, M, K = a.shape
            self.flops += 2 * Bt * M * K * b.shape[2]
        elif name == "convolution":
            self.flops += conv_flops(args[0].shape, args[1].shape, out.shape)
        elif name == "convolution_backward":
            grad_out, x, w, mask = args[0], args[1], args[2], args[-1]
            f = conv_flops(x.shape, w.shape, grad_out.shape)
            self.flops += f * (int(bool(mask[0])) + int(bool(mask[1])))
        return out


class Step:
    """The reference iteration with its optimisers and EMA built once (ratlip.train's loop body)."""
    def __init__(self, model, tr, bf16=False):
        self.model, self.tr = model, tr
        # bf16: forward passes under torch.autocast("cpu", torch.bfloat16), as a PyTorch user turns on
        # mixed precision (backward follows the forward's dtypes; optimisers and EMA stay fp32)
        self.autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
        netG, netD, netC = model.netG, model.netD, model.netC
        betas = (tr["beta1"], tr["beta2"])
        self.optG = torch.optim.Adam([p for _, p in ratlip.trainable(netG)], lr=tr["lr_g"], betas=betas,
                                     eps=tr["adam_eps"], foreach=False)
        self.optD = torch.optim.Adam(list(netD.parameters()) + list(netC.parameters()), lr=tr["lr_d"], betas=betas,
                                     eps=tr["adam_eps"], foreach=False)
        self.ema = {k: v.detach().clone() for k, v in netG.state_dict().items()
                    if not k.startswith("mapping.CLIP_ViT.")}
        self.train_keys = {k for k, _ in ratlip.trainable(netG)}

    def __call__(self, real, s, z):
        m, tr = self.model, self.tr
        s = s.clone().requires_grad_()
        with self.autocast():
            L = ratlip.d_step_losses(m, real, s, z, tr)
        self.optD.zero_grad(set_to_none=True)
        L["errD"].backward()
        self.optD.step()
        with self.autocast():
            out = m.netC(m.netD(L["taps_fake"]), s)
            sim = F.cosine_similarity(L["emb_fake"].float(), s, dim=1, eps=1e-8).mean()
            errG = -out.float().mean() - tr["sim_weight"] * sim
        self.optG.zero_grad(set_to_none=True)
        errG.backward()
        self.optG.step()
        with torch.no_grad():
            sd, d = m.netG.state_dict(), tr["ema_decay"]
            for k, e in self.ema.items():
                if k in self.train_keys:
                    e.mul_(d).add_(sd[k], alpha=1 - d)
                else:
                    e.copy_(sd[k])
        return float(L["errD"]), float(errG)


def count(fn):
    with FlopCounter() as c:
        fn()
    return c.flops


def part_flops(model, real, s, z, tr):
    """FLOPs of each network part on its own, as the iteration runs it (counts per iteration)."""
    tower, netG, netD, netC = model.tower, model.netG, model.netD, model.netC
    m = model.cfg["model"]
    B, S = real.shape[0], m["clip_image_size"]
    parts = {}
    with torch.no_grad():
        taps, _ = tower.encode(real)
    # the frozen CLIP encoder: 2 forwards (real without grad, fake with), 1 input-only backward
    # C runs the real images' encode only up to the last tap (no embedding is needed); the
    # reference runs the whole tower: count the C arithmetic with the blocks past the last tap removed
    blocks = tower.transformer.resblocks
    tower.transformer.resblocks = torch.nn.Sequential(*list(blocks)[:max(m["clip_taps"]) + 1])
    try:
        taps_only = count(lambda: tower.encode(real))
    finally:
        tower.transformer.resblocks = blocks
    parts["clip_enc_fwd"] = taps_only + count(lambda: tower.encode(real))
    img = torch.randn(B, 3, S, S, requires_grad=True)

    def enc_fb():
        t, e = tower.encode(img)
        (t.sum() + e.sum()).backward()
    parts["clip_enc_bwd"] = count(enc_fb) - count(lambda: tower.encode(img))
    # NetG (incl. the CLIP mapper): forward in the D step, backward in the G step
    parts["netg_fwd"] = count(lambda: netG(z, s))

    def g_fb():
        netG(z, s).sum().backward()
    parts["netg_bwd"] = count(g_fb) - parts["netg_fwd"]
    # NetD/NetC: D step real (+ mismatched NetC) and fake with weight grads, G step input grads only
    sd = s.clone().requires_grad_()

    def d_real():  # the hinge passes need no gradient into the taps (C skips it; MA-GP makes its own)
        f = netD(taps)
        (F.relu(1 - netC(f, sd)).mean() + F.relu(1 + netC(f, torch.cat([sd[1:], sd[:1]]).detach())).mean()).backward()

    def d_fake():
        F.relu(1 + netC(netD(taps), sd)).mean().backward()

    def d_gstep():
        tf = taps.clone().requires_grad_()
        for p in list(netD.parameters()) + list(netC.parameters()):
            p.requires_grad_(False)
        try:
            netC(netD(tf), s).mean().backward()
        finally:
            for p in list(netD.parameters()) + list(netC.parameters()):
                p.requires_grad_(True)
    parts["netdc_dstep"] = count(d_real) + count(d_fake)
    parts["netdc_gstep"] = count(d_gstep)

    def d_real_magp():  # the real pass with MA-GP added to its loss, as errD has it
        t = taps.clone().requires_grad_()
        s2 = s.clone().requires_grad_()
        f = netD(t)
        pred = netC(f, s2)
        v, _ = ratlip.magp(pred, t, s2, tr["magp_weight"], tr["magp_p"])
        (F.relu(1 - pred).mean() + F.relu(1 + netC(f, torch.cat([s2[1:], s2[:1]]).detach())).mean() + v).backward()
    parts["magp"] = count(d_real_magp) - count(d_real)
    for p in list(netG.parameters()) + list(netD.parameters()) + list(netC.parameters()):
        p.grad = None
    return parts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--config", default=None)
    ap.add_argument("--rat-mode", default="sample", choices=("sample", "batch"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--parts", action="store_true")
    ap.add_argument("--bf16", action="store_true", help="torch.autocast('cpu', torch.bfloat16) around the forwards")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = ratlip.load_config(a.config, sets=["model.rat_mode=" + a.rat_mode])
    tr = cfg["train"]
    model = ratlip.Model(cfg, seed=0)
    model.netG.train()
    m = cfg["model"]
    gen = torch.Generator().manual_seed(3)
    R = m["image_size"]
    real = torch.rand(a.batch, 3, R, R, generator=gen) * 2 - 1
    s = torch.randn(a.batch, m["text_dim"], generator=gen)
    z = torch.randn(a.batch, m["z_dim"], generator=gen)
    if a.bf16:
        # PyTorch 1.13's CPU batch_norm cannot mix a bf16 input with fp32 weights ("expected scalar type
        # BFloat16 but found Float"); later releases run it in fp32 under autocast. Do that here.
        bn_forward = torch.nn.BatchNorm2d.forward
        torch.nn.BatchNorm2d.forward = lambda self, x: bn_forward(self, x.float())
    step = Step(model, tr, a.bf16)
    clock = time.process_time if a.threads == 1 else time.perf_counter
    print(f"# step_torch: torch {torch.__version__}, {torch.get_num_threads()} thread(s), rat_mode {a.rat_mode}, "
          f"batch {a.batch} | cpu: {cpu_model()}", flush=True)
    flops = count(lambda: step(real, s, z))  # also the first warm-up
    step(real, s, z)
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RSS\t{a.rat_mode}{'-bf16' if a.bf16 else ''}\t{a.threads}\t{rss:.1f}", flush=True)
    best = float("inf")
    for _ in range(a.iters):
        t0 = clock()
        step(real, s, z)
        best = min(best, (clock() - t0) * 1e3)
    print(f"ITER\t{a.rat_mode}{'-bf16' if a.bf16 else ''}\t{a.threads}\t{best:.2f}\t{flops / 1e9:.4f}", flush=True)
    if a.parts:
        for k, v in part_flops(model, real, s, z, tr).items():
            print(f"PART\t{k}\t{v / 1e9:.4f}")


if __name__ == "__main__":
    main()
