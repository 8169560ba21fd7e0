#!/bin/bash
# Preemption + requeue is bit-exact: job P (train.sbatch, --time and --signal=B:USR1 set, 2 tasks)
# is sent USR1 twice (scancel -b -s USR1: Slurm's timer warning is 30 s coarse, spec/slurm.md);
# each time ratlip checkpoints and exits 3, the script requeues, and the rerun resumes. P must end
# finished with 2 restarts, its metrics steps 1..N once each, and its final checkpoint bit-identical
# (`ratlip ckpt diff --fail-if-different`: every tensor, Adam moment and EMA) to an uninterrupted
# 2-task run R of the same config.
# argv: RATLIP SRC DATA WORKDIR
RATLIP=$1 SRC=$2 DATA=$3 W=$4
. "$SRC/tests/slurm/lib.sh"
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
# passed: the work directory goes (its checkpoints would fill a small CI disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$W"; exit "$st"' EXIT
export RATLIP
# N steps: enough after the second preemption (at step 4) that the signal cannot arrive after the end
N=16
args=(--data "$DATA" --steps $N --set train.batch_per_rank=2 --set train.log_every=1 --set train.ckpt_every=100
      --set train.sample_every=0)
t0=$(now)
r=$(RATLIP_RUN_DIR=$W/ref RATLIP_REQUEUE=0 submit -n 2 --ntasks-per-node=2 -J rt-ref -o "$W/ref.out" "$SRC/slurm/train.sbatch" "${args[@]}") || finish
p=$(RATLIP_RUN_DIR=$W/pre submit -n 2 --ntasks-per-node=2 -J rt-pre --time=10 --signal=B:USR1@30 -o "$W/pre.out" \
    "$SRC/slurm/train.sbatch" "${args[@]}") || finish
# preempt P twice: once at step >= 2 of the first run, once at step >= 4 of the second
for k in 1 2; do
    want=$((2 * k)); end=$(( $(now) + 180 ))
    until [ "$(now)" -ge "$end" ]; do
        [ "$(job_field "$p" Restarts)" = $((k - 1)) ] && [ "$(job_field "$p" JobState)" = RUNNING ] &&
            last=$(grep -o "step *[0-9]*/$N" pre/train.log 2>/dev/null | tail -1 | grep -o '[0-9]*/' | tr -d /) &&
            [ -n "$last" ] && [ "$last" -ge "$want" ] && break
        sleep 0.3
    done
    scancel -b -s USR1 "$p"
    echo "preemption $k sent at step ${last:-?} ($(( $(now) - t0 )) s)"
    end=$(( $(now) + 120 ))
    until [ "$(job_field "$p" Restarts)" = "$k" ] || [ "$(now)" -ge "$end" ]; do sleep 0.3; done
done
wait_gone "$p" 300 || bad "job $p did not end"
wait_gone "$r" 120 || bad "job $r did not end"
check "R COMPLETED" [ "$(job_field "$r" JobState)" = COMPLETED ]
check "P COMPLETED after $(job_field "$p" Restarts) restarts (want 2)" [ "$(job_field "$p" JobState)" = COMPLETED -a "$(job_field "$p" Restarts)" = 2 ]
check "P status finished" [ "$(cat pre/status 2>/dev/null)" = finished ]
check "P requeues file has 2 lines" [ "$(wc -l <pre/requeues 2>/dev/null)" = 2 ]
check "P metrics: steps 1..$N once each (same file continued)" \
    [ "$(/usr/bin/python3 -c "import h5py; print(list(h5py.File('pre/metrics.h5','r')['train/step'][:]))")" = \
      "$(/usr/bin/python3 -c "print(list(range(1, $N + 1)))")" ]
check "P wrote a checkpoint at each preemption" [ "$(grep -c 'stop requested' pre/train.log)" = 2 ]
check "final checkpoints of P and R are bit-identical" "$RATLIP" ckpt diff --fail-if-different ref/ckpt-$(printf %08d $N).h5 pre/ckpt-$(printf %08d $N).h5
check "analyze shows preempted-and-resumed" grep -q "finished (preempted 2x, resumed)" <("$RATLIP" analyze runs pre)
echo "took $(( $(now) - t0 )) s"
[ "$fails" = 0 ] || { tail -30 pre.out; tail -5 ref.out; }
finish
