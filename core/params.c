#include "core/params.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int params_declare(ParamSet *ps, const char *name, ParamKind kind, int ndim, const int *shape) {
    if (ps->count == ps->cap) {
        int cap = ps->cap ? 2 * ps->cap : 64;
        ParamSpec *s = realloc(ps->specs, (size_t)cap * sizeof(ParamSpec));
        if (!s) return ps->decl_failed = 1, -1;
        ps->specs = s;
        PTensor **b = realloc(ps->bind, (size_t)cap * sizeof(PTensor *));
        if (!b) return ps->decl_failed = 1, -1;
        ps->bind = b;
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
    if (ps->bind) ps->bind[ps->count] = NULL;
    return ps->count++;
}

int params_add(ParamSet *ps, PTensor *t, ParamKind kind, ParamInit init, int ndim, const int *shape,
               const char *fmt, ...) {
    char name[PARAM_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PARAM_NAME_MAX) return ps->decl_failed = 1, -1;
    int i = params_declare(ps, name, kind, ndim, shape);
    if (i < 0) return -1;
    ps->specs[i].init = init;
    if (ps->bind) ps->bind[i] = t;
    return i;
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
    if (!ps->data || !ps->grad || !ps->adam_m || !ps->adam_v || ps->decl_failed) return -1;
    for (int i = 0; i < ps->count; i++) {   // fill the network's views
        PTensor *t = ps->bind[i];
        if (!t) continue;
        t->v = params_tensor(ps, i);
        t->g = params_grad(ps, i);
        t->i = i;
    }
    free(ps->bind);
    ps->bind = NULL;
    return 0;
}

void params_init_tensor(ParamSet *ps, int i, RngKey key, uint64_t counter) {
    const ParamSpec *s = &ps->specs[i];
    real *x = params_tensor(ps, i);
    switch (s->init.rule) {
    case PARAM_INIT_NONE: break;
    case PARAM_INIT_CONST:
        for (size_t k = 0; k < s->numel; k++) x[k] = s->init.a;
        break;
    case PARAM_INIT_UNIFORM: rng_fill_uniform(x, s->numel, s->init.a, s->init.b, key, counter); break;
    case PARAM_INIT_NORMAL: rng_fill_normal(x, s->numel, s->init.a, s->init.b, key, counter); break;
    }
}

void params_free(ParamSet *ps) {
    free(ps->bind);
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
