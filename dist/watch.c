#define _GNU_SOURCE
#include "dist/watch.h"
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dist/agree.h"
#include "dist/rank.h"

// Arrival messages of wait point #seq carry tag ARRIVAL_TAG + seq % ARRIVAL_TAGS: a message matches only
// the wait point it was sent for (points where nobody waited long send nothing, so counting would not).
#define ARRIVAL_TAG 7301
#define ARRIVAL_TAGS 16384
static int tag_of(long seq) { return ARRIVAL_TAG + (int)(seq % ARRIVAL_TAGS); }

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
    (void)e;
    a->seq++;
    memset(a->arrived, 0, (size_t)a->size);
    a->arrived[a->rank] = 1;
    a->posted = 0;   // messages only if this wait point turns out slow (post_messages)
    return 0;
}

// This rank has waited at wait point #seq longer than the grace period, or a peer that has is asking:
// tell every peer it is here, and listen for theirs. Costs W-1 messages each way, but only at slow
// wait points (a stall, or a rank busy with a checkpoint or an evaluation): a fast one sends nothing.
static int post_messages(DpArrival *a, Err *e) {
    char msg[MPI_MAX_ERROR_STRING];
    int tag = tag_of(a->seq);
    long *val = &a->send_ring[a->seq % DP_ARRIVAL_RING];
    *val = a->seq;
    for (int p = 0; p < a->size; p++) {
        if (p == a->rank) continue;
        MPI_Request send;
        int rc = MPI_Irecv(&a->recv_val[p], 1, MPI_LONG, p, tag, a->comm, &a->reqs[p]);
        // 8 bytes go eagerly: the send completes locally; its buffer lives DP_ARRIVAL_RING wait points
        if (rc == MPI_SUCCESS) rc = MPI_Isend(val, 1, MPI_LONG, p, tag, a->comm, &send);
        if (rc == MPI_SUCCESS) rc = MPI_Request_free(&send);
        if (rc != MPI_SUCCESS)
            return err_set(e, "dist/watch: rank %d: posting arrival to rank %d failed: %s", a->rank, p,
                           dp_mpi_strerror(rc, msg, sizeof msg));
    }
    a->posted = 1;
    a->n_posted++;
    return 0;
}

// 1 when a peer has sent an arrival for this wait point (it has been waiting here longer than the
// grace period): answer at once, so a rank that arrived late is not reported missing.
static int peer_asking(DpArrival *a) {
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, tag_of(a->seq), a->comm, &flag, MPI_STATUS_IGNORE);
    return flag;
}

// The wait point completed: receives from peers that never came here slowly are withdrawn.
static void retire(DpArrival *a) {
    if (!a || !a->posted) return;
    for (int p = 0; p < a->size; p++) {
        if (p == a->rank || a->reqs[p] == MPI_REQUEST_NULL) continue;
        int flag = 0;
        MPI_Test(&a->reqs[p], &flag, MPI_STATUS_IGNORE);
        if (!flag) {
            MPI_Cancel(&a->reqs[p]);
            MPI_Wait(&a->reqs[p], MPI_STATUS_IGNORE);
        }
        a->reqs[p] = MPI_REQUEST_NULL;
    }
    a->posted = 0;
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

// Progresses the arrival messages of a slow wait point (arrived[] records who is here).
static int arrival_test(DpArrival *a, Err *e) {
    if (!a || !a->posted) return 0;
    for (int p = 0; p < a->size; p++) {
        if (p == a->rank || a->reqs[p] == MPI_REQUEST_NULL) continue;
        int flag = 0;
        int rc = MPI_Test(&a->reqs[p], &flag, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return err_set(e, "dist/watch: rank %d: arrival from rank %d failed", a->rank, p);
        if (!flag) continue;
        if (a->recv_val[p] == a->seq) {
            a->arrived[p] = 1;
        } else {   // a stale one, ARRIVAL_TAGS wait points old: listen again
            rc = MPI_Irecv(&a->recv_val[p], 1, MPI_LONG, p, tag_of(a->seq), a->comm, &a->reqs[p]);
            if (rc != MPI_SUCCESS) return err_set(e, "dist/watch: rank %d: arrival from rank %d failed", a->rank, p);
        }
    }
    return 0;
}

// At a deadline: is missing peer p waiting at another wait point (its arrival for that one is here)?
// Returns its wait point number, or -1.
static long elsewhere(DpArrival *a, int p) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(p, MPI_ANY_TAG, a->comm, &flag, &st);
    if (!flag || st.MPI_TAG < ARRIVAL_TAG || st.MPI_TAG >= ARRIVAL_TAG + ARRIVAL_TAGS || st.MPI_TAG == tag_of(a->seq))
        return -1;
    long v = -1;
    MPI_Recv(&v, 1, MPI_LONG, p, st.MPI_TAG, a->comm, MPI_STATUS_IGNORE);
    return v;
}

static int g_stalled = 0;
int dp_stalled(void) { return g_stalled; }

int dp_wait_deadline(MPI_Request *reqs, int n, DpArrival *a, double deadline, const char *what,
                     double *waited_s, Err *e) {
    char msg[MPI_MAX_ERROR_STRING];
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    double t0 = MPI_Wtime();
    // arrivals are posted once this wait is slower than the grace period: soon enough that every live
    // rank's has come before the deadline, late enough that a healthy step never sends one
    double grace = deadline > 0 ? (deadline - t0) / 4 : DP_ARRIVAL_GRACE_S;
    if (grace > DP_ARRIVAL_GRACE_S) grace = DP_ARRIVAL_GRACE_S;
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
        if (done) break;
        double now = MPI_Wtime();
        if (a && !a->posted && (now - t0 > grace || peer_asking(a)) && post_messages(a, e)) return -1;
        if (arrival_test(a, e)) return -1;
        if (deadline > 0 && now > deadline) {
            g_stalled = 1;
            if (waited_s) *waited_s = now - t0;
            char missing[900] = "unknown (no arrival tracking)", order[200] = "";
            int n_missing = a ? dp_arrival_missing(a, missing, sizeof missing) : -1;
            if (n_missing == 0) snprintf(missing, sizeof missing, "none (all arrived; the transfer itself is stuck)");
            for (int p = 0; a && p < a->size && !order[0]; p++) {
                long at = a->arrived[p] ? -1 : elsewhere(a, p);
                if (at >= 0)
                    snprintf(order, sizeof order, "; rank %d waits at wait point #%ld, this rank at #%ld (the "
                             "ranks call collectives in different orders)", p, at, a->seq);
            }
            return err_set(e, "%s: not complete after %.1f s on rank %d; ranks not arrived: %s%s (hint: those ranks "
                              "are stalled (I/O?) or dead; raise the timeout if steps are legitimately slow)",
                           what, now - t0, rank, missing, order);
        }
        if (polls < 2000) {
            sched_yield();
        } else {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    retire(a);
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
