#!/bin/sh
# ckpt_stall.sh: what a checkpoint costs the training loop (issue 16), written directly
# (train.ckpt_async=false) against written in the background (the default). One rank trains a config
# (default: the paper's, batch 1) for STALL_STEPS (5) steps with a checkpoint every STALL_EVERY (2)
# steps, in three variants, alternating over STALL_ROUNDS rounds:
#   none    no checkpoint but the last (ckpt_every larger than the run)
#   sync    written directly: the loop waits for the whole write
#   async   staged copy + background write (the loop waits only if the previous write is still running)
# Prints per variant: seconds per step (metrics.h5 /train/time between log lines, fastest round), the pause per
# checkpoint ("written in" for sync, "staged in" + any wait for the previous write for async), the
# checkpoint size, the stall ratio async/sync, and the CPU. Not a pass/fail test: the figures go into
# the issue note.
# usage: tests/bench/ckpt_stall.sh [build dir (build)] [config (jobs/configs/paper.json)] [batch (1)]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
config=${2:-$here/../../jobs/configs/paper.json}
batch=${3:-1}
steps=${STALL_STEPS:-5}
every=${STALL_EVERY:-2}
rounds=${STALL_ROUNDS:-2}
threads=${STALL_THREADS:-$(nproc)}
ratlip="$build/ratlip"
[ -x "$ratlip" ] || { echo "ckpt_stall.sh: $ratlip not found (build first)" >&2; exit 1; }
tmp=${STALL_DIR:-$(mktemp -d)}
mkdir -p "$tmp"
size=$($ratlip config show "$config" | grep -m1 '"image_size"' | tr -dc '0-9')
[ -d "$tmp/data" ] || $ratlip data synth --out "$tmp/data" --size "$size" --train 16 --test 4 --seed 1 >/dev/null

common="--config $config --data $tmp/data --steps $steps --threads $threads --set train.batch_per_rank=$batch
        --set train.log_every=1 --set train.sample_every=0 --set train.eval_every=0 --set train.keep_last=2"
run_variant() {   # name round -> $tmp/<name>-<round>.log
    d="$tmp/run-$1-$2"
    rm -rf "$d"
    case $1 in
        none) extra="--set train.ckpt_every=100000" ;;
        sync) extra="--set train.ckpt_every=$every --set train.ckpt_async=false" ;;
        async) extra="--set train.ckpt_every=$every --set train.ckpt_async=true" ;;
    esac
    # shellcheck disable=SC2086
    $ratlip train $common $extra --run-dir "$d" > "$tmp/$1-$2.log" 2>&1 || { cat "$tmp/$1-$2.log"; exit 1; }
    ls -l "$d"/ckpt-*.h5 | awk 'NR==1 {print $5}' > "$tmp/$1-$2.size"
    # metrics.h5 /train/time: seconds since the loop started, at each step's log line (before that
    # step's checkpoint)
    /usr/bin/python3 -c "import h5py,sys; print(' '.join(str(x) for x in h5py.File(sys.argv[1],'r')['train/time'][()]))" \
        "$d/metrics.h5" > "$tmp/$1-$2.time"
    rm -rf "$d"
}
r=1
while [ "$r" -le "$rounds" ]; do
    for v in none sync async; do run_variant $v $r; done
    r=$((r + 1))
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
/usr/bin/python3 - "$tmp" "$rounds" "$steps" "$cpu" "$config" "$batch" "$threads" "$every" <<'EOF'
import re, sys
tmp, rounds, steps, cpu, config, batch, threads, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
def parse(v, r):
    text = open("%s/%s-%d.log" % (tmp, v, r)).read()
    # wall time between the first and the last progress line, per step (the first step excluded)
    t = [float(x) for x in open("%s/%s-%d.time" % (tmp, v, r)).read().split()]
    stage = [float(x) for x in re.findall(r"staged in ([0-9.]+) s", text)]
    wait = [float(x) for x in re.findall(r"the run waited ([0-9.]+) s", text)]
    write = [float(x) for x in re.findall(r"written (?:in the background )?in ([0-9.]+) s", text)]
    size = int(open("%s/%s-%d.size" % (tmp, v, r)).read() or 0)
    return t, stage, wait, write, size
best = {}
for v in ("none", "sync", "async"):
    for r in range(1, rounds + 1):
        t, stage, wait, write, size = parse(v, r)
        if len(t) < 2:
            sys.exit("ckpt_stall.sh: %s round %d: no elapsed times in the log" % (v, r))
        per_step = (t[-1] - t[0]) / (len(t) - 1)
        # the pause a checkpoint costs the loop: the whole write (sync), the copy + any wait (async);
        # the last checkpoint is left out (the run's end waits for it whatever the mode)
        n = max(1, len(write) - 1)
        st = sum(stage[:-1]) / n if v == "async" else 0.0
        wt = sum(wait[:-1]) / n if v == "async" else 0.0
        pause = sum(write[:-1]) / n if v == "sync" else st + wt
        cur = best.get(v)
        if cur is None or per_step < cur[0]:
            best[v] = (per_step, pause, sum(write) / max(1, len(write)), size, st, wt)
print("ckpt_stall.sh: %s, batch %s, %s thread(s), 1 rank, %d steps, a checkpoint every %s steps (fastest of %d rounds)"
      % (config.split("/")[-1], batch, threads, steps, every, rounds))
print("CPU: %s" % cpu)
print("| variant | s/step | pause per checkpoint (s) | of it: copy / wait for the previous write (s) | write (s) | checkpoint (MB) |")
print("|---|---|---|---|---|---|")
for v in ("none", "sync", "async"):
    s, p, w, size, st, wt = best[v]
    print("| %s | %.2f | %.3f | %s | %.2f | %.0f |" % (v, s, p, "%.3f / %.3f" % (st, wt) if v == "async" else "",
                                                  w, size / 1e6))
s_none, s_sync, s_async = best["none"][0], best["sync"][0], best["async"][0]
print("stall per checkpoint, async / sync: %.3f  (pause %.3f s vs %.3f s)" %
      (best["async"][1] / max(1e-9, best["sync"][1]), best["async"][1], best["sync"][1]))
print("step-time overhead of the checkpoints: sync %+.1f %%, async %+.1f %% (vs none)" %
      (100 * (s_sync / s_none - 1), 100 * (s_async / s_none - 1)))
EOF
