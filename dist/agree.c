#include "dist/agree.h"
#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dist/rank.h"
#include "dist/watch.h"

static void (*g_hook)(void *, const char *);
static void *g_hook_ctx;

void dp_on_stall(void (*hook)(void *ctx, const char *msg), void *ctx) {
    g_hook = hook;
    g_hook_ctx = ctx;
}

_Noreturn void dp_stall_abort(const char *msg) {
    void (*hook)(void *, const char *) = g_hook;
    g_hook = NULL;   // once: the hook itself must not recurse into here
    if (hook) hook(g_hook_ctx, msg);
    dp_abort(msg, DP_EXIT_STALLED);
}

static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active, depth, done, rank;
    double timeout_s;
    char what[128];
} g_guard = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *guard_main(void *arg) {
    (void)arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    double t = (double)until.tv_sec + 1e-9 * (double)until.tv_nsec + g_guard.timeout_s;
    until.tv_sec = (time_t)t;
    until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
    pthread_mutex_lock(&g_guard.mu);
    int rc = 0;
    while (!g_guard.done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&g_guard.cv, &g_guard.mu, &until);
    int late = !g_guard.done;
    pthread_mutex_unlock(&g_guard.mu);
    if (!late) return NULL;
    char msg[400];
    snprintf(msg, sizeof msg, "%s did not complete within %.0f s: another rank stalled or died (see its messages); "
             "ending the job with status %d", g_guard.what, g_guard.timeout_s, DP_EXIT_STALLED);
    if (g_hook) g_hook(g_hook_ctx, msg);
    fprintf(stderr, "ratlip: rank %d: %s\n", g_guard.rank, msg);
    fflush(stderr);
    fflush(stdout);
    _exit(DP_EXIT_STALLED);
}

void dp_guard_begin(const char *what, double timeout_s) {
    if (g_guard.depth++ > 0 || timeout_s <= 0) return;   // nested: the outer guard's deadline holds
    int up = 0;
    MPI_Initialized(&up);
    g_guard.rank = -1;
    if (up) MPI_Comm_rank(MPI_COMM_WORLD, &g_guard.rank);
    snprintf(g_guard.what, sizeof g_guard.what, "%s", what);
    g_guard.timeout_s = timeout_s;
    g_guard.done = 0;
    g_guard.active = pthread_create(&g_guard.thread, NULL, guard_main, NULL) == 0;
}

void dp_guard_end(void) {
    if (g_guard.depth > 0) g_guard.depth--;
    if (g_guard.depth > 0 || !g_guard.active) return;
    pthread_mutex_lock(&g_guard.mu);
    g_guard.done = 1;
    pthread_cond_signal(&g_guard.cv);
    pthread_mutex_unlock(&g_guard.mu);
    pthread_join(g_guard.thread, NULL);
    g_guard.active = 0;
}

// Waits for one world request with the arrival tracking that names the missing ranks.
static int wait_world(MPI_Request *req, double timeout_s, const char *what, Err *e) {
    DpArrival *a = dp_world_arrival(e);
    if (!a || dp_arrival_post(a, e)) return -1;
    return dp_wait_deadline(req, 1, a, timeout_s > 0 ? MPI_Wtime() + timeout_s : 0, what, NULL, e);
}

int dp_first_rank(int flag, double timeout_s, const char *what) {
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size == 1) return flag ? 0 : -1;
    int mine = flag ? rank : size, first = size;
    MPI_Request req;
    Err e = {{0}};
    char msg[MPI_MAX_ERROR_STRING];
    int rc = MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) {
        // the others are (or will be) inside this agreement: returning would leave them waiting
        snprintf(e.msg, sizeof e.msg, "%s: MPI_Iallreduce failed: %s", what, dp_mpi_strerror(rc, msg, sizeof msg));
        dp_abort(e.msg, 1);
    }
    if (wait_world(&req, timeout_s, what, &e)) {
        if (dp_stalled()) dp_stall_abort(e.msg);
        dp_abort(e.msg, 1);   // a failed transfer or ranks out of step: no agreement is possible
    }
    return first < size ? first : -1;
}

int dp_agree(int rc, double timeout_s, Err *e) {
    // this rank's failure is a timed-out collective: the missing rank will not come to this one either
    if (rc && dp_stalled()) dp_stall_abort(e->msg);
    int first = dp_first_rank(rc != 0, timeout_s, "dist/agree: agreement on whether any rank failed");
    if (first < 0) return 0;
    if (!rc) {
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        err_set(e, "rank %d: stopping because rank %d failed (its message is above)", rank, first);
    }
    return -1;
}

int dp_allgather_real(const real *mine, real *all, int n, const char *what, Err *e) {
    MPI_Request req;
    char msg[MPI_MAX_ERROR_STRING];
    int rc = MPI_Iallgather(mine, n, DP_MPI_REAL, all, n, DP_MPI_REAL, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS)
        return err_set(e, "%s: MPI_Iallgather failed: %s", what, dp_mpi_strerror(rc, msg, sizeof msg));
    return dp_wait_one(&req, what, e);
}

int dp_allreduce_sum_real(real *buf, size_t n, const char *what, Err *e) {
    const size_t chunk = (size_t)1 << 28;   // MPI counts are int
    char msg[MPI_MAX_ERROR_STRING];
    for (size_t off = 0; off < n; off += chunk) {
        int cnt = (int)(n - off < chunk ? n - off : chunk);
        MPI_Request req;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + off, cnt, DP_MPI_REAL, MPI_SUM, MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS)
            return err_set(e, "%s: MPI_Iallreduce failed: %s", what, dp_mpi_strerror(rc, msg, sizeof msg));
        if (dp_wait_one(&req, what, e)) return -1;
    }
    return 0;
}

int dp_bcast_bytes(void *buf, int n, int root, const char *what, Err *e) {
    MPI_Request req;
    char msg[MPI_MAX_ERROR_STRING];
    int rc = MPI_Ibcast(buf, n, MPI_BYTE, root, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return err_set(e, "%s: MPI_Ibcast failed: %s", what, dp_mpi_strerror(rc, msg, sizeof msg));
    return dp_wait_one(&req, what, e);
}
