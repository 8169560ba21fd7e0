// netg: the RATLIP generator (OxygenLu/RATLIP NetG), forward and backward, generalised by NetGDims.
//
//   cond = cat(z, s)                                   [B, z_dim + text_dim]   (z first)
//   x    = fc_code(z).view(B, code_ch, cs, cs)         (on z only)
//   p    = fc_prompt(cond).view(B, n_prompts, clip_width)
//   x    = mblocks × M_Block_RAT(x, cond)              conv1 → DFBLK_rnn(mid) → Conv_shuffle → DFBLK_rnn → + x
//   fuse = conv_fuse(x)                                5×5 pad 2, code_ch → clip_width
//   h    = conv(fuse + 0.1·CLIP_mapper(fuse, p))       5×5 pad 2, clip_width → g_channels[0]
//   h    = G_Block_i(h, cond) for i < n_gblocks        nearest upsample to g_sizes[i], sc + r
//   img  = to_rgb(h) = conv3×3(LeakyReLU0.2(h))        → B×3×S×S, no tanh
//
// The RAT (recurrent affine) of the M-blocks has two modes (spec/model.md, decision 1):
//   batch:  16 LSTMs (one per Affine_rnn), each run over the batch axis; γ, β shared by the batch.
//   sample: one LSTM cell per M-block, per-sample h, c carried through the 4·mblocks affines in
//           forward order; γ_t, β_t = MLP(h_t) per sample.
// Parameters live in net->ps with the upstream state_dict names (frozen CLIP excluded: it is the
// shared ClipTower), declared once by netg_build into the PTensor fields of NetG (core/params.h). BatchNorm running_mean/var are PARAM_BUFFER tensors; upstream's int64
// num_batches_tracked (the same value for every BN) is net->bn_batches_tracked.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/clip.h"
#include "core/err.h"
#include "core/params.h"
#include "core/real.h"

#define NETG_MAX_GBLOCKS 8
#define NETG_MAX_MBLOCKS 8

// Filled by the caller from io/config.h ModelConfig (core does not include io/).
typedef struct {
    int z_dim, text_dim;       // cond = z_dim + text_dim
    int code_ch, code_size;    // fc_code grid; code_size = the CLIP mapper's token grid side
    int mblocks, mblock_mid;
    int rat_batch;             // 1: "batch" (released code), 0: "sample" (paper, default)
    int rat_hidden;            // LSTM hidden size (64)
    int g_channels[NETG_MAX_GBLOCKS + 1];   // n_gblocks + 1 entries; [0] = output of `conv`
    int g_sizes[NETG_MAX_GBLOCKS];
    int n_gblocks;
    int shuffle_groups;        // ShuffleAttention G (8)
    int clip_width;            // mapper width (conv_fuse output channels)
    int n_prompts;             // prompt tokens (clip prompt_last - prompt_first + 1)
} NetGDims;

// Sync-BN seam: called in train mode on every BatchNorm's local sums (forward: {Σx, Σx²}; backward:
// {Σdy, Σdy·x̂}; n = 2·C doubles) with *count = this process's N·H·W. An allreduce replaces both by
// the global values. Returns 0, or -1 to abort the pass (netg_forward/backward then return -1).
typedef int (*NetgBnHook)(void *ctx, double *sums, int n, double *count);

// The parameters of each layer type: PTensor views into ps (core/params.h), filled by netg_build.
typedef struct {               // Conv_shuffle(cin → cout) at H×W
    int cin, cout, H, W, G;
    PTensor conv_w;                                   // conv.weight
    PTensor bn_w, bn_b, bn_rm, bn_rv;                 // bn.{weight, bias, running_mean, running_var}
    PTensor cweight, cbias, sweight, sbias, gn_w, gn_b;   // se.*
} NetgConvShuffle;

typedef struct {
    PTensor w, b;
} NetgLinear;

typedef struct {               // γ = L2γ(ReLU(L1γ·in)), β likewise; in_dim → C → C
    int in_dim, C;
    NetgLinear gamma1, gamma2, beta1, beta2;   // fc_gamma.{l1,l2}, fc_beta.{l1,l2}
} NetgAffineMLP;

typedef struct {               // nn.LSTMCell / one-layer nn.LSTM
    PTensor wih, whh, bih, bhh;
} NetgLSTM;

typedef struct {
    PTensor conv1_w, conv1_b;
    NetgLSTM cell;             // sample mode: rat_cell
    NetgLSTM rnn[4];           // batch mode: per affine (fuse1.affine0, affine1, fuse2.affine0, affine1)
    NetgAffineMLP aff[4];
    NetgConvShuffle conv2;
    int first, last;           // declaration index range (for params_mark_ready)
} NetgMBlock;

typedef struct {
    int cin, cout, Sin, S;
    NetgConvShuffle c1, c2;
    NetgAffineMLP aff[4];      // fuse1.affine0, fuse1.affine1 (cin), fuse2.affine0, fuse2.affine1 (cout)
    int has_sc;                // cin != cout: the 1×1 shortcut c_sc exists
    PTensor sc_w, sc_b;
    int first, last;
} NetgGBlock;

typedef struct {
    NetGDims d;
    int cond_dim;
    ParamSet ps;
    PTensor fc_code_w, fc_code_b, conv_fuse_w, conv_fuse_b, conv_w, conv_b, fc_prompt_w, fc_prompt_b;
    PTensor rgb_w, rgb_b;
    NetgMBlock mb[NETG_MAX_MBLOCKS];
    NetgGBlock gb[NETG_MAX_GBLOCKS];
    long bn_batches_tracked;   // upstream's num_batches_tracked (identical for all 16 BNs)
    real bn_eps, bn_momentum;  // 1e-5, 0.1
    NetgBnHook bn_hook;        // NULL = local statistics
    void *bn_hook_ctx;
} NetG;

// Declares every tensor (upstream order, with its init rule) and allocates the ParamSet. Checks the dims.
int netg_build(NetG *net, const NetGDims *d, Err *e);
// PyTorch default initialisation from the counter RNG (RNG_INIT, one counter stream per tensor name),
// plus the explicit constants (affine last layers, BN, ShuffleAttention), as declared. Resets BN running stats.
void netg_init(NetG *net, uint64_t seed);
void netg_free(NetG *net);

// Activations for a batch of up to max_batch samples, the CLIP mapper's included: one core/plan.h
// buffer. clip may be NULL: then the mapper is skipped (map = 0), for tests of the rest of the network only.
typedef struct NetGActs NetGActs;
NetGActs *netg_acts_new(const NetG *net, const ClipTower *clip, int max_batch, Err *e);
void netg_acts_free(NetGActs *a);
size_t netg_acts_bytes(const NetGActs *a);

// z[B,z_dim], s[B,text_dim] → img[B,3,S,S]. train: BN batch statistics (and running-stat update);
// else running statistics. Returns 0, or -1 when the BN hook failed.
int netg_forward(NetG *net, NetGActs *a, const ClipTower *clip, const real *z, const real *s, real *img,
                 int B, int train);
// Backward of the last forward: accumulates (+=) into net->ps.grad and ds_out[B,text_dim] (may be NULL).
int netg_backward(NetG *net, NetGActs *a, const ClipTower *clip, const real *dimg, real *ds_out, int B);
