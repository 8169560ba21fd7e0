#!/usr/bin/env bash
# start-test-cluster.sh: a real single-node Slurm (munge + slurmctld + slurmd) for ratlip's tests,
# without systemd. Must run as root (CI runs as root on a fresh Debian 12).
#
# It records what it starts in $RATLIP_SLURM_STATE (default /run/ratlip-slurm-test): one line per
# daemon "name pid", plus the slurm.conf it replaced. stop-test-cluster.sh stops exactly those and
# nothing else: a munged or slurmctld that was already running is used as is and left alone.
#
# Exit status: 0 = node idle and ready; 1 = it could not be started (the message says why). Missing
# packages are installed with apt-get (Debian's registry only) unless RATLIP_SLURM_INSTALL=0.
#   RATLIP_SLURM_CPUS=N       CPUs the node advertises (default: max(real cores, 4), so `-n 2`
#                             jobs and a 2-wide array fit next to each other on a 2-core CI box)
#   RATLIP_SLURM_TIMEOUT=S    seconds to wait for each daemon (default 60)
set -euo pipefail

say() { printf '[start-test-cluster] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (Slurm's daemons and munge need it); CI runs as root"

STATE=${RATLIP_SLURM_STATE:-/run/ratlip-slurm-test}
TIMEOUT=${RATLIP_SLURM_TIMEOUT:-60}
CONF=/etc/slurm/slurm.conf
MARK="# written by ratlip slurm/start-test-cluster.sh"
MUNGE_SOCK=/run/munge/munge.socket.2
CTLD_PIDFILE=/run/slurmctld.pid
SLURMD_PIDFILE=/run/slurmd.pid
MUNGE_PIDFILE=/run/munge/munged.pid
t0=$(date +%s.%N)
mkdir -p "$STATE"
touch "$STATE/started"

# ---- packages (libpmix-dev: Slurm's mpi_pmix plugin dlopens the unversioned libpmix.so it ships)
pkgs=(munge slurmctld slurmd slurm-client libpmix-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "${RATLIP_SLURM_INSTALL:-1}" = 0 ] && die "packages missing: ${missing[*]} (run tests/install-deps.sh)"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >"$STATE/apt.log" 2>&1 ||
        { apt-get update -q >>"$STATE/apt.log" 2>&1 || true
          apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >>"$STATE/apt.log" 2>&1 ||
          { tail -20 "$STATE/apt.log" >&2; die "apt-get install ${missing[*]} failed (log above)"; }; }
fi

# ---- helpers
# live PID: exists and is not a zombie (PID 1 in containers may reap orphaned daemons late)
live() { local s; s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1; [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]; }
# pid_of PIDFILE COMM: the pid in PIDFILE when that process is alive and is COMM
pid_of() {
    local p
    [ -s "$1" ] || return 1
    p=$(tr -dc 0-9 <"$1")
    [ -n "$p" ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$2" ] && live "$p" && echo "$p"
}
# a daemon started from ctest must not inherit ctest's pipes (munged keeps inherited fds open, and
# ctest would then wait for EOF forever): close every fd above 2 and read stdin from /dev/null
detach() (
    for f in /proc/$BASHPID/fd/*; do
        f=${f##*/}
        if [ "$f" -gt 2 ] 2>/dev/null; then eval "exec $f>&-" 2>/dev/null || true; fi
    done
    exec "$@" </dev/null >/dev/null 2>&1
)
wait_for() {   # wait_for WHAT CMD...: poll CMD every 0.1 s up to TIMEOUT
    local what=$1; shift
    for _ in $(seq 1 $((TIMEOUT * 10))); do "$@" && return 0; sleep 0.1; done
    return 1
}
munge_ok() { munge -n -S "$MUNGE_SOCK" 2>/dev/null | unmunge -S "$MUNGE_SOCK" >/dev/null 2>&1; }
ctld_ok() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
record() { echo "$1 $2" >>"$STATE/started"; say "started $1 (pid $2)"; }

# ---- munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
if munge_ok; then
    say "munged already running: using it"
else
    detach runuser -u munge -- /usr/sbin/munged
    wait_for munged munge_ok || die "munged did not answer within ${TIMEOUT}s (see /var/log/munge/munged.log)"
    record munged "$(pid_of "$MUNGE_PIDFILE" munged || echo 0)"
fi

# ---- slurm.conf: ours, unless a foreign controller is already up (then use that cluster as is)
if pid_of "$CTLD_PIDFILE" slurmctld >/dev/null; then
    say "slurmctld already running: using the running cluster"
else
    node=$(hostname -s)
    hw=$(slurmd -C | head -1)
    field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$hw"; }
    real_cpus=$(field CPUs); mem=$(field RealMemory)
    cpus=${RATLIP_SLURM_CPUS:-$(( real_cpus > 4 ? real_cpus : 4 ))}
    overrides=""; [ "$cpus" != "$real_cpus" ] && overrides="SlurmdParameters=config_overrides"
    if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
        cp -p "$CONF" "$STATE/slurm.conf.saved"
        say "saved the existing $CONF (restored by stop-test-cluster.sh)"
    fi
    mkdir -p /etc/slurm /var/spool/slurm/ctld /var/spool/slurm/d /var/log/slurm
    cat >"$CONF" <<EOF
$MARK (single-node test cluster)
ClusterName=ratliptest
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job is held before it may start again (default 120 s)
AuthInfo=cred_expire=10
StateSaveLocation=/var/spool/slurm/ctld
SlurmdSpoolDir=/var/spool/slurm/d
SlurmctldPidFile=$CTLD_PIDFILE
SlurmdPidFile=$SLURMD_PIDFILE
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# no systemd/cgroups: track job processes through /proc
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
# Debian's Open MPI speaks PMIx only
MpiDefault=pmix
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# start jobs at once, look at pending (requeued) jobs every 2 s
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
JobRequeue=1
ReturnToService=2
KillWait=10
InactiveLimit=0
MinJobAge=600
$overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    echo "$CONF" >"$STATE/conf_written"
    detach slurmctld -c -i
    wait_for slurmctld ctld_ok || { tail -20 /var/log/slurm/slurmctld.log >&2 || true; die "slurmctld did not answer within ${TIMEOUT}s (log above)"; }
    record slurmctld "$(pid_of "$CTLD_PIDFILE" slurmctld || echo 0)"
fi

# ---- slurmd
node=$(hostname -s)
if pid_of "$SLURMD_PIDFILE" slurmd >/dev/null; then
    say "slurmd already running: using it"
else
    detach slurmd -N "$node"
    wait_for slurmd pid_of "$SLURMD_PIDFILE" slurmd >/dev/null ||
        { tail -20 /var/log/slurm/slurmd.log >&2 || true; die "slurmd did not start within ${TIMEOUT}s (log above)"; }
    record slurmd "$(pid_of "$SLURMD_PIDFILE" slurmd)"
fi

# ---- the node must become usable
node_ok() {
    case "$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null | head -1)" in
        idle|mixed|allocated|completing) return 0 ;;
        down*|drain*|fail*) scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true; return 1 ;;
        *) return 1 ;;
    esac
}
wait_for node node_ok || { scontrol show node "$node" >&2 || true; tail -20 /var/log/slurm/slurmd.log >&2 || true
                           die "node $node is not idle after ${TIMEOUT}s (slurmd log above)"; }
say "cluster ready in $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.1f", a-b}')s: $(sinfo -h -o '%P %a %D %T %C')"
