# lib.sh: helpers of the Slurm tests (sourced). Needs RATLIP (binary) and SRC (source dir).
set -uo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
STATE=${RATLIP_SLURM_STATE:-/run/ratlip-slurm-test}
fails=0
ok()   { echo "ok   $*"; }
bad()  { echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
now()  { date +%s; }
# submit ARGS...: sbatch --parsable, recording the job for stop-test-cluster.sh
submit() {
    local j
    j=$(sbatch --parsable "$@") || { bad "sbatch $*"; return 1; }
    j=${j%%;*}
    mkdir -p "$STATE" && echo "$j" >>"$STATE/jobs"
    echo "$j"
}
# wait_gone JOB SECONDS: until no task of JOB is queued or running
wait_gone() {
    local end=$(( $(now) + $2 ))
    while [ "$(now)" -lt "$end" ]; do
        squeue -h -j "$1" 2>/dev/null | grep -q . || return 0
        sleep 0.5
    done
    echo "job $1 still queued after $2 s:"; squeue -j "$1"; return 1
}
job_field() { scontrol show job "$1" 2>/dev/null | grep -o "$2=[^ ]*" | head -1 | cut -d= -f2; }
finish() { echo "$(basename "$0"): $fails failure(s)"; [ "$fails" = 0 ]; exit $?; }
command -v sbatch >/dev/null && scontrol ping 2>/dev/null | grep -q UP ||
    { echo "FAIL the Slurm controller does not answer: the fixture slurm_cluster_start must pass first"; exit 1; }
