#!/usr/bin/python3
"""lit_ref.py: the PyTorch reference of `ratlip clip train`'s step (core/lit.c + the tower's weight
gradients in core/clip.c): CLIP's symmetric InfoNCE with a learned temperature, text side locked.
CLI
    lit_ref.py --config FILE [--set section.key=VALUE ...] --out FILE.h5 [--batch B] [--seed S]
The tower is ratlip.py's VisionTower (init_random: OpenAI scales, LayerNorms and biases jittered so
every gradient is non-trivial). Inputs are drawn from torch.Generator(seed). Everything is computed in
float64 from the float32 weights and inputs (the truth both C builds are measured against) and again in
float32 (torch's own float error, the yardstick for the C float build's tolerance).
HDF5 layout (B = --batch, S = clip_image_size, E = clip_embed_dim):
  /clip/visual.<key>        the tower's weights (float32), a CLIP weight file's layout
  /lit/img [B,3,S,S]        in [-1,1];  /lit/text [B,E] caption embeddings (rows 1 and 3 equal: a
                            repeated caption);  /lit/logit_scale [] (log(1/0.07) + 0.3)
  /lit/f64/ and /lit/f32/:  emb [B,E]; loss []; demb [B,E] (d loss / d emb); dlogit_scale [];
                            grad/visual.<key> (d loss / d weight, every tower tensor)
  /litbank/u [B,E], t [B,E] (rows 1 and 3 equal), bank [8,E] (rows 2 and 5: captions t_1 and t_2, which the
                            loss must leave out of those images' softmaxes), logit_scale []; f64/ and f32/:
                            loss, du [B,E], dlogit_scale []: lit_loss with the caption bank, from u directly
  /retrieval/u [M,E], /retrieval/t [M,E] (captions repeat: 6 distinct among M), i2t, t2i, chance []:
                            top-1 retrieval where a hit is a retrieved caption (or the retrieved
                            image's caption) equal to the query's own; chance = mean duplicate share;
                            /retrieval/perm [M] int32, score_own, score_perm: CLIP scores (mean cos)
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ratlip  # noqa: E402


def lit_loss(u, t, logit_scale):
    uh, th = F.normalize(u, dim=1), F.normalize(t, dim=1)
    logits = logit_scale.exp() * uh @ th.t()
    labels = torch.arange(u.shape[0])
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


def lit_loss_bank(u, t, bank, logit_scale):
    """Image->text rows run over the batch's captions and every bank row that is not the image's own caption."""
    uh, th, bh = F.normalize(u, dim=1), F.normalize(t, dim=1), F.normalize(bank, dim=1)
    s = logit_scale.exp()
    logits, logits_bank = s * uh @ th.t(), s * uh @ bh.t()
    own = (t[:, None, :] == bank[None, :, :]).all(dim=2)
    rows = torch.cat([logits, logits_bank.masked_fill(own, float("-inf"))], dim=1)
    labels = torch.arange(u.shape[0])
    return 0.5 * (F.cross_entropy(rows, labels) + F.cross_entropy(logits.t(), labels))


def bank_case(gen, B, E):
    u, t = torch.randn(B, E, generator=gen), torch.randn(B, E, generator=gen)
    t[3] = t[1]
    bank = torch.randn(8, E, generator=gen)
    bank[2], bank[5] = t[1], t[2]
    bank[6] = u[0] + 0.3 * torch.randn(E, generator=gen)   # a hard negative of image 0
    ls0 = np.float32(np.log(1 / 0.07))
    out = dict(u=u.numpy(), t=t.numpy(), bank=bank.numpy(), logit_scale=ls0)
    for name, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        ud = u.to(dtype).requires_grad_(True)
        ls = torch.tensor(ls0, dtype=dtype, requires_grad=True)
        loss = lit_loss_bank(ud, t.to(dtype), bank.to(dtype), ls)
        loss.backward()
        for k, v in (("loss", loss), ("du", ud.grad), ("dlogit_scale", ls.grad)):
            out["%s/%s" % (name, k)] = v.detach().numpy().astype(np.float64 if name == "f64" else np.float32)
    return out


def step(tower, img, text, ls0, dtype):
    tower = tower.to(dtype)
    for p in tower.parameters():
        p.grad = None
    ls = torch.tensor(ls0, dtype=dtype, requires_grad=True)
    _, emb = tower.encode(img.to(dtype))
    emb.retain_grad()
    loss = lit_loss(emb, text.to(dtype), ls)
    loss.backward()
    return emb, loss, emb.grad, ls.grad, {"visual." + k: p.grad for k, p in tower.named_parameters()}


def retrieval_case(gen, E):
    M, distinct = 24, 6
    base = torch.randn(distinct, E, generator=gen)
    t = base[torch.arange(M) % distinct]
    u = t + 20.0 * torch.randn(M, E, generator=gen)    # noisy: some retrievals fail
    uh, th = F.normalize(u, dim=1), F.normalize(t, dim=1)
    sim = (uh @ th.t()).numpy()
    tn = t.numpy()
    same = np.array([[np.array_equal(tn[a], tn[b]) for b in range(M)] for a in range(M)])
    i2t = np.mean([same[a, int(np.argmax(sim[a, :]))] for a in range(M)])
    t2i = np.mean([same[a, int(np.argmax(sim[:, a]))] for a in range(M)])
    chance = same.sum() / (M * M)
    perm = np.roll(np.arange(M), 1).astype(np.int32)
    # in float64 from the float32 rows, as lit_clip_score accumulates (a float32 score would carry ~1e-7 error)
    cos = lambda a, b: float(np.mean(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))
    un = u.numpy()
    u64, t64 = un.astype(np.float64), tn.astype(np.float64)
    return dict(u=un, t=tn, i2t=np.float64(i2t), t2i=np.float64(t2i), chance=np.float64(chance), perm=perm,
                score_own=np.float64(cos(u64, t64)), score_perm=np.float64(cos(u64, t64[perm])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=6)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    cfg = ratlip.load_config(args.config, args.set)
    m = cfg["model"]
    torch.manual_seed(0)
    tower = ratlip.VisionTower(m)
    tower.init_random(ratlip.CLIP_SEED + args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    B, S, E = args.batch, m["clip_image_size"], m["clip_embed_dim"]
    img = torch.rand(B, 3, S, S, generator=gen) * 2 - 1
    text = torch.randn(B, E, generator=gen)
    if B > 3:
        text[3] = text[1]
    ls0 = float(np.log(1 / 0.07) + 0.3)

    w = ratlip.Writer(args.out)
    for k, v in tower.state_dict().items():
        w.put("clip/visual." + k, v)
    for k, v in ratlip.clip_attrs(m).items():
        w.f["clip"].attrs[k] = np.int32(v)
    w.put("lit/img", img)
    w.put("lit/text", text)
    w.put("lit/logit_scale", np.float32(ls0))
    for name, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        emb, loss, demb, dls, grads = step(tower, img, text, np.float32(ls0), dtype)
        put = (lambda n, t: w.f.create_dataset(n, data=t.detach().numpy().astype(np.float64))) if name == "f64" \
            else (lambda n, t: w.put(n, t))
        put("lit/%s/emb" % name, emb)
        put("lit/%s/loss" % name, loss)
        put("lit/%s/demb" % name, demb)
        put("lit/%s/dlogit_scale" % name, dls)
        for k, g in grads.items():
            put("lit/%s/grad/%s" % (name, k), g)
    for k, v in bank_case(gen, B, E).items():
        w.f.create_dataset("litbank/" + k, data=v)
    for k, v in retrieval_case(gen, E).items():
        w.f.create_dataset("retrieval/" + k, data=v)
    w.f.attrs["batch"] = np.int32(B)
    w.close()
    print("lit_ref.py: wrote %s (batch %d, %d tower tensors)" % (args.out, B, len(grads)))


if __name__ == "__main__":
    main()
