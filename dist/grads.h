// grads: data-parallel gradient averaging over one network's flat gradient buffer (ParamSet.grad,
// [n_trainable] floats, tensors contiguous in declaration order), overlapped with the backward pass.
//
// The buffer is cut once into buckets of about bucket_kib KiB, aligned to tensor boundaries, in
// reverse tensor order (bucket 0 holds the last tensors: the backward pass finishes them first). A
// tensor bigger than the target is a bucket of its own. Per step:
//
//   dp_grads_begin(g)                    before backward (after the gradients are zeroed)
//   dp_grads_mark_ready(g, tensor_index) as each tensor's gradient is final; a bucket whose tensors
//                                        are all ready starts its MPI_Iallreduce (sum, in place) now,
//                                        once every bucket before it has started: MPI requires all
//                                        ranks to start collectives on a communicator in the same
//                                        order, and bucket order is the one order every rank shares
//   dp_grads_finish(g, timeout_s, e)     after backward: starts what is left, waits (polling against
//                                        the deadline), divides by the world size
//
// A rank that does not reach finish in time is named in the error (see dist/watch.h). Timestamps
// per bucket (start, completion, relative to begin) and the finish wait show the overlap.
#pragma once
#include <mpi.h>
#include <stddef.h>
#include "core/err.h"
#include "core/params.h"
#include "dist/watch.h"

typedef struct {
    size_t begin, end;       // float range [begin, end) of ParamSet.grad
    int n_tensors;           // trainable tensors in it
    int pending;             // tensors not yet marked ready this step
    int started, done;
    double t_start, t_done;  // seconds since dp_grads_begin (t_done: when a test first saw it complete)
} DpBucket;

typedef struct {
    ParamSet *ps;
    MPI_Comm comm;           // a dup of the caller's communicator
    int rank, size;
    DpBucket *buckets;
    MPI_Request *reqs;       // [n_buckets], parallel to buckets (MPI_Testall wants an array)
    int n_buckets;
    int next_start;          // buckets [0, next_start) have been started this step
    int *bucket_of;          // [ps->count]: bucket of each tensor, -1 for frozen/buffers
    unsigned char *ready;    // [ps->count]
    DpArrival arrival;
    // per-step figures
    double t_begin;              // MPI_Wtime at dp_grads_begin
    double t_finish;             // seconds since begin when finish was called (= backward end)
    double finish_wait_s;        // how long finish waited for the reductions (the exposed part)
    int started_before_finish;   // buckets started by mark_ready, i.e. overlapped with backward
    int done_before_finish;      // of those, complete before finish was called
    long steps;
} DpGrads;

// Lays out the buckets of ps (after params_finalize). Collective over comm (it dups it).
int dp_grads_init(DpGrads *g, ParamSet *ps, MPI_Comm comm, double bucket_kib, Err *e);
void dp_grads_free(DpGrads *g);
void dp_grads_begin(DpGrads *g);
// tensor_index: index into ps->specs; frozen tensors, buffers and repeated marks are ignored.
int dp_grads_mark_ready(DpGrads *g, int tensor_index, Err *e);
// Lets MPI move in-flight buckets along (mark_ready does it too); callable from long backward loops.
void dp_grads_progress(DpGrads *g);
int dp_grads_finish(DpGrads *g, double timeout_s, Err *e);

// Plain fallbacks over MPI_COMM_WORLD with the default timeout (dp_set_timeout):
int dp_allreduce_mean(real *buf, size_t n, Err *e);           // in place, averaged over ranks
int dp_mean_doubles(double *v, int n, Err *e);                // in place, for logged scalars
int dp_allreduce_sum_doubles(double *v, int n, Err *e);       // in place (sync BatchNorm sums)
