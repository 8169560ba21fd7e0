// netd: GALIP's discriminator on frozen-CLIP feature taps (NetD), its conditional head (NetC), and
// MA-GP with its exact (second-order) parameter gradient.
//
//   NetD(F[B, n_taps, W, g, g]) → out[B, Do, g, g]
//     a = F0;  a = a + γi·Ri(a) + βi·F(i+1)  for the n_taps-1 DBlocks;  out = conv_s(a) + γm·Rm(a)
//     R = conv3x3(no bias) → LeakyReLU(0.2) → conv3x3(no bias) → LeakyReLU(0.2)
//   NetC(out, s[B, T]) → pred[B]:  cat(out, s tiled g×g) → conv k1 valid → LeakyReLU(0.2) → conv k2 valid
//
// Parameter names are upstream's (spec/state-dict.md §3): netD "DBlocks.{i}.{gamma,beta,conv_r.0.weight,
// conv_r.2.weight,conv_s.weight,conv_s.bias}", "main.{gamma,conv_r.0.weight,conv_r.2.weight,conv_s.weight,
// conv_s.bias}" (the DBlocks' conv_s is declared, like upstream, but never used: its gradient stays 0);
// netC "joint_conv.0.weight", "joint_conv.2.weight".
// Backward passes ACCUMULATE parameter gradients into each ParamSet's grad and input gradients into
// the given pointers (NULL = not wanted), like core/ops.h.
// Parameters are declared once (netdc_build) into the PTensor fields below (core/params.h); the
// activations of each use live in one core/plan.h buffer sized at *_acts_new.
#pragma once
#include <stddef.h>
#include "core/err.h"
#include "core/params.h"
#include "core/real.h"

#define NETD_MAX_TAPS 8   // = CLIP_MAX_TAPS

typedef struct {
    int width;       // W: CLIP width = channels of every tap and of the DBlocks (768 paper, 256 tiny)
    int grid;        // g: side of the token grid (7 paper, 8 tiny)
    int n_taps;      // feature maps fed in (3): the first is the input, the others are gated in by β
    int d_out_ch;    // Do: main block output channels (512 paper, 256 tiny)
    int text_dim;    // T: sentence embedding size (512)
    int netc_mid;    // NetC hidden channels (128 paper, 64 tiny)
    int netc_k1;     // NetC first conv kernel (4 paper, 5 tiny), valid
    int netc_k2;     // NetC second conv kernel (4): must bring the grid to 1×1
} NetDDims;

typedef struct {             // DBlocks.{i}
    PTensor gamma, beta, conv_r0_w, conv_r2_w;
    PTensor conv_s_w, conv_s_b;   // declared (upstream has them) but unused: fin == fout
} NetDBlock;

typedef struct {             // main
    PTensor gamma, conv_r0_w, conv_r2_w, conv_s_w, conv_s_b;
} NetDMain;

typedef struct {
    NetDDims d;
    ParamSet netd;   // trainable, upstream NetD names
    ParamSet netc;   // trainable, upstream NetC names
    NetDBlock blk[NETD_MAX_TAPS - 1];   // n_taps - 1 of them
    NetDMain main;
    PTensor joint0_w, joint2_w;   // NetC joint_conv.0.weight, joint_conv.2.weight
} NetDC;

// Declares and allocates both parameter sets (zeroed). Returns 0, or -1 with e naming the bad field.
int netdc_build(NetDC *n, const NetDDims *d, Err *e);
// PyTorch default initialisation from the counter RNG (RNG_INIT, one counter per tensor): conv weights
// and biases U(±1/sqrt(fan_in)); the scalar gates 0.
void netdc_init(NetDC *n, uint64_t seed);
void netdc_free(NetDC *n);

// What a forward keeps for its backward (and for MA-GP). One per use: the trainer keeps separate
// ones for real and fake images, and one NetC state per (features, sentence) pair.
typedef struct NetDActs NetDActs;
typedef struct NetCActs NetCActs;
NetDActs *netd_acts_new(const NetDDims *d, int max_batch);
void netd_acts_free(NetDActs *a);
NetCActs *netc_acts_new(const NetDDims *d, int max_batch);
void netc_acts_free(NetCActs *a);
// Bytes of each one's activation buffer (core/plan.h).
size_t netd_acts_bytes(const NetDActs *a);
size_t netc_acts_bytes(const NetCActs *a);

// taps[B, n_taps, W, g, g] → out[B, Do, g, g]
void netd_forward(const NetDC *n, NetDActs *a, real *out, const real *taps, int B);
// dtaps[B, n_taps, W, g, g] += …; parameter gradients += into n->netd.grad
void netd_backward(NetDC *n, NetDActs *a, real *dtaps, const real *dout, int B);
// The same without parameter gradients (G step: only the gradient into the fake image's taps is wanted;
// skips the weight-gradient GEMMs).
void netd_backward_input(NetDC *n, NetDActs *a, real *dtaps, const real *dout, int B);
// feat[B, Do, g, g], sent[B, T] → pred[B]
void netc_forward(const NetDC *n, NetCActs *a, real *pred, const real *feat, const real *sent, int B);
// dfeat, dsent += …; parameter gradients += into n->netc.grad
void netc_backward(NetDC *n, NetCActs *a, real *dfeat, real *dsent, const real *dpred, int B);
void netc_backward_input(NetDC *n, NetCActs *a, real *dfeat, real *dsent, const real *dpred, int B);

// MA-GP: value = k · mean_b ‖g_b‖^p with g_b = ∂(Σ pred)/∂(taps_b, sent_b) (the norm over all
// n_taps·W·g² + T entries of sample b). Upstream: k = 2 (config train.magp_weight), p = 6.
// Needs `da` and `ca` to hold the forward of the *same* (taps, sent) (the trainer's real/matched
// pass; their stored backward signals are overwritten, which a later netd/netc_backward redoes).
// Accumulates the exact gradient of the value w.r.t. every NetD/NetC parameter into the grads:
// with v_b = ∂value/∂g_b held fixed, ∂value/∂θ = ∂/∂θ Σ_b ⟨v_b, g_b⟩, a Jacobian-vector product through
// the network linearised at the primal activation masks (spec/model.md §3 [derived]).
// Returns the value. gtaps/gsent (may be NULL) receive g itself (written, not accumulated).
typedef struct Magp Magp;
Magp *magp_new(const NetDDims *d, int max_batch);
void magp_free(Magp *m);
size_t magp_bytes(const Magp *m);   // its buffer (core/plan.h)
double magp_forward_backward(NetDC *n, Magp *m, NetDActs *da, NetCActs *ca, int B, real k, real p, real *gtaps,
                             real *gsent);
