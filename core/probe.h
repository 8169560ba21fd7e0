// probe: the attribute probe, a small CNN that classifies an image's labelled attributes (the
// synthetic set's shape, colour, background, size; any dataset's /labels columns), one softmax head
// per attribute. Trained on a dataset's real images (io/probe_file.h fits, caches and loads it), then
// used to ask whether generated images show the attributes their captions asked for.
//
// The network (parameter names are those of the equivalent PyTorch module with fields conv1..conv3
// and head):
//   img [nb,3,S,S] in [-1,1] ──resize──▶ x [nb,3,P,P]    P = side. S = P: a copy; S a multiple of P:
//                                                        area (avg pool S/P); else avg pool ⌊S/P⌋
//                                                        (when ≥ 2), then bilinear (core/ops.h)
//   conv1 3x3 s2 p1 (3→32)   + LeakyReLU(0.2) ▶ [nb,32,⌈P/2⌉,⌈P/2⌉]
//   conv2 3x3 s2 p1 (32→64)  + LeakyReLU(0.2) ▶ [nb,64,⌈P/4⌉,⌈P/4⌉]
//   conv3 3x3 s2 p1 (64→128) + LeakyReLU(0.2) ▶ [nb,128,⌈P/8⌉,⌈P/8⌉]
//   global max pool ▶ [nb,128] ──head (linear)──▶ logits [nb,T], T = Σ_a n_classes[a]
// Max, not average: a feature's presence anywhere (a corner, a slanted edge) is what tells a shape,
// whatever its size. Measured on the synthetic set (64x64, 4000 train, 2000 test, io/probe_file.h's
// default fit): shape 0.995 test accuracy with the max, 0.73 with the average (colour, background and
// size ≥ 0.998 with either).
// Head a owns logits [off_a, off_a + n_classes[a]) (off_a = Σ_{b<a} n_classes[b]); its prediction is
// their argmax (the first one on ties), its loss the cross-entropy of their softmax.
// Loss of a batch: the mean over its nb images and the n_attrs heads of the cross-entropy.
// Init: PyTorch's defaults (kaiming_uniform(a=√5): U(±1/sqrt(fan_in)) for weights and biases) from
// (seed, RNG_PROBE), counter = the tensor's declaration index.
// Parameters: one flat ParamSet (core/params.h) with its Adam moments; activations: one core/plan.h
// buffer for max_batch images, so nothing is allocated per step. No file or dataset I/O here.
#pragma once
#include <stdint.h>
#include "core/err.h"
#include "core/ops.h"
#include "core/params.h"
#include "core/plan.h"
#include "core/real.h"

#define PROBE_MAX_ATTRS 16
#define PROBE_MAX_CLASSES 4096     // per attribute
#define PROBE_MIN_SIDE 8
#define PROBE_MAX_SIDE 512
#define PROBE_LAYERS 3
#define PROBE_SLOPE 0.2            // LeakyReLU slope
#define PROBE_WIDTH1 32            // output channels of conv1..conv3
#define PROBE_WIDTH2 64
#define PROBE_WIDTH3 128
// Adam of probe_train_step (PyTorch defaults)
#define PROBE_BETA1 0.9
#define PROBE_BETA2 0.999
#define PROBE_ADAM_EPS 1e-8

typedef struct {
    int n_attrs;
    int n_classes[PROBE_MAX_ATTRS];
    int n_logits;                  // T = Σ n_classes
    int side;                      // P
    int max_batch;                 // B: images per forward/backward pass
    ParamSet ps;                   // conv1.weight, conv1.bias, …, conv3.bias, head.weight [T,128], head.bias [T]
    PTensor conv_w[PROBE_LAYERS], conv_b[PROBE_LAYERS], head_w, head_b;
    ConvShape conv[PROBE_LAYERS];  // at N = B
    // activations (one plan, sized for B images)
    Plan plan;
    real *x;                                       // [B,3,P,P] resized input
    real *c[PROBE_LAYERS], *h[PROBE_LAYERS];       // [B,C_l,H_l,W_l] conv outputs, their LeakyReLU
    real *pool;                                    // [B,128]
    int32_t *argmax;                               // [B,128] where each maximum was (for the backward)
    real *logits, *prob;                           // [B,T] logits, per-head softmax
    real *dc[PROBE_LAYERS], *dh[PROBE_LAYERS];     // gradients at c and h (PLAN_GRAD)
    real *dpool, *dlogits;                         // [B,128], [B,T]
} Probe;

// Declares the parameters (zero) and lays out the activations for max_batch images. n_attrs in
// 1..PROBE_MAX_ATTRS, each n_classes in 2..PROBE_MAX_CLASSES (an attribute with one class tells
// nothing; io/probe_file.c pads it to 2), side in PROBE_MIN_SIDE..PROBE_MAX_SIDE, max_batch ≥ 1.
// 0, or -1 with e saying which argument is wrong (or out of memory); on failure p holds nothing.
int probe_build(Probe *p, int n_attrs, const int *n_classes, int side, int max_batch, Err *e);
// Random init from seed (see above); resets the Adam state. The same seed gives the same weights.
void probe_init(Probe *p, uint64_t seed);
void probe_free(Probe *p);
// First logit of head a.
int probe_logit_offset(const Probe *p, int a);

// img [nb,3,S,S] in [-1,1] (any nb ≥ 0, taken max_batch at a time; any S ≥ 2) → pred [nb,n_attrs]
// class indices; probs [nb,T] (may be NULL): each head's softmax. 0, or -1 with e set (bad S).
int probe_predict_probs(Probe *p, const real *img, int nb, int S, int32_t *pred, real *probs, Err *e);
int probe_predict(Probe *p, const real *img, int nb, int S, int32_t *pred, Err *e);
// pred [nb,n_attrs]: the predictions of the last forward (of nb images; probe_loss_grad's batch before
// its update, for a running training accuracy).
void probe_last_pred(const Probe *p, int nb, int32_t *pred);

// Forward + backward of one batch: img [nb,3,S,S], labels [nb,n_attrs] (label of head a in
// 0..n_classes[a]-1), 1 ≤ nb ≤ max_batch. Sets (=, not +=) p->ps.grad to d loss / dθ and *loss to the
// batch loss (may be NULL). -1 with e naming the image and attribute of an out-of-range label.
int probe_loss_grad(Probe *p, const real *img, const int32_t *labels, int nb, int S, double *loss, Err *e);
// probe_loss_grad, then one Adam step (lr; betas, eps: PROBE_BETA1/2, PROBE_ADAM_EPS) on every parameter.
int probe_train_step(Probe *p, const real *img, const int32_t *labels, int nb, int S, real lr, double *loss,
                     Err *e);

// img [nb,3,S,S] → out [nb,3,side,side] with the probe's resize rule (the first stage above). Any S ≥ 2.
int probe_resize(real *out, const real *img, int nb, int S, int side, Err *e);
