#!/bin/bash
# slurm-cluster.sh: Slurm on the namespaced nodes of cluster.sh (issue 16): slurmctld on node1, one slurmd
# per node (each in its node's network and UTS namespaces, so it is "nodeK" at 10.77.0.1K), a munged of
# its own, and a config, state and logs under one directory: nothing of the host's Slurm (or of the
# single-node test cluster, slurm/start-test-cluster.sh) is touched. Commands for this cluster run on a
# node with SLURM_CONF set: `slurm-cluster.sh run K CMD...`.
#   slurm-cluster.sh up N      cluster.sh up N, then munged, slurmctld, N slurmd; waits until all idle
#   slurm-cluster.sh run K CMD...   CMD on node K with SLURM_CONF (sbatch, srun, squeue, scontrol, ...)
#   slurm-cluster.sh down      stops the daemons, then cluster.sh down
# Root; Debian's munge, slurmctld, slurmd, slurm-client (tests/install-deps.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cluster=$here/cluster.sh
dir=${RATLIP_CLUSTER_SLURM_DIR:-/run/ratlip-cluster-slurm}
conf=$dir/slurm.conf
say() { printf '[slurm-cluster] %s\n' "$*" >&2; }

down() {
    for f in "$dir"/*.pid; do
        [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    sleep 1
    for f in "$dir"/*.pid; do
        [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    "$cluster" down
}

up() {
    n=$1
    down >/dev/null 2>&1 || true
    rm -rf "$dir"
    mkdir -p "$dir/ctld" "$dir/nodetmp"
    "$cluster" up "$n" >/dev/null
    # munged of our own, on our own socket
    chmod 0755 "$dir"
    install -d -o munge -g munge -m 0755 "$dir/munge"
    [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged --socket="$dir/munge/sock" --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed"
    ln -sf "$dir/munge/munged.pid" "$dir/munged.pid"
    nodes=""
    for k in $(seq 1 "$n"); do
        nodes="${nodes}NodeName=node$k NodeAddr=10.77.0.$((10 + k)) CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
"
    done
    cat >"$conf" <<CONF
ClusterName=ratlipns
SlurmctldHost=node1(10.77.0.11)
SlurmctldPort=7817
SlurmdPort=7818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/sock
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
TmpFS=$dir/nodetmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=pmix
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0,sched_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
${nodes}PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
    "$cluster" exec 1 env SLURM_CONF="$conf" slurmctld -f "$conf" -i
    for k in $(seq 1 "$n"); do
        mkdir -p "$dir/d-node$k"
        # not `ip netns exec` (cluster.sh exec): it mounts a fresh /sys without the cgroup file systems
        # slurmd initialises; only the network and host name are the node's
        # and a node-local TmpFS of its own, as a real node has: PMIx keeps per-step directories there,
        # named by job and step, which two nodes sharing one directory would both create. (Not /tmp
        # itself: the checkout and the tests' files may live there, and every node must see them.)
        mkdir -p "$dir/tmp-node$k"
        chmod 1777 "$dir/tmp-node$k"
        nsenter --net="/run/netns/${RATLIP_CLUSTER_PREFIX:-rl}-node$k" unshare --uts --mount --propagation private \
            sh -c 'hostname "$0" && mount --bind "$2" "$3" && exec env SLURM_CONF="$1" slurmd -f "$1"' \
            "node$k" "$conf" "$dir/tmp-node$k" "$dir/nodetmp"
    done
    for _ in $(seq 1 300); do
        idle=$("$cluster" exec 1 env SLURM_CONF="$conf" sinfo -h -o '%D %t' 2>/dev/null | awk '$2 == "idle" {print $1}')
        [ "${idle:-0}" = "$n" ] && { say "$n nodes idle"; return 0; }
        sleep 0.2
    done
    say "the nodes did not come up; logs:"
    tail -20 "$dir"/slurmctld.log "$dir"/slurmd-*.log >&2 || true
    exit 1
}

case ${1:-} in
    up) up "${2:?slurm-cluster.sh up N}" ;;
    down) down ;;
    run)
        k=${2:?slurm-cluster.sh run K CMD...}
        shift 2
        exec "$cluster" exec "$k" env SLURM_CONF="$conf" "$@" ;;
    *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
