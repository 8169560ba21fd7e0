// kernels: the one seam for the heavy math. Every matrix product in ratlip (linears, attention, the
// im2col convolutions) goes through kern_gemm (OpenBLAS); convolutions run as oneDNN direct
// convolutions (core/onednn.h) when ratlip is built with oneDNN, so the backend can change without
// touching a layer. Also owns the scratch workspace the kernels borrow.
//
// RATLIP_KERNELS=openblas in the environment forces the old path (im2col + OpenBLAS for every conv,
// OpenBLAS for every GEMM), for comparisons and debugging; kern_use_onednn() does the same for the
// convolutions at run time.
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

// A GEMM on the calling thread only, safe to call from inside an OpenMP parallel region (oneDNN's
// sgemm, which runs sequentially there): for many small independent products split over the threads
// by the caller (attention heads). kern_gemm_1t_available() is 0 in builds without oneDNN (and in the
// double core); callers then loop over kern_gemm instead.
int kern_gemm_1t_available(void);
void kern_gemm_1t(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda, const real *B,
                  int ldb, real beta, real *C, int ldc);

// Always double, whatever `real` is: the FID/KID statistics (core/fid.c) are sums in double.
void kern_dgemm(int trans_a, int trans_b, int M, int N, int K, double alpha, const double *A, int lda,
                const double *B, int ldb, double beta, double *C, int ldc);

// A reusable, growing, 64-byte aligned scratch buffer (slot 0..KERN_SCRATCH_SLOTS-1) for im2col and
// friends. Not thread-safe: only the compute thread of a rank calls kernels. Contents are undefined
// on return.
enum { KERN_SCRATCH_SLOTS = 8 };
real *kern_scratch(int slot, size_t nfloats);
void kern_scratch_free(void);

// Threads of the kernels: OpenBLAS's and oneDNN's (OpenMP) together.
void kern_set_threads(int n);
int kern_get_threads(void);
// What is in use, e.g. "oneDNN 2.6.3 avx512_core_amx (conv) + OpenBLAS SkylakeX (gemm)".
const char *kern_backend_name(void);
// OpenBLAS's core name alone (e.g. "Prescott", "SkylakeX"): what jobs/main.c checks to pick a kernel.
const char *kern_blas_corename(void);
// The machine in one line (core/cpu.h's cpu_line): CPU model and vendor, AVX-512 / avx512_bf16 / AMX,
// the ISA oneDNN dispatches to, the OpenBLAS core and where it came from ("auto", "selected by
// ratlip" (jobs/main.c's RATLIP_BLAS_SELECTED), "OPENBLAS_CORETYPE from the environment"). Every
// command's start-up banner and every bench prints it.
const char *kern_cpu_line(void);
// Single-thread SGEMM speed of the OpenBLAS core in use, GFLOP/s: n x n x n products, the fastest
// (in thread CPU time) of those run in about `seconds` of wall time (at least 3). Restores the thread
// count. 0 when out of memory.
double kern_sgemm_gflops(int n, double seconds);
// Environment the kernels want before the process starts (libgomp reads it when it loads, so it
// cannot be changed from inside): OMP_WAIT_POLICY=passive for oneDNN's OpenMP threads when the user
// has not set it. Spinning OpenMP threads are 2-3x slower than sleeping ones as soon as another
// process wants the core (measured: tiny iteration at 2 threads, other load present, 5.5 s vs 1.6 s);
// on an idle machine the difference is within the noise. Returns 1 when it set something and the
// caller should re-exec itself (jobs/main.c does, together with OPENBLAS_CORETYPE).
int kern_startup_env(void);
// Convolutions through oneDNN (1) or im2col + GEMM (0). Returns 1 when oneDNN is now in use (0 when
// this build has no oneDNN).
int kern_use_onednn(int on);

// Precision of the heavy math (train.precision). fp32 (0): everything fp32. bf16 (1): convolutions
// with at least 16 input and output channels, and GEMMs of at least 2^21 multiply-adds with every
// side ≥ 16, take bf16 inputs (rounded to nearest even) and accumulate and write fp32; everything
// else (master weights, Adam, BatchNorm statistics, losses, MA-GP's norm, all reductions) stays fp32.
// bf16 is used only where the CPU computes it natively (AMX or avx512_bf16): elsewhere oneDNN emulates
// it, slower than fp32, and fp32 runs instead unless `force` (tests, comparisons; oneDNN 2.6 emulates
// bf16 only from AVX-512 up, so below that even `force` gives fp32). Needs oneDNN.
// Returns what is now in use (1 bf16, 0 fp32); kern_precision_line() says why in one line.
int kern_set_precision(int bf16, int force);
int kern_precision_bf16(void);
const char *kern_precision_line(void);
// fp32 for a while (evaluation and sample grids inside a bf16 run: FID moves with bf16 features), then
// back: prev = kern_precision_fp32_begin(); ...; kern_precision_fp32_end(prev).
int kern_precision_fp32_begin(void);
void kern_precision_fp32_end(int prev);
// Which fp32 GEMM runs, by shape: oneDNN's sgemm (its own ISA dispatch) for products with N >= 256
// columns, where it measured 1.1-2.5x faster than OpenBLAS's SkylakeX core, OpenBLAS for the narrow
// ones (tests/bench/gemm.sh); oneDNN for every product when the OpenBLAS core is narrower than the
// CPU allows (e.g. OPENBLAS_CORETYPE=Haswell preset on an AVX-512 machine: half the speed). In the
// environment RATLIP_GEMM=openblas or =onednn forces one for all (RATLIP_KERNELS=openblas implies
// RATLIP_GEMM=openblas). The rule depends only on the shape,
// the CPU and the environment, so a resumed run computes exactly as an uninterrupted one.
const char *kern_gemm_backend(void);
