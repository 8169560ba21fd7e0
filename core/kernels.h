// kernels: the one seam for the heavy math. Every matrix product in ratlip (convolutions via im2col,
// linears, attention) goes through kern_gemm, so the backend (OpenBLAS now, oneDNN later) can change
// without touching a layer. Also owns the scratch workspace the conv kernels borrow.
#pragma once
#include <stddef.h>
#include "core/real.h"

// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, row-major. trans_a/trans_b: 0 or 1.
void kern_gemm(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
               const real *B, int ldb, real beta, real *C, int ldc);

// Same, batched over `batch` independent problems with strides between consecutive A, B, C.
void kern_gemm_batched(int batch, int trans_a, int trans_b, int M, int N, int K, real alpha,
                       const real *A, int lda, size_t stride_a, const real *B, int ldb, size_t stride_b,
                       real beta, real *C, int ldc, size_t stride_c);

// Always double, whatever `real` is: the FID/KID statistics (core/fid.c) are sums in double.
void kern_dgemm(int trans_a, int trans_b, int M, int N, int K, double alpha, const double *A, int lda,
                const double *B, int ldb, double beta, double *C, int ldc);

// A reusable, growing scratch buffer (slot 0..3) for im2col and friends. Not thread-safe: only the
// compute thread of a rank calls kernels. Contents are undefined on return.
real *kern_scratch(int slot, size_t nfloats);
void kern_scratch_free(void);

// Number of BLAS threads; the name of the BLAS kernel in use (OpenBLAS core name, e.g. "SkylakeX").
void kern_set_threads(int n);
int kern_get_threads(void);
const char *kern_backend_name(void);
