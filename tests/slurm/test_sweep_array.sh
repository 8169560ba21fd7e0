#!/bin/bash
# A 4-trial sweep (2x2 grid over train.lr_g, train.lr_d) runs as a job array with concurrency 2
# (slurm/submit-sweep.sh): never more than 2 tasks run at once, all 4 finish, `ratlip analyze runs`
# lists the 4 with their swept values, steps 3/3 and losses; re-submitting submits nothing, and the
# array submitted again by hand skips every trial (metrics files untouched).
# argv: RATLIP SRC DATA WORKDIR
RATLIP=$1 SRC=$2 DATA=$3 W=$4
. "$SRC/tests/slurm/lib.sh"
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
# passed: the work directory goes (its checkpoints would fill a small CI disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$W"; exit "$st"' EXIT
export RATLIP
cat >sweep.json <<JSON
{"name": "rt", "base": "$SRC/jobs/configs/tiny.json",
 "set": {"train.steps": 3, "train.batch_per_rank": 2, "train.log_every": 1, "train.ckpt_every": 3, "train.sample_every": 0},
 "grid": {"train.lr_g": [1e-4, 2e-4], "train.lr_d": [4e-4, 8e-4]}}
JSON
t0=$(now)
"$RATLIP" sweep expand sweep.json --out sw --quiet || { bad "sweep expand"; finish; }
j=$("$SRC/slurm/submit-sweep.sh" sw --concurrency 2 -J rt-sweep -o "$W/sweep-%a.out" -- --data "$DATA") || { bad "submit"; finish; }
mkdir -p "$STATE" && echo "$j" >>"$STATE/jobs"
max=0; end=$(( $(now) + 300 ))
while squeue -h -j "$j" 2>/dev/null | grep -q . && [ "$(now)" -lt "$end" ]; do
    n=$(squeue -h -j "$j" -t RUNNING 2>/dev/null | wc -l)
    [ "$n" -gt "$max" ] && max=$n
    sleep 0.3
done
check "array $j done within 300 s" [ -z "$(squeue -h -j "$j" 2>/dev/null)" ]
check "at most 2 trials ran at once (max seen $max)" [ "$max" -le 2 -a "$max" -ge 1 ]
for t in 0 1 2 3; do
    check "trial $t finished" [ "$(cat sw/runs/trial-000$t/status 2>/dev/null)" = finished ]
done
"$RATLIP" analyze runs sw --csv >table.csv
cat table.csv
check "analyze lists 4 trials" [ "$(tail -n +2 table.csv | wc -l)" = 4 ]
check "analyze: swept columns, steps 3/3, finished, numeric losses" /usr/bin/python3 - <<'PY'
import csv, math, sys
rows = list(csv.DictReader(open("table.csv")))
want = [(a, b) for a in (1e-4, 2e-4) for b in (4e-4, 8e-4)]
ok = [(float(r["train.lr_g"]), float(r["train.lr_d"])) for r in rows] == want
ok = ok and all(r["steps"] == "3/3" and r["status"] == "finished" and math.isfinite(float(r["loss_d_last"])) for r in rows)
sys.exit(0 if ok else 1)
PY
stamp=$(stat -c %Y.%s sw/runs/trial-000*/metrics.h5 | md5sum)
out=$("$SRC/slurm/submit-sweep.sh" sw --concurrency 2 -- --data "$DATA")
check "re-submitting submits nothing ($out)" grep -q "nothing to submit" <<<"$out"
j2=$(submit --array=0-3%2 -J rt-sweep2 -o "$W/again-%a.out" "$SRC/slurm/sweep.sbatch" "$W/sw" --data "$DATA")
wait_gone "$j2" 120 || bad "array $j2 did not end"
check "the array submitted again skips all 4 trials" [ "$(cat again-*.out | grep -c 'already finished: skipping')" = 4 ]
check "metrics files untouched" [ "$(stat -c %Y.%s sw/runs/trial-000*/metrics.h5 | md5sum)" = "$stamp" ]
echo "took $(( $(now) - t0 )) s"
finish
