#define _GNU_SOURCE
#include "dist/sync.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dist/rank.h"
#include "dist/watch.h"

uint64_t dp_hash_bytes(const void *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

// Broadcast of n floats in int-sized pieces, each waited for against the deadline.
static int bcast_floats(real *buf, size_t n, int root, const char *what, Err *e) {
    const size_t chunk = (size_t)1 << 28;
    MPI_Datatype t = DP_MPI_REAL;
    for (size_t off = 0; off < n; off += chunk) {
        int cnt = (int)(n - off < chunk ? n - off : chunk);
        MPI_Request req;
        if (MPI_Ibcast(buf + off, cnt, t, root, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
            return err_set(e, "dist/sync: MPI_Ibcast of %s failed", what);
        if (dp_wait_one(&req, what, e) != 0) return -1;
    }
    return 0;
}

int dp_broadcast_params(ParamSet *ps, int root, Err *e) {
    // Sizes first: a rank that built a different network would otherwise read garbage silently.
    unsigned long long sizes[2] = {ps->total, ps->n_trainable};
    char layout[64];
    snprintf(layout, sizeof layout, "%llu/%llu", sizes[0], sizes[1]);
    if (dp_check_same_string("parameter layout (total/trainable floats)", layout, e) != 0) return -1;
    if (bcast_floats(ps->data, ps->total, root, "dist/sync: broadcast of parameters", e) != 0) return -1;
    if (bcast_floats(ps->adam_m, ps->n_trainable, root, "dist/sync: broadcast of Adam m", e) != 0) return -1;
    if (bcast_floats(ps->adam_v, ps->n_trainable, root, "dist/sync: broadcast of Adam v", e) != 0) return -1;
    long step = ps->adam_step;
    MPI_Request req;
    if (MPI_Ibcast(&step, 1, MPI_LONG, root, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
        return err_set(e, "dist/sync: MPI_Ibcast of the Adam step failed");
    if (dp_wait_one(&req, "dist/sync: broadcast of the Adam step", e) != 0) return -1;
    ps->adam_step = step;
    return 0;
}

// Allgathers one 64-bit value per rank; out is [size], caller frees.
static int gather_u64(uint64_t v, uint64_t **out, const char *what, Err *e) {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    *out = malloc((size_t)size * sizeof(uint64_t));
    if (!*out) return err_set(e, "dist/sync: out of memory");
    MPI_Request req;
    if (MPI_Iallgather(&v, 1, MPI_UINT64_T, *out, 1, MPI_UINT64_T, MPI_COMM_WORLD, &req) != MPI_SUCCESS) {
        free(*out);
        *out = NULL;
        return err_set(e, "dist/sync: MPI_Iallgather for %s failed", what);
    }
    if (dp_wait_one(&req, what, e) != 0) return -1;  // on timeout the caller aborts: no free needed
    return 0;
}

// Every rank's v compared with rank 0's: all[size] (caller frees), the comma list of the ranks that
// differ and how many they are, and this rank (for the error message).
typedef struct {
    uint64_t *all;
    int size, rank, n_differ;
    char ranks[512];
} Agreement;

static int agree_u64(uint64_t v, const char *what, Agreement *a, Err *e) {
    memset(a, 0, sizeof *a);
    if (gather_u64(v, &a->all, what, e) != 0) return -1;
    a->size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &a->size);
    MPI_Comm_rank(MPI_COMM_WORLD, &a->rank);
    size_t used = 0;
    for (int r = 1; r < a->size; r++)
        if (a->all[r] != a->all[0]) {
            if (used < sizeof a->ranks)
                used += (size_t)snprintf(a->ranks + used, sizeof a->ranks - used, "%s%d", a->n_differ ? ", " : "", r);
            a->n_differ++;
        }
    return 0;
}

static int check_replicas(const ParamSet *ps, int with_buffers, const char *name, Err *e) {
    char what[128];
    snprintf(what, sizeof what, "dist/sync: replica check of %s", name);
    uint64_t sum = with_buffers ? params_checksum(ps) : params_checksum_values(ps);
    Agreement a;
    if (agree_u64(sum, what, &a, e) != 0) return -1;
    int rc = 0, n = a.n_differ;
    if (n > 0)
        rc = err_set(e, "dist/sync: %s: parameters on rank%s %s differ from rank 0 (checksum %016llx vs %016llx; "
                        "seen on rank %d) (hint: replicas diverged: a rank skipped an update, a reduction was not "
                        "applied everywhere, or nondeterministic kernels)",
                     name, n == 1 ? "" : "s", a.ranks, (unsigned long long)a.all[a.size > 1 ? 1 : 0],
                     (unsigned long long)a.all[0], a.rank);
    free(a.all);
    return rc;
}

int dp_check_replicas(const ParamSet *ps, const char *name, Err *e) { return check_replicas(ps, 1, name, e); }
int dp_check_replicas_values(const ParamSet *ps, const char *name, Err *e) {
    return check_replicas(ps, 0, name, e);
}

int dp_check_same_string(const char *what, const char *s, Err *e) {
    size_t len = strlen(s);
    // Hash with the length folded in, so "ab"+"" and "a"+"b" style collisions need a real collision.
    uint64_t h = dp_hash_bytes(s, len) ^ ((uint64_t)len * 0x9E3779B97F4A7C15ULL);
    char w[160];
    snprintf(w, sizeof w, "dist/sync: comparison of %s", what);
    Agreement a;
    if (agree_u64(h, w, &a, e) != 0) return -1;
    int rc = 0, n = a.n_differ;
    if (n > 0)
        rc = err_set(e, "dist/sync: %s differs between ranks: rank%s %s see%s a different one than rank 0 (seen on "
                        "rank %d) (hint: every rank must see the same files and config: check the paths are on a "
                        "shared file system and identical)",
                     what, n == 1 ? "" : "s", a.ranks, n == 1 ? "s" : "", a.rank);
    free(a.all);
    return rc;
}

int dp_broadcast_string(const char *s, int root, char **out, Err *e) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    long len = rank == root ? (long)strlen(s) : 0;
    MPI_Request req;
    if (MPI_Ibcast(&len, 1, MPI_LONG, root, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
        return err_set(e, "dist/sync: MPI_Ibcast of a string length failed");
    if (dp_wait_one(&req, "dist/sync: string broadcast", e) != 0) return -1;
    *out = malloc((size_t)len + 1);
    if (!*out) return err_set(e, "dist/sync: out of memory for a %ld-byte string", len);
    if (rank == root) memcpy(*out, s, (size_t)len);
    (*out)[len] = '\0';
    if (len > 0) {
        if (MPI_Ibcast(*out, (int)len, MPI_CHAR, root, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
            return err_set(e, "dist/sync: MPI_Ibcast of a string failed");
        if (dp_wait_one(&req, "dist/sync: string broadcast", e) != 0) return -1;
    }
    return 0;
}
