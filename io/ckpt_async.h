// ckpt_async: checkpoints written by a background thread while training goes on.
//
// ckpta_begin copies every network (values, buffers, Adam moments) and the metadata into staging
// buffers at the step boundary — the only pause training sees, one memcpy of the state — and a
// thread writes the copy with ckpt_save's protocol (temporary, fsync, rename: the path is always the
// old complete file or the new one), then applies retention. One write is in flight at a time: the
// next ckpta_begin waits for the previous one, and the driver waits (ckpta_wait) before it exits,
// is preempted, rolls back or resumes. A failed write leaves every earlier checkpoint as it was and
// is reported by the wait that collects it. The staging buffers are allocated at the first begin and
// reused: they cost one more copy of the checkpointed state in memory (rank 0 only).
#pragma once
#include "io/ckpt.h"

typedef struct CkptAsync CkptAsync;

CkptAsync *ckpta_new(void);
// Allocates and touches the staging buffers for these nets ahead of the first checkpoint (whose copy
// would otherwise also pay for the page faults: 1.3 s instead of 0.03 s for the tiny config's 254 MB).
// -1 when out of memory (ckpta_begin then tries again and reports it).
int ckpta_reserve(CkptAsync *w, const CkptNet *nets, int n_nets);
// Waits for the write in flight (its result is kept for the next ckpta_wait/ckpta_poll), stages nets
// and meta, starts writing path. After a successful write: ckpt_retain(retain_dir, keep_last,
// best_name) (retain_dir NULL: none). Returns -1 (e set) only when staging failed (out of memory).
int ckpta_begin(CkptAsync *w, const char *path, const CkptNet *nets, int n_nets, const CkptMeta *meta,
                const char *retain_dir, int keep_last, const char *best_name, Err *e);

// The outcome of a finished write, collected once. Writes not collected in between: the newest
// outcome, except that a failure is kept until it is collected.
typedef struct {
    int collected;        // 1: a write finished since the last collection and this describes it
    int failed;           // 1: it failed; msg says why (the previous checkpoints are untouched)
    char path[1100];      // the checkpoint it wrote (or tried to)
    int64_t step;         // its meta.step
    double write_s;       // seconds the thread spent writing it (and retention)
    double wait_s;        // seconds the caller blocked in ckpta_wait for it (0 for a poll)
    char msg[1024];
} CkptAsyncDone;

// Blocks until no write is in flight; fills *done with the last finished write not yet collected.
void ckpta_wait(CkptAsync *w, CkptAsyncDone *done);
// Non-blocking: collects a finished write into *done (done->collected = 1), or leaves it 0 when the
// write is still running or nothing is pending.
void ckpta_poll(CkptAsync *w, CkptAsyncDone *done);
// Waits for the write in flight, then frees everything.
void ckpta_free(CkptAsync *w);
