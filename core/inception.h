// inception: Inception-v3 forward (no backward) to the 2048-d pool3 features FID and KID use, in the
// two variants ratlip evaluates with (spec/metrics-and-io.md §1.4, §3; spec/model.md §6):
//   INCEPTION_FID  pytorch-fid's FID network (TF 2015-12-05 graph): pooling branches of Mixed_5b..7b
//                  are avg_pool 3x3 s1 p1 with count_include_pad=False, Mixed_7c's is max_pool 3x3 s1 p1.
//                  Input: [0,1] → bilinear 299 (align_corners=False) → 2x−1. The default.
//   INCEPTION_TV   torchvision's inception_v3 (what GALIP/RATLIP used): avg_pool counting the padding.
//                  Input: [0,1] → bilinear 299 → x_c·(std_c/0.5) + (mean_c−0.5)/0.5 (ImageNet mean/std,
//                  applied to [0,1] input as GALIP's wrapper does).
// Images come in as generator output, [B,3,S,S] in [-1,1] (x01 = x/2 + 1/2 first). The bilinear resize
// goes to input_size (INCEPTION_SIZE = 299 unless the caller sets another before inception_acts_new:
// eval.inception_size); the network is fully convolutional up to its global average pool, so any side
// from INCEPTION_SIZE_MIN gives 2048 features, comparable only with features made at the same side.
// Every BasicConv2d is conv (no bias) → BatchNorm(eps 0.001, running stats) → ReLU. Parameters carry
// the state_dict names (`Mixed_5b.branch1x1.conv.weight`, `….bn.running_mean`, …; fc/AuxLogits are not
// declared: pool3 does not need them), declared from one table per block type into the PTensor fields
// of IncConv (core/params.h). After loading or initialising, inception_prepare folds BN into
// a per-layer weight and bias (w' = w·γ/√(var+eps), b' = β − mean·γ/√(var+eps)).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/params.h"
#include "core/real.h"

#define INCEPTION_DIM 2048
#define INCEPTION_SIZE 299       // pytorch-fid's (and GALIP's) resize target
#define INCEPTION_SIZE_MIN 75    // smallest side whose stride-2 stages leave Mixed_7a a 3x3 input
#define INCEPTION_SIZE_MAX 1024  // a bound on the activation memory (~1.2 GB per buffer at batch 8)
#define INCEPTION_NCONV 94

typedef enum { INCEPTION_FID = 0, INCEPTION_TV = 1 } InceptionVariant;

typedef struct {
    int cin, cout, kh, kw, sh, sw, ph, pw;
    PTensor w, g, b, rm, rv;     // conv.weight, bn.weight, bn.bias, bn.running_mean, bn.running_var
    real *wf, *bf;               // folded weight [cout,cin,kh,kw], bias [cout]
} IncConv;

typedef struct {
    InceptionVariant variant;
    int input_size;              // side of the resized input, INCEPTION_SIZE after inception_build
    ParamSet ps;                 // frozen weights + BN buffers, state_dict names
    IncConv conv[INCEPTION_NCONV];
    int n_conv;
    int prepared;
} Inception;

// "inception_fid" / "inception_tv": the `network` attribute of weight and statistics files.
const char *inception_network_name(InceptionVariant v);
int inception_variant_from_name(const char *name, InceptionVariant *v);   // 0, or -1 when unknown

int inception_build(Inception *net, InceptionVariant v, Err *e);
// Seeded weights that keep activations O(1) (conv N(0, 2/fan_in), BN γ∈U(.8,1.2), β, mean ∈ U(±.1),
// var ∈ U(.8,1.2)): for running without weight files. Outputs must then say "random-weight features".
void inception_init_random(Inception *net, uint64_t seed);
// Folds BN into the conv weights; call after loading or initialising (and again after any change).
int inception_prepare(Inception *net, Err *e);
void inception_free(Inception *net);

// Activations for batches of up to max_batch images at net->input_size: one core/plan.h buffer, sized by
// a walk of the network without arithmetic. NULL when out of memory (or input_size is out of range).
typedef struct IncActs IncActs;
IncActs *inception_acts_new(const Inception *net, int max_batch);
void inception_acts_free(IncActs *a);
size_t inception_acts_bytes(const IncActs *a);
// img[B,3,S,S] in [-1,1] → feat[B,2048]. B ≤ max_batch; any S up to about 1176·sqrt(max_batch) (the
// [0,1] remap of the input planes passes through an activation buffer).
void inception_forward(const Inception *net, IncActs *a, real *feat, const real *img, int B, int S);
