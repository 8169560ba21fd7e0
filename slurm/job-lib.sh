# job-lib.sh: what train.sbatch and sweep.sbatch share (sourced, not run). Launches `ratlip train`
# on the job's tasks, forwards Slurm's warning signal to it, and requeues the job when ratlip says
# it stopped for preemption.
#
# ratlip_job_run RUN_DIR ARGS...   runs `ratlip train --run-dir RUN_DIR --resume auto ARGS...`
#   exit 0            training finished
#   exit 3 (RATLIP_EXIT_PREEMPTED) + requeue: the batch script is requeued with `scontrol requeue`;
#                     the rerun resumes from the checkpoint written at the signal, appending to the
#                     same metrics.h5. RUN_DIR/requeues gets one line per requeue (ratlip analyze
#                     shows "preempted Nx, resumed").
#   other             training failed (status file says failed); the job fails with that code
# Environment knobs:
#   RATLIP            the ratlip binary (default: ratlip on PATH, else $SLURM_SUBMIT_DIR/build/ratlip)
#   RATLIP_LAUNCHER   srun | mpirun (default: srun when it has the pmix MPI plugin, else mpirun)
#   RATLIP_REQUEUE=0  do not requeue on preemption (the job ends; resubmit to continue)
#   RATLIP_MAX_REQUEUES  give up after this many requeues (default 50)

RATLIP_EXIT_PREEMPTED=3

ratlip_job_log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${SLURM_JOB_ID:-nojob}" "$*"; }

ratlip_job_binary() {
    if [ -n "${RATLIP:-}" ]; then echo "$RATLIP"
    elif command -v ratlip >/dev/null 2>&1; then command -v ratlip
    else echo "${SLURM_SUBMIT_DIR:-.}/build/ratlip"; fi
}

# srun starts MPI ranks itself only through a PMI plugin Open MPI understands (Debian: pmix only)
ratlip_job_launcher() {
    local want=${RATLIP_LAUNCHER:-auto}
    if [ "$want" = auto ]; then
        if srun --mpi=list 2>&1 | grep -q pmix; then want=srun; else want=mpirun; fi
    fi
    case "$want" in
        srun) echo "srun --mpi=pmix --kill-on-bad-exit=1" ;;
        mpirun) echo "mpirun -np ${SLURM_NTASKS:-1} --bind-to none" ;;
        *) ratlip_job_log "RATLIP_LAUNCHER=$want: expected srun or mpirun" >&2; return 1 ;;
    esac
}

ratlip_job_run() {
    local run_dir=$1
    shift
    local bin launcher pid rc
    bin=$(ratlip_job_binary)
    [ -x "$bin" ] || { ratlip_job_log "ratlip binary '$bin' not found or not executable (set RATLIP=/path/to/ratlip)"; return 2; }
    launcher=$(ratlip_job_launcher) || return 2
    mkdir -p "$run_dir"
    ratlip_job_log "run dir $run_dir | $SLURM_NTASKS task(s) x ${SLURM_CPUS_PER_TASK:-1} cpu(s) | launcher: $launcher |" \
                   "restart ${SLURM_RESTART_COUNT:-0}"
    # Slurm's warning (--signal=B:USR1@N) and the time-limit/preemption TERM reach this shell: ratlip
    # gets USR1 (srun and mpirun both forward it; mpirun would kill the ranks on TERM), finishes its
    # step, all ranks agree, checkpoint, exit 3.
    ratlip_job_signal() {
        ratlip_job_log "got SIG$1: asking ratlip to checkpoint and stop"
        [ -n "${pid:-}" ] && kill -USR1 "$pid" 2>/dev/null
    }
    trap 'ratlip_job_signal USR1' USR1
    trap 'ratlip_job_signal TERM' TERM
    # shellcheck disable=SC2086
    $launcher "$bin" train --run-dir "$run_dir" --resume auto --threads "${SLURM_CPUS_PER_TASK:-1}" "$@" &
    pid=$!
    # `wait` returns early when a trapped signal arrives: keep waiting until the launcher is gone
    while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
    wait "$pid"
    rc=$?
    trap - USR1 TERM
    if [ "$rc" = 0 ]; then
        ratlip_job_log "training finished"
        return 0
    fi
    if [ "$rc" != "$RATLIP_EXIT_PREEMPTED" ]; then
        ratlip_job_log "ratlip train failed with status $rc (see $run_dir/train.log)"
        return "$rc"
    fi
    local n=${SLURM_RESTART_COUNT:-0}
    if [ "${RATLIP_REQUEUE:-1}" = 0 ] || [ "$n" -ge "${RATLIP_MAX_REQUEUES:-50}" ]; then
        ratlip_job_log "preempted; not requeueing (RATLIP_REQUEUE=${RATLIP_REQUEUE:-1}, restarts $n): resubmit to resume"
        return "$rc"
    fi
    local target=$SLURM_JOB_ID
    [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && target=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}
    # record first: `scontrol requeue` kills this script at once
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) job $target restart $n preempted; requeued" >>"$run_dir/requeues"
    ratlip_job_log "preempted: checkpoint written; requeueing $target (the rerun resumes from it)"
    scontrol requeue "$target" || { ratlip_job_log "scontrol requeue $target failed: resubmit to resume"; return "$rc"; }
    sleep 300 & wait $!   # the requeue ends this script
    return "$rc"
}
