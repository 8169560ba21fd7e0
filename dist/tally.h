// tally: work counted over the ranks while each goes at its own pace, and the verdict at the end, with no
// collective until every rank is done. For work split unevenly (`ratlip data import`: shard s on rank
// s % N, so a rank with fewer or smaller shards finishes early and waits for the others, maybe for long):
// a collective with a fixed deadline would end such a job as stalled, one without a deadline could hang.
//
//   ranks 1..N-1 -> rank 0   {count, finished, failed}: at most every DP_TALLY_INTERVAL_S while working,
//                            and once when finished
//   rank 0 -> a rank         PING every DP_TALLY_INTERVAL_S while the rank waits at the end (it knows
//                            rank 0 is alive), STOP once any rank failed (the ranks still working stop
//                            early), VERDICT when every rank has finished (the lowest failed rank, or -1)
// So the progress line on rank 0 has the images of every rank, a failure stops every rank within about
// an interval, and a rank that is silent for longer than the timeout (stopped, stuck in I/O) ends the job
// as stalled (dist/agree.h: named with its host, exit status DP_EXIT_STALLED) instead of a hang.
// Messages travel on a private duplicate of MPI_COMM_WORLD; one rank sends none. Waits poll every 2 ms
// and sleep in between (waiting ranks do not take a core from working ones on a shared node).
#pragma once

#define DP_TALLY_INTERVAL_S 0.5

typedef struct DpTally DpTally;

// Collective over MPI_COMM_WORLD (a communicator dup, under a start-up guard); without MPI started, one
// rank. timeout_s: how long a rank may stay silent (<= 0: forever). An MPI failure here ends the job (the
// others would wait for this rank).
DpTally *dp_tally_open(double timeout_s);
// Adds n to this rank's count. Returns the sum over every rank as far as this rank knows it (rank 0: all
// reports so far; others: their own count), or -1 when a rank has failed and this one should stop.
long dp_tally_add(DpTally *t, long n);
// This rank is done; failed: it failed itself (it prints its own message), 0 when it finished or stopped
// because dp_tally_add said so. Waits for the others. Returns the lowest rank that failed, or -1 when none
// did: the same on every rank. Frees t.
int dp_tally_finish(DpTally *t, int failed);
