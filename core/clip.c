// clip: the CLIP ViT image tower (encode and mapper modes), forward and backward (input gradients;
// weight gradients too for a trainable tower). Parameters: t->blk[b] and the stem/head PTensors,
// declared once in clip_build_kind; activations: clip_acts_layout's slots in one core/plan.h buffer.
// Residual stream layout is token-major [B, L, W] (L = grid² + 1, the class token first), as in
// OpenAI's model after its permute; blocks that get a mapper prompt run on L+1 tokens.
#include "core/par.h"
#include "core/clip.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/rng.h"
#include <stdlib.h>
#include <string.h>

static const real CLIP_MEAN[3] = {0.48145466, 0.4578275, 0.40821073};
static const real CLIP_STD[3] = {0.26862954, 0.26130258, 0.27577711};
static const real LN_EPS = 1e-5;

// ------------------------------------------------------------------ parameters

void clip_free(ClipTower *t);

// OpenAI's initialisation scales (clip/model.py): embeddings width^-0.5, attention width^-0.5,
// out/c_proj (2·layers)^-0.5·width^-0.5, c_fc (2·width)^-0.5; LayerNorms 1/0; biases 0. The patch
// conv gets U(±1/sqrt(fan_in)). clip_init_random gives each tensor its own counter.
static int clip_build_kind(ClipTower *t, const ClipDims *d, ParamKind kind) {
    memset(t, 0, sizeof(*t));
    t->d = *d;
    t->d.grid = d->image_size / d->patch;
    int W = d->width, G2 = t->d.grid * t->d.grid, E = d->embed_dim, P_ = d->patch;
    t->blk = calloc(d->layers > 0 ? (size_t)d->layers : 1, sizeof(ClipBlock));
    if (!t->blk) return -1;
    real Wr = (real)W;
    real attn_std = 1 / sqrt(Wr), proj_std = attn_std / sqrt(2 * (real)d->layers), fc_std = 1 / sqrt(2 * Wr);
    real conv_bound = 1 / sqrt((real)(3 * P_ * P_));
    ParamInit one = param_const(1), zero = param_const(0), attn = param_normal(0, attn_std);
    ParamInit proj = param_normal(0, proj_std), fc = param_normal(0, fc_std);
    ParamSet *ps = &t->ps;
    // state_dict order (spec/state-dict.md §4.1)
    params_add(ps, &t->class_emb, kind, attn, 1, (int[]){W}, "visual.class_embedding");
    params_add(ps, &t->pos_emb, kind, attn, 2, (int[]){G2 + 1, W}, "visual.positional_embedding");
    params_add(ps, &t->proj, kind, attn, 2, (int[]){W, E}, "visual.proj");
    params_add(ps, &t->conv1_w, kind, param_uniform(-conv_bound, conv_bound), 4, (int[]){W, 3, P_, P_},
               "visual.conv1.weight");
    params_add(ps, &t->ln_pre_w, kind, one, 1, (int[]){W}, "visual.ln_pre.weight");
    params_add(ps, &t->ln_pre_b, kind, zero, 1, (int[]){W}, "visual.ln_pre.bias");
    for (int b = 0; b < d->layers; b++) {
        ClipBlock *k = &t->blk[b];
        struct { PTensor *t; const char *s; ParamInit init; int nd, d0, d1; } blk[] = {
            {&k->in_proj_w, "attn.in_proj_weight", attn, 2, 3 * W, W},
            {&k->in_proj_b, "attn.in_proj_bias", zero, 1, 3 * W, 0},
            {&k->out_proj_w, "attn.out_proj.weight", proj, 2, W, W},
            {&k->out_proj_b, "attn.out_proj.bias", zero, 1, W, 0},
            {&k->ln1_w, "ln_1.weight", one, 1, W, 0},
            {&k->ln1_b, "ln_1.bias", zero, 1, W, 0},
            {&k->fc_w, "mlp.c_fc.weight", fc, 2, 4 * W, W},
            {&k->fc_b, "mlp.c_fc.bias", zero, 1, 4 * W, 0},
            {&k->cproj_w, "mlp.c_proj.weight", proj, 2, W, 4 * W},
            {&k->cproj_b, "mlp.c_proj.bias", zero, 1, W, 0},
            {&k->ln2_w, "ln_2.weight", one, 1, W, 0},
            {&k->ln2_b, "ln_2.bias", zero, 1, W, 0},
        };
        for (size_t j = 0; j < sizeof blk / sizeof blk[0]; j++)
            params_add(ps, blk[j].t, kind, blk[j].init, blk[j].nd, (int[]){blk[j].d0, blk[j].d1},
                       "visual.transformer.resblocks.%d.%s", b, blk[j].s);
    }
    params_add(ps, &t->ln_post_w, kind, one, 1, (int[]){W}, "visual.ln_post.weight");
    params_add(ps, &t->ln_post_b, kind, zero, 1, (int[]){W}, "visual.ln_post.bias");
    if (params_finalize(ps)) {
        clip_free(t);
        return -1;
    }
    return 0;
}

int clip_build(ClipTower *t, const ClipDims *d) { return clip_build_kind(t, d, PARAM_FROZEN); }
int clip_build_trainable(ClipTower *t, const ClipDims *d) { return clip_build_kind(t, d, PARAM_TRAINABLE); }

void clip_init_random(ClipTower *t, uint64_t seed) {
    RngKey key = rng_key(seed, RNG_CLIP);
    for (int i = 0; i < t->ps.count; i++) params_init_tensor(&t->ps, i, key, (uint64_t)i);
}

void clip_free(ClipTower *t) {
    params_free(&t->ps);
    free(t->blk);
    t->blk = NULL;
}

// ------------------------------------------------------------------ activations

typedef struct {
    int L;                       // tokens this block runs on (L or L+1 with a prompt)
    real *in, *ln1, *m1, *r1;    // [B,L,W], [B,L,W], [B*L], [B*L]
    real *cache;                 // mha cache
    real *mid, *ln2, *m2, *r2;   // after attention residual; LN2 output and stats
    real *fc;                    // [B,L,4W] c_fc output before QuickGELU
    real *out;                   // [B,L,W]
} BlockActs;

struct ClipActs {
    Plan plan;                   // own buffer (clip_acts_new); unused when laid out in a caller's plan
    int own_plan;
    ClipDims d;
    int max_batch, mapper, L, Lmax, layers;
    int wgrad;                   // the running backward also accumulates weight gradients
    int B, n_run, has_emb;       // of the last forward
    BlockActs *blk;              // [layers]
    real *img_n;                 // encode: [B,3,S,S] normalised image
    real *x0, *pre_m, *pre_r;    // ln_pre input [B,L,W] and stats [B*L]
    real *stream;                // ln_pre output [B,L,W]
    real *post_x, *post_y, *post_m, *post_r;  // encode: class token [B,W], ln_post output, stats [B]
    real *big1, *big2;           // scratch [B*Lmax*4W] (also holds the patch grid)
    real *s1, *s2, *gS, *gA, *gB;   // scratch [B*Lmax*W]
    real *dimg_n;                // encode: [B,3,S,S]
};

// Weight-gradient view: NULL unless this backward wants weight gradients (a->wgrad; the tower is
// then trainable), so the input-only backward passes NULL everywhere and the ops skip those products.
static real *wg(const ClipActs *a, PTensor t) { return a->wgrad ? t.g : NULL; }

static int has_prompt(const ClipDims *d, int mapper, int b) {
    return mapper && b >= d->prompt_first && b <= d->prompt_last;
}

ClipActs *clip_acts_create(const ClipTower *t, int max_batch, int mapper_mode) {
    const ClipDims *d = &t->d;
    ClipActs *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->d = *d;
    a->max_batch = max_batch;
    a->mapper = mapper_mode;
    a->L = d->grid * d->grid + 1;
    a->Lmax = a->L + (mapper_mode ? 1 : 0);
    a->layers = d->layers;
    a->blk = calloc(d->layers > 0 ? (size_t)d->layers : 1, sizeof(BlockActs));
    if (!a->blk) {
        free(a);
        return NULL;
    }
    for (int b = 0; b < d->layers; b++) a->blk[b].L = a->L + has_prompt(d, mapper_mode, b);
    return a;
}

void clip_acts_layout(Plan *p, ClipActs *a) {
    const ClipDims *d = &a->d;
    int W = d->width, B = a->max_batch, H = d->heads, S = d->image_size;
    size_t nw = (size_t)B * a->Lmax * W;
    for (int b = 0; b < d->layers; b++) {
        BlockActs *k = &a->blk[b];
        size_t n = (size_t)B * k->L;
        k->in = plan_reals(p, PLAN_ACT, n * W);
        k->ln1 = plan_reals(p, PLAN_ACT, n * W);
        k->m1 = plan_reals(p, PLAN_ACT, n);
        k->r1 = plan_reals(p, PLAN_ACT, n);
        k->cache = plan_reals(p, PLAN_ACT, mha_cache_floats(B, k->L, W, H));
        k->mid = plan_reals(p, PLAN_ACT, n * W);
        k->ln2 = plan_reals(p, PLAN_ACT, n * W);
        k->m2 = plan_reals(p, PLAN_ACT, n);
        k->r2 = plan_reals(p, PLAN_ACT, n);
        k->fc = plan_reals(p, PLAN_ACT, n * 4 * W);
        k->out = plan_reals(p, PLAN_ACT, n * W);
    }
    size_t nL = (size_t)B * a->L;
    a->x0 = plan_reals(p, PLAN_ACT, nL * W);
    a->pre_m = plan_reals(p, PLAN_ACT, nL);
    a->pre_r = plan_reals(p, PLAN_ACT, nL);
    a->stream = plan_reals(p, PLAN_ACT, nL * W);
    if (!a->mapper) {
        a->img_n = plan_reals(p, PLAN_ACT, (size_t)B * 3 * S * S);
        a->post_x = plan_reals(p, PLAN_ACT, (size_t)B * W);
        a->post_y = plan_reals(p, PLAN_ACT, (size_t)B * W);
        a->post_m = plan_reals(p, PLAN_ACT, (size_t)B);
        a->post_r = plan_reals(p, PLAN_ACT, (size_t)B);
        a->dimg_n = plan_reals(p, PLAN_GRAD, (size_t)B * 3 * S * S);
    }
    a->gS = plan_reals(p, PLAN_GRAD, nw);
    a->gA = plan_reals(p, PLAN_GRAD, nw);
    a->gB = plan_reals(p, PLAN_GRAD, nw);
    a->big1 = plan_reals(p, PLAN_SCRATCH, nw * 4);
    a->big2 = plan_reals(p, PLAN_SCRATCH, nw * 4);
    a->s1 = plan_reals(p, PLAN_SCRATCH, nw);
    a->s2 = plan_reals(p, PLAN_SCRATCH, nw);
}

static void own_layout(Plan *p, void *ctx) { clip_acts_layout(p, ctx); }

ClipActs *clip_acts_new(const ClipTower *t, int max_batch, int mapper_mode) {
    ClipActs *a = clip_acts_create(t, max_batch, mapper_mode);
    if (!a) return NULL;
    if (plan_build(&a->plan, own_layout, a)) {
        clip_acts_free(a);
        return NULL;
    }
    a->own_plan = 1;
    return a;
}

void clip_acts_free(ClipActs *a) {
    if (!a) return;
    if (a->own_plan) plan_free(&a->plan);
    free(a->blk);
    free(a);
}

size_t clip_acts_bytes(const ClipActs *a) { return a->own_plan ? plan_bytes(&a->plan) : 0; }

// ------------------------------------------------------------------ one residual block

// x = x + MHA(LN1(x)); x = x + MLP(LN2(x)), on k->in [B,L,W] → k->out
static void block_forward(const ClipTower *t, ClipActs *a, int b, int B) {
    const ClipBlock *w = &t->blk[b];
    BlockActs *k = &a->blk[b];
    int W = t->d.width, L = k->L, N = B * L;
    size_t n = (size_t)N * W;
    layernorm_forward(k->ln1, k->m1, k->r1, k->in, w->ln1_w.v, w->ln1_b.v, N, W, LN_EPS);
    mha_forward(a->s1, k->cache, k->ln1, w->in_proj_w.v, w->in_proj_b.v, w->out_proj_w.v, w->out_proj_b.v, B, L, W,
                t->d.heads);
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) k->mid[i] = k->in[i] + a->s1[i];
    layernorm_forward(k->ln2, k->m2, k->r2, k->mid, w->ln2_w.v, w->ln2_b.v, N, W, LN_EPS);
    linear_forward(k->fc, k->ln2, w->fc_w.v, w->fc_b.v, N, W, 4 * W);
    quickgelu_forward(a->big1, k->fc, n * 4);
    linear_forward(a->s1, a->big1, w->cproj_w.v, w->cproj_b.v, N, 4 * W, W);
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) k->out[i] = k->mid[i] + a->s1[i];
}

// din[B,L,W] += d(block)/d(in)^T · dout[B,L,W]; weight gradients accumulate when a->wgrad.
static void block_backward(const ClipTower *t, ClipActs *a, int b, int B, real *din, const real *dout) {
    const ClipBlock *w = &t->blk[b];
    BlockActs *k = &a->blk[b];
    int W = t->d.width, L = k->L, N = B * L;
    size_t n = (size_t)N * W;
    // MLP branch: out = mid + c_proj(gelu(c_fc(LN2(mid))))
    quickgelu_forward(a->big1, k->fc, n * 4);   // recomputed rather than stored (only used as `in`)
    memset(a->big2, 0, n * 4 * sizeof(real));
    linear_backward(a->big2, wg(a, w->cproj_w), wg(a, w->cproj_b), dout, a->big1, w->cproj_w.v, N, 4 * W, W);
    memset(a->big1, 0, n * 4 * sizeof(real));
    quickgelu_backward(a->big1, a->big2, k->fc, n * 4);
    memset(a->s1, 0, n * sizeof(real));
    linear_backward(a->s1, wg(a, w->fc_w), wg(a, w->fc_b), a->big1, k->ln2, w->fc_w.v, N, W, 4 * W);
    memcpy(a->s2, dout, n * sizeof(real));   // d mid
    layernorm_backward(a->s2, wg(a, w->ln2_w), wg(a, w->ln2_b), a->s1, k->mid, k->m2, k->r2, w->ln2_w.v, N, W);
    // attention branch: mid = in + MHA(LN1(in))
    memset(a->s1, 0, n * sizeof(real));
    mha_backward(a->s1, wg(a, w->in_proj_w), wg(a, w->in_proj_b), wg(a, w->out_proj_w), wg(a, w->out_proj_b), a->s2,
                 k->ln1, k->cache, w->in_proj_w.v, w->out_proj_w.v, B, L, W, t->d.heads);
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) din[i] += a->s2[i];
    layernorm_backward(din, wg(a, w->ln1_w), wg(a, w->ln1_b), a->s1, k->in, k->m1, k->r1, w->ln1_w.v, N, W);
}

// Copies the L stream tokens (src laid out with src_L tokens per sample) into block b's input and,
// when the block gets a prompt, appends prompts[:, b - prompt_first, :] as token L.
static void load_block_input(const ClipTower *t, ClipActs *a, int b, int B, const real *src, int src_L,
                             const real *prompts) {
    BlockActs *k = &a->blk[b];
    int W = t->d.width, L = a->L;
    int np = t->d.prompt_last - t->d.prompt_first + 1;
    for (int s = 0; s < B; s++) {
        memcpy(k->in + (size_t)s * k->L * W, src + (size_t)s * src_L * W, (size_t)L * W * sizeof(real));
        if (k->L > L) {
            const real *p = prompts + ((size_t)s * np + (b - t->d.prompt_first)) * W;
            memcpy(k->in + ((size_t)s * k->L + L) * W, p, (size_t)W * sizeof(real));
        }
    }
}

// Runs blocks 0..n_run-1 from a->stream; taps (encode) copied out after the configured blocks.
static void run_blocks(const ClipTower *t, ClipActs *a, int B, real *taps, const real *prompts) {
    const ClipDims *d = &t->d;
    int W = d->width, L = a->L, G2 = L - 1;
    for (int b = 0; b < a->n_run; b++) {
        if (b == 0) load_block_input(t, a, 0, B, a->stream, L, prompts);
        else load_block_input(t, a, b, B, a->blk[b - 1].out, a->blk[b - 1].L, prompts);
        block_forward(t, a, b, B);
        for (int j = 0; taps && j < d->n_taps; j++) {
            if (d->taps[j] != b) continue;
            // taps[s, j, c, tok] = out[s, 1 + tok, c]
            const BlockActs *k = &a->blk[b];
            for (int s = 0; s < B; s++) {
                real *dst = taps + ((size_t)s * d->n_taps + j) * W * G2;
                const real *src = k->out + (size_t)s * k->L * W;
                for (int tok = 0; tok < G2; tok++)
                    for (int c = 0; c < W; c++) dst[(size_t)c * G2 + tok] = src[(size_t)(1 + tok) * W + c];
            }
        }
    }
}

// Backward through blocks n_run-1..0. a->gS holds the gradient w.r.t. the stream after the last run
// block ([B,L,W]); tap gradients are added where they were taken; prompt-token gradients go to
// dprompts. On return a->gS holds the gradient w.r.t. ln_pre's output.
static void run_blocks_backward(const ClipTower *t, ClipActs *a, int B, const real *dtaps, real *dprompts) {
    const ClipDims *d = &t->d;
    int W = d->width, L = a->L, G2 = L - 1;
    int np = d->prompt_last - d->prompt_first + 1;
    for (int b = a->n_run - 1; b >= 0; b--) {
        for (int j = 0; dtaps && j < d->n_taps; j++) {
            if (d->taps[j] != b) continue;
            for (int s = 0; s < B; s++) {
                const real *src = dtaps + ((size_t)s * d->n_taps + j) * W * G2;
                real *dst = a->gS + (size_t)s * L * W;
                for (int tok = 0; tok < G2; tok++)
                    for (int c = 0; c < W; c++) dst[(size_t)(1 + tok) * W + c] += src[(size_t)c * G2 + tok];
            }
        }
        const BlockActs *k = &a->blk[b];
        // gA: output gradient in the block's own layout (the dropped prompt token gets 0)
        memset(a->gA, 0, (size_t)B * k->L * W * sizeof(real));
        for (int s = 0; s < B; s++)
            memcpy(a->gA + (size_t)s * k->L * W, a->gS + (size_t)s * L * W, (size_t)L * W * sizeof(real));
        memset(a->gB, 0, (size_t)B * k->L * W * sizeof(real));
        block_backward(t, a, b, B, a->gB, a->gA);
        for (int s = 0; s < B; s++) {
            memcpy(a->gS + (size_t)s * L * W, a->gB + (size_t)s * k->L * W, (size_t)L * W * sizeof(real));
            if (k->L > L && dprompts) {
                real *dp = dprompts + ((size_t)s * np + (b - d->prompt_first)) * W;
                const real *g = a->gB + ((size_t)s * k->L + L) * W;
                for (int c = 0; c < W; c++) dp[c] += g[c];
            }
        }
    }
}

// x0 [B,L,W] (tokens + positional embedding) → ln_pre → a->stream
static void stem_ln_pre(const ClipTower *t, ClipActs *a, int B) {
    layernorm_forward(a->stream, a->pre_m, a->pre_r, a->x0, t->ln_pre_w.v, t->ln_pre_b.v, B * a->L, t->d.width, LN_EPS);
}

// grid[B,W,G2] (channel-major) → x0[B,L,W] = cat(class, tokens) + pos
static void stem_tokens(const ClipTower *t, ClipActs *a, const real *grid, int B) {
    int W = t->d.width, L = a->L, G2 = L - 1;
    const real *cls = t->class_emb.v, *pos = t->pos_emb.v;
    for (int s = 0; s < B; s++) {
        real *x = a->x0 + (size_t)s * L * W;
        for (int c = 0; c < W; c++) x[c] = cls[c] + pos[c];
        const real *g = grid + (size_t)s * W * G2;
        for (int tok = 0; tok < G2; tok++)
            for (int c = 0; c < W; c++)
                x[(size_t)(1 + tok) * W + c] = g[(size_t)c * G2 + tok] + pos[(size_t)(1 + tok) * W + c];
    }
}

// a->gS holds d(ln_pre output); dgrid[B,W,G2] += d tokens 1.. (channel-major). With a->wgrad also
// ln_pre, class_embedding (token 0) and positional_embedding (every token) gradients.
static void stem_backward(const ClipTower *t, ClipActs *a, int B, real *dgrid) {
    int W = t->d.width, L = a->L, G2 = L - 1;
    size_t n = (size_t)B * L * W;
    memset(a->s1, 0, n * sizeof(real));
    layernorm_backward(a->s1, wg(a, t->ln_pre_w), wg(a, t->ln_pre_b), a->gS, a->x0, a->pre_m, a->pre_r, t->ln_pre_w.v,
                       B * L, W);
    real *dcls = wg(a, t->class_emb), *dpos = wg(a, t->pos_emb);
    for (int s = 0; s < B; s++) {
        const real *x = a->s1 + (size_t)s * L * W;
        if (dcls)
            for (int c = 0; c < W; c++) dcls[c] += x[c];
        if (dpos)
            for (size_t i = 0; i < (size_t)L * W; i++) dpos[i] += x[i];
    }
    for (int s = 0; s < B; s++) {
        const real *x = a->s1 + (size_t)s * L * W;
        real *g = dgrid + (size_t)s * W * G2;
        for (int tok = 0; tok < G2; tok++)
            for (int c = 0; c < W; c++) g[(size_t)c * G2 + tok] += x[(size_t)(1 + tok) * W + c];
    }
}

static void remap_coeffs(const ClipDims *d, real *scale, real *shift) {
    // galip: ((x*0.5+0.5)+1)*0.5 = 0.25x + 0.75 (upstream double remap); standard: [-1,1] → [0,1]
    *scale = d->remap_galip ? (real)0.25 : (real)0.5;
    *shift = d->remap_galip ? (real)0.75 : (real)0.5;
}

static ConvShape patch_shape(const ClipDims *d, int B) {
    return conv_shape(B, 3, d->image_size, d->image_size, d->width, d->patch, d->patch, d->patch, d->patch, 0, 0);
}

// ------------------------------------------------------------------ encode

void clip_encode_forward(const ClipTower *t, ClipActs *a, real *taps, real *emb, const real *img, int B) {
    const ClipDims *d = &t->d;
    int W = d->width, S = d->image_size;
    a->B = B;
    a->has_emb = emb != NULL;
    // Without the embedding, blocks after the last tap do not influence anything: skip them.
    a->n_run = d->layers;
    if (!emb) {
        a->n_run = 0;
        for (int j = 0; j < d->n_taps; j++)
            if (d->taps[j] + 1 > a->n_run) a->n_run = d->taps[j] + 1;
    }
    real scale, shift;
    remap_coeffs(d, &scale, &shift);
    size_t plane = (size_t)S * S;
    for (int s = 0; s < B; s++)
        for (int c = 0; c < 3; c++) {
            const real *x = img + ((size_t)s * 3 + c) * plane;
            real *y = a->img_n + ((size_t)s * 3 + c) * plane;
            PAR_FOR_SIMD(plane)
            for (size_t i = 0; i < plane; i++) y[i] = (scale * x[i] + shift - CLIP_MEAN[c]) / CLIP_STD[c];
        }
    ConvShape cs = patch_shape(d, B);
    conv2d_forward(a->big1, a->img_n, t->conv1_w.v, NULL, &cs);   // [B,W,grid,grid]
    stem_tokens(t, a, a->big1, B);
    stem_ln_pre(t, a, B);
    run_blocks(t, a, B, taps, NULL);
    if (!emb) return;
    // emb = ln_post(x[:,0,:]) @ proj
    const BlockActs *k = &a->blk[d->layers - 1];
    for (int s = 0; s < B; s++) memcpy(a->post_x + (size_t)s * W, k->out + (size_t)s * k->L * W, W * sizeof(real));
    layernorm_forward(a->post_y, a->post_m, a->post_r, a->post_x, t->ln_post_w.v, t->ln_post_b.v, B, W, LN_EPS);
    kern_gemm(0, 0, B, d->embed_dim, W, 1, a->post_y, W, t->proj.v, d->embed_dim, 0, emb, d->embed_dim);
}

// The shared body of both encode backwards: a->wgrad says whether weight gradients accumulate.
static void encode_backward(const ClipTower *t, ClipActs *a, real *dimg, const real *dtaps, const real *demb, int B) {
    const ClipDims *d = &t->d;
    int W = d->width, S = d->image_size, L = a->L;
    memset(a->gS, 0, (size_t)B * L * W * sizeof(real));
    if (demb && a->has_emb) {
        // d post_y = demb @ proj^T ; then ln_post backward into the class token of the last block
        kern_gemm(0, 1, B, W, d->embed_dim, 1, demb, d->embed_dim, t->proj.v, d->embed_dim, 0, a->s2, W);
        real *dproj = wg(a, t->proj);   // [W,E] += post_y[B,W]^T · demb[B,E]
        if (dproj) kern_gemm(1, 0, W, d->embed_dim, B, 1, a->post_y, W, demb, d->embed_dim, 1, dproj, d->embed_dim);
        memset(a->s1, 0, (size_t)B * W * sizeof(real));
        layernorm_backward(a->s1, wg(a, t->ln_post_w), wg(a, t->ln_post_b), a->s2, a->post_x, a->post_m, a->post_r,
                           t->ln_post_w.v, B, W);
        for (int s = 0; s < B; s++)
            for (int c = 0; c < W; c++) a->gS[(size_t)s * L * W + c] += a->s1[(size_t)s * W + c];
    }
    run_blocks_backward(t, a, B, dtaps, NULL);
    size_t G2 = (size_t)(L - 1);
    memset(a->big2, 0, (size_t)B * W * G2 * sizeof(real));
    stem_backward(t, a, B, a->big2);   // d patch grid
    real *dconv = wg(a, t->conv1_w);
    if (!dimg && !dconv) return;
    size_t plane = (size_t)S * S;
    memset(a->dimg_n, 0, (size_t)B * 3 * plane * sizeof(real));
    ConvShape cs = patch_shape(d, B);
    conv2d_backward(dimg ? a->dimg_n : NULL, dconv, NULL, a->big2, a->img_n, t->conv1_w.v, &cs);
    if (!dimg) return;
    real scale, shift;
    remap_coeffs(d, &scale, &shift);
    for (int s = 0; s < B; s++)
        for (int c = 0; c < 3; c++) {
            real f = scale / CLIP_STD[c];
            const real *g = a->dimg_n + ((size_t)s * 3 + c) * plane;
            real *y = dimg + ((size_t)s * 3 + c) * plane;
            PAR_FOR_SIMD(plane)
            for (size_t i = 0; i < plane; i++) y[i] += f * g[i];
        }
}

void clip_encode_backward(const ClipTower *t, ClipActs *a, real *dimg, const real *dtaps, const real *demb, int B) {
    a->wgrad = 0;
    encode_backward(t, a, dimg, dtaps, demb, B);
}

void clip_encode_backward_params(const ClipTower *t, ClipActs *a, real *dimg, const real *dtaps, const real *demb,
                                 int B) {
    a->wgrad = 1;
    encode_backward(t, a, dimg, dtaps, demb, B);
    a->wgrad = 0;
}

// ------------------------------------------------------------------ mapper

void clip_mapper_forward(const ClipTower *t, ClipActs *a, real *map, const real *fuse, const real *prompts, int B) {
    const ClipDims *d = &t->d;
    int W = d->width, L = a->L, G2 = L - 1;
    a->B = B;
    a->has_emb = 0;
    a->n_run = d->layers;
    stem_tokens(t, a, fuse, B);
    stem_ln_pre(t, a, B);
    run_blocks(t, a, B, NULL, prompts);
    // map[s, c, tok] = out[s, 1 + tok, c]  (no ln_post, no proj)
    const BlockActs *k = &a->blk[d->layers - 1];
    for (int s = 0; s < B; s++) {
        const real *src = k->out + (size_t)s * k->L * W;
        real *dst = map + (size_t)s * W * G2;
        for (int tok = 0; tok < G2; tok++)
            for (int c = 0; c < W; c++) dst[(size_t)c * G2 + tok] = src[(size_t)(1 + tok) * W + c];
    }
}

void clip_mapper_backward(const ClipTower *t, ClipActs *a, real *dfuse, real *dprompts, const real *dmap, int B) {
    const ClipDims *d = &t->d;
    int W = d->width, L = a->L, G2 = L - 1;
    memset(a->gS, 0, (size_t)B * L * W * sizeof(real));
    for (int s = 0; s < B; s++) {
        const real *src = dmap + (size_t)s * W * G2;
        real *dst = a->gS + (size_t)s * L * W;
        for (int tok = 0; tok < G2; tok++)
            for (int c = 0; c < W; c++) dst[(size_t)(1 + tok) * W + c] = src[(size_t)c * G2 + tok];
    }
    run_blocks_backward(t, a, B, NULL, dprompts);
    if (dfuse) stem_backward(t, a, B, dfuse);
}
