// stopsig: the stop signals (SIGUSR1, SIGTERM: "checkpoint at the next step boundary and exit")
// taken by one thread that does nothing else, never by a signal handler on a compute thread.
//
// Why: oneDNN 2.x's JIT GEMM kernels point rsp into a heap workspace while they run
// (uxlfoundation/oneDNN#4845, fixed in oneDNN 3.11; Debian 12 ships 2.6). The kernel builds a
// handler's frame at rsp, i.e. inside that heap block, and the process aborts later in free()
// ("corrupted size vs. prev_size"). A handler-based stop crashed ~1 preemption in 8 under load and
// every time under a burst of signals (tests/train/train_faults.py signal_burst). So the training driver blocks
// the stop signals before any thread exists (every thread it starts -- MPI's, the reader, OpenMP's
// workers -- inherits the mask) and one thread receives them with sigwait().
#pragma once
#include <signal.h>

// Blocks SIGUSR1 and SIGTERM in the calling thread: call first, before MPI_Init or any other thread.
// Until stopsig_start, a stop signal waits (pending) instead of ending the process.
void stopsig_block(void);

// Starts the receiving thread (after stopsig_block). Also installs a recording handler for any thread
// that was started before stopsig_block (none are known; a library constructor's pool would be). 0 or -1.
int stopsig_start(void);

// 0, or the number of the first stop signal received.
int stopsig_received(void);

// The signal mask from before stopsig_block: what a spawned child process should start with.
const sigset_t *stopsig_child_mask(void);

// Sends SIG to this process and, when the receiving thread runs, waits (at most 5 s) until it has
// recorded it, so the caller sees stopsig_received() != 0 at once (fault injection: io/fault.c).
void stopsig_send_self(int sig);
