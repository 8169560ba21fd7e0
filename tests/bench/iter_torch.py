#!/usr/bin/python3
"""PyTorch side of bench_iter: one training iteration of the tiny config (D step with MA-GP, Adam,
G step, Adam, EMA; tests/reference/ratlip.py's train()) at batch 8, random CLIP weights and inputs.
Prints the fastest iteration in ms: process CPU time with one thread (what bench_iter's CPU column
measures), and wall time.
usage: iter_torch.py [--threads T] [--iters N] [--batch B]"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import ratlip  # noqa: E402  (the PyTorch reference model)
from benchcpu import cpu_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = ratlip.load_config()
    model = ratlip.Model(cfg, seed=0)
    gen = torch.Generator().manual_seed(0)
    inputs = ratlip.case_inputs(model, gen, a.batch, cfg["model"]["image_size"])
    ratlip.train(model, [inputs], cfg["train"])  # warm-up (allocations, oneDNN primitives)
    best_wall = best_cpu = float("inf")
    for _ in range(a.iters):
        w0, c0 = time.perf_counter(), time.process_time()
        ratlip.train(model, [inputs], cfg["train"])
        best_cpu = min(best_cpu, (time.process_time() - c0) * 1e3)
        best_wall = min(best_wall, (time.perf_counter() - w0) * 1e3)
    print(f"# iter_torch: torch {torch.__version__}, {torch.get_num_threads()} thread(s), batch {a.batch} | cpu: {cpu_model()}")
    print(f"torch iteration ms, fastest of {a.iters} (wall / CPU): {best_wall:.1f} / {best_cpu:.1f}")


if __name__ == "__main__":
    main()
