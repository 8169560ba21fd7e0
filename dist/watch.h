// watch: waiting on non-blocking collectives against a deadline, and naming the ranks that have not
// arrived when the deadline passes (a stalled or dead rank), instead of hanging forever.
//
// How the missing ranks are found: a collective's request says only "not complete", never who is
// late. So a rank whose wait at a wait point lasts longer than a grace period (DP_ARRIVAL_GRACE_S, at
// most a quarter of the deadline) posts a tiny "arrived at point #seq" message to every other rank
// (eager MPI_Isend of 8 bytes, tag by seq) and a matching MPI_Irecv from each; a rank that finds such a
// message waiting for its current point answers at once. At the deadline, the peers whose message has
// not come are the ranks that never reached this wait point; one that is waiting at another point is
// named with it (collectives called in different orders). A wait that completes withdraws its
// receives. Fast wait points — every one in a healthy step — send nothing: the cost of stall
// detection no longer grows with the rank count (issue 16: W-1 messages per wait point per rank was
// the first term of the scaling model to grow with W; analysis/scaling_model.py).
#pragma once
#include <mpi.h>
#include <stddef.h>
#include "core/err.h"

#define DP_ARRIVAL_RING 16
#define DP_ARRIVAL_GRACE_S 1.0

typedef struct {
    MPI_Comm comm;             // a private communicator (dup), so arrival tags never meet user messages
    int rank, size;
    long seq;                  // wait points posted so far
    long send_ring[DP_ARRIVAL_RING];   // send buffers (a freed send may still read its buffer)
    long *recv_val;            // [size]
    MPI_Request *reqs;         // [size]: the arrival receives of a slow wait point; MPI_REQUEST_NULL otherwise
    unsigned char *arrived;    // [size]
    int *world_rank;           // [size]: MPI_COMM_WORLD rank of each member (for host names)
    int posted;                // arrivals of the current wait point were posted
    long n_posted;             // slow wait points so far (tests, benchmarks)
} DpArrival;

int dp_arrival_init(DpArrival *a, MPI_Comm comm, Err *e);  // dups comm; collective
void dp_arrival_free(DpArrival *a);
// Starts wait point #seq+1 (no messages: dp_wait_deadline posts them if the wait turns out slow).
int dp_arrival_post(DpArrival *a, Err *e);
// Comma list of ranks whose arrival has not come, then the nodes they are on ("2, 3 (node node2: all
// 2 of its ranks)"), into buf; returns how many ranks.
int dp_arrival_missing(const DpArrival *a, char *buf, size_t len);

// Waits for reqs[0..n) (the caller started the wait point with dp_arrival_post),
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
