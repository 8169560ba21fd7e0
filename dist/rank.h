// rank: who this process is in the data-parallel job. Starts MPI (FUNNELED: only the compute thread
// calls MPI; the reader thread never does), finds world and node-local rank/size, detects the
// launcher (mpirun, Slurm srun, or a singleton run), decides BLAS threads per rank, and sets
// MPI_ERRORS_RETURN on the world so a failed MPI call comes back as an error naming the rank.
#pragma once
#include <mpi.h>
#include "core/err.h"
#include "core/real.h"

// MPI's name for core's scalar: float in ratlip, double in the ratlip_f64 build (tests of exactness).
#define DP_MPI_REAL (sizeof(real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT)

typedef enum { DP_LAUNCH_SINGLETON = 0, DP_LAUNCH_MPIRUN = 1, DP_LAUNCH_SRUN = 2 } DpLauncher;

typedef struct {
    int rank, size;              // in MPI_COMM_WORLD
    int local_rank, local_size;  // among the ranks sharing this node (MPI_COMM_TYPE_SHARED)
    int min_local, max_local;    // fewest and most ranks on one node
    int n_nodes;                 // distinct nodes (ranks with local_rank 0)
    int threads;                 // BLAS threads this rank should use
    const char *threads_from;    // "--threads", "SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS", "cores/local ranks"
    DpLauncher launcher;
    MPI_Comm world;              // MPI_COMM_WORLD (errors return)
    MPI_Comm node;               // ranks on this node
    char startup[256];           // rank 0's start-up line (without the BLAS kernel; the caller adds it)
    char nodes[1024];            // rank 0's node layout line: each node's name, ranks, local ranks, threads
} DpInfo;

// Starts MPI and fills info. explicit_threads > 0 (from --threads) wins over the environment.
// Collective over MPI_COMM_WORLD. On error MPI may be initialised: call dp_finalize or dp_abort.
// First it calls dp_tune_malloc.
int dp_init(int *argc, char ***argv, int explicit_threads, DpInfo *info, Err *e);
void dp_finalize(DpInfo *info);
// Prints "ratlip: rank R: <msg>" to stderr and ends the whole job with exit status code (MPI_Abort).
// For errors after which the other ranks would wait forever (a stalled or failed collective).
_Noreturn void dp_abort(const char *msg, int code);

// Threads per rank, first of: explicit (>0), SLURM_CPUS_PER_TASK, OMP_NUM_THREADS, online cores /
// local ranks (at least 1). Env strings may be NULL; a set but malformed one is an error naming it.
// Pure (no MPI), so it is unit-testable. *from names the source.
int dp_threads_per_rank(int explicit_threads, const char *slurm_cpus_per_task, const char *omp_num_threads,
                        int online_cores, int local_size, int *threads, const char **from, Err *e);

// Launcher from the environment: OMPI_COMM_WORLD_SIZE → mpirun, SLURM_PROCID (+SLURM_NTASKS) → srun,
// else singleton. *expected_size is the world size the launcher promised (0 when unknown).
DpLauncher dp_detect_launcher(int *expected_size);
const char *dp_launcher_name(DpLauncher l);

// Keeps blocks up to 32 MiB in glibc's heap (M_MMAP_THRESHOLD) and up to 128 MiB of free heap top
// mapped (M_TRIM_THRESHOLD). Why: Open MPI's non-blocking allreduce mallocs a bucket-sized scratch
// buffer per call; with glibc's defaults each was a fresh mmap, its pages faulted in, then unmapped —
// about 30 % of a 2-rank demo step's time on AMD EPYC (issue 14). A threshold the user set (GLIBC_TUNABLES'
// glibc.malloc.mmap_threshold / trim_threshold, or MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_)
// is kept. Returns how many of the two it asked mallopt for (0..2; an allocator that replaces
// glibc's, such as AddressSanitizer's, ignores them: its mallopt returns 0).
int dp_tune_malloc(void);

// The host name of a world rank, gathered at start-up (NULL before dp_init, or out of range): messages
// about missing ranks name their nodes.
const char *dp_host_of(int world_rank);

// The node layout line from every rank's (host, local rank, local size, threads), world order:
// "nodes: node1 ranks 0-1 (local 0-1, 1 thread each); node2 ranks 2-3 (...)", more than 8 nodes
// abbreviated; inconsistencies (a host whose ranks' local ranks are not 0..n-1, two MPI nodes with one
// host name) are named. Pure, for the tests.
typedef struct {
    char host[64];
    int local_rank, local_size, threads;
} DpRankPlace;
void dp_nodes_line(const DpRankPlace *places, int size, char *out, size_t len);

// Text of an MPI error code, for messages.
const char *dp_mpi_strerror(int rc, char *buf, int len);
