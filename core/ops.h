// ops: the tensor operators of RATLIP, forward and backward, as free functions over raw real arrays.
// Layout NCHW (or row-major [rows, cols]), float32. Shapes are in the comments and arguments.
//
// Conventions (every op follows them):
// - forward writes (=) its outputs; it never reads them first.
// - backward ACCUMULATES (+=) into every gradient it is given (input and parameter gradients), so a
//   tensor used twice (residuals, D run on real and fake) just receives two backward calls.
//   Any gradient pointer may be NULL: that gradient is skipped (frozen weights, inputs without grad).
// - Long sums (norm statistics, pooled means) accumulate in double.
// - Caches the backward needs (means, argmax, gates…) are caller-owned buffers, sized by the comment
//   (the networks take them from their activation plan, core/plan.h).
#pragma once
#include <stddef.h>
#include "core/real.h"
#include <stdint.h>

// ---------------------------------------------------------------- linear
// out[N,OUT] = in[N,IN] @ w[OUT,IN]^T + b[OUT]   (b may be NULL)
void linear_forward(real *out, const real *in, const real *w, const real *b, int N, int IN, int OUT);
void linear_backward(real *din, real *dw, real *db, const real *dout, const real *in, const real *w,
                     int N, int IN, int OUT);

// ---------------------------------------------------------------- conv2d
// core/conv.c: a oneDNN direct convolution when ratlip is built with oneDNN (core/onednn.h), else (and
// always in the double build, or with RATLIP_KERNELS=openblas) im2col + kern_gemm; core/kernels.h
// chooses the backend.
typedef struct {
    int N, C, H, W;        // input
    int K;                 // output channels
    int kh, kw;            // kernel
    int sh, sw, ph, pw;    // stride, zero padding
    int OH, OW;            // output (filled by conv_shape)
} ConvShape;
ConvShape conv_shape(int N, int C, int H, int W, int K, int kh, int kw, int sh, int sw, int ph, int pw);
// out[N,K,OH,OW] = conv(in[N,C,H,W], w[K,C,kh,kw]) + b[K] (b may be NULL)
void conv2d_forward(real *out, const real *in, const real *w, const real *b, const ConvShape *s);
void conv2d_backward(real *din, real *dw, real *db, const real *dout, const real *in, const real *w,
                     const ConvShape *s);

// ---------------------------------------------------------------- normalisations
// BatchNorm2d over in[N,C,HW]. Training is split in phases so dist/ can allreduce the per-channel sums
// (sync BN) between them; bn2d_forward_train / bn2d_backward are the single-process compositions.
//   stats:  sums[2C] (double) = {Σx per channel, Σx² per channel} over this process's N·HW values
//   apply:  mean[C], invstd[C] from sums and the total count; out = (x-mean)*invstd*gamma + beta
//   running stats: rm = (1-m)·rm + m·mean, rv = (1-m)·rv + m·var_unbiased  (PyTorch)
void bn2d_stats(double *sums, const real *in, int N, int C, int HW);
void bn2d_mean_invstd(real *mean, real *invstd, const double *sums, double count, int C, real eps);
void bn2d_update_running(real *running_mean, real *running_var, const double *sums, double count, int C,
                         real momentum);
void bn2d_apply(real *out, const real *in, const real *mean, const real *invstd, const real *gamma,
                const real *beta, int N, int C, int HW);
// mean, invstd: [C] outputs kept for backward
void bn2d_forward_train(real *out, real *mean, real *invstd, real *running_mean, real *running_var,
                        const real *in, const real *gamma, const real *beta, int N, int C, int HW, real eps,
                        real momentum);
void bn2d_forward_eval(real *out, const real *in, const real *gamma, const real *beta,
                       const real *running_mean, const real *running_var, int N, int C, int HW, real eps);
//   backward sums: bsums[2C] = {Σ dout, Σ dout·xhat} per channel (allreduced for sync BN)
void bn2d_backward_sums(double *bsums, const real *dout, const real *in, const real *mean, const real *invstd,
                        int N, int C, int HW);
void bn2d_backward_apply(real *din, real *dgamma, real *dbeta, const double *bsums, double count,
                         const real *dout, const real *in, const real *mean, const real *invstd,
                         const real *gamma, int N, int C, int HW);
void bn2d_backward(real *din, real *dgamma, real *dbeta, const real *dout, const real *in, const real *mean,
                   const real *invstd, const real *gamma, int N, int C, int HW);

// GroupNorm: in[N,C,HW], G groups of C/G channels; mean, rstd: [N*G] kept for backward.
// gamma, beta: [C] (may be NULL for no affine).
void groupnorm_forward(real *out, real *mean, real *rstd, const real *in, const real *gamma,
                       const real *beta, int N, int C, int HW, int G, real eps);
void groupnorm_backward(real *din, real *dgamma, real *dbeta, const real *dout, const real *in,
                        const real *mean, const real *rstd, const real *gamma, int N, int C, int HW, int G);

// LayerNorm over the last dim: in[R,D]; mean, rstd: [R].
void layernorm_forward(real *out, real *mean, real *rstd, const real *in, const real *gamma,
                       const real *beta, int R, int D, real eps);
void layernorm_backward(real *din, real *dgamma, real *dbeta, const real *dout, const real *in,
                        const real *mean, const real *rstd, const real *gamma, int R, int D);

// ---------------------------------------------------------------- elementwise activations (n values)
void relu_forward(real *out, const real *in, size_t n);
void relu_backward(real *din, const real *dout, const real *in, size_t n);
void leaky_relu_forward(real *out, const real *in, size_t n, real slope);
void leaky_relu_backward(real *din, const real *dout, const real *in, size_t n, real slope);
void sigmoid_forward(real *out, const real *in, size_t n);
void sigmoid_backward(real *din, const real *dout, const real *out, size_t n);   // uses the output
void tanh_forward(real *out, const real *in, size_t n);
void tanh_backward(real *din, const real *dout, const real *out, size_t n);      // uses the output
void quickgelu_forward(real *out, const real *in, size_t n);                      // x·σ(1.702x)
void quickgelu_backward(real *din, const real *dout, const real *in, size_t n);

// softmax over the last dim of in[R,D]
void softmax_forward(real *out, const real *in, int R, int D);
void softmax_backward(real *din, const real *dout, const real *out, int R, int D);

// ---------------------------------------------------------------- attention (CLIP residual block's MHA)
// in[B,L,D] → out[B,L,D]; H heads of D/H; w_in[3D,D] b_in[3D] packed q,k,v (PyTorch in_proj);
// w_out[D,D] b_out[D]; scale 1/sqrt(D/H); no mask.
// cache: mha_cache_floats(B,L,D,H) floats, written by forward, read by backward.
size_t mha_cache_floats(int B, int L, int D, int H);
void mha_forward(real *out, real *cache, const real *in, const real *w_in, const real *b_in,
                 const real *w_out, const real *b_out, int B, int L, int D, int H);
void mha_backward(real *din, real *dw_in, real *db_in, real *dw_out, real *db_out, const real *dout,
                  const real *in, const real *cache, const real *w_in, const real *w_out, int B, int L, int D,
                  int H);

// ---------------------------------------------------------------- LSTM (PyTorch gate order i, f, g, o)
// One cell step for N sequences: x[N,I], h_prev/c_prev[N,H] → h, c [N,H]; w_ih[4H,I] w_hh[4H,H]
// b_ih, b_hh [4H]. gates[N,4H]: activated gates (σi, σf, tanh g, σo), kept for backward.
// h_prev, c_prev may be NULL (zero state, the first step); pass the same NULLs to the backward.
void lstm_cell_forward(real *h, real *c, real *gates, const real *x, const real *h_prev, const real *c_prev,
                       const real *w_ih, const real *w_hh, const real *b_ih, const real *b_hh, int N, int I,
                       int H);
// dh, dc: gradients arriving at h and c of this step (dc may be NULL). Produces dx, dh_prev, dc_prev
// (accumulated) and weight gradients. c_prev, c: the cell states before/after the step.
void lstm_cell_backward(real *dx, real *dh_prev, real *dc_prev, real *dw_ih, real *dw_hh, real *db_ih,
                        real *db_hh, const real *dh, const real *dc, const real *gates, const real *c_prev,
                        const real *c, const real *x, const real *h_prev, const real *w_ih, const real *w_hh,
                        int N, int I, int H);
// A sequence x[T,N,I] from h0, c0 (NULL = zeros): h_all, c_all [T,N,H], gates_all [T,N,4H].
void lstm_seq_forward(real *h_all, real *c_all, real *gates_all, const real *x, const real *h0,
                      const real *c0, const real *w_ih, const real *w_hh, const real *b_ih, const real *b_hh,
                      int T, int N, int I, int H);
// BPTT. dh_all[T,N,H]: gradient reaching each step's h output (NULL = none); dh_last, dc_last [N,H]:
// extra gradient at the final h, c (NULL = none). dh0, dc0 may be NULL.
void lstm_seq_backward(real *dx, real *dh0, real *dc0, real *dw_ih, real *dw_hh, real *db_ih, real *db_hh,
                       const real *dh_all, const real *dh_last, const real *dc_last, const real *h_all,
                       const real *c_all, const real *gates_all, const real *x, const real *h0, const real *c0,
                       const real *w_ih, const real *w_hh, int T, int N, int I, int H);

// ---------------------------------------------------------------- resizing (in[N,C,H,W] → out[N,C,OH,OW])
// nearest, PyTorch F.interpolate rule: src = min(floor(dst * (real)in/out), in-1)
void resize_nearest_forward(real *out, const real *in, int N, int C, int H, int W, int OH, int OW);
void resize_nearest_backward(real *din, const real *dout, int N, int C, int H, int W, int OH, int OW);
// bilinear, align_corners false (PyTorch rule, source index clamped at 0), forward only
void resize_bilinear_forward(real *out, const real *in, int N, int C, int H, int W, int OH, int OW);

// ---------------------------------------------------------------- pooling
typedef struct {
    int N, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW;
    int count_include_pad;   // average pooling only
} PoolShape;
PoolShape pool_shape(int N, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
                     int count_include_pad);
void avgpool2d_forward(real *out, const real *in, const PoolShape *s);
void avgpool2d_backward(real *din, const real *dout, const PoolShape *s);
// argmax[N*C*OH*OW]: flat input index (within its N,C plane) of each maximum, kept for backward
void maxpool2d_forward(real *out, int32_t *argmax, const real *in, const PoolShape *s);
void maxpool2d_backward(real *din, const real *dout, const int32_t *argmax, const PoolShape *s);
// global average pool: in[N,C,HW] → out[N,C]
void global_avgpool_forward(real *out, const real *in, int N, int C, int HW);
void global_avgpool_backward(real *din, const real *dout, int N, int C, int HW);

// ---------------------------------------------------------------- channel permutations
// out[N,Ca+Cb,HW] = cat(a[N,Ca,HW], b[N,Cb,HW]) along channels; backward splits (da, db may be NULL)
void concat_channels_forward(real *out, const real *a, const real *b, int N, int Ca, int Cb, int HW);
void concat_channels_backward(real *da, real *db, const real *dout, int N, int Ca, int Cb, int HW);
// channel shuffle with `groups`: view(N,groups,C/groups,HW) → transpose(1,2): out[:, j*groups+q] = in[:, q*C/groups+j]
void channel_shuffle_forward(real *out, const real *in, int N, int C, int HW, int groups);
void channel_shuffle_backward(real *din, const real *dout, int N, int C, int HW, int groups);

// ---------------------------------------------------------------- similarity
// out[N] = cos(a[n], b[n]) over D, PyTorch torch.cosine_similarity(dim=1, eps) semantics
void cosine_similarity_forward(real *out, const real *a, const real *b, int N, int D, real eps);
void cosine_similarity_backward(real *da, real *db, const real *dout, const real *a, const real *b, int N, int D,
                                real eps);

// ---------------------------------------------------------------- optimiser
// One Adam step over n values, PyTorch semantics (step = the new step count, ≥ 1):
// m = b1·m + (1-b1)·g; v = b2·v + (1-b2)·g²; p -= lr · (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps)
void adam_step(real *param, const real *grad, real *m, real *v, size_t n, real lr, real beta1, real beta2,
               real eps, long step);
// The same step fused with the generator's exponential moving average, in one pass over memory:
// after each value's update, ema = d·ema + (1-d)·param (bit-identical to adam_step then that loop).
void adam_ema_step(real *param, const real *grad, real *m, real *v, real *ema, real ema_decay, size_t n, real lr,
                   real beta1, real beta2, real eps, long step);
