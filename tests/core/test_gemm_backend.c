// test_gemm_backend: kern_gemm's choice of fp32 GEMM kernel (core/kernels.h) and the products it gives.
//   test_gemm_backend EXPECT   EXPECT = "openblas" (every GEMM on OpenBLAS), "onednn" (every GEMM on oneDNN's
//                              sgemm) or "auto": oneDNN for every GEMM when the OpenBLAS core in use is
//                              narrower than the CPU allows, else the per-shape rule (oneDNN for N >= 256)
// ctest runs it under RATLIP_GEMM=openblas, RATLIP_GEMM=onednn, RATLIP_KERNELS=openblas, as the environment
// has it, and with OPENBLAS_CORETYPE=Haswell (its own case: on an AVX-512 CPU a slower core than it allows);
// kern_gemm_backend must say so, and narrow and wide products of every transpose, with alpha, beta and
// leading dimensions wider than the matrices, must match a double reference within the float rounding
// budget (tu_sum_bound) — whichever kernel ran them. Exit 77 when oneDNN is expected but not built in.
#include "core/cpu.h"
#include "core/kernels.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void product(int ta, int tb, int M, int N, int K) {
    int lda = (ta ? M : K) + 2, ldb = (tb ? K : N) + 3, ldc = N + 1;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    real *A = tu_randn(na, 23, 1), *B = tu_randn(nb, 23, 2), *C = tu_randn(nc, 23, 3), *C0 = malloc(nc * sizeof(real));
    memcpy(C0, C, nc * sizeof(real));
    float alpha = 0.75f, beta = 0.5f;
    kern_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double worst = 0, budget = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double q, s = tu_gemm_entry(ta, tb, i, j, K, A, lda, B, ldb, NULL, &q);
            double ref = alpha * s + beta * (double)C0[(size_t)i * ldc + j];
            double d = fabs(ref - C[(size_t)i * ldc + j]), bound = tu_sum_bound(K + 1, alpha * alpha * q + 1, TU_U_F32);
            if (d / bound > worst) worst = d / bound, budget = bound;
        }
    char what[96];
    snprintf(what, sizeof what, "%c%c %dx%dx%d (worst |err| / bound, bound there %.2g)", ta ? 'T' : 'N', tb ? 'T' : 'N',
             M, N, K, budget);
    TU_CHECK(worst <= 1, "%s: %.3g", what, worst);
    if (worst <= 1) printf("ok   %s: %.3g\n", what, worst);
    free(A), free(B), free(C), free(C0);
}

int main(int argc, char **argv) {
    const char *expect = argc > 1 ? argv[1] : "auto";
    kern_set_threads(1);
    const char *name = kern_gemm_backend();
    printf("# %s\n# kern_gemm_backend: %s (expected: %s)\n", kern_cpu_line(), name, expect);
    int has_onednn = strstr(kern_backend_name(), "oneDNN") != NULL || strstr(name, "oneDNN") != NULL;
    if (strcmp(expect, "openblas") && !has_onednn) {
        printf("SKIP: this build has no oneDNN (%s)\n", name);
        return 77;
    }
    if (!strcmp(expect, "openblas")) TU_CHECK(!strncmp(name, "OpenBLAS", 8), "expected OpenBLAS, got %s", name);
    else if (!strcmp(expect, "onednn")) TU_CHECK(!strcmp(name, "oneDNN sgemm"), "expected oneDNN sgemm, got %s", name);
    else {
        CpuInfo ci;
        cpu_detect(&ci);
        const char *best = cpu_best_blas_core(&ci), *core = kern_blas_corename();
        int slow = best && cpu_blas_core_rank(core) < cpu_blas_core_rank(best);
        printf("# OpenBLAS core %s, best for this CPU %s: %s\n", core, best ? best : "none",
               slow ? "slower, so oneDNN for every GEMM" : "per-shape rule");
        if (slow) TU_CHECK(!strcmp(name, "oneDNN sgemm"), "slow core %s: expected oneDNN sgemm, got %s", core, name);
        else TU_CHECK(strstr(name, "N >= 256") != NULL, "expected the per-shape rule, got %s", name);
    }
    for (int t = 0; t < 4; t++) {
        product(t & 1, t >> 1, 37, 45, 29);    // narrow: OpenBLAS under the rule
        product(t & 1, t >> 1, 21, 300, 70);   // wide: oneDNN under the rule
    }
    return tu_done("test_gemm_backend");
}
