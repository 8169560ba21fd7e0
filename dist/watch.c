#define _GNU_SOURCE
#include "dist/watch.h"
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dist/agree.h"
#include "dist/rank.h"

#define ARRIVAL_TAG 7301

int dp_arrival_init(DpArrival *a, MPI_Comm comm, Err *e) {
    memset(a, 0, sizeof(*a));
    char msg[MPI_MAX_ERROR_STRING];
    dp_guard_begin("MPI_Comm_dup of the arrival tracker", dp_get_timeout());   // blocking collective
    int rc = MPI_Comm_dup(comm, &a->comm);
    dp_guard_end();
    if (rc != MPI_SUCCESS) return err_set(e, "dist/watch: MPI_Comm_dup failed: %s", dp_mpi_strerror(rc, msg, sizeof msg));
    MPI_Comm_set_errhandler(a->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(a->comm, &a->rank);
    MPI_Comm_size(a->comm, &a->size);
    a->recv_val = calloc((size_t)a->size, sizeof(long));
    a->reqs = malloc(2 * (size_t)a->size * sizeof(MPI_Request));
    a->arrived = calloc((size_t)a->size, 1);
    a->world_rank = malloc((size_t)a->size * sizeof(int));
    if (!a->recv_val || !a->reqs || !a->arrived || !a->world_rank)
        return err_set(e, "dist/watch: out of memory for %d ranks", a->size);
    MPI_Group g, gw;
    MPI_Comm_group(a->comm, &g);
    MPI_Comm_group(MPI_COMM_WORLD, &gw);
    for (int i = 0; i < a->size; i++) a->world_rank[i] = i;
    int *members = malloc((size_t)a->size * sizeof(int));
    if (members) {
        for (int i = 0; i < a->size; i++) members[i] = i;
        MPI_Group_translate_ranks(g, a->size, members, gw, a->world_rank);
        free(members);
    }
    MPI_Group_free(&g);
    MPI_Group_free(&gw);
    for (int i = 0; i < 2 * a->size; i++) a->reqs[i] = MPI_REQUEST_NULL;
    return 0;
}

void dp_arrival_free(DpArrival *a) {
    if (!a->reqs) return;
    // Only called when nothing is in flight (a timed-out wait ends in dp_abort).
    if (a->comm != MPI_COMM_NULL) MPI_Comm_free(&a->comm);
    free(a->recv_val);
    free(a->reqs);
    free(a->arrived);
    free(a->world_rank);
    memset(a, 0, sizeof(*a));
}

int dp_arrival_post(DpArrival *a, Err *e) {
    char msg[MPI_MAX_ERROR_STRING];
    a->seq++;
    a->send_val = a->seq;
    memset(a->arrived, 0, (size_t)a->size);
    a->arrived[a->rank] = 1;
    for (int p = 0; p < a->size; p++) {
        if (p == a->rank) continue;
        int rc = MPI_Irecv(&a->recv_val[p], 1, MPI_LONG, p, ARRIVAL_TAG, a->comm, &a->reqs[p]);
        if (rc == MPI_SUCCESS) rc = MPI_Isend(&a->send_val, 1, MPI_LONG, p, ARRIVAL_TAG, a->comm, &a->reqs[a->size + p]);
        if (rc != MPI_SUCCESS)
            return err_set(e, "dist/watch: rank %d: posting arrival to rank %d failed: %s", a->rank, p,
                           dp_mpi_strerror(rc, msg, sizeof msg));
    }
    a->posted = 1;
    return 0;
}

int dp_arrival_missing(const DpArrival *a, char *buf, size_t len) {
    int n = 0;
    size_t used = 0;
    buf[0] = '\0';
    for (int p = 0; p < a->size; p++) {
        if (a->arrived[p]) continue;
        if (used < len) used += (size_t)snprintf(buf + used, len - used, "%s%d", n ? ", " : "", p);
        n++;
    }
    // the nodes of the missing ranks, each with how many of its ranks are missing: a whole node gone
    // (crashed, unreachable) reads differently from one stuck rank
    int listed = 0;
    for (int p = 0; p < a->size && n > 0; p++) {
        const char *host = a->arrived[p] ? NULL : dp_host_of(a->world_rank ? a->world_rank[p] : p);
        if (!host) continue;
        int first = 1;
        for (int q = 0; q < p && first; q++)   // listed already?
            first = a->arrived[q] || !dp_host_of(a->world_rank ? a->world_rank[q] : q) ||
                    strcmp(dp_host_of(a->world_rank ? a->world_rank[q] : q), host);
        if (!first) continue;
        int missing = 0, total = 0;
        for (int q = 0; q < a->size; q++) {
            const char *h = dp_host_of(a->world_rank ? a->world_rank[q] : q);
            if (!h || strcmp(h, host)) continue;
            total++;
            missing += !a->arrived[q];
        }
        if (used < len) {
            if (missing == total)
                used += (size_t)snprintf(buf + used, len - used, "%snode %s: all %d of its rank%s", listed ? "; " : " (",
                                         host, total, total == 1 ? "" : "s");
            else
                used += (size_t)snprintf(buf + used, len - used, "%snode %s: %d of its %d ranks", listed ? "; " : " (",
                                         host, missing, total);
        }
        listed++;
    }
    if (listed && used < len) snprintf(buf + used, len - used, ")");
    return n;
}

// Progresses the arrival messages; 1 when every peer's has come and our sends are done.
static int arrival_test(DpArrival *a, Err *e) {
    if (!a || !a->posted) return 1;
    int all = 1;
    for (int p = 0; p < a->size; p++) {
        if (p == a->rank) continue;
        int flag = 0;
        if (a->reqs[p] != MPI_REQUEST_NULL) {
            int rc = MPI_Test(&a->reqs[p], &flag, MPI_STATUS_IGNORE);
            if (rc != MPI_SUCCESS) return err_set(e, "dist/watch: rank %d: arrival from rank %d failed", a->rank, p);
            if (flag) {
                if (a->recv_val[p] != a->seq)
                    return err_set(e, "dist/watch: rank %d: rank %d is at wait point #%ld, this rank at #%ld "
                                      "(hint: the ranks call collectives in different orders)", a->rank, p,
                                   a->recv_val[p], a->seq);
                a->arrived[p] = 1;
            }
        }
        if (!a->arrived[p]) all = 0;
        if (a->reqs[a->size + p] != MPI_REQUEST_NULL) {
            int rc = MPI_Test(&a->reqs[a->size + p], &flag, MPI_STATUS_IGNORE);
            if (rc != MPI_SUCCESS) return err_set(e, "dist/watch: rank %d: arrival to rank %d failed", a->rank, p);
            if (!flag) all = 0;
        }
    }
    if (all) a->posted = 0;
    return all;
}

static int g_stalled = 0;
int dp_stalled(void) { return g_stalled; }

int dp_wait_deadline(MPI_Request *reqs, int n, DpArrival *a, double deadline, const char *what,
                     double *waited_s, Err *e) {
    char msg[MPI_MAX_ERROR_STRING];
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    double t0 = MPI_Wtime();
    // Spin briefly (a collective usually completes in microseconds once everyone is there), then
    // poll every 100 µs so a waiting rank does not steal the core an oversubscribed peer computes on.
    for (long polls = 0;; polls++) {
        int done = 0;
        int rc = n > 0 ? MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
        if (n == 0) done = 1;
        if (rc != MPI_SUCCESS) {
            if (waited_s) *waited_s = MPI_Wtime() - t0;
            return err_set(e, "%s: failed on rank %d: %s", what, rank, dp_mpi_strerror(rc, msg, sizeof msg));
        }
        int arrived = arrival_test(a, e);
        if (arrived < 0) return -1;
        if (done && arrived) break;
        double now = MPI_Wtime();
        if (deadline > 0 && now > deadline) {
            g_stalled = 1;
            if (waited_s) *waited_s = now - t0;
            char missing[900] = "unknown (no arrival tracking)";
            int n_missing = a ? dp_arrival_missing(a, missing, sizeof missing) : -1;
            if (n_missing == 0) snprintf(missing, sizeof missing, "none (all arrived; the transfer itself is stuck)");
            return err_set(e, "%s: not complete after %.1f s on rank %d; ranks not arrived: %s (hint: those ranks "
                              "are stalled (I/O?) or dead; raise the timeout if steps are legitimately slow)",
                           what, now - t0, rank, missing);
        }
        if (polls < 2000) {
            sched_yield();
        } else {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    if (waited_s) *waited_s = MPI_Wtime() - t0;
    return 0;
}

static double g_timeout_s = 300.0;
static DpArrival g_world;
static int g_world_up = 0;

void dp_set_timeout(double seconds) { g_timeout_s = seconds; }
double dp_get_timeout(void) { return g_timeout_s; }

DpArrival *dp_world_arrival(Err *e) {
    if (!g_world_up) {
        if (dp_arrival_init(&g_world, MPI_COMM_WORLD, e) != 0) return NULL;
        g_world_up = 1;
    }
    return &g_world;
}

int dp_wait_one(MPI_Request *req, const char *what, Err *e) {
    DpArrival *a = dp_world_arrival(e);
    if (!a || dp_arrival_post(a, e) != 0) return -1;
    double deadline = g_timeout_s > 0 ? MPI_Wtime() + g_timeout_s : 0;
    return dp_wait_deadline(req, 1, a, deadline, what, NULL, e);
}

void dp_watch_shutdown(void) {
    if (g_world_up) dp_arrival_free(&g_world);
    g_world_up = 0;
}
