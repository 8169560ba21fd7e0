#!/usr/bin/python3
"""test_ratlip_counts.py: the reference's networks for the paper config have upstream's names and sizes.

Checks (shared/spec/state-dict.md §2-§5, model.md §9) for --config paper.json with rat_mode "batch":
trainable counts G 53,771,379, D+C 30,806,021 (D 28,706,821, C 2,099,200), frozen CLIP in G 87,454,464;
the full state_dict key lists of NetG (749), NetD (17), NetC (2) and the CLIP tower (152) equal the
spec's templates expanded here (independently of ratlip.py), in order; the spot-check shapes and
indices the spec gives. For rat_mode "sample": 51,688,563 trainable and the rat_cell naming.
Exit status 0 when everything holds; every failure is printed.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ratlip  # noqa: E402

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


# --- the spec's templates (state-dict.md §2.2-§2.3, §3, §4) ---

def conv_shuffle(P):
    return [P + ".conv.weight", P + ".bn.weight", P + ".bn.bias", P + ".bn.running_mean", P + ".bn.running_var",
            P + ".bn.num_batches_tracked"] + [P + ".se." + s for s in ("cweight", "cbias", "sweight", "sbias", "gn.weight", "gn.bias")]


def affine_rnn(P):
    rnn = [P + ".rnn." + s for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
    return rnn + [P + ".%s.%s.%s" % (f, i, t) for f in ("fc_gamma", "fc_beta") for i in ("0", "2") for t in ("weight", "bias")]


def affine(P):
    return [P + ".%s.%s.%s" % (f, l, t) for f in ("fc_gamma", "fc_beta") for l in ("linear1", "linear2") for t in ("weight", "bias")]


def clip_block(P):
    return [P + s for s in ("attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias",
                            "ln_1.weight", "ln_1.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
                            "mlp.c_proj.bias", "ln_2.weight", "ln_2.bias")]


def netg_keys(chs, layers=12, mblocks=4):
    k = ["fc_code.weight", "fc_code.bias"]
    for j in range(mblocks):
        P = "mapping.FBlocks.%d" % j
        k += [P + ".conv1.weight", P + ".conv1.bias"]
        k += affine_rnn(P + ".fuse1.affine0") + affine_rnn(P + ".fuse1.affine1")
        k += conv_shuffle(P + ".conv2")
        k += affine_rnn(P + ".fuse2.affine0") + affine_rnn(P + ".fuse2.affine1")
    k += ["mapping.conv_fuse.weight", "mapping.conv_fuse.bias"]
    k += ["mapping.CLIP_ViT." + s for s in ("class_embedding", "positional_embedding", "conv1.weight", "ln_pre.weight", "ln_pre.bias")]
    for b in range(layers):
        k += clip_block("mapping.CLIP_ViT.transformer.resblocks.%d." % b)
    k += ["mapping.conv.weight", "mapping.conv.bias", "mapping.fc_prompt.weight", "mapping.fc_prompt.bias"]
    for i in range(len(chs) - 1):
        P = "GBlocks.%d" % i
        k += conv_shuffle(P + ".c1") + conv_shuffle(P + ".c2")
        k += affine(P + ".fuse1.affine0") + affine(P + ".fuse1.affine1")
        k += affine(P + ".fuse2.affine0") + affine(P + ".fuse2.affine1")
        if chs[i] != chs[i + 1]:
            k += [P + ".c_sc.weight", P + ".c_sc.bias"]
    return k + ["to_rgb.1.weight", "to_rgb.1.bias"]


def netd_keys():
    k = []
    for i in range(2):
        P = "DBlocks.%d." % i
        k += [P + s for s in ("gamma", "beta", "conv_r.0.weight", "conv_r.2.weight", "conv_s.weight", "conv_s.bias")]
    return k + ["main." + s for s in ("gamma", "conv_r.0.weight", "conv_r.2.weight", "conv_s.weight", "conv_s.bias")]


def clip_keys(layers=12):
    k = ["class_embedding", "positional_embedding", "proj", "conv1.weight", "ln_pre.weight", "ln_pre.bias"]
    for b in range(layers):
        k += clip_block("transformer.resblocks.%d." % b)
    return k + ["ln_post.weight", "ln_post.bias"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="jobs/configs/paper.json")
    args = ap.parse_args()

    cfg = ratlip.load_config(args.config, ["model.rat_mode=batch"])
    model = ratlip.Model(cfg, perturb=False)
    G, D, C = model.netG, model.netD, model.netC
    n = ratlip.counts(model)
    check(n["G"] == 53771379, "NetG trainable (batch) %d == 53,771,379" % n["G"])
    check(n["DC"] == 30806021, "NetD+NetC trainable %d == 30,806,021" % n["DC"])
    check(n["G_frozen_clip"] == 87454464, "frozen CLIP in NetG %d == 87,454,464" % n["G_frozen_clip"])
    check(n["G"] + n["G_frozen_clip"] == 141225843, "NetG all parameters == 141,225,843")
    check(n["clip"] == 87849216, "CLIP visual tower %d == 87,849,216" % n["clip"])
    check(sum(p.numel() for p in D.parameters()) == 28706821, "NetD == 28,706,821")
    check(sum(p.numel() for p in C.parameters()) == 2099200, "NetC == 2,099,200")

    sd = G.state_dict()
    keys = list(sd)
    want = netg_keys(cfg["model"]["g_channels"])
    check(len(keys) == 749, "NetG state_dict has %d keys (749)" % len(keys))
    check(keys == want, "NetG state_dict keys and order == spec templates" +
          ("" if keys == want else ": first difference %s" % next(((a, b) for a, b in zip(keys, want) if a != b), None)))
    check(list(D.state_dict()) == netd_keys(), "NetD state_dict keys and order == spec §3.1")
    check(list(C.state_dict()) == ["joint_conv.0.weight", "joint_conv.2.weight"], "NetC keys == spec §3.2")
    check(list(model.tower.state_dict()) == clip_keys(), "CLIP tower keys (visual.*) == spec §4.1 (152)")
    n_buf = sum(1 for _ in G.buffers())
    check(n_buf == 48, "NetG has 48 BN buffers (%d)" % n_buf)

    # spot checks with indices (state-dict.md §2.1 table) and shapes (examples of §2.2-§4.2)
    for key, idx in (("mapping.conv_fuse.weight", 250), ("mapping.CLIP_ViT.class_embedding", 252),
                     ("mapping.conv.weight", 401), ("mapping.fc_prompt.weight", 403),
                     ("GBlocks.0.c1.conv.weight", 405), ("to_rgb.1.weight", 747)):
        check(keys.index(key) == idx, "state_dict index of %s == %d" % (key, idx))
    pnames = [k for k, _ in G.named_parameters()]
    check(len(pnames) == 701 and pnames.index("mapping.CLIP_ViT.class_embedding") == 240 and
          pnames.index("mapping.conv.weight") == 389 and pnames.index("to_rgb.1.bias") == 700,
          "Adam index rule: 701 parameters, CLIP at 240-388, to_rgb.1.bias at 700")
    frozen = [i for i, (k, p) in enumerate(G.named_parameters()) if not p.requires_grad]
    check(frozen == list(range(240, 389)), "frozen parameters are exactly indices 240-388")
    shapes = {
        "fc_code.weight": [3136, 100], "mapping.FBlocks.2.fuse2.affine1.rnn.weight_hh_l0": [256, 64],
        "mapping.FBlocks.0.conv2.se.gn.bias": [4], "mapping.FBlocks.1.fuse1.affine0.fc_gamma.2.weight": [32, 32],
        "mapping.fc_prompt.weight": [6144, 612], "mapping.conv.weight": [512, 768, 5, 5],
        "mapping.CLIP_ViT.conv1.weight": [768, 3, 32, 32], "mapping.CLIP_ViT.positional_embedding": [50, 768],
        "mapping.CLIP_ViT.transformer.resblocks.11.attn.in_proj_weight": [2304, 768],
        "GBlocks.3.c1.conv.weight": [256, 512, 3, 3], "GBlocks.3.c2.conv.weight": [256, 256, 3, 3],
        "GBlocks.3.fuse1.affine0.fc_gamma.linear1.weight": [512, 612],
        "GBlocks.3.fuse2.affine1.fc_beta.linear2.weight": [256, 256], "GBlocks.5.c2.se.cweight": [1, 4, 1, 1],
        "GBlocks.5.c_sc.weight": [64, 128, 1, 1], "GBlocks.0.c1.bn.num_batches_tracked": [],
        "to_rgb.1.weight": [3, 64, 3, 3],
    }
    for k, s in shapes.items():
        check(k in sd and list(sd[k].shape) == s, "shape of %s == %s" % (k, s))
    check(sd["GBlocks.0.c1.bn.num_batches_tracked"].dtype == torch.int64, "num_batches_tracked is int64")
    dsd = D.state_dict()
    for k, s in (("DBlocks.0.gamma", [1]), ("DBlocks.1.conv_s.weight", [768, 768, 1, 1]),
                 ("main.conv_r.0.weight", [512, 768, 3, 3]), ("main.conv_s.weight", [512, 768, 1, 1])):
        check(list(dsd[k].shape) == s, "NetD shape of %s == %s" % (k, s))
    check(list(C.state_dict()["joint_conv.0.weight"].shape) == [128, 1024, 4, 4], "NetC joint_conv.0 [128,1024,4,4]")
    vsd = model.tower.state_dict()
    check(list(vsd["proj"].shape) == [768, 512], "visual.proj [768,512] (used as x @ proj)")
    check(all(torch.equal(sd["mapping.CLIP_ViT." + k], vsd[k]) for k in ("class_embedding", "conv1.weight",
              "transformer.resblocks.3.mlp.c_fc.weight")), "mapping.CLIP_ViT.* are the tower's tensors")
    del model, G, D, C, sd

    # rat_mode "sample": one LSTMCell per M-block, registered after conv1; no per-affine rnn
    cfg = ratlip.load_config(args.config, ["model.rat_mode=sample"])
    model = ratlip.Model(cfg, perturb=False)
    n = ratlip.counts(model)
    check(n["G"] == 51688563, "NetG trainable (sample) %d == 53,771,379 - 12*173,568" % n["G"])
    keys = list(model.netG.state_dict())
    i = keys.index("mapping.FBlocks.0.conv1.bias")
    check(keys[i + 1:i + 5] == ["mapping.FBlocks.0.rat_cell." + s for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")],
          "sample mode: FBlocks.j.rat_cell.{weight_ih,weight_hh,bias_ih,bias_hh} right after conv1")
    check(not any(".rnn." in k for k in keys), "sample mode: no Affine_rnn .rnn keys")
    check(len(keys) == 749 - 16 * 4 + 4 * 4, "sample mode: %d keys (749 - 64 + 16)" % len(keys))

    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
