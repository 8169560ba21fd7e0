// onednn_gemm: the matrix products through oneDNN (see onednn.h): fp32 through dnnl_sgemm, which
// picks its own ISA (so a slow OpenBLAS core preset by the environment stops costing half the GEMM
// speed), and bf16 through a cached matmul primitive per shape: A and B are rounded to bf16 here
// (round to nearest even, one vectorised pass), the product accumulates in fp32 and C stays fp32.
#include "core/onednn.h"
#include "core/kernels.h"

#if defined(RATLIP_ONEDNN) && !defined(RATLIP_F64)
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/par.h"

static int g_init, g_ok;
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;

static int init(void) {
    if (!g_init) {
        g_init = 1;
        g_ok = dnnl_engine_create(&g_engine, dnnl_cpu, 0) == dnnl_success &&
               dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags) == dnnl_success;
    }
    return g_ok;
}

int onednn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc) {
    if (!init()) return -1;
    return dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == dnnl_success
               ? 0 : -1;
}

// ---------------------------------------------------------------- bf16 matmul
// fp32 → bf16, round to nearest even; NaN stays NaN (quiet bit set so the rounding cannot make it inf)
static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)(nan ? (u >> 16) | 0x40u : r);
}

// rows x cols of a row-major matrix with leading dimension ld, into the same layout in bf16
static void round_rows(uint16_t *dst, const float *src, int rows, int cols, int ld) {
    PAR_FOR((size_t)rows * cols)
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * ld;
        uint16_t *d = dst + (size_t)r * ld;
        SIMD
        for (int c = 0; c < cols; c++) d[c] = to_bf16(s[c]);
    }
}

enum { MM_KEY = 12, MM_CACHE = 256 };
typedef struct {
    int key[MM_KEY];
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
    int failed;
} MatMul;
static MatMul g_mm[MM_CACHE];
static int g_nmm;

static int build(MatMul *m, int ta, int tb, int M, int N, int K, int lda, int ldb, int ldc, float alpha, float beta) {
    dnnl_memory_desc_t a_md, b_md, c_md;
    dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {M, N};
    dnnl_dims_t as = {ta ? 1 : lda, ta ? lda : 1}, bs = {tb ? 1 : ldb, tb ? ldb : 1}, cs = {ldc, 1};
    if (dnnl_memory_desc_init_by_strides(&a_md, 2, ad, dnnl_bf16, as) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&b_md, 2, bd, dnnl_bf16, bs) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&c_md, 2, cd, dnnl_f32, cs) != dnnl_success)
        return -1;
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md) != dnnl_success) return -1;
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t po = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return -1;
    int ok = 1;
    if (alpha != 1) ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha) == dnnl_success;
    if (ok && beta != 0) {
        ok = dnnl_post_ops_create(&po) == dnnl_success && dnnl_post_ops_append_sum(po, beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    }
    dnnl_primitive_desc_t pd = NULL;
    ok = ok && dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL) == dnnl_success;
    ok = ok && dnnl_primitive_create(&m->prim, pd) == dnnl_success;
    ok = ok && dnnl_memory_create(&m->a, &a_md, g_engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&m->b, &b_md, g_engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&m->c, &c_md, g_engine, DNNL_MEMORY_NONE) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    return ok ? 0 : -1;
}

int onednn_gemm_bf16(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc) {
    if (!init()) return -1;
    int key[MM_KEY] = {ta, tb, M, N, K, lda, ldb, ldc, 0, 0, omp_get_max_threads(), 1};
    memcpy(&key[8], &alpha, sizeof(float));
    memcpy(&key[9], &beta, sizeof(float));
    MatMul *m = NULL;
    for (int i = 0; i < g_nmm; i++)
        if (!memcmp(g_mm[i].key, key, sizeof key)) {
            m = &g_mm[i];
            break;
        }
    if (!m) {
        if (g_nmm == MM_CACHE) return -1;  // more shapes than any network here has: fp32 for the rest
        m = &g_mm[g_nmm++];
        memcpy(m->key, key, sizeof key);
        m->failed = build(m, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta) != 0;
    }
    if (m->failed) return -1;
    // A is op(A)[M,K]: stored as M rows (ta = 0) or K rows (ta = 1) of lda; B likewise
    int a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
    size_t a_n = (size_t)(a_rows - 1) * lda + a_cols, b_n = (size_t)(b_rows - 1) * ldb + b_cols;
    uint16_t *a16 = (uint16_t *)kern_scratch(KERN_SCRATCH_SLOTS - 2, a_n / 2 + 1);
    uint16_t *b16 = (uint16_t *)kern_scratch(KERN_SCRATCH_SLOTS - 1, b_n / 2 + 1);
    round_rows(a16, A, a_rows, a_cols, lda);
    round_rows(b16, B, b_rows, b_cols, ldb);
    if (dnnl_memory_set_data_handle(m->a, a16) != dnnl_success || dnnl_memory_set_data_handle(m->b, b16) != dnnl_success ||
        dnnl_memory_set_data_handle(m->c, C) != dnnl_success)
        return -1;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, m->a}, {DNNL_ARG_WEIGHTS, m->b}, {DNNL_ARG_DST, m->c}};
    if (dnnl_primitive_execute(m->prim, g_stream, 3, args) != dnnl_success) {
        // nothing has been written to C that the fp32 path would not overwrite only if beta == 0
        fprintf(stderr, "ratlip: core/onednn_gemm.c: bf16 matmul %dx%dx%d failed; rerun with train.precision=fp32\n",
                M, N, K);
        abort();
    }
    dnnl_stream_wait(g_stream);
    return 0;
}

#else  // no oneDNN (or the double core)

int onednn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc) {
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B, (void)ldb, (void)beta;
    (void)C, (void)ldc;
    return -1;
}
int onednn_gemm_bf16(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc) {
    return onednn_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
#endif
