#define _GNU_SOURCE
#include "dist/rank.h"
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dist/agree.h"
#include "dist/watch.h"
#include "io/fault.h"

static int gather_places(DpInfo *info, Err *e);

const char *dp_mpi_strerror(int rc, char *buf, int len) {
    int n = 0;
    if (MPI_Error_string(rc, buf, &n) != MPI_SUCCESS) snprintf(buf, (size_t)len, "MPI error %d", rc);
    return buf;
}

// A positive integer from an environment variable; 0 when unset/empty, -1 when malformed.
static int parse_positive(const char *s) {
    if (!s || !*s) return 0;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < 1 || v > 4096) return -1;
    return (int)v;
}

int dp_threads_per_rank(int explicit_threads, const char *slurm_cpus_per_task, const char *omp_num_threads,
                        int online_cores, int local_size, int *threads, const char **from, Err *e) {
    if (explicit_threads > 0) {
        *threads = explicit_threads;
        *from = "--threads";
        return 0;
    }
    // SLURM_CPUS_PER_TASK is what the allocation granted each task: the most reliable figure.
    int v = parse_positive(slurm_cpus_per_task);
    if (v < 0)
        return err_set(e, "dist/rank: SLURM_CPUS_PER_TASK='%s' is not a positive integer (hint: fix the sbatch "
                          "--cpus-per-task or pass --threads)", slurm_cpus_per_task);
    if (v > 0) {
        *threads = v;
        *from = "SLURM_CPUS_PER_TASK";
        return 0;
    }
    // OMP_NUM_THREADS may be a list ("4,2") for nested regions; the first level is ours.
    if (omp_num_threads && *omp_num_threads) {
        char first[32];
        snprintf(first, sizeof first, "%s", omp_num_threads);
        first[strcspn(first, ",")] = '\0';
        v = parse_positive(first);
        if (v < 0)
            return err_set(e, "dist/rank: OMP_NUM_THREADS='%s' is not a positive integer (hint: unset it or pass "
                              "--threads)", omp_num_threads);
        *threads = v;
        *from = "OMP_NUM_THREADS";
        return 0;
    }
    int per = (local_size > 0 && online_cores > 0) ? online_cores / local_size : 1;
    *threads = per >= 1 ? per : 1;
    *from = "cores/local ranks";
    return 0;
}

DpLauncher dp_detect_launcher(int *expected_size) {
    *expected_size = 0;
    // Checked first: mpirun inside an sbatch script also inherits the job's SLURM_* variables.
    const char *ompi = getenv("OMPI_COMM_WORLD_SIZE");
    if (ompi && *ompi) {
        *expected_size = atoi(ompi);
        return DP_LAUNCH_MPIRUN;
    }
    // SLURM_PROCID alone is also set in the batch script itself; a step launched by srun has a step id.
    const char *procid = getenv("SLURM_PROCID"), *step = getenv("SLURM_STEP_ID");
    if (procid && *procid && step && *step) {
        const char *nt = getenv("SLURM_STEP_NUM_TASKS");
        if (!nt || !*nt) nt = getenv("SLURM_NTASKS");
        *expected_size = nt ? atoi(nt) : 0;
        return DP_LAUNCH_SRUN;
    }
    return DP_LAUNCH_SINGLETON;
}

const char *dp_launcher_name(DpLauncher l) {
    return l == DP_LAUNCH_MPIRUN ? "mpirun" : l == DP_LAUNCH_SRUN ? "srun" : "singleton";
}

// The collective part of start-up: the node communicator, the node count, the arrival tracker,
// ranks per node (min and max). Blocking: dp_init runs it under a guard.
static int dp_init_collectives(DpInfo *info, char *msg, int msg_len, Err *e) {
    int rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, info->rank, MPI_INFO_NULL, &info->node);
    if (rc != MPI_SUCCESS)
        return err_set(e, "dist/rank: rank %d: MPI_Comm_split_type(SHARED) failed: %s", info->rank,
                       dp_mpi_strerror(rc, msg, msg_len));
    MPI_Comm_set_errhandler(info->node, MPI_ERRORS_RETURN);
    MPI_Comm_rank(info->node, &info->local_rank);
    MPI_Comm_size(info->node, &info->local_size);
    int leader = info->local_rank == 0;
    rc = MPI_Allreduce(&leader, &info->n_nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return err_set(e, "dist/rank: rank %d: counting nodes failed: %s", info->rank,
                       dp_mpi_strerror(rc, msg, msg_len));
    if (!dp_world_arrival(e)) return -1;  // collective (a dup): create it here, not on first use
    if (MPI_Allreduce(&info->local_size, &info->min_local, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS ||
        MPI_Allreduce(&info->local_size, &info->max_local, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
        return err_set(e, "dist/rank: rank %d: counting ranks per node failed", info->rank);
    return 0;
}

// Did the user set this malloc threshold (a glibc tunable or its older MALLOC_*_ variable)?
static int user_set(const char *tunable, const char *env_name) {
    const char *t = getenv("GLIBC_TUNABLES"), *v = getenv(env_name);
    return (t && strstr(t, tunable)) || (v && *v);
}

int dp_tune_malloc(void) {
    int tried = 0;
    if (!user_set("glibc.malloc.mmap_threshold", "MALLOC_MMAP_THRESHOLD_"))
        tried++, mallopt(M_MMAP_THRESHOLD, 32 << 20);   // 32 MiB: glibc's largest allowed value on 64-bit
    if (!user_set("glibc.malloc.trim_threshold", "MALLOC_TRIM_THRESHOLD_"))
        tried++, mallopt(M_TRIM_THRESHOLD, 128 << 20);
    return tried;
}

int dp_init(int *argc, char ***argv, int explicit_threads, DpInfo *info, Err *e) {
    memset(info, 0, sizeof(*info));
    dp_tune_malloc();   // before MPI_Init: Open MPI's own start-up allocations see it too
    info->world = MPI_COMM_WORLD;
    info->node = MPI_COMM_NULL;
    char msg[MPI_MAX_ERROR_STRING];
    int provided = 0, rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS)
        return err_set(e, "dist/rank: MPI_Init_thread failed: %s (hint: start with mpirun or srun; check the "
                          "Open MPI installation)", dp_mpi_strerror(rc, msg, sizeof msg));
    if (provided < MPI_THREAD_FUNNELED)
        return err_set(e, "dist/rank: MPI provides thread level %d, FUNNELED (%d) needed (hint: use an MPI built "
                          "with thread support)", provided, MPI_THREAD_FUNNELED);
    // From here on failures come back as values, and messages can name the rank.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &info->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &info->size);

    int expected = 0;
    info->launcher = dp_detect_launcher(&expected);
    // The classic srun pitfall: without PMI/PMIx support every task starts as its own world of 1.
    if (expected > 1 && info->size == 1)
        return err_set(e, "dist/rank: rank %d: %s started %d tasks but MPI sees a world of 1 (hint: srun needs "
                          "--mpi=pmix (see `srun --mpi=list`), or launch with mpirun)",
                       info->rank, dp_launcher_name(info->launcher), expected);

    // The start-up collectives below block; a rank that never arrives (stopped, or stuck before
    // MPI_Init returned) must not hang the others: a guard ends the job past the deadline. The config
    // is not read yet, so the deadline is dist.timeout_s's default or RATLIP_STARTUP_TIMEOUT_S.
    const char *startup_s = getenv("RATLIP_STARTUP_TIMEOUT_S");
    fault_point("startup");
    dp_guard_begin("start-up (MPI_Comm_split_type, node count, communicator dups)",
                   startup_s && atof(startup_s) > 0 ? atof(startup_s) : dp_get_timeout());
    rc = dp_init_collectives(info, msg, sizeof msg, e);
    dp_guard_end();
    if (rc) return -1;

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (dp_threads_per_rank(explicit_threads, getenv("SLURM_CPUS_PER_TASK"), getenv("OMP_NUM_THREADS"),
                            cores > 0 ? (int)cores : 1, info->local_size, &info->threads, &info->threads_from,
                            e) != 0) {
        char inner[sizeof e->msg];
        snprintf(inner, sizeof inner, "%s", e->msg);
        return err_set(e, "rank %d: %s", info->rank, inner);
    }
    // An uneven layout of ranks over nodes says so rather than printing one number.
    int min_local = info->min_local, max_local = info->max_local;
    char per_node[32];
    if (min_local == max_local) snprintf(per_node, sizeof per_node, "%d", max_local);
    else snprintf(per_node, sizeof per_node, "%d-%d", min_local, max_local);
    snprintf(info->startup, sizeof info->startup,
             "data-parallel: %d rank%s on %d node%s (%s per node), %d thread%s per rank (%s), launched by %s",
             info->size, info->size == 1 ? "" : "s", info->n_nodes, info->n_nodes == 1 ? "" : "s", per_node,
             info->threads, info->threads == 1 ? "" : "s", info->threads_from, dp_launcher_name(info->launcher));
    return gather_places(info, e);
}

void dp_finalize(DpInfo *info) {
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (!up || down) return;
    dp_watch_shutdown();
    if (info && info->node != MPI_COMM_NULL) MPI_Comm_free(&info->node);
    dp_guard_begin("MPI_Finalize", dp_get_timeout());   // it waits for every rank
    MPI_Finalize();
    dp_guard_end();
}

static char (*g_hosts)[64];   // [g_n_hosts] world rank -> host name
static int g_n_hosts;

const char *dp_host_of(int world_rank) {
    return g_hosts && world_rank >= 0 && world_rank < g_n_hosts ? g_hosts[world_rank] : NULL;
}

// "a-b" or "a" into out
static void range_str(char *out, size_t len, int a, int b) {
    if (a == b) snprintf(out, len, "%d", a);
    else snprintf(out, len, "%d-%d", a, b);
}

void dp_nodes_line(const DpRankPlace *p, int size, char *out, size_t len) {
    size_t used = (size_t)snprintf(out, len, "nodes:");
    int n_nodes = 0, shown = 0, bad = 0;
    char problems[256] = "";
    unsigned char *done = calloc((size_t)size, 1);
    if (!done) {
        snprintf(out, len, "nodes: (out of memory)");
        return;
    }
    // count the nodes first (to abbreviate)
    for (int r = 0; r < size; r++) n_nodes += p[r].local_rank == 0;
    for (int r = 0; r < size; r++) {
        if (done[r]) continue;
        // every rank with this host name, in world order
        int count = 0, hi = r, contiguous = 1, prev = r - 1, leaders = 0, threads_min = p[r].threads,
            threads_max = p[r].threads;
        unsigned long long local_seen = 0;
        for (int q = r; q < size; q++) {
            if (done[q] || strcmp(p[q].host, p[r].host)) continue;
            done[q] = 1;
            contiguous &= q == prev + 1;
            prev = hi = q;
            count++;
            leaders += p[q].local_rank == 0;
            if (p[q].local_rank < 64) local_seen |= 1ull << p[q].local_rank;
            if (p[q].threads < threads_min) threads_min = p[q].threads;
            if (p[q].threads > threads_max) threads_max = p[q].threads;
        }
        int consistent = leaders == 1 && p[r].local_size == count &&
                         (count > 64 || local_seen == (count == 64 ? ~0ull : (1ull << count) - 1));
        if (!consistent && !bad++)
            snprintf(problems, sizeof problems, " | note: host %s: %d ranks, %d local rank 0s, local size %d "
                     "(two nodes with one host name, or a launcher that disagrees with MPI)",
                     p[r].host, count, leaders, p[r].local_size);
        if (shown < 6 || n_nodes <= 8 || (n_nodes - shown) <= 2) {
            char ranks[48], thr[24];
            if (contiguous) range_str(ranks, sizeof ranks, r, hi);
            else snprintf(ranks, sizeof ranks, "%d..%d (%d, not contiguous)", r, hi, count);
            range_str(thr, sizeof thr, threads_min, threads_max);
            if (used < len)
                used += (size_t)snprintf(out + used, len - used, "%s %s ranks %s (%d local, %s thread%s each)",
                                         shown ? ";" : "", p[r].host, ranks, count, thr,
                                         threads_max == 1 ? "" : "s");
        } else if (shown == 6 && used < len) {
            used += (size_t)snprintf(out + used, len - used, "; ... (%d nodes in all)", n_nodes);
        }
        shown++;
    }
    if (used < len && problems[0]) snprintf(out + used, len - used, "%s", problems);
    free(done);
}

// Every rank's place, gathered everywhere (host names for messages about missing ranks); rank 0
// formats the layout line.
static int gather_places(DpInfo *info, Err *e) {
    DpRankPlace me;
    memset(&me, 0, sizeof me);
    if (gethostname(me.host, sizeof me.host - 1)) snprintf(me.host, sizeof me.host, "rank%d-host", info->rank);
    me.local_rank = info->local_rank;
    me.local_size = info->local_size;
    me.threads = info->threads;
    DpRankPlace *all = calloc((size_t)info->size, sizeof *all);
    char (*hosts)[64] = calloc((size_t)info->size, sizeof *hosts);
    if (!all || !hosts) {
        free(all), free(hosts);
        return err_set(e, "dist/rank: rank %d: out of memory for %d ranks' places", info->rank, info->size);
    }
    dp_guard_begin("start-up (gathering host names)", dp_get_timeout());
    int rc = MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE, MPI_COMM_WORLD);
    dp_guard_end();
    if (rc != MPI_SUCCESS) {
        free(all), free(hosts);
        return err_set(e, "dist/rank: rank %d: gathering host names failed", info->rank);
    }
    for (int r = 0; r < info->size; r++) memcpy(hosts[r], all[r].host, sizeof hosts[r]);
    free(g_hosts);
    g_hosts = hosts;
    g_n_hosts = info->size;
    if (info->rank == 0) dp_nodes_line(all, info->size, info->nodes, sizeof info->nodes);
    free(all);
    return 0;
}

_Noreturn void dp_abort(const char *msg, int code) {
    int rank = -1, up = 0;
    MPI_Initialized(&up);
    if (up) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(stderr, "ratlip: rank %d: %s\n", rank, msg);
    fflush(stderr);
    fflush(stdout);
    if (up) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    exit(code ? code : 1);
}
