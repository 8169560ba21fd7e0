"""Multi-node training on one machine (issue 16): tests/cluster/cluster.sh makes each "node" a network
namespace with its own address and host name; Open MPI runs across them with a hostfile and a launch
agent that enters the node, TCP between nodes and shared memory within one, as between real hosts.

    test_multinode.py RATLIP WORKDIR equiv    2 nodes x 2 ranks train the same model as 1 node x 4 ranks
                                              (checkpoints bit-identical); the start-up names each node with
                                              its ranks, local ranks and threads (also for an uneven 2 + 1
                                              layout); without the TCP transport the 2-node job cannot start
                                              (the nodes really are apart)
    test_multinode.py RATLIP WORKDIR resume   2 x 2 to step 2, resumed on 4 nodes x 1 rank to step 4:
                                              identical to the uninterrupted 4-rank run
    test_multinode.py RATLIP WORKDIR kill     every rank of node 2 killed (-9): the job ends, naming node2,
                                              within the timeout; node 2 cut off the network (its link
                                              down): node 1's ranks end as stalled within the timeout
                                              (status file "stalled"), naming node node2 and all of its
                                              ranks; --resume auto on 1 node continues to the end of the
                                              uninterrupted run, bit for bit
    test_multinode.py RATLIP WORKDIR slurm    Slurm across the nodes (slurm-cluster.sh: slurmctld on node1, a
                                              slurmd per node): `sbatch -N 2 --ntasks-per-node=2
                                              slurm/train.sbatch` (srun --mpi=pmix) trains the same model as
                                              1 node x 4 ranks under mpirun, bit for bit
Skipped (77) where network namespaces cannot be made (not root, or a container without the rights), and
the slurm case where Slurm's daemons are not installed.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from train_e2e import (CASE, FAST, MPIRUN, RATLIP, WORK, clean_up, compare, dataset, fail, fresh, run,  # noqa: E402
                       status)
from train_faults import MICRO  # noqa: E402

CLUSTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster.sh")
# The same options a cluster user gives Open MPI: the launch agent, TCP between nodes on the cluster's
# network, and OOB keepalives short enough that a node that drops off the network is noticed in
# seconds, not the default 8 minutes.
MCA = ["--mca", "plm_rsh_agent", CLUSTER + " agent", "--mca", "btl_tcp_if_include", "10.77.0.0/24",
       "--mca", "oob_tcp_if_include", "10.77.0.0/24"]


def keepalive(idle_s, interval_s, probes):
    return ["--mca", "oob_tcp_keepalive_time", str(idle_s), "--mca", "oob_tcp_keepalive_intvl", str(interval_s),
            "--mca", "oob_tcp_keepalive_probes", str(probes)]
TRAIN = ["--set", "train.ckpt_every=2", "--set", "train.batch_per_rank=4"] + MICRO + FAST


def cluster(*args):
    subprocess.run([CLUSTER] + list(args), check=True, stdout=subprocess.DEVNULL)


def cluster_cmd(slots, args, btl="self,vader,tcp", ka=(5, 2, 3)):
    """mpirun started on node 1 over nodes 1..len(slots), slots[k] ranks on node k+1."""
    hostfile = os.path.join(WORK, "hostfile")
    with open(hostfile, "w") as f:
        for k, s in enumerate(slots):
            f.write("node%d slots=%d\n" % (k + 1, s))
    return ([CLUSTER, "exec", "1"] + MPIRUN + ["--hostfile", hostfile, "-np", str(sum(slots)), "--mca", "btl", btl]
            + MCA + keepalive(*ka) + [RATLIP] + args)


def run_cluster(slots, args, check=True, btl="self,vader,tcp", timeout=600):
    p = subprocess.run(cluster_cmd(slots, args, btl), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        print(p.stdout[-4000:])
        fail("%d-node run exited %d" % (len(slots), p.returncode))
    return p


def nodes_line(out):
    m = re.search(r"^nodes: .*$", out, re.M)
    return m.group(0) if m else ""


def case_equiv():
    cluster("up", "3")
    data = dataset("data")
    one, two = fresh("one_node", "two_nodes")
    run(["train", "--data", data, "--run-dir", one, "--steps", "4"] + TRAIN, ranks=4)
    p = run_cluster([2, 2], ["train", "--data", data, "--run-dir", two, "--steps", "4"] + TRAIN)
    if "4 ranks on 2 nodes (2 per node)" not in p.stdout:
        fail("start-up line: %s" % [x for x in p.stdout.splitlines() if "data-parallel" in x])
    want = "nodes: node1 ranks 0-1 (2 local, 1 thread each); node2 ranks 2-3 (2 local, 1 thread each)"
    if nodes_line(p.stdout) != want:
        fail("nodes line %r, expected %r" % (nodes_line(p.stdout), want))
    compare(os.path.join(one, "ckpt-00000004.h5"), os.path.join(two, "ckpt-00000004.h5"))
    print("ok: 2 nodes x 2 ranks == 1 node x 4 ranks, bit for bit")
    # uneven: 2 + 1 ranks; node 2's single rank takes both cores (cores / local ranks)
    d = fresh("uneven")
    p = run_cluster([2, 1], ["train", "--data", data, "--run-dir", d, "--steps", "1", "--set", "train.ckpt_every=1",
                             "--set", "train.batch_per_rank=4"] + MICRO + ["--set", "train.sample_every=0"])
    cores = os.cpu_count()
    want = ("nodes: node1 ranks 0-1 (2 local, %d thread%s each); node2 ranks 2 (1 local, %d thread%s each)" %
            (max(1, cores // 2), "" if cores // 2 <= 1 else "s", cores, "" if cores == 1 else "s"))
    if nodes_line(p.stdout) != want or "3 ranks on 2 nodes (1-2 per node)" not in p.stdout:
        fail("uneven layout: %r, expected %r" % (nodes_line(p.stdout), want))
    print("ok: uneven layout detected per node: %s" % want)
    # shared memory alone cannot join two nodes: the job must fail to start
    d = fresh("no_tcp")
    p = run_cluster([2, 2], ["train", "--data", data, "--run-dir", d, "--steps", "1"] + TRAIN, check=False,
                    btl="self,vader", timeout=180)
    if p.returncode == 0 or glob.glob(os.path.join(d, "ckpt-*.h5")):
        fail("a 2-node job without the TCP transport ran (exit %d): the nodes are not apart" % p.returncode)
    print("ok: without btl tcp the 2-node job does not start (exit %d)" % p.returncode)


def case_resume():
    cluster("up", "4")
    data = dataset("data")
    ref, d = fresh("ref4", "resume_nodes")
    run(["train", "--data", data, "--run-dir", ref, "--steps", "4"] + TRAIN, ranks=4)
    run_cluster([2, 2], ["train", "--data", data, "--run-dir", d, "--steps", "2"] + TRAIN)
    p = run_cluster([1, 1, 1, 1], ["train", "--data", data, "--run-dir", d, "--steps", "4", "--resume", "auto"] + TRAIN)
    if "4 ranks on 4 nodes (1 per node)" not in p.stdout or "resume: %s" % os.path.join(d, "ckpt-00000002.h5") \
            not in p.stdout:
        fail("the resumed run is not on 4 nodes from ckpt-2")
    compare(os.path.join(ref, "ckpt-00000004.h5"), os.path.join(d, "ckpt-00000004.h5"))
    print("ok: 2 nodes -> 4 nodes resume == uninterrupted, bit for bit")


def node_ranks(k):
    """PIDs of ratlip rank processes inside node k's network namespace."""
    out = subprocess.run(["ip", "netns", "pids", "rl-node%d" % k], stdout=subprocess.PIPE, text=True).stdout.split()
    pids = []
    for p in out:
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv = f.read().split(b"\0")
            if argv and argv[0].endswith(b"ratlip") and b"train" in argv:
                pids.append(int(p))
        except OSError:
            pass
    return pids


def start_and_wait_ckpt(slots, d, data, timeout_s, ka=(5, 2, 3)):
    """Starts a long run across the nodes, output to d + ".log"; returns once ckpt-4 is on disk."""
    cmd = cluster_cmd(slots, ["train", "--data", data, "--run-dir", d, "--steps", "400",
                              "--set", "dist.timeout_s=%d" % timeout_s] + TRAIN, ka=ka)
    log = open(d + ".log", "w")
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    t0 = time.time()
    while p.poll() is None and not os.path.exists(os.path.join(d, "ckpt-00000004.h5")) and time.time() - t0 < 300:
        time.sleep(0.1)
    if p.poll() is not None:
        fail("the 2-node run ended before its second checkpoint: %s" % open(d + ".log").read()[-3000:])
    return p


def case_kill():
    cluster("up", "2")
    data = dataset("data")
    timeout_s, slack_s = 10, 30
    # 1. every rank of node 2 killed: Open MPI sees its processes die and ends the job naming the node
    d = fresh("kill_node")
    p = start_and_wait_ckpt([2, 2], d, data, timeout_s)
    victims = node_ranks(2)
    if len(victims) != 2:
        p.kill()
        fail("expected 2 ranks on node 2, found %s" % victims)
    t0 = time.time()
    for pid in victims:
        os.kill(pid, 9)
    p.wait(timeout=timeout_s + slack_s + 60)
    took = time.time() - t0
    out = open(d + ".log").read()
    print(out[-1500:])
    if p.returncode == 0 or "node2" not in out.replace(nodes_line(out), ""):
        fail("exit %d; node2 not named after its ranks were killed" % p.returncode)
    if took > timeout_s + slack_s:
        fail("the job took %.0f s to end after node 2's ranks died (timeout %d s)" % (took, timeout_s))
    print("ok: node 2's ranks killed -> the job ended in %.1f s naming node2 (exit %d)" % (took, p.returncode))
    # 2. node 2 cut off the network: nothing tells the survivors. ratlip's deadline names the node and
    # its ranks, marks the run stalled and ends the ranks of node 1 (their MPI_Abort cannot reach node
    # 2; mpirun itself then waits for TCP to give up on node 2's daemon: on a cluster Slurm ends it, or
    # Open MPI's oob_tcp_keepalive_* when the link was idle; the test ends it)
    cluster("up", "2")
    d2 = fresh("partition")
    p = start_and_wait_ckpt([2, 2], d2, data, timeout_s, ka=(300, 20, 9))   # Open MPI's defaults
    t0 = time.time()
    subprocess.run(["ip", "-n", "rl-node2", "link", "set", "eth0", "down"], check=True)
    while time.time() - t0 < timeout_s + slack_s and (status(d2) != "stalled" or node_ranks(1)):
        time.sleep(0.2)
    took = time.time() - t0
    if p.poll() is None:
        os.killpg(p.pid, 9)
    p.wait()
    out = open(d2 + ".log").read()
    print(out[-2500:])
    if "ranks not arrived: 2, 3 (node node2: all 2 of its ranks)" not in out or status(d2) != "stalled":
        fail("after the partition: no line naming node2 and its ranks, or status %r" % status(d2))
    if node_ranks(1):
        fail("node 1's ranks still running %.0f s after node 2 dropped off (timeout %d s)" % (took, timeout_s))
    print("ok: node 2 partitioned -> node 1's ranks ended as stalled in %.1f s, node2 and both its ranks named" % took)
    cluster("down")
    # 3. the killed run resumes on one node (4 ranks: the same global batch) to the uninterrupted end
    ref = fresh("ref_kill")
    run(["train", "--data", data, "--run-dir", ref, "--steps", "16"] + TRAIN, ranks=4)
    run(["train", "--data", data, "--run-dir", d, "--steps", "16", "--resume", "auto"] + TRAIN, ranks=4)
    compare(os.path.join(ref, "ckpt-00000016.h5"), os.path.join(d, "ckpt-00000016.h5"))
    print("ok: resumed on 1 node after losing node 2 -> identical to the uninterrupted run")


def case_slurm():
    if not all(shutil.which(x) for x in ("slurmctld", "slurmd", "sbatch", "munged", "nsenter")):
        print("skipped: Slurm's daemons or nsenter are not installed (tests/install-deps.sh)")
        sys.exit(77)
    slurm = os.path.join(os.path.dirname(CLUSTER), "slurm-cluster.sh")
    data = dataset("data")
    ref, d = fresh("slurm_ref", "slurm_run")
    run(["train", "--data", data, "--run-dir", ref, "--steps", "4"] + TRAIN, ranks=4)
    try:
        subprocess.run([slurm, "up", "2"], check=True)
        sbatch_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "slurm")
        args = [a for a in TRAIN if a not in ("--threads", "1")]   # train.sbatch passes --cpus-per-task
        p = subprocess.run([slurm, "run", "1", "env", "RATLIP=" + RATLIP, "RATLIP_RUN_DIR=" + d, "sbatch", "-W",
                            "-N", "2", "--ntasks-per-node=2", "--cpus-per-task=1", "--time=10",
                            "--output=" + d + ".out", os.path.join(sbatch_dir, "train.sbatch"),
                            "--data", data, "--steps", "4"] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=600)
        out = open(d + ".out").read() if os.path.exists(d + ".out") else ""
        print(p.stdout[-1500:], out[-2500:])
        if p.returncode != 0:
            fail("sbatch -N 2 exited %d" % p.returncode)
        want = "nodes: node1 ranks 0-1 (2 local, 1 thread each); node2 ranks 2-3 (2 local, 1 thread each)"
        if "4 ranks on 2 nodes (2 per node)" not in out or "launched by srun" not in out or want not in out:
            fail("the job did not run as 2 nodes x 2 ranks under srun")
        compare(os.path.join(ref, "ckpt-00000004.h5"), os.path.join(d, "ckpt-00000004.h5"))
        print("ok: sbatch -N 2 (srun, PMIx, 2 slurmd) == 1 node x 4 ranks under mpirun, bit for bit")
    finally:
        subprocess.run([slurm, "down"])


if __name__ == "__main__":
    chk = subprocess.run([CLUSTER, "check"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if chk.returncode != 0:
        print("skipped: %s" % chk.stdout.strip())
        sys.exit(77)
    try:
        {"equiv": case_equiv, "resume": case_resume, "kill": case_kill, "slurm": case_slurm}[CASE]()
    finally:
        subprocess.run([CLUSTER, "down"])
    clean_up()
    print("ok:", CASE)
