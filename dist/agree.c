#include "dist/agree.h"
#include <mpi.h>
#include <stdio.h>
#include <string.h>
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
