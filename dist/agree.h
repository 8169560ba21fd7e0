// agree: "did any rank fail?" and the few small collectives the run drivers need, each with a
// deadline (dist/watch.h), over MPI_COMM_WORLD. Past a deadline the ranks that did not arrive are
// named and the job ends with DP_EXIT_STALLED: after a timed-out collective the MPI state is
// undefined (requests still pending, peers in different places), so there is nothing to return to.
#pragma once
#include <stddef.h>
#include "core/err.h"
#include "core/real.h"

// Exit status of a job ended because a rank stalled or died inside a collective (next to
// RATLIP_EXIT_PREEMPTED = 3; README "Training").
#define DP_EXIT_STALLED 4

// Every rank passes its own status rc; all return 0 when every rc was 0, else -1. A rank that did
// not fail itself gets "rank R: stopping because rank F failed (its message is above)". Waits at most
// timeout_s (<= 0: forever). Past it — or at once when rc is this rank's own timeout from an earlier
// collective (dp_stalled) — ends the job stalled with the message naming the missing ranks.
int dp_agree(int rc, double timeout_s, Err *e);
// The lowest rank that passed flag != 0, or -1 when none did; what names the agreement in a timeout
// message. Same deadline rules as dp_agree.
int dp_first_rank(int flag, double timeout_s, const char *what);

// Ends the job as stalled: runs the hook (once), prints "ratlip: rank R: msg", MPI_Abort with
// DP_EXIT_STALLED. The hook lets the run driver mark its status file first.
_Noreturn void dp_stall_abort(const char *msg);
void dp_on_stall(void (*hook)(void *ctx, const char *msg), void *ctx);

// A deadline for the blocking MPI calls that have no non-blocking form here (start-up's
// MPI_Comm_split_type and communicator dups, MPI_Finalize): a guard thread. If dp_guard_end does not
// come within timeout_s (<= 0: no guard), it prints "ratlip: rank R: <what> did not complete within T
// s ...", runs the stall hook and ends the process with DP_EXIT_STALLED (_exit: MPI may not be called
// from that thread); the launcher then ends the others. Guards nest: the outermost one's deadline holds.
void dp_guard_begin(const char *what, double timeout_s);
void dp_guard_end(void);

// Deadline versions of the plain collectives (the default timeout of dist/watch.h); on a timeout
// they return -1 with the missing ranks named and dp_stalled() set, and the caller's next dp_agree
// ends the job.
int dp_allgather_real(const real *mine, real *all, int n, const char *what, Err *e);   // all: [size*n]
int dp_allreduce_sum_real(real *buf, size_t n, const char *what, Err *e);              // in place
int dp_bcast_bytes(void *buf, int n, int root, const char *what, Err *e);
