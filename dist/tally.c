// tally: counts and the end-of-work verdict over point-to-point messages to and from rank 0 (tally.h).
#include "dist/tally.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dist/agree.h"
#include "dist/rank.h"

enum { TAG_UP = 1, TAG_DOWN = 2 };                         // rank -> 0, 0 -> rank
enum { DOWN_PING = 0, DOWN_STOP = 1, DOWN_VERDICT = 2 };   // the kinds of a message from rank 0

struct DpTally {
    MPI_Comm comm;           // private dup of the world (MPI_COMM_NULL with one rank)
    int rank, size;
    double timeout_s;
    long count;              // this rank's
    int stop;                // a rank failed: stop working
    // ranks 1..N-1
    long up[2][3];           // {count, finished, failed}: [0] the progress report, [1] the final one
    MPI_Request up_req[2];
    double last_up, heard0;  // when the last report went out; when rank 0 was last heard from
    // rank 0
    long *counts;                                   // [size]
    unsigned char *finished, *failed, *stop_sent;   // [size]
    double *heard;                                  // [size] when each rank last reported
    long (*down)[2];                                // [size] {kind, value}: one message in flight per rank
    MPI_Request *down_req;                          // [size]
    double last_serve;
};

// An MPI call that failed: the ranks would no longer agree on anything, so the job ends.
static void check(int rc, const char *call) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING], text[MPI_MAX_ERROR_STRING + 64];
    snprintf(text, sizeof text, "dist/tally: %s failed: %s", call, dp_mpi_strerror(rc, msg, sizeof msg));
    dp_abort(text, 1);
}

static void nap(void) { nanosleep(&(struct timespec){0, 2000000}, NULL); }

static const char *host(int r) {
    const char *h = dp_host_of(r);
    return h ? h : "?";
}

DpTally *dp_tally_open(double timeout_s) {
    DpTally *t = calloc(1, sizeof *t);
    if (!t) dp_abort("dist/tally: out of memory", 1);
    int up = 0;
    MPI_Initialized(&up);
    t->size = 1;   // MPI not started: one rank
    if (up) MPI_Comm_rank(MPI_COMM_WORLD, &t->rank), MPI_Comm_size(MPI_COMM_WORLD, &t->size);
    t->timeout_s = timeout_s;
    t->comm = MPI_COMM_NULL;
    t->up_req[0] = t->up_req[1] = MPI_REQUEST_NULL;
    if (t->size == 1) return t;
    t->last_up = t->heard0 = MPI_Wtime();
    dp_guard_begin("dist/tally: communicator dup", timeout_s);
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &t->comm);   // inherits the world's MPI_ERRORS_RETURN
    dp_guard_end();
    check(rc, "MPI_Comm_dup");
    if (t->rank != 0) return t;
    size_t n = (size_t)t->size;
    t->counts = calloc(n, sizeof *t->counts);
    t->finished = calloc(n, 1), t->failed = calloc(n, 1), t->stop_sent = calloc(n, 1);
    t->heard = calloc(n, sizeof *t->heard);
    t->down = calloc(n, sizeof *t->down);
    t->down_req = calloc(n, sizeof *t->down_req);
    if (!t->counts || !t->finished || !t->failed || !t->stop_sent || !t->heard || !t->down || !t->down_req)
        dp_abort("dist/tally: out of memory", 1);
    for (int r = 0; r < t->size; r++) t->heard[r] = t->last_up, t->down_req[r] = MPI_REQUEST_NULL;
    return t;
}

// ---- rank 0 ----

// Every report that has arrived.
static void drain(DpTally *t) {
    for (;;) {
        int flag = 0;
        MPI_Status st;
        check(MPI_Iprobe(MPI_ANY_SOURCE, TAG_UP, t->comm, &flag, &st), "MPI_Iprobe");
        if (!flag) return;
        long m[3];
        int r = st.MPI_SOURCE;
        check(MPI_Recv(m, 3, MPI_LONG, r, TAG_UP, t->comm, MPI_STATUS_IGNORE), "MPI_Recv");
        t->counts[r] = m[0], t->finished[r] = m[1] != 0, t->failed[r] = m[2] != 0;
        t->heard[r] = MPI_Wtime();
        if (m[2]) t->stop = 1;
    }
}

// Sends {kind, value} to rank r unless its previous message is still in flight; 1 when sent.
static int send_down(DpTally *t, int r, long kind, long value) {
    int idle = 1;
    if (t->down_req[r] != MPI_REQUEST_NULL) check(MPI_Test(&t->down_req[r], &idle, MPI_STATUS_IGNORE), "MPI_Test");
    if (!idle) return 0;
    t->down[r][0] = kind, t->down[r][1] = value;
    check(MPI_Isend(t->down[r], 2, MPI_LONG, r, TAG_DOWN, t->comm, &t->down_req[r]), "MPI_Isend");
    return 1;
}

// Reads the reports; every interval, STOP to the ranks still working once one failed, PING to those
// waiting at the end.
static void serve(DpTally *t) {
    drain(t);
    double now = MPI_Wtime();
    if (now - t->last_serve < DP_TALLY_INTERVAL_S) return;
    t->last_serve = now;
    for (int r = 1; r < t->size; r++) {
        if (t->finished[r]) send_down(t, r, DOWN_PING, 0);
        else if (t->stop && !t->stop_sent[r]) t->stop_sent[r] = (unsigned char)send_down(t, r, DOWN_STOP, 0);
    }
}

// Waits (polling) until rank r has received rank 0's message in flight, at most the timeout.
static void wait_down(DpTally *t, int r) {
    double t0 = MPI_Wtime();
    for (;;) {
        int done = 1;
        if (t->down_req[r] != MPI_REQUEST_NULL) check(MPI_Test(&t->down_req[r], &done, MPI_STATUS_IGNORE), "MPI_Test");
        if (done) return;
        if (t->timeout_s > 0 && MPI_Wtime() - t0 > t->timeout_s) {
            char msg[256];
            snprintf(msg, sizeof msg, "dist/tally: rank %d (%s) took no message from rank 0 for %.0f s (stalled or "
                     "stopped); ending the job", r, host(r), t->timeout_s);
            dp_stall_abort(msg);
        }
        nap();
    }
}

static int finish_rank0(DpTally *t, int failed) {
    t->counts[0] = t->count, t->finished[0] = 1, t->failed[0] = failed != 0;
    if (failed) t->stop = 1;
    t->last_serve = 0;
    for (;;) {
        serve(t);
        int all = 1;
        double now = MPI_Wtime();
        for (int r = 1; r < t->size; r++) {
            if (t->finished[r]) continue;
            all = 0;
            if (t->timeout_s > 0 && now - t->heard[r] > t->timeout_s) {
                char msg[256];
                snprintf(msg, sizeof msg, "dist/tally: rank %d (%s) sent no report for %.0f s (stalled or stopped); "
                         "ending the job", r, host(r), t->timeout_s);
                dp_stall_abort(msg);
            }
        }
        if (all) break;
        nap();
    }
    int verdict = -1;
    for (int r = t->size - 1; r >= 0; r--)
        if (t->failed[r]) verdict = r;
    for (int r = 1; r < t->size; r++) {
        wait_down(t, r);
        send_down(t, r, DOWN_VERDICT, verdict);
    }
    for (int r = 1; r < t->size; r++) wait_down(t, r);
    return verdict;
}

// ---- ranks 1..N-1 ----

static void send_up(DpTally *t, int slot, int finished, int failed) {
    t->up[slot][0] = t->count, t->up[slot][1] = finished, t->up[slot][2] = failed;
    check(MPI_Isend(t->up[slot], 3, MPI_LONG, 0, TAG_UP, t->comm, &t->up_req[slot]), "MPI_Isend");
}

// The messages rank 0 has sent; 1 with *verdict set when the verdict came (it is the last one).
static int listen(DpTally *t, int *verdict) {
    for (;;) {
        int flag = 0;
        check(MPI_Iprobe(0, TAG_DOWN, t->comm, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
        if (!flag) return 0;
        long m[2];
        check(MPI_Recv(m, 2, MPI_LONG, 0, TAG_DOWN, t->comm, MPI_STATUS_IGNORE), "MPI_Recv");
        t->heard0 = MPI_Wtime();
        if (m[0] == DOWN_STOP) t->stop = 1;
        if (m[0] == DOWN_VERDICT) {
            *verdict = (int)m[1];
            return 1;
        }
    }
}

static int finish_other(DpTally *t, int failed) {
    send_up(t, 1, 1, failed);
    t->heard0 = MPI_Wtime();
    int verdict = -1;
    while (!listen(t, &verdict)) {
        if (t->timeout_s > 0 && MPI_Wtime() - t->heard0 > t->timeout_s) {
            char msg[256];
            snprintf(msg, sizeof msg, "dist/tally: rank 0 (%s) sent nothing for %.0f s while this rank waited for the "
                     "others to finish (stalled or stopped); ending the job", host(0), t->timeout_s);
            dp_stall_abort(msg);
        }
        nap();
    }
    // rank 0 received the final report before it sent the verdict, and the progress report before that
    check(MPI_Waitall(2, t->up_req, MPI_STATUSES_IGNORE), "MPI_Waitall");
    return verdict;
}

// ---- both ----

long dp_tally_add(DpTally *t, long n) {
    t->count += n;
    if (t->size == 1) return t->count;
    if (t->rank == 0) {
        t->counts[0] = t->count;
        serve(t);
        long sum = 0;
        for (int r = 0; r < t->size; r++) sum += t->counts[r];
        return t->stop ? -1 : sum;
    }
    int verdict;
    listen(t, &verdict);   // no verdict comes before this rank has finished
    double now = MPI_Wtime();
    if (now - t->last_up >= DP_TALLY_INTERVAL_S) {
        int idle = 1;
        if (t->up_req[0] != MPI_REQUEST_NULL) check(MPI_Test(&t->up_req[0], &idle, MPI_STATUS_IGNORE), "MPI_Test");
        if (idle) send_up(t, 0, 0, 0), t->last_up = now;
    }
    return t->stop ? -1 : t->count;
}

int dp_tally_finish(DpTally *t, int failed) {
    int verdict = t->size == 1 ? (failed ? 0 : -1) : t->rank == 0 ? finish_rank0(t, failed) : finish_other(t, failed);
    if (t->comm != MPI_COMM_NULL) MPI_Comm_free(&t->comm);
    free(t->counts);
    free(t->finished);
    free(t->failed);
    free(t->stop_sent);
    free(t->heard);
    free(t->down);
    free(t->down_req);
    free(t);
    return verdict;
}
