// onednn: the oneDNN backend of the kernel seam (Debian libdnnl 2.6, old two-step C API). Runs the
// convolutions (forward, backward-data, backward-weights + bias) as oneDNN direct convolutions on
// plain NCHW/OIHW float tensors: oneDNN picks its blocked layouts and cached reorders convert in and
// out. Primitives are created once per (shape, bias, threads, precision) and reused every step.
//
// Compiled for real only in the float core built with RATLIP_ONEDNN; elsewhere (double core, no
// oneDNN) every function says "not available" and conv.c keeps im2col + GEMM.
//
// Environment (read once, at the first call):
//   RATLIP_KERNELS=openblas   convolutions through im2col + OpenBLAS, as without oneDNN
//   RATLIP_CONV_BF16=1        opt-in: bf16 inputs (src, weights, diff_dst), fp32 accumulation and
//                             outputs, on AMX. About 2e-3 relative error; not for training yet.
#pragma once
#include "core/ops.h"

// 1 when convolutions currently run through oneDNN.
int onednn_active(void);
// Switch oneDNN convolutions on (1) or off (0) at run time (tests, benches). Returns onednn_active().
int onednn_enable(int on);
// Switch the opt-in bf16 conv path on or off (initially RATLIP_CONV_BF16). Returns the new setting.
int onednn_conv_bf16(int on);
// Convolutions executed through oneDNN so far (tests check that the backend really ran).
long onednn_conv_count(void);
// "oneDNN 2.6.3 avx512_core_amx" (+ " bf16" when that path is on), or NULL without oneDNN.
const char *onednn_describe(void);
// The ISA oneDNN dispatches to on this CPU ("avx512_core_amx", "avx2", ...), or NULL without oneDNN.
const char *onednn_isa(void);
// OpenMP threads for oneDNN (called by kern_set_threads).
void onednn_set_threads(int n);

// out[N,K,OH,OW] = conv(in, w) + b (b may be NULL). 0 when done; -1 when oneDNN is off or cannot
// run this shape, and the caller computes it itself.
int onednn_conv_forward(real *out, const real *in, const real *w, const real *b, const ConvShape *s);
// din += conv^T(dout, w); dw += Σ dout ⋆ in; db += Σ dout (each may be NULL; db is summed here only
// together with dw, by backward-weights on the way: conv.c sums it itself otherwise). 0 when done, -1
// as above (then nothing has been accumulated).
int onednn_conv_backward(real *din, real *dw, real *db, const real *dout, const real *in, const real *w,
                         const ConvShape *s);

// ---------------------------------------------------------------- GEMMs (core/onednn_gemm.c)
// Row-major C[M,N] = alpha·op(A)·op(B) + beta·C, as kern_gemm. 0 when done, -1 when this build or
// shape cannot (the caller then uses OpenBLAS; nothing has been written).
//   onednn_sgemm:     fp32, dnnl_sgemm (oneDNN's own ISA dispatch)
//   onednn_gemm_bf16: A and B rounded to bf16, fp32 accumulation and C; a cached matmul per shape
int onednn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc);
int onednn_gemm_bf16(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc);
