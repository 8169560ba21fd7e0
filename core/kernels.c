#include "core/kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#include "core/cpu.h"
#include "core/onednn.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int g_bf16;           // kern_set_precision
static char g_precision[256];
static int g_gemm = -1;      // GEMM_* below; -1 not decided yet
enum { GEMM_OPENBLAS, GEMM_ONEDNN, GEMM_ONEDNN_WIDE };

// See kern_gemm_backend in kernels.h.
static int gemm_mode(void) {
    if (g_gemm >= 0) return g_gemm;
    const char *env = getenv("RATLIP_GEMM"), *all = getenv("RATLIP_KERNELS");
    if (env && !strcmp(env, "onednn")) g_gemm = GEMM_ONEDNN;
    else if ((env && !strcmp(env, "openblas")) || (all && !strcmp(all, "openblas"))) g_gemm = GEMM_OPENBLAS;
    else {
        CpuInfo ci;
        cpu_detect(&ci);
        const char *best = cpu_best_blas_core(&ci);
        g_gemm = best && cpu_blas_core_rank(openblas_get_corename()) < cpu_blas_core_rank(best) ? GEMM_ONEDNN
                                                                                                 : GEMM_ONEDNN_WIDE;
    }
    if (g_gemm != GEMM_OPENBLAS && !kern_gemm_1t_available()) g_gemm = GEMM_OPENBLAS;  // no oneDNN in this build
    return g_gemm;
}

#ifndef RATLIP_F64  // the double core always runs dgemm
// oneDNN's sgemm for this shape? Measured (tests/bench/gemm.sh, Intel Xeon @ 2.80GHz (Ice Lake), OpenBLAS
// SkylakeX, 1 thread):
// oneDNN is 1.1-2.5x faster on the products with N >= 256 columns (CLIP's projections and MLP, NetD/
// NetC's wide layers: most of the GEMM FLOPs) and up to 1.5x slower on the narrow ones.
static int gemm_onednn(int N) {
    int m = gemm_mode();
    return m == GEMM_ONEDNN || (m == GEMM_ONEDNN_WIDE && N >= 256);
}
#endif

const char *kern_gemm_backend(void) {
    static char name[96];
    int m = gemm_mode();
    if (m == GEMM_ONEDNN) snprintf(name, sizeof name, "oneDNN sgemm");
    else if (m == GEMM_ONEDNN_WIDE) snprintf(name, sizeof name, "oneDNN sgemm (N >= 256) + OpenBLAS %s", openblas_get_corename());
    else snprintf(name, sizeof name, "OpenBLAS %s", openblas_get_corename());
    return name;
}

int kern_set_precision(int bf16, int force) {
    CpuInfo ci;
    cpu_detect(&ci);
    int native = ci.amx || ci.avx512_bf16;
    int have = onednn_describe() != NULL;
    // oneDNN 2.6 has bf16 kernels (native or emulated) only from AVX-512 up
    int emulable = have && strstr(onednn_isa(), "avx512") != NULL;
    g_bf16 = bf16 && have && (native || (force && emulable));
    onednn_conv_bf16(g_bf16);
    if (!bf16)
        snprintf(g_precision, sizeof g_precision, "precision: fp32");
    else if (!have)
        snprintf(g_precision, sizeof g_precision,
                 "precision: fp32 (bf16 asked, but this build has no oneDNN: apt-get install libdnnl-dev and rebuild)");
    else if (force && !native && !emulable)
        snprintf(g_precision, sizeof g_precision,
                 "precision: fp32 (bf16 forced, but oneDNN has no bf16 kernels on %s, below AVX-512)", onednn_isa());
    else if (g_bf16)
        snprintf(g_precision, sizeof g_precision,
                 "precision: bf16 convolutions and GEMMs on %s (fp32 accumulation; weights, Adam, BatchNorm, losses fp32)%s",
                 onednn_isa(), native ? "" : " [forced: this CPU has no native bf16, oneDNN emulates it]");
    else
        snprintf(g_precision, sizeof g_precision,
                 "precision: fp32 (bf16 asked, but this CPU has neither AMX nor avx512_bf16: bf16 would be slower "
                 "here than fp32)");
    return g_bf16;
}
int kern_precision_bf16(void) { return g_bf16; }
int kern_precision_fp32_begin(void) {
    int prev = g_bf16;
    g_bf16 = 0;
    onednn_conv_bf16(0);
    return prev;
}
void kern_precision_fp32_end(int prev) {
    g_bf16 = prev;
    onednn_conv_bf16(prev);
}
const char *kern_precision_line(void) {
    if (!g_precision[0]) snprintf(g_precision, sizeof g_precision, "precision: fp32");
    return g_precision;
}

// RATLIP_GEMM_TRACE=1: every distinct GEMM shape is printed to stderr once, as
// "gemm-shape <trans_a> <trans_b> <M> <N> <K>" (tests/bench/gemm.sh times the shapes a step uses).
static void trace_shape(int ta, int tb, int M, int N, int K) {
    static int on = -1, n;
    static int seen[512][5];
    if (on < 0) on = getenv("RATLIP_GEMM_TRACE") && strcmp(getenv("RATLIP_GEMM_TRACE"), "0");
    if (!on) return;
    int key[5] = {ta, tb, M, N, K};
    for (int i = 0; i < n; i++)
        if (!memcmp(seen[i], key, sizeof key)) return;
    if (n < 512) memcpy(seen[n++], key, sizeof key);
    fprintf(stderr, "gemm-shape %d %d %d %d %d\n", ta, tb, M, N, K);
}

void kern_gemm(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
               const real *B, int ldb, real beta, real *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    trace_shape(trans_a, trans_b, M, N, K);
    if (K <= 0) {  // BLAS leaves C untouched when K == 0 only if beta == 1; be explicit
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
#ifdef RATLIP_F64
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#else
    if (g_bf16 && M >= 16 && N >= 16 && K >= 16 && (double)M * N * K >= (double)(1 << 21) &&
        !onednn_gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return;
    if (gemm_onednn(N) && !onednn_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

int kern_gemm_1t_available(void) {
#ifdef RATLIP_F64
    return 0;
#else
    static int avail = -1;
    if (avail < 0) {  // oneDNN's sgemm runs (the float core built with oneDNN)
        float one = 1, c = 0;
        avail = onednn_sgemm(0, 0, 1, 1, 1, 1, &one, 1, &one, 1, 0, &c, 1) == 0;
    }
    return avail;
#endif
}

void kern_gemm_1t(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda, const real *B,
                  int ldb, real beta, real *C, int ldc) {
#ifdef RATLIP_F64
    kern_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    if (onednn_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) {
        fprintf(stderr, "ratlip: kern_gemm_1t without oneDNN (check kern_gemm_1t_available first)\n");
        abort();
    }
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
#ifdef _OPENMP
    omp_set_num_threads(n > 0 ? n : 1);  // ratlip's own loops (core/par.h), also in builds without oneDNN
#endif
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
        snprintf(name, sizeof name, "%s (conv) + %s (gemm)", onednn_describe(), kern_gemm_backend());
    else
        snprintf(name, sizeof name, "%s (conv im2col, gemm)", kern_gemm_backend());
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
