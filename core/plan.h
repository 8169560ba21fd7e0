// plan: the activation memory of one network instance at one batch size, as one flat buffer.
// A network's layout function takes, with plan_take, every buffer its forward keeps for the backward,
// every activation gradient and every scratch array it uses inside a pass. plan_build runs the layout
// twice: a sizing pass (no memory; slot sizes and alignments are only added up), then one zeroed
// allocation and a second pass that hands out the pointers. The peak activation memory is therefore
// known before the first step (plan_bytes) and nothing is allocated during a step.
//
// The buffer has three regions, each a contiguous range in that order:
//   PLAN_ACT      forward activations and whatever else the backward reads (BN statistics, gates);
//   PLAN_GRAD     gradients at the activations and the signals a backward leaves for a later pass;
//   PLAN_SCRATCH  temporaries of one layer call (contents undefined between calls).
// Slots are typed by their element size (real, double, int32_t; bf16 copies of activations and the
// workspaces of fused kernels are meant to be more slots) and start on PLAN_ALIGN (64-byte, one cache
// line / one AVX-512 vector) boundaries.
//
// A layout function may also call the layout of a sub-network (NetG lays out its CLIP mapper's
// activations in its own plan, core/clip.h clip_acts_layout). It must take the same slots in both
// passes and may write bookkeeping fields of the structs it fills, but must not dereference a slot
// pointer: in the sizing pass they are NULL.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/real.h"

#define PLAN_ALIGN 64

typedef enum { PLAN_ACT = 0, PLAN_GRAD = 1, PLAN_SCRATCH = 2, PLAN_REGIONS = 3 } PlanRegion;

typedef struct {
    void *raw;                          // the allocation (NULL while sizing)
    unsigned char *base[PLAN_REGIONS];  // start of each region (NULL while sizing)
    size_t used[PLAN_REGIONS];          // bytes taken so far in each region (the pass in progress)
    size_t size[PLAN_REGIONS];          // bytes of each region once built
    int sizing;                         // 1 during the sizing pass
} Plan;

typedef void (*PlanLayout)(Plan *p, void *ctx);

// Sizes the layout, allocates the buffer (zeroed) and lays it out. 0, or -1 when out of memory (the
// plan is then empty and the slot pointers the layout wrote are not to be used).
int plan_build(Plan *p, PlanLayout layout, void *ctx);
void plan_free(Plan *p);

// n elements of elem_size bytes in region r, PLAN_ALIGN-aligned. NULL in the sizing pass; in the
// layout pass a valid pointer, also for n = 0.
void *plan_take(Plan *p, PlanRegion r, size_t n, size_t elem_size);
static inline real *plan_reals(Plan *p, PlanRegion r, size_t n) { return (real *)plan_take(p, r, n, sizeof(real)); }
static inline double *plan_doubles(Plan *p, PlanRegion r, size_t n) {
    return (double *)plan_take(p, r, n, sizeof(double));
}

// Bytes of the whole buffer (all regions): the activation memory of this network at this batch size.
size_t plan_bytes(const Plan *p);
size_t plan_region_bytes(const Plan *p, PlanRegion r);
