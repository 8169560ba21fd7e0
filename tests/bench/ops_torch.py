#!/usr/bin/python3
"""PyTorch side of the op benchmark: the same shapes as bench_ops (tests/bench/ops.c), timed the same
way (fastest of repeated runs after two warm-ups), printed as the same tab-separated rows:
  ROW <op> <shape> <fwd ms> <fwd+bwd ms>
usage: ops_torch.py --threads T [--min-seconds S]"""
import argparse
import time

import torch
import torch.nn.functional as F

from benchcpu import cpu_model


# one thread: process CPU time (what the op costs, without waiting for a core on a shared machine),
# as bench_ops does; more threads: wall time
CLOCK = time.perf_counter


def time_ms(fn, min_seconds):
    fn(), fn()
    times, start = [], time.perf_counter()
    while len(times) < 1000 and (len(times) < 5 or time.perf_counter() - start < min_seconds):
        t0 = CLOCK()
        fn()
        times.append((CLOCK() - t0) * 1e3)
    return min(times)


def row(op, shape, fwd, fwd_bwd, min_s):
    print(f"ROW\t{op}\t{shape}\t{time_ms(fwd, min_s):.3f}\t{time_ms(fwd_bwd, min_s):.3f}", flush=True)


def bench_conv(op, N, C, H, K, k, stride, pad, min_s):
    x = torch.randn(N, C, H, H, requires_grad=True)
    w = (torch.randn(K, C, k, k) * 0.05).requires_grad_(True)
    b = (torch.randn(K) * 0.1).requires_grad_(True)
    dout = torch.randn(N, K, (H + 2 * pad - k) // stride + 1, (H + 2 * pad - k) // stride + 1)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, b, stride=stride, padding=pad)

    def fwd_bwd():
        F.conv2d(x, w, b, stride=stride, padding=pad).backward(dout)

    row(op, f"{C}->{K} k{k} s{stride} p{pad} @{H}x{H} N{N}", fwd, fwd_bwd, min_s)


def bench_linear(N, IN, OUT, min_s):
    x = torch.randn(N, IN, requires_grad=True)
    w = (torch.randn(OUT, IN) * 0.05).requires_grad_(True)
    b = (torch.randn(OUT) * 0.1).requires_grad_(True)
    dout = torch.randn(N, OUT)

    def fwd():
        with torch.no_grad():
            F.linear(x, w, b)

    def fwd_bwd():
        F.linear(x, w, b).backward(dout)

    row("linear", f"{IN}->{OUT} N{N}", fwd, fwd_bwd, min_s)


def bench_mha(B, L, D, H, min_s):
    mha = torch.nn.MultiheadAttention(D, H, batch_first=True)
    x = torch.randn(B, L, D, requires_grad=True)
    dout = torch.randn(B, L, D)

    def fwd():
        with torch.no_grad():
            mha(x, x, x, need_weights=False)

    def fwd_bwd():
        mha(x, x, x, need_weights=False)[0].backward(dout)

    row("mha", f"B{B} L{L} D{D} H{H}", fwd, fwd_bwd, min_s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-seconds", type=float, default=0.5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    global CLOCK
    if a.threads == 1:
        CLOCK = time.process_time
    torch.manual_seed(0)
    print(f"# ops_torch: torch {torch.__version__}, {torch.get_num_threads()} thread(s) | cpu: {cpu_model()}")
    N, s = 8, a.min_seconds
    bench_conv("conv3x3", N, 256, 8, 256, 3, 1, 1, s)
    bench_conv("conv3x3", N, 128, 16, 128, 3, 1, 1, s)
    bench_conv("conv3x3", N, 64, 32, 64, 3, 1, 1, s)
    bench_conv("conv3x3", N, 32, 64, 32, 3, 1, 1, s)
    bench_conv("conv5x5", N, 64, 8, 256, 5, 1, 2, s)
    bench_conv("conv5x5", N, 256, 8, 256, 5, 1, 2, s)
    bench_conv("patchconv", N, 3, 64, 256, 8, 8, 0, s)
    bench_linear(N, 612, 256, s)
    bench_linear(N * 65, 256, 1024, s)
    bench_linear(N * 65, 1024, 256, s)
    bench_mha(N, 65, 256, 4, s)


if __name__ == "__main__":
    main()
