// bench_gemm: the fp32 (and bf16) GEMM kernels behind the seam, per shape (issue 14, item 4). For each
// "ta tb M N K" line on stdin (tests/bench/gemm.sh feeds the shapes one training step uses, traced
// with RATLIP_GEMM_TRACE), times at one thread, fastest of the repetitions in about `seconds`:
//   OpenBLAS with the core in use (OPENBLAS_CORETYPE / auto), oneDNN's sgemm, and oneDNN bf16 matmul
//   (bf16 inputs, fp32 accumulation; only where the CPU has AMX or avx512_bf16, else "-")
// and prints GFLOP/s of each, which one kern_gemm uses (kern_gemm_backend), and the totals weighted
// by each shape's FLOPs. Not a pass/fail test.
//   usage: bench_gemm [seconds per kernel and shape (default 0.2)] < shapes
#define _GNU_SOURCE
#include "core/kernels.h"
#include "core/onednn.h"
#include "core/rng.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);  // one thread: waiting for a core is not counted
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double wall_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { K_BLAS, K_DNNL, K_BF16, NK };

static void run(int k, int ta, int tb, int M, int N, int K, const float *A, const float *B, float *C) {
    int lda = ta ? M : K, ldb = tb ? K : N;
    if (k == K_BLAS)
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1, A, lda,
                    B, ldb, 0, C, N);
    else if (k == K_DNNL) onednn_sgemm(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C, N);
    else onednn_gemm_bf16(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C, N);
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 0.2;
    kern_set_threads(1);
    int bf16 = kern_set_precision(1, 0);
    kern_set_precision(0, 0);
    int have_dnnl = kern_gemm_1t_available();  // oneDNN's sgemm is in this build
    printf("# %s\n# kern_gemm uses: %s | bf16 matmul: %s\n", kern_cpu_line(), kern_gemm_backend(),
           bf16 ? "native" : "not timed (no AMX / avx512_bf16 here)");
    printf("%-2s %-2s %6s %6s %6s %10s %10s %10s  %s\n", "ta", "tb", "M", "N", "K", "OpenBLAS", "oneDNN", "bf16",
           "GFLOP/s (1 thread)");
    double flop_sum = 0, t_sum[NK] = {0};
    int ta, tb, M, N, K;
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        if (sscanf(line, "%d %d %d %d %d", &ta, &tb, &M, &N, &K) != 5) continue;
        size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
        float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4);
        rng_fill_normal(A, na, 0, 1, rng_key(1, RNG_INIT), 1);
        rng_fill_normal(B, nb, 0, 1, rng_key(1, RNG_INIT), 2);
        double flop = 2.0 * M * N * K, best[NK];
        for (int k = 0; k < NK; k++) {
            best[k] = 0;
            if ((k == K_DNNL && !have_dnnl) || (k == K_BF16 && !bf16)) continue;
            run(k, ta, tb, M, N, K, A, B, C);  // warm-up (and the primitive's creation)
            double t_end = wall_s() + secs, b = 1e30;
            int reps = 0;
            while (reps < 3 || wall_s() < t_end) {
                double t0 = cpu_s();
                run(k, ta, tb, M, N, K, A, B, C);
                double t = cpu_s() - t0;
                b = t < b ? t : b;
                reps++;
            }
            best[k] = b;
            t_sum[k] += b;
        }
        flop_sum += flop;
        char cell[NK][16];
        for (int k = 0; k < NK; k++) {
            if (best[k] > 0) snprintf(cell[k], sizeof cell[k], "%.1f", flop / best[k] * 1e-9);
            else snprintf(cell[k], sizeof cell[k], "-");
        }
        printf("%-2d %-2d %6d %6d %6d %10s %10s %10s\n", ta, tb, M, N, K, cell[0], cell[1], cell[2]);
        free(A), free(B), free(C);
    }
    printf("all shapes (FLOP-weighted) %16.1f %10.1f", t_sum[K_BLAS] > 0 ? flop_sum / t_sum[K_BLAS] * 1e-9 : 0,
           t_sum[K_DNNL] > 0 ? flop_sum / t_sum[K_DNNL] * 1e-9 : 0);
    if (t_sum[K_BF16] > 0) printf(" %10.1f", flop_sum / t_sum[K_BF16] * 1e-9);
    printf("   (%.2f GFLOP per pass over the shapes)\n", flop_sum * 1e-9);
    return 0;
}
