// plan: sizing pass, one allocation, layout pass (see plan.h).
#include "core/plan.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t round_up(size_t n) { return (n + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN; }

void *plan_take(Plan *p, PlanRegion r, size_t n, size_t elem_size) {
    size_t off = p->used[r];
    p->used[r] = off + round_up(n * elem_size);
    if (p->sizing) return NULL;
    return p->base[r] + off;
}

int plan_build(Plan *p, PlanLayout layout, void *ctx) {
    memset(p, 0, sizeof(*p));
    p->sizing = 1;
    layout(p, ctx);
    size_t total = 0;
    for (int r = 0; r < PLAN_REGIONS; r++) {
        p->size[r] = p->used[r];
        total += p->size[r];
    }
    // calloc keeps large buffers lazily zeroed; the pointer is aligned by hand (aligned_alloc has no
    // zeroing variant)
    p->raw = calloc(1, total + PLAN_ALIGN);
    if (!p->raw) {
        memset(p, 0, sizeof(*p));
        return -1;
    }
    unsigned char *b = (unsigned char *)(((uintptr_t)p->raw + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN);
    for (int r = 0; r < PLAN_REGIONS; r++) {
        p->base[r] = b;
        b += p->size[r];
        p->used[r] = 0;
    }
    p->sizing = 0;
    layout(p, ctx);
    for (int r = 0; r < PLAN_REGIONS; r++)
        if (p->used[r] != p->size[r]) {   // the layout took different slots in its two passes: a bug
            fprintf(stderr, "plan: layout took %zu bytes in region %d, sized %zu\n", p->used[r], r, p->size[r]);
            abort();
        }
    return 0;
}

void plan_free(Plan *p) {
    free(p->raw);
    memset(p, 0, sizeof(*p));
}

size_t plan_bytes(const Plan *p) {
    size_t n = 0;
    for (int r = 0; r < PLAN_REGIONS; r++) n += p->size[r];
    return n;
}

size_t plan_region_bytes(const Plan *p, PlanRegion r) { return p->size[r]; }
