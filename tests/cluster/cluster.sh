#!/bin/sh
# cluster.sh: a cluster of N "nodes" on this machine for the multi-node tests (issue 16). Each node is a
# Linux network namespace (rl-node1 .. rl-nodeN) with its own network stack, address 10.77.0.1N/24 on
# a veth joined to a bridge that lives in its own namespace (rl-switch), so nothing on the host's
# network changes; and, inside the node, its own hostname (a UTS namespace per process started there)
# and /etc/hosts naming every node (ip netns exec mounts /etc/netns/<ns>/hosts over /etc/hosts). Open MPI
# started in node 1 with a hostfile of node names reaches the other nodes through `cluster.sh agent`
# (its plm_rsh_agent: like ssh, it runs the command line in the node's namespaces) and talks TCP
# between nodes (btl tcp over 10.77.0.0/24), shared memory within one: as on a real cluster.
#   cluster.sh up N          create nodes 1..N (replaces a cluster left by a killed test)
#   cluster.sh down          remove every rl-* namespace and /etc/netns/rl-*
#   cluster.sh exec K CMD..  run CMD on node K (its network, hostname nodeK, /etc/hosts)
#   cluster.sh agent HOST CMDLINE..   Open MPI's launch agent: runs the shell command line on HOST
#   cluster.sh hostfile FILE SLOTS    write an Open MPI hostfile: nodeK slots=SLOTS for every node
#   cluster.sh check         exit 0 when this machine can make namespaces (root, ip, unshare), else 77
# Needs root, iproute2 (ip) and util-linux (unshare, nsenter).
set -eu
prefix=${RATLIP_CLUSTER_PREFIX:-rl}   # another prefix: a second cluster beside a test's
me=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

nodes() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}-node[0-9]+$" | sort -V || true; }

down() {
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}-" || true); do
        # processes left inside (a killed test's ranks) go with it
        for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf /etc/netns/${prefix}-* 2>/dev/null || true
}

up() {
    n=$1
    down
    sw=${prefix}-switch
    ip netns add $sw
    ip -n $sw link add br0 type bridge
    ip -n $sw link set br0 up
    ip -n $sw link set lo up
    hosts="127.0.0.1 localhost"
    k=1
    while [ "$k" -le "$n" ]; do
        hosts="$hosts
10.77.0.$((10 + k)) node$k"
        k=$((k + 1))
    done
    k=1
    while [ "$k" -le "$n" ]; do
        ns=${prefix}-node$k
        ip netns add "$ns"
        ip link add "${prefix}n${k}a" type veth peer name "${prefix}n${k}b"
        ip link set "${prefix}n${k}a" netns "$ns"
        ip link set "${prefix}n${k}b" netns $sw
        ip -n "$ns" link set "${prefix}n${k}a" name eth0
        ip -n "$ns" addr add "10.77.0.$((10 + k))/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
        ip -n $sw link set "${prefix}n${k}b" master br0
        ip -n $sw link set "${prefix}n${k}b" up
        mkdir -p "/etc/netns/$ns"
        printf '%s\n' "$hosts" > "/etc/netns/$ns/hosts"
        echo "node$k" > "/etc/netns/$ns/hostname"
        k=$((k + 1))
    done
    echo "cluster.sh: $n nodes up (node1..node$n, 10.77.0.11-$((10 + n)), bridge in ${prefix}-switch)"
}

# run "$@" inside node K: its network namespace and a new UTS namespace with hostname nodeK
on_node() {
    k=$1
    shift
    ns=${prefix}-node$k
    ip netns list | awk '{print $1}' | grep -qx "$ns" || { echo "cluster.sh: no node $k (cluster.sh up N first)" >&2; exit 1; }
    exec ip netns exec "$ns" unshare --uts sh -c 'hostname "$0"; exec "$@"' "node$k" "$@"
}

case ${1:-} in
    up) up "${2:?cluster.sh up N}" ;;
    down) down ;;
    exec)
        k=${2:?cluster.sh exec K CMD...}
        shift 2
        on_node "$k" "$@" ;;
    agent)
        # Open MPI calls: AGENT [ssh-style options] HOST COMMAND-LINE...; the command line is for a shell
        shift
        while [ $# -gt 0 ]; do case $1 in -*) shift ;; *) break ;; esac; done
        host=${1:?agent: no host}
        shift
        k=${host#node}
        on_node "$k" sh -c "$*" ;;
    hostfile)
        f=${2:?cluster.sh hostfile FILE SLOTS}
        : > "$f"
        for ns in $(nodes); do echo "${ns#${prefix}-} slots=${3:-1}" >> "$f"; done ;;
    check)
        [ "$(id -u)" -eq 0 ] || { echo "cluster.sh: needs root (network namespaces)"; exit 77; }
        for t in ip unshare; do command -v $t >/dev/null || { echo "cluster.sh: $t missing (apt-get install iproute2 util-linux)"; exit 77; }; done
        ip netns add ${prefix}-probe 2>/dev/null || { echo "cluster.sh: cannot create a network namespace here (a container without CAP_SYS_ADMIN?)"; exit 77; }
        ip netns del ${prefix}-probe
        unshare --uts true || { echo "cluster.sh: cannot create a UTS namespace here"; exit 77; } ;;
    *) sed -n '2,20p' "$me" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
