// gblocks: the generator's building blocks, internal to netg.c: Conv_shuffle (conv → BatchNorm →
// LeakyReLU(0.01) → ShuffleAttention), the affine MLPs that make γ, β, and the DFBLK modulation
// (y = γ·x + β → LeakyReLU(0.2), twice). Shapes NCHW; parameters are the PTensor fields of the layer
// structs in netg.h; each *_acts_layout takes its slots in the NetGActs plan (core/plan.h).
#pragma once
#include <stddef.h>
#include "core/netg.h"
#include "core/plan.h"

// ---------------------------------------------------------------- Conv_shuffle
typedef struct {
    const real *in;      // [B,cin,HW] the layer input (not owned)
    real *y;             // [B,cout,HW] conv output (BN input)
    real *a;             // [B,cout,HW] LeakyReLU(BN(y)) = ShuffleAttention input
    real *xhat;          // [B,cout/2,HW] instance-normalised x1 halves (spatial branch)
    real *sg;            // [B,cout/2,HW] spatial gate σ(sw·n + sb)
    real *out;           // [B,cout,HW] after channel_shuffle(2)
    real *mean, *invstd; // [cout] BN statistics used (batch or running)
    real *cmean, *cgate; // [B·G·k] channel branch: pooled mean, gate
    real *rstd;          // [B·G·k] spatial branch instance-norm 1/std
    double *sums;        // [2·cout] BN forward / backward sums
    int train;
} NetgCsActs;
void netg_cs_acts_layout(Plan *p, NetgCsActs *a, const NetgConvShuffle *cs, int B);
// out = Conv_shuffle(in). Train: batch statistics through net->bn_hook, running stats updated.
int netg_cs_forward(NetG *net, const NetgConvShuffle *cs, NetgCsActs *a, const real *in, int B, int train);
// din += ∂/∂in; parameter grads += ; s0, s1: scratch of B·cout·HW each.
int netg_cs_backward(NetG *net, const NetgConvShuffle *cs, NetgCsActs *a, const real *dout, real *din, real *s0,
                     real *s1, int B);

// ---------------------------------------------------------------- affine MLP (γ, β makers)
typedef struct {
    real *rg, *rb;           // [N,C] ReLU outputs of the first layers
    real *gamma, *beta;      // [N,C]
    real *dgamma, *dbeta;    // [N,C] gradients arriving at γ, β (zeroed by the forward)
    real *tmp;               // [N,C] scratch
} NetgMlpActs;
void netg_mlp_acts_layout(Plan *p, NetgMlpActs *a, int N, int C);
// in[N,in_dim] → gamma, beta [N,C]; clears dgamma, dbeta.
void netg_mlp_forward(const NetgAffineMLP *m, NetgMlpActs *a, const real *in, int N);
// from a->dgamma, a->dbeta: parameter grads += and din[N,in_dim] += (din may be NULL).
void netg_mlp_backward(const NetgAffineMLP *m, NetgMlpActs *a, real *din, const real *in, int N);

// ---------------------------------------------------------------- DFBLK modulation
// out = LeakyReLU0.2(γ·x + β), x[B,C,HW]; γ, β are [B,C] (per_sample) or [C] (shared by the batch).
void netg_mod_forward(real *out, const real *x, const real *gamma, const real *beta, int B, int C, int HW,
                      int per_sample);
// dout is the gradient at out (after the LeakyReLU); out is the forward output (its sign is the
// pre-activation's). dx += (may be NULL; must not alias dout); dgamma, dbeta += (layout of γ, β).
void netg_mod_backward(real *dx, real *dgamma, real *dbeta, const real *dout, const real *out, const real *x,
                       const real *gamma, int B, int C, int HW, int per_sample);

// ---------------------------------------------------------------- the generator's activations
typedef struct {
    const real *in;          // [B,code_ch,HW] block input
    real *h1;                // conv1 output [B,mid,HW]
    real *t[4];              // DFBLK_rnn outputs: t0, t1 [B,mid,HW]; t2, t3 [B,code_ch,HW]
    NetgCsActs conv2;
    real *out;               // [B,code_ch,HW] = in + t3
} NetgMBActs;

typedef struct {
    const real *in;          // [B,cin,Sin²] block input
    real *xu;                // [B,cin,S²] upsampled input (NULL when Sin == S)
    const real *xin;         // xu or in
    real *sc;                // [B,cout,S²] 1×1 shortcut (NULL when cin == cout)
    real *t[4];              // DFBLK outputs: t0, t1 [B,cin,S²]; t2, t3 [B,cout,S²]
    NetgCsActs c1, c2;
    NetgMlpActs aff[4];      // per-sample γ, β from cond
    real *out;               // [B,cout,S²]
} NetgGBActs;

struct NetGActs {
    Plan plan;
    const NetG *net;         // the network the plan was laid out for
    int max_batch;
    ClipActs *clip;
    real *cond;              // [B,cond]
    real *z;                 // [B,z_dim] copy of the noise (fc_code's input)
    real *code;              // [B,code_ch,cs²] fc_code output
    real *prompts;           // [B,n_prompts·clip_width]
    real *fuse, *map, *mix;  // [B,clip_width,cs²]; mix = fuse + 0.1·map
    real *h0;                // [B,g_channels[0],cs²] output of `conv`
    real *lrelu;             // [B,C_last,S²] to_rgb's LeakyReLU output
    NetgMBActs mb[NETG_MAX_MBLOCKS];
    NetgGBActs gb[NETG_MAX_GBLOCKS];
    // RAT, one slot s per M-block affine (s = 4j + q, forward order):
    //   sample: step s of the carried cell: rh, rc [s][B,H], rgates [s][B,4H]
    //   batch:  affine s's LSTM over the batch axis: rh, rc [s][T=B,H], rgates [s][B,4H]
    real *rh, *rc, *rgates, *rdh;   // rdh: gradient at rh (sample) / at the last h (batch)
    real *carry[4];          // [B,H] BPTT carries (dh, dc of the next step; dh, dc of the previous)
    NetgMlpActs rat[4 * NETG_MAX_MBLOCKS];   // N = B (sample) or 1 (batch)
    // backward
    real *dcond, *dprompts, *dfuse, *dmap, *dmix;
    real *g[7];              // scratch, each of the largest activation size
    size_t gsize;
};

// The RAT (rat.c): γ, β of every M-block affine into a->rat[s] from cond; backward from
// a->rat[s].dgamma/dbeta into parameter grads and a->dcond.
void netg_rat_forward(NetG *net, NetGActs *a, int B);
void netg_rat_backward(NetG *net, NetGActs *a, int B);
