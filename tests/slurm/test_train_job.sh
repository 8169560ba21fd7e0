#!/bin/bash
# A 2-task sbatch of the tiny config (slurm/train.sbatch) trains 4 steps, checkpoints at 2 and 4
# and finishes: job COMPLETED, status "finished", the checkpoint verifies and says world size 2,
# metrics.h5 holds steps 1..4, the log names the launcher.
# argv: RATLIP SRC DATA WORKDIR
RATLIP=$1 SRC=$2 DATA=$3 W=$4
. "$SRC/tests/slurm/lib.sh"
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
# passed: the work directory goes (its checkpoints would fill a small CI disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$W"; exit "$st"' EXIT
export RATLIP RATLIP_RUN_DIR=$W/run
t0=$(now)
j=$(submit -n 2 --ntasks-per-node=2 -J rt-train -o "$W/job.out" "$SRC/slurm/train.sbatch" --data "$DATA" --steps 4 \
    --set train.batch_per_rank=2 --set train.log_every=1 --set train.ckpt_every=2 --set train.sample_every=0) || finish
wait_gone "$j" 240 || bad "job $j did not end in 240 s"
check "job $j COMPLETED ($(job_field "$j" JobState))" [ "$(job_field "$j" JobState)" = COMPLETED ]
check "status file says finished" [ "$(cat run/status 2>/dev/null)" = finished ]
check "checkpoints at steps 2 and 4" [ -f run/ckpt-00000002.h5 -a -f run/ckpt-00000004.h5 ]
check "ckpt verify passes" "$RATLIP" ckpt verify run/ckpt-00000004.h5
check "checkpoint written by 2 ranks" grep -q "world size 2" <("$RATLIP" ckpt info run/ckpt-00000004.h5)
check "metrics.h5 holds steps 1..4" [ "$(/usr/bin/python3 -c "import h5py; print(list(h5py.File('run/metrics.h5','r')['train/step'][:]))")" = "[1, 2, 3, 4]" ]
check "the job log names the launcher" grep -q "launcher: \(srun\|mpirun\)" job.out
echo "took $(( $(now) - t0 )) s"
[ "$fails" = 0 ] || cat job.out
finish
