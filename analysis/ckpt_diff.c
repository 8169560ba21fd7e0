// ckpt_diff: per-tensor comparison of two checkpoints (see analysis.h). A's tensors are kept in
// memory as float32 (the file's type, so nothing is rounded); B is streamed against them.
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/analysis.h"
#include "io/ckpt.h"

typedef struct {
    char *name;
    int ndim;
    int64_t shape[8];
    float *data;
    size_t n;
    // filled while streaming B
    int seen;               // 1: B has it with the same shape; 2: B has it with another shape
    double norm_a, norm_b, norm_d, max_abs;
    int64_t b_shape[8];
    int b_ndim;
    int differs;            // some element's float32 bits differ (NaN payloads and -0/+0 included)
} Entry;

typedef struct {
    Entry *e;
    int n, cap;
    char **only_b;          // names present in B only
    int n_only_b, cap_b;
    int oom;
} Table;

static int keep_a(const char *name, int ndim, const int64_t *shape, const double *data, size_t n, void *user) {
    Table *t = user;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 256;
        Entry *ne = realloc(t->e, (size_t)cap * sizeof *ne);
        if (!ne) return t->oom = 1;
        t->e = ne;
        t->cap = cap;
    }
    Entry *en = &t->e[t->n];
    memset(en, 0, sizeof *en);
    en->name = strdup(name);
    en->ndim = ndim < 8 ? ndim : 8;
    memcpy(en->shape, shape, (size_t)en->ndim * sizeof *shape);
    en->data = malloc((n ? n : 1) * sizeof(float));
    if (!en->name || !en->data) return t->oom = 1;
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        en->data[i] = (float)data[i];
        ss += data[i] * data[i];
    }
    en->n = n;
    en->norm_a = sqrt(ss);
    t->n++;
    return 0;
}

static int same_shape(const Entry *en, int ndim, const int64_t *shape) {
    if (en->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (en->shape[i] != shape[i]) return 0;
    return 1;
}

static int compare_b(const char *name, int ndim, const int64_t *shape, const double *data, size_t n, void *user) {
    Table *t = user;
    Entry *en = NULL;
    for (int i = 0; i < t->n && !en; i++)
        if (!strcmp(t->e[i].name, name)) en = &t->e[i];
    if (!en) {
        if (t->n_only_b == t->cap_b) {
            int cap = t->cap_b ? 2 * t->cap_b : 16;
            char **nb = realloc(t->only_b, (size_t)cap * sizeof *nb);
            if (!nb) return t->oom = 1;
            t->only_b = nb;
            t->cap_b = cap;
        }
        t->only_b[t->n_only_b++] = strdup(name);
        return 0;
    }
    double sb = 0, sd = 0, mx = 0;
    for (size_t i = 0; i < n; i++) sb += data[i] * data[i];
    en->norm_b = sqrt(sb);
    if (!same_shape(en, ndim, shape) || n != en->n) {
        en->seen = 2;
        en->b_ndim = ndim < 8 ? ndim : 8;
        memcpy(en->b_shape, shape, (size_t)en->b_ndim * sizeof *shape);
        return 0;
    }
    en->seen = 1;
    for (size_t i = 0; i < n; i++) {
        double d = data[i] - (double)en->data[i];
        sd += d * d;
        if (d != d) mx = INFINITY;
        else if (fabs(d) > mx) mx = fabs(d);
        float fb = (float)data[i];   // exact: the file holds float32
        if (memcmp(&fb, &en->data[i], sizeof fb) != 0) en->differs = 1;
    }
    en->norm_d = sqrt(sd);
    en->max_abs = mx;
    return 0;
}

static void fmt_shape(char *s, size_t size, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(s, size, "[");
    for (int i = 0; i < ndim && k < size; i++) k += (size_t)snprintf(s + k, size - k, "%s%" PRId64, i ? "," : "", shape[i]);
    if (k < size) snprintf(s + k, size - k, "]");
}

int analysis_ckpt_diff(const char *a, const char *b, int only_changed, FILE *out, long *n_different, Err *e) {
    Table t = {0};
    CkptMeta ma, mb;
    int rc = -1;
    *n_different = 0;
    memset(&ma, 0, sizeof ma);
    memset(&mb, 0, sizeof mb);
    if (ckpt_visit(a, keep_a, &t, &ma, e)) goto done;
    if (t.oom) { err_set(e, "%s: out of memory holding its tensors", a); goto done; }
    if (ckpt_visit(b, compare_b, &t, &mb, e)) goto done;
    if (t.oom) { err_set(e, "%s: out of memory", b); goto done; }

    fprintf(out, "A %s (step %" PRId64 ", world size %" PRId64 ")\nB %s (step %" PRId64 ", world size %" PRId64 ")\n", a,
            ma.step, ma.world_size, b, mb.step, mb.world_size);
    fprintf(out, "%-64s %-18s %12s %12s %12s %11s %11s\n", "tensor", "shape", "|A|", "|B|", "|B-A|", "|B-A|/|A|",
            "max|B-A|");
    double worst = 0;
    const char *worst_name = "";
    long identical = 0;
    for (int i = 0; i < t.n; i++) {
        const Entry *en = &t.e[i];
        char sh[96];
        fmt_shape(sh, sizeof sh, en->ndim, en->shape);
        if (en->seen == 0) {
            (*n_different)++;
            fprintf(out, "%-64s %-18s only in A\n", en->name, sh);
            continue;
        }
        if (en->seen == 2) {
            char shb[96];
            fmt_shape(shb, sizeof shb, en->b_ndim, en->b_shape);
            (*n_different)++;
            fprintf(out, "%-64s %-18s shape differs: B has %s\n", en->name, sh, shb);
            continue;
        }
        int same = !en->differs;
        identical += same;
        *n_different += !same;
        double rel = en->norm_a > 0 ? en->norm_d / en->norm_a : (en->norm_d > 0 ? INFINITY : 0);
        if (rel > worst || (rel != rel)) {
            worst = rel;
            worst_name = en->name;
        }
        if (only_changed && same) continue;
        fprintf(out, "%-64s %-18s %12.6g %12.6g %12.6g %11.4g %11.4g%s\n", en->name, sh, en->norm_a, en->norm_b,
                en->norm_d, rel, en->max_abs, same ? "  =" : "");
    }
    for (int i = 0; i < t.n_only_b; i++) {
        (*n_different)++;
        fprintf(out, "%-64s only in B\n", t.only_b[i]);
    }
    fprintf(out, "%d tensors in A, %d only in B: %ld bit-identical, %ld different; largest relative change %.4g (%s)\n",
            t.n, t.n_only_b, identical, *n_different, worst, worst_name[0] ? worst_name : "-");
    rc = 0;
done:
    for (int i = 0; i < t.n; i++) {
        free(t.e[i].name);
        free(t.e[i].data);
    }
    for (int i = 0; i < t.n_only_b; i++) free(t.only_b[i]);
    free(t.e);
    free(t.only_b);
    ckpt_meta_free(&ma);
    ckpt_meta_free(&mb);
    return rc;
}
