#!/bin/bash
# submit-sweep.sh SWEEP_DIR [--concurrency K] [sbatch options --] ratlip-train-options...
# Submits slurm/sweep.sbatch as a job array over the trials of SWEEP_DIR that have not finished
# (status file != finished), at most K (default 2) running at once. Prints the job id, or says that
# nothing is left to run and submits nothing.
#   slurm/submit-sweep.sh sweeps/lr --concurrency 4 --data /data/cub
#   slurm/submit-sweep.sh sweeps/lr --time=2:00:00 -- --data /data/cub
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sweep=${1:?usage: submit-sweep.sh SWEEP_DIR [--concurrency K] [sbatch options --] train options}
shift
k=2
if [ "${1:-}" = --concurrency ]; then k=$2; shift 2; fi
sb=()
if printf '%s\n' "$@" | grep -qx -- '--'; then
    while [ "$1" != -- ]; do sb+=("$1"); shift; done
    shift
fi
n=$(ls "$sweep"/trials/trial-*.json 2>/dev/null | wc -l)
[ "$n" -gt 0 ] || { echo "submit-sweep.sh: $sweep/trials has no trial-*.json (run ratlip sweep expand first)" >&2; exit 2; }
todo=()
for ((t = 0; t < n; t++)); do
    st=$(cat "$sweep/runs/$(printf 'trial-%04d' "$t")/status" 2>/dev/null || true)
    [ "$st" = finished ] || todo+=("$t")
done
if [ ${#todo[@]} -eq 0 ]; then
    echo "submit-sweep.sh: all $n trials of $sweep finished: nothing to submit"
    exit 0
fi
list=$(IFS=,; echo "${todo[*]}")
echo "submit-sweep.sh: ${#todo[@]} of $n trials to run: $list" >&2
RATLIP_SLURM_DIR=$here sbatch --parsable --array="$list%$k" "${sb[@]}" "$here/sweep.sbatch" "$(cd "$sweep" && pwd)" "$@"
