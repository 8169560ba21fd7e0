#!/usr/bin/python3
"""Unit test of step_torch.py's FLOP counter against counts worked out by hand (2 x MACs):
conv forward, conv backward with and without weight gradients (a frozen layer), linear forward and
backward, batched matmul, and a double backward (MA-GP's create_graph pass). Exit status 1 on a
mismatch."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_torch import FlopCounter  # noqa: E402

failures = []


def check(name, fn, want):
    with FlopCounter() as c:
        fn()
    ok = c.flops == want
    print(f"{'ok  ' if ok else 'FAIL'} {name}: counted {c.flops}, by hand {want}")
    if not ok:
        failures.append(name)


N, C, H, K, k = 2, 3, 8, 4, 3                   # conv 3->4, 3x3, pad 1, 8x8, batch 2
conv_fwd = 2 * N * K * H * H * C * k * k        # every output: C*k*k MACs
x = torch.randn(N, C, H, H, requires_grad=True)
w = torch.randn(K, C, k, k, requires_grad=True)
check("conv forward", lambda: F.conv2d(x, w, padding=1), conv_fwd)
check("conv forward+backward (input and weight grads)", lambda: F.conv2d(x, w, padding=1).sum().backward(),
      3 * conv_fwd)
wf = torch.randn(K, C, k, k)                    # frozen: only the input gradient
check("frozen conv forward+backward (input grad only)", lambda: F.conv2d(x, wf, padding=1).sum().backward(),
      2 * conv_fwd)
xs = torch.randn(N, C, 8, 8, requires_grad=True)
check("patch conv k8 s8", lambda: F.conv2d(xs, torch.randn(K, C, 8, 8), stride=8), 2 * N * K * 1 * C * 64)

M, IN, OUT = 5, 7, 6
a = torch.randn(M, IN, requires_grad=True)
lw = torch.randn(OUT, IN, requires_grad=True)
lb = torch.randn(OUT, requires_grad=True)
check("linear forward", lambda: F.linear(a, lw, lb), 2 * M * IN * OUT)
check("linear forward+backward", lambda: F.linear(a, lw, lb).sum().backward(), 3 * 2 * M * IN * OUT)
q, kk = torch.randn(2, 4, 5, 6), torch.randn(2, 4, 6, 5)
check("attention scores q @ k^T (4-d matmul)", lambda: q @ kk, 2 * 8 * 5 * 6 * 5)


def double_backward():
    y = F.conv2d(x, w, padding=1)
    g, = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)   # 1 conv fwd + grad-input
    g.pow(2).sum().backward()


# forward (1) + first backward, input only (1) + backward of that: the grad-input conv's own input and
# weight gradients (2), and through 2*y into y's conv: its input and weight gradients (2) = 6 convs
check("double backward (create_graph)", double_backward, 6 * conv_fwd)
sys.exit(1 if failures else 0)
