#include "core/kernels.h"
#include "core/cpu.h"
#include "core/onednn.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void kern_gemm(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
               const real *B, int ldb, real beta, real *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {  // BLAS leaves C untouched when K == 0 only if beta == 1; be explicit
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
#ifdef RATLIP_F64
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

void kern_gemm_batched(int batch, int trans_a, int trans_b, int M, int N, int K, real alpha,
                       const real *A, int lda, size_t stride_a, const real *B, int ldb, size_t stride_b,
                       real beta, real *C, int ldc, size_t stride_c) {
    for (int i = 0; i < batch; i++)
        kern_gemm(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
                  C + i * stride_c, ldc);
}

static real *scratch_buf[KERN_SCRATCH_SLOTS];
static size_t scratch_cap[KERN_SCRATCH_SLOTS];

real *kern_scratch(int slot, size_t nfloats) {
    if (nfloats > scratch_cap[slot]) {
        free(scratch_buf[slot]);
        size_t cap = nfloats + nfloats / 4 + 1024;
        size_t bytes = (cap * sizeof(real) + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
        scratch_buf[slot] = aligned_alloc(64, bytes);          // oneDNN's blocked kernels like 64-byte rows
        if (!scratch_buf[slot]) abort();  // out of memory in a kernel: nothing sensible to return
        scratch_cap[slot] = cap;
    }
    return scratch_buf[slot];
}

void kern_scratch_free(void) {
    for (int i = 0; i < KERN_SCRATCH_SLOTS; i++) {
        free(scratch_buf[i]);
        scratch_buf[i] = NULL;
        scratch_cap[i] = 0;
    }
}

void kern_set_threads(int n) {
    openblas_set_num_threads(n > 0 ? n : 1);
    onednn_set_threads(n);
}
int kern_get_threads(void) { return openblas_get_num_threads(); }
const char *kern_blas_corename(void) { return openblas_get_corename(); }
int kern_use_onednn(int on) { return onednn_enable(on); }

int kern_startup_env(void) {
#if defined(RATLIP_ONEDNN) && !defined(RATLIP_F64)
    if (getenv("OMP_WAIT_POLICY")) return 0;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    return 1;
#else
    return 0;
#endif
}

const char *kern_backend_name(void) {
    static char name[192];
    if (onednn_active())
        snprintf(name, sizeof name, "%s (conv) + OpenBLAS %s (gemm)", onednn_describe(), openblas_get_corename());
    else
        snprintf(name, sizeof name, "OpenBLAS %s (conv im2col, gemm)", openblas_get_corename());
    return name;
}

const char *kern_cpu_line(void) {
    static char line[320];
    CpuInfo ci;
    cpu_detect(&ci);
    const char *env = getenv("OPENBLAS_CORETYPE"), *sel = getenv("RATLIP_BLAS_SELECTED");
    const char *from = !env ? "auto" : sel && !strcasecmp(sel, env) ? "selected by ratlip"
                                                                     : "OPENBLAS_CORETYPE from the environment";
    cpu_line(line, sizeof line, &ci, onednn_isa(), openblas_get_corename(), from);
    return line;
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double kern_sgemm_gflops(int n, double seconds) {
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(3 * nn * sizeof(float));
    if (!a || n <= 0) {
        free(a);
        return 0;
    }
    float *b = a + nn, *c = b + nn;
    for (size_t i = 0; i < 2 * nn; i++) a[i] = (float)((int)(i % 13) - 6) * 0.125f;
    int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);  // warm-up
    // each product timed in this thread's CPU time (one thread: OpenBLAS computes in the caller), so
    // the time the thread waits for a core on a loaded machine is not counted; the budget is wall time
    double best = 1e30, start = clock_s(CLOCK_MONOTONIC);
    for (int reps = 0; reps < 3 || (clock_s(CLOCK_MONOTONIC) - start < seconds && reps < 10000); reps++) {
        double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
        if (dt < best) best = dt;
    }
    openblas_set_num_threads(threads);
    free(a);
    return best > 0 ? 2.0 * (double)n * (double)n * (double)n / best * 1e-9 : 0;
}

void kern_dgemm(int trans_a, int trans_b, int M, int N, int K, double alpha, const double *A, int lda,
                const double *B, int ldb, double beta, double *C, int ldc) {
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
}
