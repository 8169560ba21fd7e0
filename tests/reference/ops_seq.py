#!/usr/bin/python3
"""PyTorch reference for ratlip's core ops part B (tests/core/test_parity_seq.c).

Draws small random inputs and parameters with a fixed seed for multi-head attention, the LSTM
(cell and sequence), nearest/bilinear resizing, pooling, channel concat/shuffle, cosine similarity
and Adam; runs forward and backward against a random upstream gradient and writes every input,
parameter, output and gradient to one HDF5 file, one group per case.

    /usr/bin/python3 ops_seq.py --out ops_seq.h5
"""
import argparse

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def put(g, **arrays):
    for name, t in arrays.items():
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        g.create_dataset(name, data=a.astype(np.float32) if a.dtype.kind == "f" else a)


def mha_case(f, name, B, L, D, H):
    m = torch.nn.MultiheadAttention(D, H, batch_first=True)
    with torch.no_grad():  # non-zero biases so their gradients and effects are tested
        m.in_proj_bias.uniform_(-0.5, 0.5)
        m.out_proj.bias.uniform_(-0.5, 0.5)
    x = leaf(torch.randn(B, L, D))
    out, _ = m(x, x, x, need_weights=False)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(B=B, L=L, D=D, H=H)
    put(g, x=x, w_in=m.in_proj_weight, b_in=m.in_proj_bias, w_out=m.out_proj.weight, b_out=m.out_proj.bias,
        out=out, dout=dout, dx=x.grad, dw_in=m.in_proj_weight.grad, db_in=m.in_proj_bias.grad,
        dw_out=m.out_proj.weight.grad, db_out=m.out_proj.bias.grad)


def lstm_cell_case(f, name, N, I, H):
    cell = torch.nn.LSTMCell(I, H)
    x, h0, c0 = leaf(torch.randn(N, I)), leaf(torch.randn(N, H)), leaf(torch.randn(N, H))
    h, c = cell(x, (h0, c0))
    dh, dc = torch.randn_like(h), torch.randn_like(c)
    torch.autograd.backward([h, c], [dh, dc])
    g = f.create_group(name)
    g.attrs.update(N=N, I=I, H=H)
    put(g, x=x, h0=h0, c0=c0, w_ih=cell.weight_ih, w_hh=cell.weight_hh, b_ih=cell.bias_ih, b_hh=cell.bias_hh,
        h=h, c=c, dh=dh, dc=dc, dx=x.grad, dh0=h0.grad, dc0=c0.grad, dw_ih=cell.weight_ih.grad,
        dw_hh=cell.weight_hh.grad, db_ih=cell.bias_ih.grad, db_hh=cell.bias_hh.grad)


def lstm_seq_case(f, name, T, N, I, H, with_state):
    """nn.LSTM over x[T,N,I]; upstream gradients on every step's h and on the final h and c."""
    rnn = torch.nn.LSTM(I, H)
    x = leaf(torch.randn(T, N, I))
    g = f.create_group(name)
    g.attrs.update(T=T, N=N, I=I, H=H, with_state=int(with_state))
    if with_state:
        h0, c0 = leaf(torch.randn(1, N, H)), leaf(torch.randn(1, N, H))
        out, (hn, cn) = rnn(x, (h0, c0))
    else:
        out, (hn, cn) = rnn(x)
    dh_all, dh_last, dc_last = torch.randn_like(out), torch.randn(N, H), torch.randn(N, H)
    torch.autograd.backward([out, hn[0], cn[0]], [dh_all, dh_last, dc_last])
    put(g, x=x, w_ih=rnn.weight_ih_l0, w_hh=rnn.weight_hh_l0, b_ih=rnn.bias_ih_l0, b_hh=rnn.bias_hh_l0,
        h_all=out, h_last=hn[0], c_last=cn[0], dh_all=dh_all, dh_last=dh_last, dc_last=dc_last, dx=x.grad,
        dw_ih=rnn.weight_ih_l0.grad, dw_hh=rnn.weight_hh_l0.grad, db_ih=rnn.bias_ih_l0.grad,
        db_hh=rnn.bias_hh_l0.grad)
    if with_state:
        put(g, h0=h0[0], c0=c0[0], dh0=h0.grad[0], dc0=c0.grad[0])


def resize_case(f, name, N, C, H, W, OH, OW):
    x = leaf(torch.randn(N, C, H, W))
    out = F.interpolate(x, size=(OH, OW), mode="nearest")
    dout = torch.randn_like(out)
    out.backward(dout)
    bil = F.interpolate(x.detach(), size=(OH, OW), mode="bilinear", align_corners=False)
    # the index map itself, so a wrong rule is reported as such and not only as a value mismatch
    rows = F.interpolate(torch.arange(H, dtype=torch.float32).view(1, 1, H, 1), size=(OH, 1), mode="nearest")
    cols = F.interpolate(torch.arange(W, dtype=torch.float32).view(1, 1, 1, W), size=(1, OW), mode="nearest")
    g = f.create_group(name)
    g.attrs.update(N=N, C=C, H=H, W=W, OH=OH, OW=OW)
    put(g, x=x, nearest=out, dout=dout, dx=x.grad, bilinear=bil, src_rows=rows.flatten().int(),
        src_cols=cols.flatten().int())


def pool_case(f, name, kind, N, C, H, W, k, s, p, include_pad=True):
    x = leaf(torch.randn(N, C, H, W))
    if kind == "avg":
        out = F.avg_pool2d(x, k, s, p, count_include_pad=include_pad)
    else:
        out = F.max_pool2d(x, k, s, p)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(N=N, C=C, H=H, W=W, k=k, s=s, p=p, include_pad=int(include_pad), is_max=int(kind == "max"))
    put(g, x=x, out=out, dout=dout, dx=x.grad)


def gap_case(f, name, N, C, H, W):
    x = leaf(torch.randn(N, C, H, W))
    out = F.adaptive_avg_pool2d(x, 1).flatten(1)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(N=N, C=C, HW=H * W)
    put(g, x=x, out=out, dout=dout, dx=x.grad)


def shuffle_case(f, name, N, C, H, W, groups):
    x = leaf(torch.randn(N, C, H, W))
    out = x.reshape(N, groups, C // groups, H, W).permute(0, 2, 1, 3, 4).reshape(N, C, H, W)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(N=N, C=C, HW=H * W, groups=groups)
    put(g, x=x, out=out, dout=dout, dx=x.grad)


def concat_case(f, name, N, Ca, Cb, H, W):
    a, b = leaf(torch.randn(N, Ca, H, W)), leaf(torch.randn(N, Cb, H, W))
    out = torch.cat([a, b], 1)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(N=N, Ca=Ca, Cb=Cb, HW=H * W)
    put(g, a=a, b=b, out=out, dout=dout, da=a.grad, db=b.grad)


def cosine_case(f, name, N, D, tiny_row):
    a0, b0 = torch.randn(N, D), torch.randn(N, D)
    if tiny_row:  # a row whose squared norm is below eps²: exercises the clamp and its backward
        a0[1] *= 1e-10
    a, b = leaf(a0), leaf(b0)
    out = torch.cosine_similarity(a, b, dim=1, eps=1e-8)
    dout = torch.randn_like(out)
    out.backward(dout)
    g = f.create_group(name)
    g.attrs.update(N=N, D=D)
    put(g, a=a, b=b, out=out, dout=dout, da=a.grad, db=b.grad)


def adam_case(f, name, n, steps, lr, betas):
    p = torch.nn.Parameter(torch.randn(n))
    grads = torch.randn(steps, n)
    grads[:, 0] = 0  # a value whose gradient stays zero
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=1e-8)
    traj = [p.detach().clone()]
    for t in range(steps):
        p.grad = grads[t].clone()
        opt.step()
        traj.append(p.detach().clone())
    st = opt.state[p]
    g = f.create_group(name)
    g.attrs.update(n=n, steps=steps, lr=lr, beta1=betas[0], beta2=betas[1], eps=1e-8)
    put(g, grads=grads, params=torch.stack(traj), m=st["exp_avg"], v=st["exp_avg_sq"])
    g.create_dataset("hyper", data=np.array([lr, betas[0], betas[1], 1e-8], dtype=np.float64))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    with h5py.File(out, "w") as f:
        f.attrs["torch_version"] = str(torch.__version__).encode()
        mha_case(f, "mha_L65", 2, 65, 64, 4)
        mha_case(f, "mha_L66", 2, 66, 64, 4)
        lstm_cell_case(f, "lstm_cell", 3, 12, 8)
        lstm_seq_case(f, "lstm_seq_N1", 5, 1, 20, 16, with_state=False)
        lstm_seq_case(f, "lstm_seq_N3", 5, 3, 20, 16, with_state=True)
        for n, (h, w, oh, ow) in {"7to8": (7, 7, 8, 8), "8to16": (8, 8, 16, 16), "128to224": (128, 128, 224, 224),
                                  "256to224": (256, 256, 224, 224), "64to299": (64, 64, 299, 299),
                                  "7x9to8x5": (7, 9, 8, 5)}.items():
            resize_case(f, "resize_" + n, 1, 2, h, w, oh, ow)
        pool_case(f, "avg3s1p1_pad", "avg", 2, 3, 9, 9, 3, 1, 1, include_pad=True)
        pool_case(f, "avg3s1p1_nopad", "avg", 2, 3, 9, 9, 3, 1, 1, include_pad=False)
        pool_case(f, "max3s2p0", "max", 2, 3, 9, 9, 3, 2, 0)
        pool_case(f, "max3s2p1", "max", 2, 3, 10, 10, 3, 2, 1)
        pool_case(f, "avg8", "avg", 2, 3, 8, 8, 8, 8, 0)
        gap_case(f, "gap", 2, 5, 7, 7)
        shuffle_case(f, "shuffle", 2, 64, 4, 4, 2)
        concat_case(f, "concat", 2, 3, 5, 4, 4)
        cosine_case(f, "cosine", 4, 512, tiny_row=False)
        cosine_case(f, "cosine_clamped", 4, 16, tiny_row=True)
        adam_case(f, "adam_b0", 50, 10, 1e-3, (0.0, 0.9))
        adam_case(f, "adam_b05", 50, 10, 1e-3, (0.5, 0.999))


if __name__ == "__main__":
    main()
