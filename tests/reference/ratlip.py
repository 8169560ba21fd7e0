#!/usr/bin/python3
"""ratlip.py: the PyTorch reference of the RATLIP networks and training iteration.

The C parity tests load this file's initial weights and inputs from HDF5 and compare outputs,
gradients and parameters. Same parameter names as upstream (shared/spec/state-dict.md §2-§4 for
rat_mode "batch"), same config files as the C code (jobs/configs/*.json), model as in
shared/spec/model.md ("Decisions for ratlip" first).

CLI
    ratlip.py --config FILE [--set section.key=VALUE ...] --out FILE.h5 --cases LIST
              [--batch B] [--iters N] [--seed S] [--real-size R] [--clip-out CLIP.h5] [--no-clip-copies]
              [--double]
    --double computes in float64 from the same float32 weights and inputs (outputs then float64):
    comparing its file with the float32 one measures how far float32 rounding alone moves each
    result, the yardstick for the C side's tolerances.
    --set values are JSON-parsed (bare words fall back to strings: --set model.rat_mode=batch).
    Without --config the embedded tiny values are used (they equal jobs/configs/tiny.json).
    LIST is comma separated from: init, clip_encode, clip_mapper, netd, netg, magp, train, forward
    ("all" = every tiny case; the paper check is `--config paper.json --batch 2 --cases init,forward`).
    --count prints the parameter counts and exits.

Every case starts from the same initial weights (the ones under /init), with its own inputs drawn
from a torch.Generator seeded by (seed, case), so a case's data does not depend on the case list.

HDF5 layout (float32 unless said; B = --batch, S = clip_image_size, R = --real-size (default
image_size), W = clip_width, g = clip_image_size/clip_patch = code_size, n = len(clip_taps),
P = prompt_last-prompt_first+1, E = clip_embed_dim, T = text_dim, Z = z_dim, I = image_size):
  root attributes: config (resolved config JSON), batch, seed, iters, cases, torch_version
  /clip/<visual.key>                 the CLIP weight file content (152 keys for ViT-B/32 layout;
                                     attrs width, layers, heads, patch, image_size, embed_dim)
  /init/netG/<key>                   every netG state_dict key, incl. BN buffers
                                     (num_batches_tracked is int64, shape []) and the frozen
                                     mapping.CLIP_ViT.* copies (omitted with --no-clip-copies)
  /init/netD/<key>, /init/netC/<key>
      each /init/<net> group has attribute `keys`: the state_dict keys in order, joined by "\n".
  /clip_encode/img [B,3,S,S] in [-1,1]; taps [B,n,W,g,g]; emb [B,E]; dtaps [B,n,W,g,g], demb [B,E]
                                     (random upstream grads); dimg [B,3,S,S]
  /clip_mapper/fuse [B,W,g,g]; prompts [B,P,W]; map [B,W,g,g]; dmap; dfuse; dprompts
  /netd/taps [B,n,W,g,g]; s [B,T]; out [B] = NetC(NetD(taps), s); dout [B];
        grad/netD/<key> (every NetD key; the unused DBlocks.*.conv_s are zeros); grad/netC/<key>;
        dtaps; ds
  /netg/z [B,Z]; s [B,T]; img [B,3,I,I] (train mode: batch statistics); dimg;
        grad/<key> for every trainable netG parameter; dz; ds;
        buffers/<key> every BN buffer after the forward (running stats updated once)
  /magp/taps; s; value [] = magp_weight*mean_b ||(d sum pred / d taps, d sum pred / d s)_b||^magp_p;
        gnorm [B] (the per-sample norms); grad/netD/<key>, grad/netC/<key> (d value / d param)
  /train/iter<t>/ (t = 0..N-1): real [B,3,R,R]; s [B,T]; z [B,Z] (the inputs);
        errD_real, errD_mis, errD_fake, errD_magp, errD, errG, sim (scalars [], float64)
  /train/final/netG/<key> (every state_dict key except mapping.CLIP_ViT.*), /train/final/netD/<key>,
  /train/final/netC/<key>; /train/adam/<net>/m/<key>, /train/adam/<net>/v/<key> for every trainable
        parameter (zeros where torch holds no state: the unused conv_s), attribute step on
        /train/adam/<net>; netG's Adam covers netG, netD's covers NetD+NetC (groups netD and netC).
  /train/ema/<key> the EMA of netG after the last iteration (trainable params + BN buffers)
  /forward/z; s; real [B,3,R,R]; img (NetG, train mode); taps_fake; emb_fake; d_fake [B]
        (= NetC(NetD(taps_fake), s)); taps_real; emb_real; d_real [B]; buffers/<key>

Iteration (spec §3): D step: taps_real = CLIP(real) (no grad); hinge on NetC(NetD(taps_real), s),
NetC(NetD(taps_real), s_mis) with s_mis = cat(s[1:], s[:1]), NetC(NetD(CLIP(fake).detach()), s);
errD = real + (fake + mis)/2 + MA-GP; Adam on NetD+NetC. G step with the updated D:
errG = -mean NetC(NetD(taps_fake), s) - sim_weight*mean cos(emb_fake, s) (eps 1e-8); Adam on the
trainable netG params; EMA (initialised as a copy of the initial weights) after each G step:
ema = d*ema + (1-d)*p with d = min(ema_decay, (1+t)/(10+t)) at G step t (warm-up), BN buffers copied. Adam is torch.optim.Adam (foreach off):
m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
BatchNorm: momentum 0.1, running_var uses the unbiased batch variance; eps 1e-5.

RAT: rat_mode "batch" = one nn.LSTM per Affine_rnn run over the batch axis (gamma/beta from the
last h, shared by the batch); "sample" = one nn.LSTMCell per M_Block_RAT (`rat_cell`), stepped
once per affine (fuse1.affine0, fuse1.affine1, fuse2.affine0, fuse2.affine1) with per-sample state
carried from block to block, starting at zero.

CLIP: the tower is read from model.clip_weights (a CLIP weight file) when set, else random
(torch.Generator seeded 1234, independent of --seed: the report must then say "random-weight CLIP"); frozen; image
input remap "galip": 0.25x+0.75, "standard": 0.5x+0.5, then nearest resize to S if needed, then
(x-mean)/std with CLIP's mean/std.
"""
import argparse
import copy
import json
import math
import os
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_SEED = 1234

# The embedded defaults (= jobs/configs/tiny.json) and the paper overrides (= jobs/configs/paper.json).
TINY = {
    "model": dict(image_size=64, z_dim=100, text_dim=512, code_ch=64, code_size=8, mblocks=4,
                  mblock_mid=32, rat_mode="sample", rat_hidden=64, g_channels=[256, 256, 128, 64, 32],
                  g_sizes=[8, 16, 32, 64], shuffle_groups=8, clip_image_size=64, clip_patch=8,
                  clip_width=256, clip_layers=6, clip_heads=4, clip_embed_dim=512, clip_taps=[1, 2, 4],
                  prompt_first=1, prompt_last=4, clip_remap="galip", d_out_ch=256, netc_mid=64,
                  netc_k1=5, netc_k2=4),
    "train": dict(lr_g=1e-4, lr_d=4e-4, beta1=0.0, beta2=0.9, adam_eps=1e-8, sim_weight=4.0,
                  magp_weight=2.0, magp_p=6.0, ema_decay=0.999),
}
PAPER_MODEL = dict(image_size=224, code_size=7, g_channels=[512, 512, 512, 512, 256, 128, 64],
                   g_sizes=[8, 16, 32, 64, 128, 224], clip_image_size=224, clip_patch=32, clip_width=768,
                   clip_layers=12, clip_heads=12, clip_taps=[1, 4, 8], prompt_first=1, prompt_last=8,
                   d_out_ch=512, netc_mid=128, netc_k1=4)


# ---------------------------------------------------------------------------------------------
# config

def _merge(dst, src, where):
    for k, v in src.items():
        if isinstance(v, dict):
            _merge(dst.setdefault(k, {}), v, where + k + ".")
        else:
            dst[k] = v


def set_value(cfg, assignment):
    """'section.key=value' with a JSON value (bare words are strings)."""
    if "=" not in assignment or "." not in assignment.split("=", 1)[0]:
        raise SystemExit("ratlip.py: --set %r: expected section.key=value" % assignment)
    path, raw = assignment.split("=", 1)
    try:
        val = json.loads(raw)
    except ValueError:
        val = raw
    node = cfg
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = val


def load_config(path=None, sets=(), preset="tiny"):
    cfg = copy.deepcopy(TINY)
    if preset == "paper":
        cfg["model"].update(PAPER_MODEL)
    if path:
        with open(path) as f:
            _merge(cfg, json.load(f), "")
    for s in sets:
        set_value(cfg, s)
    m = cfg["model"]
    if m["clip_image_size"] // m["clip_patch"] != m["code_size"]:
        raise SystemExit("ratlip.py: model.code_size (%d) must equal clip_image_size/clip_patch (%d)"
                         % (m["code_size"], m["clip_image_size"] // m["clip_patch"]))
    if m["rat_mode"] not in ("sample", "batch"):
        raise SystemExit("ratlip.py: model.rat_mode: %r is not \"sample\" or \"batch\"" % m["rat_mode"])
    if len(m["g_sizes"]) != len(m["g_channels"]) - 1:
        raise SystemExit("ratlip.py: model.g_sizes needs len(g_channels)-1 entries")
    return cfg


# ---------------------------------------------------------------------------------------------
# CLIP vision tower (openai VisionTransformer semantics)

class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """nn.MultiheadAttention's parameters (in_proj q,k,v rows; out_proj), self-attention, no mask."""
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x):  # x [B,L,W] -> [B,L,W]
        B, L, W = x.shape
        h, d = self.heads, W // self.heads
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).split(W, dim=-1)
        q, k, v = (t.reshape(B, L, h, d).transpose(1, 2) for t in (q, k, v))  # [B,h,L,d]
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)   # [B,h,L,L]
        return self.out_proj((a @ v).transpose(1, 2).reshape(B, L, W))


class ResBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.attn = Attention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, 4 * width)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(4 * width, width))]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResBlock(width, heads) for _ in range(layers)])


class VisionTower(nn.Module):
    """state_dict = the CLIP weight file without the `visual.` prefix."""
    def __init__(self, m):
        super().__init__()
        W, p, S = m["clip_width"], m["clip_patch"], m["clip_image_size"]
        self.m = m
        self.grid = S // p
        self.conv1 = nn.Conv2d(3, W, p, stride=p, bias=False)
        self.class_embedding = nn.Parameter(torch.empty(W))
        self.positional_embedding = nn.Parameter(torch.empty(self.grid ** 2 + 1, W))
        self.ln_pre = nn.LayerNorm(W)
        self.transformer = Transformer(W, m["clip_layers"], m["clip_heads"])
        self.ln_post = nn.LayerNorm(W)
        self.proj = nn.Parameter(torch.empty(W, m["clip_embed_dim"]))
        # float64 constants, cast at use: the double run must not inherit float32-rounded constants
        # (a 1e-8 shift that Adam's sign-like first steps amplify into the trained parameters)
        self.register_buffer("mean", torch.tensor(CLIP_MEAN, dtype=torch.float64).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD, dtype=torch.float64).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def init_random(self, seed=CLIP_SEED):
        """Small, well-conditioned random weights (openai's init scales; LN and biases jittered)."""
        gen = torch.Generator().manual_seed(seed)
        W, L = self.m["clip_width"], self.m["clip_layers"]
        rn = lambda t, std, mean=0.0: t.copy_(torch.randn(t.shape, generator=gen) * std + mean)
        rn(self.conv1.weight, 0.02)
        rn(self.class_embedding, W ** -0.5)
        rn(self.positional_embedding, W ** -0.5)
        rn(self.proj, W ** -0.5)
        attn_std, proj_std, fc_std = W ** -0.5, W ** -0.5 * (2 * L) ** -0.5, (2 * W) ** -0.5
        for ln in [self.ln_pre, self.ln_post] + [m for m in self.transformer.modules() if isinstance(m, nn.LayerNorm)]:
            rn(ln.weight, 0.05, 1.0)
            rn(ln.bias, 0.02)
        for b in self.transformer.resblocks:
            rn(b.attn.in_proj_weight, attn_std)
            rn(b.attn.in_proj_bias, 0.02)
            rn(b.attn.out_proj.weight, proj_std)
            rn(b.attn.out_proj.bias, 0.02)
            rn(b.mlp.c_fc.weight, fc_std)
            rn(b.mlp.c_fc.bias, 0.02)
            rn(b.mlp.c_proj.weight, proj_std)
            rn(b.mlp.c_proj.bias, 0.02)

    @torch.no_grad()
    def load_file(self, path):
        """A CLIP weight file: one dataset per `visual.<key>` at the root."""
        import h5py
        with h5py.File(path, "r") as f:
            for k, t in self.state_dict().items():
                name = "visual." + k
                if name not in f:
                    raise SystemExit("ratlip.py: %s: dataset %s missing (a CLIP weight file has every visual.* key)" % (path, name))
                a = torch.from_numpy(np.asarray(f[name], dtype=np.float32))
                if list(a.shape) != list(t.shape):
                    raise SystemExit("ratlip.py: %s: %s has shape %s, the config needs %s (check model.clip_*)"
                                     % (path, name, list(a.shape), list(t.shape)))
                t.copy_(a)

    def _tokens_to_grid(self, x):  # [B,1+g²,W] -> [B,W,g,g] (tokens 1..)
        B, _, W = x.shape
        return x[:, 1:, :].transpose(1, 2).reshape(B, W, self.grid, self.grid)

    def encode(self, img):
        """img [B,3,H,W] in [-1,1] -> taps [B,n,W,g,g] (raw stream after clip_taps blocks), emb [B,E]."""
        S = self.m["clip_image_size"]
        x = img * 0.25 + 0.75 if self.m["clip_remap"] == "galip" else img * 0.5 + 0.5
        if x.shape[-1] != S or x.shape[-2] != S:
            x = F.interpolate(x, size=(S, S), mode="nearest")
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)   # constants kept in float64
        x = self.conv1(x)                                   # [B,W,g,g]
        B, W = x.shape[:2]
        x = x.reshape(B, W, -1).transpose(1, 2)             # [B,g²,W], token t = g*row + col
        x = torch.cat([self.class_embedding.expand(B, 1, W), x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        taps = []
        for i, blk in enumerate(self.transformer.resblocks):
            x = blk(x)
            if i in self.m["clip_taps"]:
                taps.append(self._tokens_to_grid(x))
        emb = self.ln_post(x[:, 0, :]) @ self.proj
        return torch.stack(taps, dim=1), emb


class ClipMapper(nn.Module):
    """GALIP's bridge (spec §1.9). Holds references to the tower's tensors (so netG's state_dict
    has them under mapping.CLIP_ViT.*), skips conv1, appends prompt i in block prompt_first+i."""
    def __init__(self, tower):
        super().__init__()
        self.class_embedding = tower.class_embedding
        self.positional_embedding = tower.positional_embedding
        self.conv1 = tower.conv1
        self.ln_pre = tower.ln_pre
        self.transformer = tower.transformer
        self.m, self.grid = tower.m, tower.grid

    def forward(self, fuse, prompts):  # fuse [B,W,g,g], prompts [B,P,W] -> map [B,W,g,g]
        B, W = fuse.shape[:2]
        x = fuse.reshape(B, W, -1).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(B, 1, W), x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        L = x.shape[1]
        pf, pl = self.m["prompt_first"], self.m["prompt_last"]
        for i, blk in enumerate(self.transformer.resblocks):
            if pf <= i <= pl:
                x = blk(torch.cat([x, prompts[:, i - pf:i - pf + 1, :]], dim=1))[:, :L]
            else:
                x = blk(x)
        return x[:, 1:, :].transpose(1, 2).reshape(B, W, self.grid, self.grid)


# ---------------------------------------------------------------------------------------------
# NetG pieces

class ShuffleAttention(nn.Module):
    """fightingcv ShuffleAttention(channel=C, G): own params before gn (state_dict order)."""
    def __init__(self, C, G):
        super().__init__()
        k = C // (2 * G)
        self.G = G
        self.cweight = nn.Parameter(torch.zeros(1, k, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, k, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, k, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, k, 1, 1))
        self.gn = nn.GroupNorm(k, k)

    def forward(self, x):
        B, C, H, W = x.shape
        x = x.reshape(B * self.G, C // self.G, H, W)
        x0, x1 = x.chunk(2, dim=1)
        xc = x0 * torch.sigmoid(self.cweight * x0.mean((2, 3), keepdim=True) + self.cbias)
        xs = x1 * torch.sigmoid(self.sweight * self.gn(x1) + self.sbias)
        o = torch.cat([xc, xs], dim=1).reshape(B, C, H, W)
        return o.reshape(B, 2, C // 2, H, W).transpose(1, 2).reshape(B, C, H, W)  # channel shuffle


class ConvShuffle(nn.Module):
    """Conv3x3 (no bias) -> BatchNorm -> LeakyReLU(0.01) -> ShuffleAttention."""
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.se = ShuffleAttention(cout, groups)

    def forward(self, x):
        return self.se(F.leaky_relu(self.bn(self.conv(x)), 0.01))


def _mlp(names, din, C):
    return nn.Sequential(OrderedDict([(names[0], nn.Linear(din, C)), (names[1], nn.ReLU()),
                                      (names[2], nn.Linear(C, C))]))


class Affine(nn.Module):
    """DF-GAN affine, per sample: y = gamma(cond)[b,c] x + beta(cond)[b,c]."""
    def __init__(self, cond_dim, C):
        super().__init__()
        self.fc_gamma = _mlp(("linear1", "relu1", "linear2"), cond_dim, C)
        self.fc_beta = _mlp(("linear1", "relu1", "linear2"), cond_dim, C)
        with torch.no_grad():
            self.fc_gamma.linear2.weight.zero_(); self.fc_gamma.linear2.bias.fill_(1)
            self.fc_beta.linear2.weight.zero_(); self.fc_beta.linear2.bias.zero_()

    def forward(self, x, cond):
        return self.fc_gamma(cond)[:, :, None, None] * x + self.fc_beta(cond)[:, :, None, None]


class DFBlock(nn.Module):
    def __init__(self, cond_dim, C):
        super().__init__()
        self.affine0, self.affine1 = Affine(cond_dim, C), Affine(cond_dim, C)

    def forward(self, x, cond):
        x = F.leaky_relu(self.affine0(x, cond), 0.2)
        return F.leaky_relu(self.affine1(x, cond), 0.2)


class AffineRNN(nn.Module):
    """RAT affine. batch mode: own LSTM over the batch axis, gamma/beta [1,C] shared by the batch.
    sample mode: no LSTM; `step()` (the block's cell) gives h [B,hidden], gamma/beta per sample."""
    def __init__(self, cond_dim, hidden, C, batch_mode):
        super().__init__()
        if batch_mode:
            self.rnn = nn.LSTM(cond_dim, hidden, batch_first=True)
        self.fc_gamma = _mlp(("0", "1", "2"), hidden, C)
        self.fc_beta = _mlp(("0", "1", "2"), hidden, C)
        with torch.no_grad():
            self.fc_gamma[2].weight.zero_(); self.fc_gamma[2].bias.fill_(1)
            self.fc_beta[2].weight.zero_(); self.fc_beta[2].bias.zero_()

    def forward(self, x, cond, step):
        if step is None:
            _, (h, _) = self.rnn(cond.unsqueeze(0))   # input [1,B,612]: sequence = the batch
            h = h[0]                                  # [1,hidden]: last step
        else:
            h = step()
        return self.fc_gamma(h)[:, :, None, None] * x + self.fc_beta(h)[:, :, None, None]


class DFBlockRNN(nn.Module):
    def __init__(self, cond_dim, hidden, C, batch_mode):
        super().__init__()
        self.affine0 = AffineRNN(cond_dim, hidden, C, batch_mode)
        self.affine1 = AffineRNN(cond_dim, hidden, C, batch_mode)

    def forward(self, x, cond, step):
        x = F.leaky_relu(self.affine0(x, cond, step), 0.2)
        return F.leaky_relu(self.affine1(x, cond, step), 0.2)


class MBlockRAT(nn.Module):
    def __init__(self, cin, mid, cout, cond_dim, hidden, groups, rat_mode):
        super().__init__()
        batch = rat_mode == "batch"
        self.conv1 = nn.Conv2d(cin, mid, 3, 1, 1)
        if not batch:
            self.rat_cell = nn.LSTMCell(cond_dim, hidden)
        self.fuse1 = DFBlockRNN(cond_dim, hidden, mid, batch)
        self.conv2 = ConvShuffle(mid, cout, groups)
        self.fuse2 = DFBlockRNN(cond_dim, hidden, cout, batch)
        self.learned_shortcut = cin != cout
        if self.learned_shortcut:
            self.c_sc = nn.Conv2d(cin, cout, 1)

    def forward(self, x, cond, state):
        """state: (h, c) per sample [B,hidden] carried across blocks (sample mode) or None."""
        step = None
        if hasattr(self, "rat_cell"):
            box = [state]

            def step():
                box[0] = self.rat_cell(cond, box[0])
                return box[0][0]
        h = self.conv1(x)
        h = self.fuse1(h, cond, step)
        h = self.conv2(h)
        h = self.fuse2(h, cond, step)
        sc = self.c_sc(x) if self.learned_shortcut else x
        return sc + h, (box[0] if step is not None else None)


class GBlock(nn.Module):
    """Registration order c1, c2, fuse1, fuse2, c_sc; forward: upsample, fuse1, c1, fuse2, c2."""
    def __init__(self, cin, cout, size, cond_dim, groups):
        super().__init__()
        self.size = size
        self.c1 = ConvShuffle(cin, cout, groups)
        self.c2 = ConvShuffle(cout, cout, groups)
        self.fuse1 = DFBlock(cond_dim, cin)
        self.fuse2 = DFBlock(cond_dim, cout)
        self.learned_shortcut = cin != cout
        if self.learned_shortcut:
            self.c_sc = nn.Conv2d(cin, cout, 1)

    def forward(self, x, cond):
        x = F.interpolate(x, size=(self.size, self.size), mode="nearest")
        r = self.c2(self.fuse2(self.c1(self.fuse1(x, cond)), cond))
        return (self.c_sc(x) if self.learned_shortcut else x) + r


class Mapping(nn.Module):
    """Upstream's CLIP adapter: FBlocks, conv_fuse, CLIP_ViT, conv, fc_prompt (state_dict order)."""
    def __init__(self, m, tower):
        super().__init__()
        cond = m["z_dim"] + m["text_dim"]
        W = m["clip_width"]
        self.FBlocks = nn.ModuleList([MBlockRAT(m["code_ch"], m["mblock_mid"], m["code_ch"], cond, m["rat_hidden"],
                                                m["shuffle_groups"], m["rat_mode"]) for _ in range(m["mblocks"])])
        self.conv_fuse = nn.Conv2d(m["code_ch"], W, 5, 1, 2)
        self.CLIP_ViT = ClipMapper(tower)
        self.conv = nn.Conv2d(W, m["g_channels"][0], 5, 1, 2)
        self.n_prompts = m["prompt_last"] - m["prompt_first"] + 1
        self.fc_prompt = nn.Linear(cond, self.n_prompts * W)


class NetG(nn.Module):
    def __init__(self, m, tower):
        super().__init__()
        self.m = m
        self.fc_code = nn.Linear(m["z_dim"], m["code_ch"] * m["code_size"] ** 2)
        self.mapping = Mapping(m, tower)
        ch = m["g_channels"]
        self.GBlocks = nn.ModuleList([GBlock(ch[i], ch[i + 1], m["g_sizes"][i], m["z_dim"] + m["text_dim"],
                                             m["shuffle_groups"]) for i in range(len(ch) - 1)])
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(ch[-1], 3, 3, 1, 1))

    def forward(self, z, s):  # z [B,Z], s [B,T] -> [B,3,I,I] (no tanh)
        m, B = self.m, z.shape[0]
        cond = torch.cat([z, s], dim=1)
        x = self.fc_code(z).view(B, m["code_ch"], m["code_size"], m["code_size"])
        prompts = self.mapping.fc_prompt(cond).view(B, self.mapping.n_prompts, m["clip_width"])
        state = None
        for blk in self.mapping.FBlocks:
            x, state = blk(x, cond, state)
        fuse = self.mapping.conv_fuse(x)
        x = self.mapping.conv(fuse + 0.1 * self.mapping.CLIP_ViT(fuse, prompts))
        for blk in self.GBlocks:
            x = blk(x, cond)
        return self.to_rgb(x)


# ---------------------------------------------------------------------------------------------
# NetD, NetC

class DBlock(nn.Module):
    """gamma (and beta when fed a CLIP tap) before the children; conv_s always constructed."""
    def __init__(self, fin, fout, has_feat, learned_shortcut):
        super().__init__()
        self.learned_shortcut = learned_shortcut
        self.gamma = nn.Parameter(torch.zeros(1))
        if has_feat:
            self.beta = nn.Parameter(torch.zeros(1))
        self.conv_r = nn.Sequential(nn.Conv2d(fin, fout, 3, 1, 1, bias=False), nn.LeakyReLU(0.2),
                                    nn.Conv2d(fout, fout, 3, 1, 1, bias=False), nn.LeakyReLU(0.2))
        self.conv_s = nn.Conv2d(fin, fout, 1)

    def forward(self, x, feat=None):
        res = self.conv_r(x)
        if self.learned_shortcut:
            x = self.conv_s(x)
        out = x + self.gamma * res
        return out + self.beta * feat if feat is not None else out


class NetD(nn.Module):
    """taps [B,n,W,g,g] -> [B,d_out_ch,g,g]. DBlocks i fed tap i+1; main always has conv_s."""
    def __init__(self, m):
        super().__init__()
        W, n = m["clip_width"], len(m["clip_taps"])
        self.DBlocks = nn.ModuleList([DBlock(W, W, True, False) for _ in range(n - 1)])
        self.main = DBlock(W, m["d_out_ch"], False, True)

    def forward(self, taps):
        x = taps[:, 0]
        for i, blk in enumerate(self.DBlocks):
            x = blk(x, taps[:, i + 1])
        return self.main(x)


class NetC(nn.Module):
    """cat(D out, sentence tiled g×g) -> conv k1 valid -> LeakyReLU(0.2) -> conv k2 valid -> [B]."""
    def __init__(self, m):
        super().__init__()
        self.joint_conv = nn.Sequential(
            nn.Conv2d(m["d_out_ch"] + m["text_dim"], m["netc_mid"], m["netc_k1"], 1, 0, bias=False),
            nn.LeakyReLU(0.2),
            nn.Conv2d(m["netc_mid"], 1, m["netc_k2"], 1, 0, bias=False))

    def forward(self, x, s):
        B, _, g, _ = x.shape
        h = torch.cat([x, s.view(B, -1, 1, 1).repeat(1, 1, g, g)], dim=1)
        return self.joint_conv(h).view(B)


# ---------------------------------------------------------------------------------------------
# building and initialising

class Model:
    def __init__(self, cfg, seed=0, perturb=True, dtype=torch.float32):
        m = cfg["model"]
        self.cfg, self.dtype = cfg, dtype
        self.tower = VisionTower(m)
        if m.get("clip_weights"):
            self.tower.load_file(m["clip_weights"])
        else:
            self.tower.init_random()
        self.tower.requires_grad_(False)
        torch.manual_seed(seed)
        self.netG = NetG(m, self.tower)
        self.netD = NetD(m)
        self.netC = NetC(m)
        if perturb:
            perturb_init(self, torch.Generator().manual_seed(seed + 1))
        self.init_state = [copy.deepcopy(n.state_dict()) for n in (self.netG, self.netD, self.netC)]
        if dtype != torch.float32:  # weights drawn in float32, then widened (the precision yardstick)
            for n in (self.tower, self.netG, self.netD, self.netC):
                n.to(dtype)

    def reset(self):
        for n, sd in zip((self.netG, self.netD, self.netC), self.init_state):
            n.load_state_dict(sd)
            n.zero_grad(set_to_none=True)
        self.netG.train()


@torch.no_grad()
def perturb_init(model, gen):
    """Jitter the inits that are constant upstream (BN affine and stats, ShuffleAttention, the
    affines' last layers, D's zero gates) so every path matters for parity; stay well-conditioned."""
    rn = lambda t, std, mean=0.0: t.copy_(torch.randn(t.shape, generator=gen) * std + mean)
    for mod in model.netG.modules():
        if isinstance(mod, ConvShuffle):
            rn(mod.bn.weight, 0.1, 1.0); rn(mod.bn.bias, 0.1)
            rn(mod.bn.running_mean, 0.05); mod.bn.running_var.copy_(0.8 + 0.4 * torch.rand(mod.bn.running_var.shape, generator=gen))
            rn(mod.se.cweight, 0.5); rn(mod.se.cbias, 0.2, 1.0); rn(mod.se.sweight, 0.5); rn(mod.se.sbias, 0.2, 1.0)
            rn(mod.se.gn.weight, 0.1, 1.0); rn(mod.se.gn.bias, 0.1)
        elif isinstance(mod, (Affine, AffineRNN)):
            for name, last in (("gamma", mod.fc_gamma[2]), ("beta", mod.fc_beta[2])):
                C = last.weight.shape[0]
                rn(last.weight, 0.1 / math.sqrt(C))
                rn(last.bias, 0.05, 1.0 if name == "gamma" else 0.0)
    for mod in model.netD.modules():
        if isinstance(mod, DBlock):
            mod.gamma.copy_(0.05 + 0.1 * torch.rand(1, generator=gen))
            if hasattr(mod, "beta"):
                mod.beta.copy_(0.05 + 0.1 * torch.rand(1, generator=gen))


def trainable(net):
    return [(k, p) for k, p in net.named_parameters() if p.requires_grad]


def counts(model):
    g = sum(p.numel() for _, p in trainable(model.netG))
    frozen = sum(p.numel() for p in model.netG.parameters() if not p.requires_grad)
    dc = sum(p.numel() for p in model.netD.parameters()) + sum(p.numel() for p in model.netC.parameters())
    return dict(G=g, G_frozen_clip=frozen, DC=dc, clip=sum(p.numel() for p in model.tower.state_dict().values()))


# ---------------------------------------------------------------------------------------------
# losses and the iteration

def magp(pred, taps, s, weight, p):
    """weight * mean_b ||(∂Σpred/∂taps, ∂Σpred/∂s)_b||^p, differentiable w.r.t. D/C params."""
    gt, gs = torch.autograd.grad(pred.sum(), (taps, s), create_graph=True)
    B = pred.shape[0]
    norm = torch.cat([gt.reshape(B, -1), gs.reshape(B, -1)], dim=1).pow(2).sum(1).sqrt()
    return weight * norm.pow(p).mean(), norm


def d_step_losses(model, real, s, z, tr):
    """Everything up to errD (spec §3). s must require grad. Returns dict incl. the G-step graphs."""
    with torch.no_grad():
        taps_real, _ = model.tower.encode(real)
    taps_real.requires_grad_()
    feats_real = model.netD(taps_real)
    pred_real = model.netC(feats_real, s)
    errD_real = F.relu(1 - pred_real).mean()
    s_mis = torch.cat([s[1:], s[:1]]).detach()
    errD_mis = F.relu(1 + model.netC(feats_real, s_mis)).mean()
    fake = model.netG(z, s)
    taps_fake, emb_fake = model.tower.encode(fake)
    errD_fake = F.relu(1 + model.netC(model.netD(taps_fake.detach()), s)).mean()
    errD_magp, _ = magp(pred_real, taps_real, s, tr["magp_weight"], tr["magp_p"])
    errD = errD_real + (errD_fake + errD_mis) / 2 + errD_magp
    return dict(errD_real=errD_real, errD_mis=errD_mis, errD_fake=errD_fake, errD_magp=errD_magp, errD=errD,
                taps_fake=taps_fake, emb_fake=emb_fake)


def train(model, inputs, tr):
    """inputs: list of (real, s, z). Returns per-iteration loss dicts, the optimisers and the EMA."""
    netG, netD, netC = model.netG, model.netD, model.netC
    betas = (tr["beta1"], tr["beta2"])
    optG = torch.optim.Adam([p for _, p in trainable(netG)], lr=tr["lr_g"], betas=betas, eps=tr["adam_eps"], foreach=False)
    optD = torch.optim.Adam(list(netD.parameters()) + list(netC.parameters()), lr=tr["lr_d"], betas=betas,
                            eps=tr["adam_eps"], foreach=False)
    ema = OrderedDict((k, v.detach().clone()) for k, v in netG.state_dict().items() if not k.startswith("mapping.CLIP_ViT."))
    train_keys = {k for k, _ in trainable(netG)}
    logs = []
    for t, (real, s, z) in enumerate(inputs, start=1):
        d = min(tr["ema_decay"], (1.0 + t) / (10.0 + t))   # EMA warm-up (TensorFlow's num_updates rule)
        s = s.clone().requires_grad_()
        L = d_step_losses(model, real, s, z, tr)
        optD.zero_grad(set_to_none=True)
        L["errD"].backward()
        optD.step()
        out = netC(netD(L["taps_fake"]), s)
        sim = F.cosine_similarity(L["emb_fake"], s, dim=1, eps=1e-8).mean()
        errG = -out.mean() - tr["sim_weight"] * sim
        optG.zero_grad(set_to_none=True)
        errG.backward()
        optG.step()
        with torch.no_grad():
            sd = netG.state_dict()
            for k in ema:
                if k in train_keys:
                    ema[k].mul_(d).add_(sd[k], alpha=1 - d)
                else:
                    ema[k].copy_(sd[k])
        logs.append({k: float(L[k]) for k in ("errD_real", "errD_mis", "errD_fake", "errD_magp", "errD")})
        logs[-1].update(errG=float(errG), sim=float(sim))
    return logs, optG, optD, ema


# ---------------------------------------------------------------------------------------------
# HDF5 output

class Writer:
    def __init__(self, path):
        import h5py
        self.f = h5py.File(path, "w")

    def put(self, name, t):
        a = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
        if a.dtype.kind == "f" and a.dtype != np.float64:
            a = a.astype(np.float32)
        if name in self.f:
            del self.f[name]
        self.f.create_dataset(name, data=a)

    def put_sd(self, group, sd, skip_clip=False):
        keys = [k for k in sd if not (skip_clip and k.startswith("mapping.CLIP_ViT."))]
        for k in keys:
            self.put(group + "/" + k, sd[k])
        self.f.require_group(group).attrs["keys"] = "\n".join(keys)

    def close(self):
        self.f.close()


def clip_attrs(m):
    return dict(width=m["clip_width"], layers=m["clip_layers"], heads=m["clip_heads"], patch=m["clip_patch"],
                image_size=m["clip_image_size"], embed_dim=m["clip_embed_dim"])


def write_clip_file(path, model):
    w = Writer(path)
    for k, v in model.tower.state_dict().items():
        w.put("visual." + k, v)
    for k, v in clip_attrs(model.cfg["model"]).items():
        w.f.attrs[k] = np.int32(v)
    w.close()


def grads_of(net, w, group, params=None):
    for k, p in net.named_parameters():
        if p.requires_grad:
            w.put(group + "/" + k, p.grad if p.grad is not None else torch.zeros_like(p))


def buffers_of(net, w, group):
    for k, b in net.named_buffers():
        if k.startswith("mapping.CLIP_ViT.") or k in ("mean", "std"):
            continue
        w.put(group + "/" + k, b)


# ---------------------------------------------------------------------------------------------
# cases

CASE_IDS = dict(init=0, clip_encode=1, clip_mapper=2, netd=3, netg=4, magp=5, train=6, forward=7)
TINY_CASES = ["init", "clip_encode", "clip_mapper", "netd", "netg", "magp", "train"]


def case_inputs(model, gen, B, real_size):
    m = model.cfg["model"]
    real = torch.rand(B, 3, real_size, real_size, generator=gen) * 2 - 1
    s = torch.randn(B, m["text_dim"], generator=gen)
    z = torch.randn(B, m["z_dim"], generator=gen)
    return real.to(model.dtype), s.to(model.dtype), z.to(model.dtype)


def run_case(name, model, w, args):
    m, tr = model.cfg["model"], model.cfg["train"]
    gen = torch.Generator().manual_seed(args.seed * 1000 + CASE_IDS[name])
    rn = lambda *shape: torch.randn(*shape, generator=gen).to(model.dtype)
    B, S, W, g = args.batch, m["clip_image_size"], m["clip_width"], m["code_size"]
    n, P = len(m["clip_taps"]), m["prompt_last"] - m["prompt_first"] + 1
    R = args.real_size or m["image_size"]
    model.reset()
    G = "/" + name
    if name == "init":
        w.put_sd("/init/netG", model.netG.state_dict(), skip_clip=args.no_clip_copies)
        w.put_sd("/init/netD", model.netD.state_dict())
        w.put_sd("/init/netC", model.netC.state_dict())
        for k, v in model.tower.state_dict().items():
            w.put("/clip/visual." + k, v)
        for k, v in clip_attrs(m).items():
            w.f["/clip"].attrs[k] = np.int32(v)
    elif name == "clip_encode":
        img = (torch.rand(B, 3, S, S, generator=gen) * 2 - 1).to(model.dtype).requires_grad_()
        taps, emb = model.tower.encode(img)
        dtaps, demb = rn(*taps.shape), rn(*emb.shape)
        torch.autograd.backward([taps, emb], [dtaps, demb])
        for k, v in dict(img=img, taps=taps, emb=emb, dtaps=dtaps, demb=demb, dimg=img.grad).items():
            w.put(G + "/" + k, v)
    elif name == "clip_mapper":
        fuse = rn(B, W, g, g).requires_grad_()
        prompts = rn(B, P, W).requires_grad_()
        out = model.netG.mapping.CLIP_ViT(fuse, prompts)
        dmap = rn(*out.shape)
        out.backward(dmap)
        for k, v in dict(fuse=fuse, prompts=prompts, map=out, dmap=dmap, dfuse=fuse.grad, dprompts=prompts.grad).items():
            w.put(G + "/" + k, v)
    elif name == "netd":
        taps = rn(B, n, W, g, g).requires_grad_()
        s = rn(B, m["text_dim"]).requires_grad_()
        out = model.netC(model.netD(taps), s)
        dout = rn(B)
        out.backward(dout)
        for k, v in dict(taps=taps, s=s, out=out, dout=dout, dtaps=taps.grad, ds=s.grad).items():
            w.put(G + "/" + k, v)
        grads_of(model.netD, w, G + "/grad/netD")
        grads_of(model.netC, w, G + "/grad/netC")
    elif name == "netg":
        z = rn(B, m["z_dim"]).requires_grad_()
        s = rn(B, m["text_dim"]).requires_grad_()
        img = model.netG(z, s)
        dimg = rn(*img.shape)
        img.backward(dimg)
        for k, v in dict(z=z, s=s, img=img, dimg=dimg, dz=z.grad, ds=s.grad).items():
            w.put(G + "/" + k, v)
        grads_of(model.netG, w, G + "/grad")
        buffers_of(model.netG, w, G + "/buffers")
    elif name == "magp":
        with torch.no_grad():
            real, s, _ = case_inputs(model, gen, B, R)
            taps, _ = model.tower.encode(real)
        taps.requires_grad_()
        s.requires_grad_()
        value, norm = magp(model.netC(model.netD(taps), s), taps, s, tr["magp_weight"], tr["magp_p"])
        params = list(model.netD.parameters()) + list(model.netC.parameters())
        grads = torch.autograd.grad(value, params, allow_unused=True)
        for p, gr in zip(params, grads):
            p.grad = gr
        for k, v in dict(taps=taps, s=s, value=value, gnorm=norm).items():
            w.put(G + "/" + k, v)
        grads_of(model.netD, w, G + "/grad/netD")
        grads_of(model.netC, w, G + "/grad/netC")
    elif name == "train":
        inputs = [case_inputs(model, gen, B, R) for _ in range(args.iters)]
        logs, optG, optD, ema = train(model, inputs, tr)
        for t, ((real, s, z), log) in enumerate(zip(inputs, logs)):
            for k, v in dict(real=real, s=s, z=z).items():
                w.put("%s/iter%d/%s" % (G, t, k), v)
            for k, v in log.items():
                w.put("%s/iter%d/%s" % (G, t, k), np.float64(v))
            print("  iter %d: %s" % (t, " ".join("%s %.6g" % kv for kv in log.items())))
        w.put_sd(G + "/final/netG", model.netG.state_dict(), skip_clip=True)
        w.put_sd(G + "/final/netD", model.netD.state_dict())
        w.put_sd(G + "/final/netC", model.netC.state_dict())
        for opt, nets in ((optG, [("netG", model.netG)]), (optD, [("netD", model.netD), ("netC", model.netC)])):
            for netname, net in nets:
                for k, p in trainable(net):
                    st = opt.state.get(p, {})
                    w.put("%s/adam/%s/m/%s" % (G, netname, k), st.get("exp_avg", torch.zeros_like(p)))
                    w.put("%s/adam/%s/v/%s" % (G, netname, k), st.get("exp_avg_sq", torch.zeros_like(p)))
                w.f[G + "/adam/" + netname].attrs["step"] = np.int64(len(inputs))
        w.put_sd(G + "/ema", ema)
    elif name == "forward":
        real, s, z = case_inputs(model, gen, B, R)
        with torch.no_grad():
            img = model.netG(z, s)
            taps_fake, emb_fake = model.tower.encode(img)
            d_fake = model.netC(model.netD(taps_fake), s)
            taps_real, emb_real = model.tower.encode(real)
            d_real = model.netC(model.netD(taps_real), s)
        for k, v in dict(z=z, s=s, real=real, img=img, taps_fake=taps_fake, emb_fake=emb_fake, d_fake=d_fake,
                         taps_real=taps_real, emb_real=emb_real, d_real=d_real).items():
            w.put(G + "/" + k, v)
        buffers_of(model.netG, w, G + "/buffers")
    else:
        raise SystemExit("ratlip.py: --cases: unknown case %r (known: %s)" % (name, ", ".join(CASE_IDS)))


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch reference of RATLIP (see the module docstring)")
    ap.add_argument("--config", help="JSON config (jobs/configs/*.json); default: the embedded tiny values")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--out", help="output HDF5 file")
    ap.add_argument("--cases", default="all")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real-size", type=int, default=0, help="side of the real images (default image_size)")
    ap.add_argument("--clip-out", help="also write the CLIP weight file here")
    ap.add_argument("--no-clip-copies", action="store_true", help="omit mapping.CLIP_ViT.* from /init/netG")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--count", action="store_true", help="print parameter counts and exit")
    ap.add_argument("--double", action="store_true",
                    help="compute in float64 (same float32 weights and inputs, widened): the precision yardstick")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.set)
    t0 = time.time()
    model = Model(cfg, seed=args.seed, perturb=not args.count, dtype=torch.float64 if args.double else torch.float32)
    if args.count:
        print(json.dumps(counts(model)))
        return 0
    if not args.out:
        raise SystemExit("ratlip.py: --out FILE.h5 is required")
    cases = TINY_CASES if args.cases == "all" else [c for c in args.cases.split(",") if c]
    if args.batch < 2:
        raise SystemExit("ratlip.py: --batch must be >= 2 (the mismatched pairs roll the batch)")
    print("ratlip.py: %s, rat_mode %s, batch %d, counts %s (build %.1fs)" % (
        args.config or "embedded tiny", cfg["model"]["rat_mode"], args.batch, counts(model), time.time() - t0))
    w = Writer(args.out)
    w.f.attrs.update(config=json.dumps(cfg), batch=args.batch, seed=args.seed, iters=args.iters,
                     cases=",".join(cases), torch_version=str(torch.__version__))
    for c in cases:
        t = time.time()
        run_case(c, model, w, args)
        print("  case %-12s %.2fs" % (c, time.time() - t))
    w.close()
    if args.clip_out:
        write_clip_file(args.clip_out, model)
    print("ratlip.py: wrote %s in %.1fs" % (args.out, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
