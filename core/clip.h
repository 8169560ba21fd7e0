// clip: the frozen CLIP ViT image tower (OpenAI VisionTransformer semantics), used three ways:
//   encode  - image → feature taps after configured blocks (for NetD) and the projected embedding
//             (for the similarity loss and the CLIP score);
//   mapper  - GALIP's bridge inside NetG: a token grid (skipping the patch conv) with one prompt token
//             appended in configured blocks, returning the token grid (no ln_post / proj).
// Weights are frozen (no parameter gradients) but gradients flow through to the inputs; only
// `ratlip clip train` (core/lit.h) builds the tower trainable and asks for weight gradients.
// Parameter names are the OpenAI state_dict keys `visual.*`, declared once (clip_build) into the
// PTensor fields below (core/params.h). Activations: one core/plan.h buffer per ClipActs (or a slot
// range of a caller's plan: NetG keeps its mapper's activations in its own buffer).
#pragma once
#include <stddef.h>
#include "core/params.h"
#include "core/plan.h"
#include "core/real.h"

#define CLIP_MAX_TAPS 8
// Seed of the random tower used when no CLIP weight file is configured (training, sampling and
// evaluation must agree on it, or scores would compare different towers).
#define CLIP_RANDOM_SEED 1234

typedef struct {
    int image_size, patch, width, layers, heads, embed_dim;
    int grid;                      // image_size / patch
    int taps[CLIP_MAX_TAPS], n_taps;   // blocks (0-based) whose output stream is tapped
    int prompt_first, prompt_last; // mapper: blocks that get a prompt token (inclusive); n_prompts = last-first+1
    int remap_galip;               // 1: x → 0.25x+0.75 (upstream double remap); 0: x → 0.5x+0.5
} ClipDims;

typedef struct {   // visual.transformer.resblocks.{b}
    PTensor in_proj_w, in_proj_b, out_proj_w, out_proj_b;   // attn.*
    PTensor ln1_w, ln1_b;
    PTensor fc_w, fc_b, cproj_w, cproj_b;                   // mlp.c_fc, mlp.c_proj
    PTensor ln2_w, ln2_b;
} ClipBlock;

typedef struct {
    ClipDims d;
    ParamSet ps;   // all PARAM_FROZEN (clip_build) or all PARAM_TRAINABLE (clip_build_trainable), names visual.*
    PTensor class_emb, pos_emb, proj, conv1_w, ln_pre_w, ln_pre_b, ln_post_w, ln_post_b;
    ClipBlock *blk;   // [layers]
} ClipTower;

// Declares and allocates the tower's tensors. Returns 0 / -1 (allocation).
int clip_build(ClipTower *t, const ClipDims *d);
// Same tensors, names and order, but trainable: ps.grad and the Adam moments cover the whole tower.
int clip_build_trainable(ClipTower *t, const ClipDims *d);
// Seeded initialisation when no weight file is given (every report must then say "random-weight CLIP"):
// OpenAI's scales (clip/model.py), declared with each tensor.
void clip_init_random(ClipTower *t, uint64_t seed);
void clip_free(ClipTower *t);

// Activations kept for backward, for a batch of up to max_batch samples of one mode.
typedef struct ClipActs ClipActs;
ClipActs *clip_acts_new(const ClipTower *t, int max_batch, int mapper_mode);
void clip_acts_free(ClipActs *a);
size_t clip_acts_bytes(const ClipActs *a);   // its activation buffer (0 when laid out in a caller's plan)
// The same inside a caller's plan: clip_acts_create makes the bookkeeping (no buffers; NULL when out
// of memory), clip_acts_layout takes its slots (call it from the caller's layout function, both
// passes), clip_acts_free releases the bookkeeping (the caller frees its plan).
ClipActs *clip_acts_create(const ClipTower *t, int max_batch, int mapper_mode);
void clip_acts_layout(Plan *p, ClipActs *a);

// encode: img[B,3,S,S] in [-1,1] (S = image_size; remap and CLIP normalisation happen inside)
//   → taps[B, n_taps, width, grid, grid] (raw residual stream, tokens 1..), emb[B, embed_dim] (may be NULL).
// With emb NULL only the blocks up to the last tap run (the rest influence nothing), and a later
// backward ignores demb. taps may be NULL (embedding only).
void clip_encode_forward(const ClipTower *t, ClipActs *a, real *taps, real *emb, const real *img, int B);
// dtaps, demb may be NULL; dimg accumulates (+=).
void clip_encode_backward(const ClipTower *t, ClipActs *a, real *dimg, const real *dtaps, const real *demb, int B);

// As clip_encode_backward, and also accumulates (+=) every weight gradient into t->ps.grad (the
// tower must come from clip_build_trainable; a frozen tower gets input gradients only). dimg may be NULL.
void clip_encode_backward_params(const ClipTower *t, ClipActs *a, real *dimg, const real *dtaps, const real *demb,
                                 int B);

// mapper: fuse[B,width,grid,grid], prompts[B,n_prompts,width] → map[B,width,grid,grid]
void clip_mapper_forward(const ClipTower *t, ClipActs *a, real *map, const real *fuse, const real *prompts, int B);
// dfuse, dprompts accumulate (+=); either may be NULL.
void clip_mapper_backward(const ClipTower *t, ClipActs *a, real *dfuse, real *dprompts, const real *dmap, int B);
