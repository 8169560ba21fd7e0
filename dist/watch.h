// watch: waiting on non-blocking collectives against a deadline, and naming the ranks that have not
// arrived when the deadline passes (a stalled or dead rank), instead of hanging forever.
//
// How the missing ranks are found: a collective's request says only "not complete", never who is
// late. So each rank, when it reaches a wait point, posts a tiny "arrived at point #seq" message to
// every other rank (eager MPI_Isend of 8 bytes) and a matching MPI_Irecv from each. While waiting, the
// poll loop tests both the collective and these receives. At the deadline, the peers whose message has
// not come are exactly the ranks that never reached this wait point. Messages between two ranks on one
// communicator are non-overtaking, so the k-th receive matches the k-th arrival; the payload carries
// the sequence number as a check. Cost: W-1 small messages per rank per wait point — negligible
// against a gradient bucket for the rank counts this trainer runs at (for thousands of ranks a tree of
// arrivals would be the next step).
#pragma once
#include <mpi.h>
#include <stddef.h>
#include "core/err.h"

typedef struct {
    MPI_Comm comm;             // a private communicator (dup), so arrival tags never meet user messages
    int rank, size;
    long seq;                  // wait points posted so far
    long send_val;
    long *recv_val;            // [size]
    MPI_Request *reqs;         // [2*size]: receives then sends; MPI_REQUEST_NULL for self / completed
    unsigned char *arrived;    // [size]
    int *world_rank;           // [size]: MPI_COMM_WORLD rank of each member (for host names)
    int posted;                // a post is in flight
} DpArrival;

int dp_arrival_init(DpArrival *a, MPI_Comm comm, Err *e);  // dups comm; collective
void dp_arrival_free(DpArrival *a);
// Announces "this rank reached wait point #seq" to every peer.
int dp_arrival_post(DpArrival *a, Err *e);
// Comma list of ranks whose arrival has not come, then the nodes they are on ("2, 3 (node node2: all
// 2 of its ranks)"), into buf; returns how many ranks.
int dp_arrival_missing(const DpArrival *a, char *buf, size_t len);

// Waits for reqs[0..n) and for every peer's arrival (posted by the caller with dp_arrival_post),
// polling with MPI_Test, at most until `deadline` (MPI_Wtime seconds). On timeout fills e with
// "<what>: not complete after T s on rank R; ranks not arrived: ..." and returns -1; the requests
// are left pending and dp_stalled() is 1 from then on: the caller ends the job (dist/agree.h's
// dp_agree does, with DP_EXIT_STALLED). *waited_s (may be NULL) gets the time spent.
int dp_wait_deadline(MPI_Request *reqs, int n, DpArrival *a, double deadline, const char *what,
                     double *waited_s, Err *e);

// Default seconds a collective may take before the ranks that have not arrived are reported; used
// by the scalar helpers. 0 or negative waits forever.
void dp_set_timeout(double seconds);
double dp_get_timeout(void);
// One shared arrival tracker over MPI_COMM_WORLD for the scalar helpers (created on first use).
DpArrival *dp_world_arrival(Err *e);
// Waits for one request on the world (posting an arrival first) with the default timeout.
int dp_wait_one(MPI_Request *req, const char *what, Err *e);
// Frees the world tracker (dp_finalize calls it).
void dp_watch_shutdown(void);
// 1 once any deadline wait on this rank has timed out: MPI is then in an undefined state (requests
// pending), so callers must end the job (dist/agree.h's dp_agree does) rather than go on.
int dp_stalled(void);
