#!/usr/bin/python3
"""PyTorch reference for the dense ops of core/ (opsA): linear, conv2d, BatchNorm2d, GroupNorm, LayerNorm,
the activations and softmax. For each case: random inputs and parameters (fixed seed), forward and
backward in float32 with a random upstream gradient `dout`; everything goes to one HDF5 file, one group
per case, with the case's integer/real settings as group attributes. tests/core/test_parity_dense.c
reads it."""
import argparse

import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(20240611)
torch.set_default_dtype(torch.float32)


def leaf(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_(True)


def put(g, **arrays):
    for k, v in arrays.items():
        g.create_dataset(k, data=v.detach().numpy().astype(np.float32))


def case_linear(f, name, N, IN, OUT, bias):
    x, w = leaf(N, IN), leaf(OUT, IN, scale=IN ** -0.5)
    b = leaf(OUT) if bias else None
    out = F.linear(x, w, b)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(N=N, IN=IN, OUT=OUT, bias=int(bias))
    put(g, x=x, w=w, out=out, dout=dout, dx=x.grad, dw=w.grad)
    if bias:
        put(g, b=b, db=b.grad)


def case_conv(f, name, N, C, H, W, K, kh, kw, sh=1, sw=1, ph=0, pw=0, bias=True):
    x, w = leaf(N, C, H, W), leaf(K, C, kh, kw, scale=(C * kh * kw) ** -0.5)
    b = leaf(K) if bias else None
    out = F.conv2d(x, w, b, stride=(sh, sw), padding=(ph, pw))
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(N=N, C=C, H=H, W=W, K=K, kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw, bias=int(bias))
    put(g, x=x, w=w, out=out, dout=dout, dx=x.grad, dw=w.grad)
    if bias:
        put(g, b=b, db=b.grad)


def case_bn(f, name, N, C, H, W, momentum=0.1, eps=1e-5):
    # inputs with a per-channel offset and scale, so mean and variance matter
    x = (torch.randn(N, C, H, W) * (1 + torch.rand(1, C, 1, 1) * 2) + torch.randn(1, C, 1, 1)).requires_grad_(True)
    bn = torch.nn.BatchNorm2d(C, eps=eps, momentum=momentum)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.3 * torch.randn(C))
        bn.bias.copy_(0.3 * torch.randn(C))
        bn.running_mean.copy_(torch.randn(C) * 0.5)
        bn.running_var.copy_(0.5 + torch.rand(C))
    rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
    bn.train()
    out = bn(x)
    dout = torch.randn_like(out)
    out.backward(dout)
    bn.eval()
    xe = torch.randn(N, C, H, W)
    with torch.no_grad():
        out_eval = bn(xe)   # uses the running stats just updated
    g = f.create_group(name)
    g.attrs.update(N=N, C=C, H=H, W=W)
    g.create_dataset("momentum", data=np.float32(momentum))
    g.create_dataset("eps", data=np.float32(eps))
    put(g, x=x, gamma=bn.weight, beta=bn.bias, rm0=rm0, rv0=rv0, out=out, dout=dout, dx=x.grad,
        dgamma=bn.weight.grad, dbeta=bn.bias.grad, rm1=bn.running_mean, rv1=bn.running_var, x_eval=xe,
        out_eval=out_eval)


def case_groupnorm(f, name, N, C, H, W, G, eps=1e-5):
    x = (torch.randn(N, C, H, W) * 2 + 0.5).requires_grad_(True)
    gamma, beta = (1 + 0.3 * torch.randn(C)).requires_grad_(True), (0.3 * torch.randn(C)).requires_grad_(True)
    out = F.group_norm(x, G, gamma, beta, eps)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(N=N, C=C, H=H, W=W, G=G)
    g.create_dataset("eps", data=np.float32(eps))
    put(g, x=x, gamma=gamma, beta=beta, out=out, dout=dout, dx=x.grad, dgamma=gamma.grad, dbeta=beta.grad)


def case_layernorm(f, name, R, D, eps=1e-5):
    x = (torch.randn(R, D) * 1.5 - 0.3).requires_grad_(True)
    gamma, beta = (1 + 0.3 * torch.randn(D)).requires_grad_(True), (0.3 * torch.randn(D)).requires_grad_(True)
    out = F.layer_norm(x, (D,), gamma, beta, eps)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(R=R, D=D)
    g.create_dataset("eps", data=np.float32(eps))
    put(g, x=x, gamma=gamma, beta=beta, out=out, dout=dout, dx=x.grad, dgamma=gamma.grad, dbeta=beta.grad)


def case_elementwise(f, name, fn, n=257, scale=3.0, slope=None):
    x = leaf(n, scale=scale)
    out = fn(x)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(n=n)
    if slope is not None:
        g.create_dataset("slope", data=np.float32(slope))
    put(g, x=x, out=out, dout=dout, dx=x.grad)


def case_softmax(f, name, R, D):
    x = leaf(R, D, scale=3.0)
    out = torch.softmax(x, dim=-1)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(R=R, D=D)
    put(g, x=x, out=out, dout=dout, dx=x.grad)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with h5py.File(args.out, "w") as f:
        case_linear(f, "linear", 5, 7, 6, True)
        case_linear(f, "linear_nobias", 4, 9, 3, False)
        # every conv shape RATLIP, CLIP and Inception use, at small sizes
        case_conv(f, "conv_1x1", 2, 5, 5, 6, 4, 1, 1)
        case_conv(f, "conv_3x3_p1", 2, 3, 6, 5, 4, 3, 3, ph=1, pw=1)
        case_conv(f, "conv_3x3_p1_n1_nobias", 1, 4, 5, 5, 3, 3, 3, ph=1, pw=1, bias=False)
        case_conv(f, "conv_4x4_valid", 2, 3, 7, 6, 2, 4, 4)
        case_conv(f, "conv_5x5_p2", 2, 3, 6, 6, 4, 5, 5, ph=2, pw=2)
        case_conv(f, "conv_5x5_valid", 2, 3, 8, 9, 3, 5, 5)
        case_conv(f, "conv_patch32", 2, 3, 64, 64, 4, 32, 32, sh=32, sw=32)
        case_conv(f, "conv_patch8", 2, 3, 16, 24, 5, 8, 8, sh=8, sw=8)
        case_conv(f, "conv_1x7_p03", 2, 3, 5, 9, 4, 1, 7, ph=0, pw=3)
        case_conv(f, "conv_7x1_p30", 2, 3, 9, 5, 4, 7, 1, ph=3, pw=0)
        case_conv(f, "conv_3x3_s2", 2, 3, 9, 8, 4, 3, 3, sh=2, sw=2)
        case_conv(f, "conv_3x3_s2_p1", 2, 3, 8, 9, 4, 3, 3, sh=2, sw=2, ph=1, pw=1)
        case_bn(f, "bn2d", 3, 4, 5, 5)
        case_groupnorm(f, "groupnorm_g3", 2, 6, 4, 5, 3)
        case_groupnorm(f, "groupnorm_gc", 2, 6, 4, 5, 6)    # groups = channels, as in RATLIP's D
        case_layernorm(f, "layernorm", 7, 12)
        case_elementwise(f, "relu", torch.relu)
        case_elementwise(f, "leaky_relu_0.2", lambda x: F.leaky_relu(x, 0.2), slope=0.2)
        case_elementwise(f, "leaky_relu_0.01", lambda x: F.leaky_relu(x, 0.01), slope=0.01)
        case_elementwise(f, "sigmoid", torch.sigmoid, scale=6.0)
        case_elementwise(f, "tanh", torch.tanh)
        case_elementwise(f, "quickgelu", lambda x: x * torch.sigmoid(1.702 * x))
        case_softmax(f, "softmax", 5, 9)


if __name__ == "__main__":
    main()
