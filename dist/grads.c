#define _GNU_SOURCE
#include "dist/grads.h"
#include "dist/agree.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dist/rank.h"

int dp_grads_init(DpGrads *g, ParamSet *ps, MPI_Comm comm, double bucket_kib, Err *e) {
    memset(g, 0, sizeof(*g));
    g->ps = ps;
    if (!(bucket_kib > 0))
        return err_set(e, "dist/grads: bucket size %g KiB must be positive (hint: dist.bucket_kib, a few MiB)",
                       bucket_kib);
    char msg[MPI_MAX_ERROR_STRING];
    dp_guard_begin("MPI_Comm_dup of the gradient communicator", dp_get_timeout());   // blocking collective
    int rc = MPI_Comm_dup(comm, &g->comm);
    dp_guard_end();
    if (rc != MPI_SUCCESS) return err_set(e, "dist/grads: MPI_Comm_dup failed: %s", dp_mpi_strerror(rc, msg, sizeof msg));
    MPI_Comm_set_errhandler(g->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(g->comm, &g->rank);
    MPI_Comm_size(g->comm, &g->size);
    if (dp_arrival_init(&g->arrival, g->comm, e) != 0) return -1;

    int count = ps->count;
    g->bucket_of = malloc((size_t)(count ? count : 1) * sizeof(int));
    g->ready = calloc((size_t)(count ? count : 1), 1);
    g->buckets = calloc((size_t)(count ? count : 1), sizeof(DpBucket));  // at most one bucket per tensor
    g->reqs = malloc((size_t)(count ? count : 1) * sizeof(MPI_Request));
    if (!g->bucket_of || !g->ready || !g->buckets || !g->reqs)
        return err_set(e, "dist/grads: out of memory for %d tensors", count);
    for (int i = 0; i < count; i++) g->bucket_of[i] = -1;

    // Walk trainable tensors from the end of the buffer down, closing a bucket once it reaches the
    // target size. Trainable offsets increase with declaration index (params_finalize), so walking
    // indices backwards walks the buffer backwards.
    size_t target = (size_t)(bucket_kib * 1024.0 / sizeof(real));
    if (target < 1) target = 1;
    DpBucket *cur = NULL;
    for (int i = count - 1; i >= 0; i--) {
        const ParamSpec *s = &ps->specs[i];
        if (s->kind != PARAM_TRAINABLE || s->numel == 0) continue;
        if (!cur || cur->end - cur->begin >= target) {
            cur = &g->buckets[g->n_buckets++];
            cur->begin = cur->end = s->offset + s->numel;
        }
        if (s->offset + s->numel != cur->begin)
            return err_set(e, "dist/grads: tensor '%s' (offset %zu) is not contiguous with the next trainable "
                              "tensor (hint: call params_finalize before dp_grads_init)", s->name, s->offset);
        cur->begin = s->offset;
        cur->n_tensors++;
        g->bucket_of[i] = (int)(cur - g->buckets);
        if (cur->end - cur->begin > (size_t)INT_MAX)
            return err_set(e, "dist/grads: bucket with tensor '%s' has %zu floats, over MPI's int count (hint: "
                              "a smaller bucket size)", s->name, cur->end - cur->begin);
    }
    for (int b = 0; b < g->n_buckets; b++) g->reqs[b] = MPI_REQUEST_NULL;
    dp_grads_begin(g);
    return 0;
}

void dp_grads_free(DpGrads *g) {
    if (g->arrival.reqs) dp_arrival_free(&g->arrival);
    if (g->comm != MPI_COMM_NULL && g->comm) MPI_Comm_free(&g->comm);
    free(g->bucket_of);
    free(g->ready);
    free(g->buckets);
    free(g->reqs);
    memset(g, 0, sizeof(*g));
}

void dp_grads_begin(DpGrads *g) {
    memset(g->ready, 0, (size_t)(g->ps->count ? g->ps->count : 1));
    for (int b = 0; b < g->n_buckets; b++) {
        DpBucket *k = &g->buckets[b];
        k->pending = k->n_tensors;
        k->started = k->done = 0;
        k->t_start = k->t_done = -1;
    }
    g->next_start = 0;
    g->t_begin = MPI_Wtime();
    g->t_finish = g->finish_wait_s = 0;
    g->started_before_finish = g->done_before_finish = 0;
}

static int start_bucket(DpGrads *g, int b, Err *e) {
    DpBucket *k = &g->buckets[b];
    k->started = 1;
    k->t_start = MPI_Wtime() - g->t_begin;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, g->ps->grad + k->begin, (int)(k->end - k->begin), DP_MPI_REAL, MPI_SUM,
                            g->comm, &g->reqs[b]);
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        return err_set(e, "dist/grads: rank %d: MPI_Iallreduce of bucket %d (%zu floats) failed: %s", g->rank, b,
                       k->end - k->begin, dp_mpi_strerror(rc, msg, sizeof msg));
    }
    return 0;
}

void dp_grads_progress(DpGrads *g) {
    // Open MPI moves non-blocking collectives forward only inside MPI calls on this rank: test them.
    for (int b = 0; b < g->n_buckets; b++) {
        DpBucket *k = &g->buckets[b];
        if (!k->started || k->done) continue;
        int flag = 0;
        if (MPI_Test(&g->reqs[b], &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag) {
            k->done = 1;
            k->t_done = MPI_Wtime() - g->t_begin;
        }
    }
}

int dp_grads_mark_ready(DpGrads *g, int tensor_index, Err *e) {
    if (tensor_index < 0 || tensor_index >= g->ps->count)
        return err_set(e, "dist/grads: tensor index %d out of range [0, %d)", tensor_index, g->ps->count);
    int b = g->bucket_of[tensor_index];
    if (b >= 0 && !g->ready[tensor_index]) {
        g->ready[tensor_index] = 1;
        g->buckets[b].pending--;
        // In bucket order only (see grads.h): a ready bucket behind an unready one waits for it.
        while (g->next_start < g->n_buckets && g->buckets[g->next_start].pending == 0)
            if (start_bucket(g, g->next_start++, e) != 0) return -1;
    }
    dp_grads_progress(g);
    return 0;
}

int dp_grads_finish(DpGrads *g, double timeout_s, Err *e) {
    double now = MPI_Wtime();
    g->t_finish = now - g->t_begin;
    dp_grads_progress(g);
    for (int b = 0; b < g->n_buckets; b++) {
        g->started_before_finish += g->buckets[b].started;
        g->done_before_finish += g->buckets[b].done;
    }
    while (g->next_start < g->n_buckets)
        if (start_bucket(g, g->next_start++, e) != 0) return -1;
    if (dp_arrival_post(&g->arrival, e) != 0) return -1;
    char what[96];
    snprintf(what, sizeof what, "dist/grads: gradient allreduce (%d bucket%s, step %ld)", g->n_buckets,
             g->n_buckets == 1 ? "" : "s", g->steps);
    double deadline = timeout_s > 0 ? now + timeout_s : 0;
    if (dp_wait_deadline(g->reqs, g->n_buckets, &g->arrival, deadline, what, &g->finish_wait_s, e) != 0) return -1;
    double t_end = MPI_Wtime() - g->t_begin;
    for (int b = 0; b < g->n_buckets; b++)
        if (!g->buckets[b].done) {
            g->buckets[b].done = 1;
            g->buckets[b].t_done = t_end;
        }
    if (g->size > 1) {
        const real inv = (real)1 / (real)g->size;
        real *grad = g->ps->grad;
        for (size_t i = 0; i < g->ps->n_trainable; i++) grad[i] *= inv;
    }
    g->steps++;
    return 0;
}

// ---- plain helpers over the world ----

int dp_allreduce_mean(real *buf, size_t n, Err *e) {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const size_t chunk = (size_t)1 << 28;  // MPI counts are int
    for (size_t off = 0; off < n; off += chunk) {
        int cnt = (int)(n - off < chunk ? n - off : chunk);
        MPI_Request req;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + off, cnt, DP_MPI_REAL, MPI_SUM, MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) return err_set(e, "dist/grads: MPI_Iallreduce of %d floats failed", cnt);
        if (dp_wait_one(&req, "dist/grads: dp_allreduce_mean", e) != 0) return -1;
    }
    if (size > 1) {
        const real inv = (real)1 / (real)size;
        for (size_t i = 0; i < n; i++) buf[i] *= inv;
    }
    return 0;
}

int dp_allreduce_sum_doubles(double *v, int n, Err *e) {
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return err_set(e, "dist/grads: MPI_Iallreduce of %d doubles failed", n);
    return dp_wait_one(&req, "dist/grads: sum of doubles", e);
}

int dp_mean_doubles(double *v, int n, Err *e) {
    if (dp_allreduce_sum_doubles(v, n, e) != 0) return -1;
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int i = 0; i < n; i++) v[i] /= size;
    return 0;
}
