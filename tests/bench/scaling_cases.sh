#!/bin/sh
# scaling_cases.sh: the measured cases the scaling model (analysis/scaling_model.py) is validated
# against (issue 16). `ratlip train`, tiny config, batch 8 per rank, 1 thread per rank, with
# RATLIP_PROFILE=1 (rank 0's split of the step: D reduce wait, G reduce wait):
#   shm-1      1 rank                        (the compute time the model starts from)
#   shm-2      2 ranks, one node (shared memory)
#   shm-4      4 ranks, one node (2 cores: oversubscribed 2x, the model's CPU-sharing factor)
#   tcp-2x2    2 nodes x 2 ranks of tests/cluster/cluster.sh (TCP between nodes; root only)
# Seconds per step = metrics.h5 /train/time between the 2nd and the last log line (fastest of the
# rounds), written with the profile's reduce waits to OUT (JSON).
# usage: tests/bench/scaling_cases.sh [build dir (build)] [OUT (scaling_cases.json)] [steps (7)] [rounds (2)]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
out=${2:-scaling_cases.json}
steps=${3:-7}
rounds=${4:-2}
ratlip=$build/ratlip
cluster=$here/../cluster/cluster.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ "$(id -u)" -eq 0 ] && "$cluster" down >/dev/null 2>&1 || true' EXIT
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"   # benchmark-only flags
"$ratlip" data synth --out "$tmp/data" --size 64 --train 256 --test 8 --seed 1 > /dev/null
args="train --config $here/../../jobs/configs/tiny.json --data $tmp/data --steps $steps --threads 1
      --set train.batch_per_rank=8 --set train.log_every=1 --set train.sample_every=0 --set train.eval_every=0
      --set train.ckpt_every=1000000 --set train.ckpt_async=true"
export RATLIP_PROFILE=1
have_ns=0
if "$cluster" check >/dev/null 2>&1; then
    have_ns=1
    "$cluster" up 2 >/dev/null
    "$cluster" hostfile "$tmp/hosts" 2
fi
r=1
while [ "$r" -le "$rounds" ]; do
    for c in shm-1 shm-2 shm-4 tcp-2x2; do
        d=$tmp/run-$c-$r
        case $c in
            shm-1) $ratlip $args --run-dir "$d" > "$d.log" 2>&1 ;;
            shm-2) $MPIRUN -np 2 $ratlip $args --run-dir "$d" > "$d.log" 2>&1 ;;
            shm-4) $MPIRUN -np 4 $ratlip $args --run-dir "$d" > "$d.log" 2>&1 ;;
            tcp-2x2)
                [ $have_ns -eq 1 ] || continue
                "$cluster" exec 1 $MPIRUN --hostfile "$tmp/hosts" -np 4 --mca plm_rsh_agent "$cluster agent" \
                    --mca btl self,vader,tcp --mca btl_tcp_if_include 10.77.0.0/24 \
                    --mca oob_tcp_if_include 10.77.0.0/24 -x RATLIP_PROFILE $ratlip $args --run-dir "$d" > "$d.log" 2>&1 ;;
        esac
        /usr/bin/python3 -c "import h5py,sys; print(' '.join(str(x) for x in h5py.File(sys.argv[1],'r')['train/time'][()]))" \
            "$d/metrics.h5" > "$d.time"
    done
    r=$((r + 1))
done
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
/usr/bin/python3 - "$tmp" "$rounds" "$out" "$cpu" "$(nproc)" <<'EOF'
import json, re, sys
tmp, rounds, out, cpu, cores = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
cases = {}
for c in ("shm-1", "shm-2", "shm-4", "tcp-2x2"):
    for r in range(1, rounds + 1):
        try:
            t = [float(x) for x in open("%s/run-%s-%d.time" % (tmp, c, r)).read().split()]
            log = open("%s/run-%s-%d.log" % (tmp, c, r)).read()
        except OSError:
            continue
        s = (t[-1] - t[1]) / (len(t) - 2)   # the first step (warm-up) left out
        prof = re.findall(r"data ([0-9.]+) \| D step ([0-9.]+) \| D reduce wait ([0-9.]+) \(([0-9.]+) MB\) \| "
                          r"G step ([0-9.]+) \| G reduce wait ([0-9.]+)", log)
        mean = lambda k: sum(float(p[k]) for p in prof[1:]) / max(1, len(prof) - 1) / 1e3
        data, dstep, dw, gstep, gw = mean(0), mean(1), mean(2), mean(4), mean(5)
        if c not in cases or s < cases[c]["s_per_step"]:
            ranks = 1 if c == "shm-1" else 2 if c == "shm-2" else 4
            cases[c] = {"ranks": ranks, "nodes": 2 if c.startswith("tcp") else 1,
                        "transport": "tcp" if c.startswith("tcp") else "shm",
                        "s_per_step": s, "d_reduce_wait_s": dw, "g_reduce_wait_s": gw,
                        "data_s": data, "d_step_s": dstep, "g_step_s": gstep}
res = {"cpu": cpu, "cores": cores, "config": "tiny", "batch_per_rank": 8, "threads_per_rank": 1, "cases": cases}
json.dump(res, open(out, "w"), indent=1)
print("scaling_cases.sh on %s (%d cores), tiny, batch 8 per rank, 1 thread per rank" % (cpu, cores))
print("| case | ranks | s/step | data (s) | D step (s) | D reduce wait (s) | G step (s) | G reduce wait (s) |")
print("|---|---|---|---|---|---|---|---|")
for c, v in cases.items():
    print("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |" % (c, v["ranks"], v["s_per_step"], v["data_s"],
          v["d_step_s"], v["d_reduce_wait_s"], v["g_step_s"], v["g_reduce_wait_s"]))
print("written: %s" % out)
EOF
