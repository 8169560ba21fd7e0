#include "core/params.h"
#include <stdlib.h>
#include <string.h>

int params_declare(ParamSet *ps, const char *name, ParamKind kind, int ndim, const int *shape) {
    if (ps->count == ps->cap) {
        int cap = ps->cap ? 2 * ps->cap : 64;
        ParamSpec *s = realloc(ps->specs, (size_t)cap * sizeof(ParamSpec));
        if (!s) return -1;
        ps->specs = s;
        ps->cap = cap;
    }
    ParamSpec *p = &ps->specs[ps->count];
    memset(p, 0, sizeof(*p));
    strncpy(p->name, name, PARAM_NAME_MAX - 1);
    p->kind = kind;
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->numel *= (size_t)shape[i];
    }
    return ps->count++;
}

int params_finalize(ParamSet *ps) {
    // Offsets: trainable tensors first in declaration order, then frozen, then buffers. The table
    // itself keeps declaration order (= state_dict order), so indices returned by declare stay valid.
    size_t off = 0;
    for (int kind = PARAM_TRAINABLE; kind <= PARAM_BUFFER; kind++) {
        for (int i = 0; i < ps->count; i++)
            if ((int)ps->specs[i].kind == kind) {
                ps->specs[i].offset = off;
                off += ps->specs[i].numel;
            }
        if (kind == PARAM_TRAINABLE) ps->n_trainable = off;
    }
    ps->total = off;
    ps->data = calloc(ps->total ? ps->total : 1, sizeof(real));
    ps->grad = calloc(ps->n_trainable ? ps->n_trainable : 1, sizeof(real));
    ps->adam_m = calloc(ps->n_trainable ? ps->n_trainable : 1, sizeof(real));
    ps->adam_v = calloc(ps->n_trainable ? ps->n_trainable : 1, sizeof(real));
    ps->adam_step = 0;
    return (ps->data && ps->grad && ps->adam_m && ps->adam_v) ? 0 : -1;
}

void params_free(ParamSet *ps) {
    free(ps->specs);
    free(ps->data);
    free(ps->grad);
    free(ps->adam_m);
    free(ps->adam_v);
    memset(ps, 0, sizeof(*ps));
}

int params_find(const ParamSet *ps, const char *name) {
    for (int i = 0; i < ps->count; i++)
        if (strcmp(ps->specs[i].name, name) == 0) return i;
    return -1;
}

real *params_tensor(const ParamSet *ps, int idx) { return ps->data + ps->specs[idx].offset; }

real *params_grad(const ParamSet *ps, int idx) {
    return ps->specs[idx].kind == PARAM_TRAINABLE ? ps->grad + ps->specs[idx].offset : NULL;
}

size_t params_count_kind(const ParamSet *ps, ParamKind kind) {
    size_t n = 0;
    for (int i = 0; i < ps->count; i++)
        if (ps->specs[i].kind == kind) n += ps->specs[i].numel;
    return n;
}

void params_zero_grad(ParamSet *ps) { memset(ps->grad, 0, ps->n_trainable * sizeof(real)); }

void params_mark_ready(const ParamSet *ps, int first, int last) {
    if (!ps->ready_hook) return;
    for (int i = first; i <= last && i < ps->count; i++)
        if (ps->specs[i].kind == PARAM_TRAINABLE) ps->ready_hook(ps->ready_ctx, i);
}

static uint64_t fnv1a(const void *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t params_checksum(const ParamSet *ps) { return fnv1a(ps->data, ps->total * sizeof(real)); }

uint64_t params_checksum_values(const ParamSet *ps) {
    // buffers sit after trainable and frozen tensors (params_finalize)
    return fnv1a(ps->data, (ps->total - params_count_kind(ps, PARAM_BUFFER)) * sizeof(real));
}
