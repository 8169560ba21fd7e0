#!/usr/bin/env bash
# stop-test-cluster.sh: undo start-test-cluster.sh. Cancels the jobs the tests recorded in
# $RATLIP_SLURM_STATE/jobs, then stops exactly the daemons listed in $RATLIP_SLURM_STATE/started
# (by the pid recorded there, and only while that pid still runs the same program), and restores a
# slurm.conf it had replaced. Never looks processes up by name. Idempotent.
set -uo pipefail

say() { printf '[stop-test-cluster] %s\n' "$*" >&2; }
STATE=${RATLIP_SLURM_STATE:-/run/ratlip-slurm-test}
[ -d "$STATE" ] || { say "nothing recorded in $STATE: nothing to stop"; exit 0; }

live() { local s; s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1; [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]; }

# 1. the tests' jobs, while the controller still answers
if [ -s "$STATE/jobs" ] && command -v scancel >/dev/null; then
    # shellcheck disable=SC2046
    scancel $(sort -u "$STATE/jobs") 2>/dev/null || true
    for _ in $(seq 1 150); do
        left=$(squeue -h -o '%A' 2>/dev/null | grep -Fxf <(sort -u "$STATE/jobs") || true)
        [ -z "$left" ] && break
        sleep 0.2
    done
fi

# 2. the daemons we started, newest first (slurmd, slurmctld, then munged)
stop_one() {   # stop_one NAME PID
    local name=$1 pid=$2
    [ "$pid" -gt 1 ] 2>/dev/null || return 0
    live "$pid" && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 150); do live "$pid" || { say "stopped $name (pid $pid)"; return 0; }; sleep 0.1; done
    say "$name (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}
if [ -s "$STATE/started" ]; then
    tac "$STATE/started" | while read -r name pid; do [ -n "$name" ] && stop_one "$name" "$pid"; done
fi

# 3. configuration we replaced
if [ -f "$STATE/slurm.conf.saved" ]; then
    cp -p "$STATE/slurm.conf.saved" /etc/slurm/slurm.conf && say "restored the previous /etc/slurm/slurm.conf"
fi
rm -rf "$STATE"
exit 0
