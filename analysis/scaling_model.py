#!/usr/bin/python3
"""scaling_model.py: a cost model of one ratlip training iteration on W data-parallel ranks (issue 16).

    analysis/scaling_model.py [INPUTS.json] [--cases CASES.json] [--png OUT.png] [--arrival tree|all]

INPUTS (default analysis/scaling_inputs.json) holds every number the model uses, each with its source:
per-config compute time, gradient sizes, checkpoint/eval figures; per-interconnect alpha (s) and beta
(s/byte); cluster layout. CASES (tests/bench/scaling_cases.sh) are measured runs on this machine:
the model is validated against them (error per case). Then it projects weak-scaling efficiency
T(1)/T(W) for W = 8..1024 on the published interconnects, as a table and a PNG.

Per iteration on W ranks (n nodes of r ranks):
  compute      measured 1-rank time x CPU sharing (ranks x threads over a node's cores, >= 1) x co-run
               slowdown (ranks of one node slow each other; calibrated on this machine, 0 in projections)
  imbalance    the slowest rank sets the pace: cv x compute x E[max of W standard normals]
  D reduce     D and C gradients (dc_params floats), one allreduce after D's four passes (MA-GP needs them
               all): fully exposed
  G reduce     G's gradients in dist.bucket_kib buckets started during G's backward: exposed is the larger
               of the last bucket's allreduce and (whole allreduce - g_overlap_share x compute), plus the
               summation (gamma), which Open MPI does on the compute thread
  arrivals     dist/watch.c's stall detection. "all" (before issue 16): W-1 arrival messages at every wait
               point (wait_points per iteration) at arrival_msg_s each; "demand" (now): only at wait points
               slower than the grace period, i.e. none in a healthy step (one Iprobe per poll)
  checkpoint   amortised: staging copy (async) / ckpt_every
  evaluation   amortised: (eval_samples x per-sample time / W + rank 0's FID) / eval_every
Start-up (a separate table: paid once per job segment): every rank opens every shard and reads every caption
embedding (the dataset's NaN scan), all at once from the shared file system.
Allreduce of n bytes on W ranks, alpha/beta/gamma of the slowest link (between nodes when n > 1); the r
ranks of a node share its link, so every exchange that crosses it sees r x beta, except the ring's:
  ring   2 (W-1) alpha + 2 (W-1)/W n beta + (W-1)/W n gamma
  tree   2 log2 W (alpha + n r beta) + log2 W n gamma                 (binomial reduce + broadcast)
  rsag   2 log2 W alpha + 2 (W-1)/W n r beta + (W-1)/W n gamma       (Rabenseifner)
  hier   rsag among a node's r ranks on shared memory + rsag among the n nodes
The cheapest of them per message, as an MPI's tuned collectives would pick. Efficiency = one rank's
compute / T(W): everything else is the price of running on W ranks.
"""
import argparse
import json
import math
import os
import sys


def emax(w):
    """Expected maximum of w independent standard normal draws (the straggler among w ranks)."""
    if w <= 1:
        return 0.0
    xs = [-8 + 16 * i / 4000 for i in range(4001)]
    phi = [math.exp(-x * x / 2) / math.sqrt(2 * math.pi) for x in xs]
    cdf = [0.5 * (1 + math.erf(x / math.sqrt(2))) for x in xs]
    f = [x * w * p * c ** (w - 1) for x, p, c in zip(xs, phi, cdf)]
    return sum(f) * 16 / 4000


def rsag(nbytes, w, a, b, g):
    """Reduce-scatter by recursive halving + all-gather by doubling (Rabenseifner)."""
    lg = math.ceil(math.log2(w))
    return 2 * lg * a + 2 * (w - 1) / w * nbytes * b + (w - 1) / w * nbytes * g


def allreduce_s(nbytes, ranks, nodes, inter, intra):
    """Cheapest of ring, tree, Rabenseifner and hierarchical allreduce; returns (seconds, algorithm).
    Between nodes the r ranks of a node share its link: every exchange that crosses it, except the
    ring's (one neighbour per node), sees r x beta."""
    if ranks <= 1 or nbytes <= 0:
        return 0.0, "-"
    link = inter if nodes > 1 else intra
    a, b, g = link["alpha_s"], link["beta_s_per_byte"], link.get("gamma_s_per_byte", 0.0)
    r = max(1, ranks // nodes)
    b_shared = b * r if nodes > 1 else b
    lg = math.ceil(math.log2(ranks))
    out = {"ring": 2 * (ranks - 1) * a + 2 * (ranks - 1) / ranks * nbytes * b + (ranks - 1) / ranks * nbytes * g,
           "tree": 2 * lg * (a + nbytes * b_shared) + lg * nbytes * g,
           "rsag": rsag(nbytes, ranks, a, b_shared, g)}
    if nodes > 1:
        ai, bi, gi = intra["alpha_s"], intra["beta_s_per_byte"], intra.get("gamma_s_per_byte", 0.0)
        within = rsag(nbytes, r, ai, bi, gi) if r > 1 else 0.0
        out["hier"] = within + rsag(nbytes, nodes, a, b, g)
    alg = min(out, key=out.get)
    return out[alg], alg


def iteration(cfg, ranks, nodes, inter, intra, cores_per_node, arrival="all", one_machine=False):
    """Seconds per iteration and its parts for one config on `ranks` ranks over `nodes` nodes.
    one_machine: the nodes are namespaces of one machine (tests/cluster): they share its cores."""
    per_node = max(1, ranks // nodes)
    share = max(1.0, (ranks if one_machine else per_node) * cfg["threads_per_rank"] / cores_per_node)
    # ranks sharing a node slow each other (memory bandwidth, caches) even with a core each: calibrated
    # here; 0 in projections, whose compute_s is meant as measured on a full node
    corun = 1 + cfg.get("corun_slowdown", 0.0) * (per_node > 1)
    compute = cfg["compute_s"] * share * corun
    g_bytes, dc_bytes = 4 * cfg["g_params"], 4 * cfg["dc_params"]
    bucket = cfg["bucket_kib"] * 1024
    d_red, d_alg = allreduce_s(dc_bytes, ranks, nodes, inter, intra)
    g_all, g_alg = allreduce_s(g_bytes, ranks, nodes, inter, intra)
    g_last, _ = allreduce_s(min(bucket, g_bytes), ranks, nodes, inter, intra)
    g_red = max(g_last, g_all - cfg["g_overlap_share"] * compute) if ranks > 1 else 0.0
    # Open MPI progresses a non-blocking allreduce, and sums its pieces, on the compute thread: the
    # summation is never hidden behind the backward
    if ranks > 1:
        gam = (inter if nodes > 1 else intra).get("gamma_s_per_byte", 0.0)
        g_red += (ranks - 1) / ranks * g_bytes * gam
    # the slowest rank sets the pace at each of the two synchronising phases (D, G)
    imbalance = cfg["imbalance_cv"] * compute * emax(ranks)
    if ranks > 1 and arrival == "all":   # dist/watch.c before issue 16: W-1 arrivals per wait point
        arrivals = cfg["wait_points"] * (ranks - 1) * cfg["arrival_msg_s"]
    elif ranks > 1:                      # on demand: only in waits longer than the grace period
        arrivals = cfg["wait_points"] * cfg["arrival_probe_s"]
    else:
        arrivals = 0.0
    ckpt = cfg["ckpt_pause_s"] / cfg["ckpt_every"]
    ev = (cfg["eval_samples"] * cfg["eval_s_per_sample"] / ranks + cfg["eval_rank0_s"]) / cfg["eval_every"]
    parts = {"compute": compute, "imbalance": imbalance, "D reduce": d_red, "G reduce (exposed)": g_red,
             "arrivals": arrivals, "checkpoint": ckpt, "evaluation": ev}
    return sum(parts.values()), parts, {"D": d_alg, "G": g_alg}


def calibrate(cfg, cases, nets, cores):
    """The two constants of this machine, from the 1- and 2-rank cases: co-run slowdown (2 ranks' D and
    G steps against 1 rank's) and the imbalance cv (2 ranks' reduce waits beyond the modelled
    allreduce time, over the straggler factor emax(2))."""
    one, two = cases["shm-1"], cases["shm-2"]
    corun = (two["d_step_s"] + two["g_step_s"]) / (one["d_step_s"] + one["g_step_s"]) - 1
    base = dict(cfg, corun_slowdown=corun, imbalance_cv=0.0)
    _, parts, _ = iteration(base, 2, 1, nets["here_shm"], nets["here_shm"], cores)
    excess = two["d_reduce_wait_s"] + two["g_reduce_wait_s"] - parts["D reduce"] - parts["G reduce (exposed)"]
    cv = max(0.0, excess / (parts["compute"] * emax(2)))
    return corun, cv


def validate(inputs, cases):
    cfg = inputs["configs"][cases["config"]]
    cfg = dict(cfg, compute_s=cases["cases"]["shm-1"]["s_per_step"], threads_per_rank=cases["threads_per_rank"],
               ckpt_pause_s=0.0, eval_rank0_s=0.0, eval_s_per_sample=0.0)   # the cases ran without either
    corun, cv = calibrate(cfg, cases["cases"], inputs["interconnects"], cases["cores"])
    cfg.update(corun_slowdown=corun, imbalance_cv=cv)
    print("calibrated on shm-1 and shm-2 (so shm-2 fits by construction): co-run slowdown %.1f %%, "
          "imbalance cv %.1f %%" % (100 * corun, 100 * cv))
    nets = inputs["interconnects"]
    rows, worst = [], 0.0
    for name, c in cases["cases"].items():
        inter = nets["here_tcp"] if c["transport"] == "tcp" else nets["here_shm"]
        t, parts, algs = iteration(cfg, c["ranks"], c["nodes"], inter, nets["here_shm"], cases["cores"],
                                   cases.get("arrival", "all"), one_machine=True)
        err = (t - c["s_per_step"]) / c["s_per_step"]
        worst = max(worst, abs(err))
        rows.append((name, c["ranks"], c["nodes"], c["s_per_step"], t, err, parts))
    print("## Validation against %s (%d cores), %s, batch %d per rank, %d thread(s) per rank" %
          (cases["cpu"], cases["cores"], cases["config"], cases["batch_per_rank"], cases["threads_per_rank"]))
    print("| case | ranks | nodes | measured s/step | model s/step | error | model: compute / imbalance / D reduce / G exposed / arrivals |")
    print("|---|---|---|---|---|---|---|")
    for name, r, n, m, t, err, p in rows:
        print("| %s | %d | %d | %.3f | %.3f | %+.1f %% | %.3f / %.3f / %.4f / %.4f / %.5f |" %
              (name, r, n, m, t, 100 * err, p["compute"], p["imbalance"], p["D reduce"], p["G reduce (exposed)"],
               p["arrivals"]))
    print("largest error: %.1f %%\n" % (100 * worst))
    return worst


def efficiencies(inputs, arrival):
    lay, res = inputs["cluster"], {}
    for cname, cfg in inputs["configs"].items():
        for net in inputs["project_interconnects"]:
            res[(cname, net)] = []
            for w in inputs["project_ranks"]:
                nodes = max(1, w // lay["ranks_per_node"])
                t, parts, algs = iteration(cfg, w, nodes, inputs["interconnects"][net],
                                           inputs["interconnects"]["node_shm"], lay["cores_per_node"], arrival)
                res[(cname, net)].append((w, cfg["compute_s"] / t, t, parts, algs))
    return res


def startup(inputs):
    """Seconds before the first step, from the dataset open every rank does (io/dataset.c ds_open): every
    rank opens every shard (metadata operations on the shared file system) and reads every caption
    embedding once (the NaN scan: N x K x D x 4 bytes), all ranks at once; printed for the datasets of
    the inputs, with its share of a job segment (a Slurm time limit: paid again at every requeue)."""
    st = inputs.get("startup")
    if not st:
        return
    sizes = inputs["project_ranks"]
    print("## Start-up: every rank opens every shard and scans every caption embedding (%s)" % st["source"])
    print("| dataset | per rank | " + " | ".join("W=%d" % w for w in sizes) + " |")
    print("|---|---|" + "---|" * len(sizes))
    for name, d in st["datasets"].items():
        per_rank = d["samples"] * d["captions"] * d["embed_dim"] * 4
        cells = []
        for w in sizes:
            # bytes, or chunk reads (one per sample: the embeddings are chunked by sample), whichever the
            # file system runs out of first, not faster than one rank scans alone
            t = max(w * per_rank / st["fs_read_bytes_s"], w * d["samples"] / st["fs_reads_per_s"],
                    d["samples"] * st["scan_s_per_sample"]) + w * d["shards"] / st["fs_opens_per_s"]
            cells.append("%.0f s (%.1f %%)" % (t, 100 * t / st["job_segment_s"]))
        print("| %s | %.2f GB | %s |" % (name, per_rank / 1e9, " | ".join(cells)))
    print("(share: of a %.0f h job segment)\n" % (st["job_segment_s"] / 3600))


def project(inputs, arrival, png):
    lay = inputs["cluster"]
    sizes = inputs["project_ranks"]
    res = efficiencies(inputs, arrival)
    print("## Projected weak-scaling efficiency (one rank's compute / T(W)), %d ranks per node, %d cores per node, "
          "arrivals: %s" % (lay["ranks_per_node"], lay["cores_per_node"], arrival))
    print("| config | interconnect | " + " | ".join("W=%d" % w for w in sizes) + " |")
    print("|---|---|" + "---|" * len(sizes))
    for (cname, net), effs in res.items():
        print("| %s | %s | %s |" % (cname, inputs["interconnects"][net]["label"],
                                    " | ".join("%.1f %%" % (100 * e) for _, e, _, _, _ in effs)))
    print()
    print("Where the time goes at W = %d (ms per iteration):" % sizes[-1])
    print("| config | interconnect | compute | imbalance | D reduce | G exposed | arrivals | checkpoint | evaluation | algorithms D/G |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (cname, net), effs in res.items():
        _, _, t, p, algs = effs[-1]
        print("| %s | %s | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s / %s |" %
              (cname, inputs["interconnects"][net]["label"], 1e3 * p["compute"], 1e3 * p["imbalance"], 1e3 * p["D reduce"],
               1e3 * p["G reduce (exposed)"], 1e3 * p["arrivals"], 1e3 * p["checkpoint"], 1e3 * p["evaluation"],
               algs["D"], algs["G"]))
    if png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4.5))
        other = "all" if arrival == "demand" else "demand"
        before = efficiencies(inputs, other)
        for k, ((cname, net), effs) in enumerate(res.items()):
            color = "C%d" % k
            ax.plot([w for w, *_ in effs], [100 * e for _, e, *_ in effs], marker="o", color=color,
                    linestyle="-" if cname == "paper" else "--",
                    label="%s, %s" % (cname, inputs["interconnects"][net]["label"]))
            ax.plot([w for w, *_ in before[(cname, net)]], [100 * e for _, e, *_ in before[(cname, net)]],
                    color=color, linestyle=":", linewidth=1, alpha=0.7)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("ranks (%d per node)" % lay["ranks_per_node"])
        ax.set_ylabel("weak-scaling efficiency (%)")
        ax.set_title("ratlip scaling model: arrivals %s (dotted: %s)" % (arrival, other))
        ax.axhline(90, color="grey", linewidth=0.5)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(png, dpi=110)
        print("\nplot: %s" % png)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                             "scaling_inputs.json"))
    ap.add_argument("--cases", help="measured cases (tests/bench/scaling_cases.sh) to validate against")
    ap.add_argument("--png", help="write the projection plot here")
    ap.add_argument("--arrival", choices=("all", "demand"), default=None,
                    help="stall-detection arrivals: every rank to every rank at every wait point (before issue 16), or on demand (default: inputs)")
    a = ap.parse_args()
    inputs = json.load(open(a.inputs))
    arrival = a.arrival or inputs.get("arrival", "all")
    if a.cases:
        validate(inputs, json.load(open(a.cases)))
    project(inputs, arrival, a.png)
    print()
    startup(inputs)


if __name__ == "__main__":
    sys.exit(main())
