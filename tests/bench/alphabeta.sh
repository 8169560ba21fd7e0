#!/bin/sh
# alphabeta.sh: interconnect constants for the scaling model (issue 16; analysis/scaling_model.py).
# bench_alphabeta (ping-pong + MPI_Allreduce per message size) on
#   shm   2 and 4 ranks on this machine (Open MPI's shared-memory transport, vader)
#   tcp   2 nodes x 1 rank and 2 nodes x 2 ranks of tests/cluster/cluster.sh (network namespaces joined
#         by a bridge: Open MPI's TCP transport through the kernel's veth pairs; root only, skipped
#         otherwise)
# Prints each transport's fitted alpha (s) and beta (s/byte) and the allreduce table, labelled with the
# transport and the CPU, and writes them as JSON to OUT (default: alphabeta.json here) for the model.
# usage: tests/bench/alphabeta.sh [build dir (build)] [OUT] [max MiB (64)]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
out=${2:-alphabeta.json}
max=${3:-64}
bench=$(cd "$build" && pwd)/tests/bench/bench_alphabeta
[ -x "$bench" ] || { echo "alphabeta.sh: $bench not found (build bench_alphabeta)" >&2; exit 1; }
cluster=$here/../cluster/cluster.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ "$(id -u)" -eq 0 ] && "$cluster" down >/dev/null 2>&1 || true' EXIT
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"   # benchmark-only flags

$MPIRUN -np 2 "$bench" "$max" > "$tmp/shm-2"
$MPIRUN -np 4 "$bench" "$max" > "$tmp/shm-4"
if "$cluster" check >/dev/null 2>&1; then
    "$cluster" up 2 >/dev/null
    for slots in 1 2; do
        "$cluster" hostfile "$tmp/hosts" "$slots"
        "$cluster" exec 1 $MPIRUN --hostfile "$tmp/hosts" -np $((2 * slots)) --map-by node \
            --mca plm_rsh_agent "$cluster agent" --mca btl self,vader,tcp \
            --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
            "$bench" "$max" > "$tmp/tcp-$((2 * slots))"
    done
else
    echo "alphabeta.sh: no network namespaces here (root needed): TCP skipped" >&2
fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
/usr/bin/python3 - "$tmp" "$out" "$cpu" <<'EOF'
import glob, json, os, sys
tmp, out, cpu = sys.argv[1:]
res = {"cpu": cpu, "transports": {}}
for path in sorted(glob.glob(os.path.join(tmp, "*-*"))):
    name = os.path.basename(path)
    transport, ranks = name.split("-")
    t = res["transports"].setdefault(transport, {"allreduce": {}})
    for line in open(path):
        w = line.split()
        if w[0] == "fit" and ranks == "2":
            t["alpha_s"], t["beta_s_per_byte"] = float(w[2]), float(w[4])
        elif w[0] == "pingpong" and ranks == "2":
            t.setdefault("pingpong", []).append([int(w[1]), float(w[2])])
        elif w[0] == "waitpoint":
            t.setdefault("waitpoint", {})[ranks] = {"plain_s": float(w[3]), "watched_s": float(w[5])}
        elif w[0] == "allreduce":
            t["allreduce"].setdefault(ranks, []).append([int(w[2]), float(w[3]), float(w[4])])
label = {"shm": "shared memory (Open MPI vader), one node", "tcp": "TCP between network namespaces (veth + bridge)"}
print("alphabeta.sh on %s" % cpu)
print("| transport | alpha (us) | beta (ns/byte) | bandwidth (GB/s) |")
print("|---|---|---|---|")
for k, t in res["transports"].items():
    t["label"] = label.get(k, k)
    print("| %s | %.2f | %.4f | %.2f |" % (t["label"], t["alpha_s"] * 1e6, t["beta_s_per_byte"] * 1e9,
                                          1e-9 / t["beta_s_per_byte"]))
print()
print("MPI_Allreduce (float sum), fastest / median of the repetitions, ms:")
sizes = sorted({n for t in res["transports"].values() for rows in t["allreduce"].values() for n, _, _ in rows})
cols = [(k, r) for k, t in res["transports"].items() for r in sorted(t["allreduce"])]
print("| bytes | " + " | ".join("%s %s ranks" % (k, r) for k, r in cols) + " |")
print("|---" * (len(cols) + 1) + "|")
for n in sizes:
    cells = []
    for k, r in cols:
        row = [x for x in res["transports"][k]["allreduce"][r] if x[0] == n]
        cells.append("%.3f / %.3f" % (row[0][1] * 1e3, row[0][2] * 1e3) if row else "")
    print("| %d | %s |" % (n, " | ".join(cells)))
print("\nA wait point (MPI_Ibarrier), plain MPI_Wait vs ratlip's watched wait (arrivals + deadline polling), us:")
for k, t in res["transports"].items():
    for r, v in sorted(t.get("waitpoint", {}).items()):
        print("  %s %s ranks: %.2f vs %.2f (+%.2f per peer)" % (k, r, 1e6 * v["plain_s"], 1e6 * v["watched_s"],
              1e6 * (v["watched_s"] - v["plain_s"]) / max(1, int(r) - 1)))
json.dump(res, open(out, "w"), indent=1)
print("\nwritten: %s" % out)
EOF
