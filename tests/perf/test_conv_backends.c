// test_conv_backends: every conv shape of the model (and a few awkward ones) through both backends —
// oneDNN (core/onednn.c) and im2col + OpenBLAS (core/conv.c) — forward, backward-data, backward-weights
// and bias, checking that they agree within the float32 rounding budget of two summation orders, and that
// the backward passes accumulate (+=) into gradients that already hold values. Also: primitives reused from
// the cache, a thread-count change, the din-only and db-without-dw paths, and the opt-in bf16 path.
//
// Budget (testutil.h, tu_sum_bound): every output is a sum of K terms (out: C·kh·kw products + bias; din:
// K·kh·kw products + the start value; dw: N·OH·OW products + the start value; db: N·OH·OW + the start value),
// summed in different orders by the two backends; on this random mean-zero data they differ by at most
// 2·λ·u·sqrt(K·q), q = Σ t_k², the same conv run on the squared inputs (im2col path). One bound per tensor:
// max|diff| <= 2·λ·u·sqrt(K·max q). The bf16 path rounds both inputs of every product to bfloat16
// (u_bf16 = 2^-8 each; db sums bf16 dout): λ·u_bf16·sqrt(2·q) more (sqrt(q) for db), plus the float32
// budget of its fp32 accumulation.
#include "core/kernels.h"
#include "core/onednn.h"
#include "core/ops.h"
#include "core/rng.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

static float *randn(size_t n, float std) {
    static uint64_t stream = 0;
    float *a = malloc(n * sizeof(float));
    rng_fill_normal(a, n, 0, std, rng_key(11, RNG_INIT), stream++);
    return a;
}

static float *copy(const float *a, size_t n) {
    float *b = malloc(n * sizeof(float));
    memcpy(b, a, n * sizeof(float));
    return b;
}

typedef struct {
    float *out, *din, *dw, *db;
} Result;

static void result_free(Result *r) { free(r->out), free(r->din), free(r->dw), free(r->db); }

// Runs forward and backward on the current backend. Gradients start from din0/dw0/db0 (accumulate).
// want_din/want_dw/want_db choose which gradients are asked for (NULL pointers otherwise).
static Result run(const ConvShape *s, const float *x, const float *w, const float *b, const float *dout,
                  const float *din0, const float *dw0, const float *db0, int want_din, int want_dw, int want_db) {
    size_t nx = (size_t)s->N * s->C * s->H * s->W, nw = (size_t)s->K * s->C * s->kh * s->kw;
    size_t no = (size_t)s->N * s->K * s->OH * s->OW;
    Result r = {malloc(no * sizeof(float)), copy(din0, nx), copy(dw0, nw), copy(db0, s->K)};
    conv2d_forward(r.out, x, w, b, s);
    conv2d_backward(want_din ? r.din : NULL, want_dw ? r.dw : NULL, want_db ? r.db : NULL, dout, x, w, s);
    return r;
}

static float *squared(const float *a, size_t n) {
    float *b = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) b[i] = a[i] * a[i];
    return b;
}
// Compares one tensor against the budget of sums of K terms with Σ t² = q (per element; one bound per tensor).
// bf16_in: how many factors of each term the bf16 path rounds to bfloat16 (0, 1 for db, 2 for products).
static void close_budget(const char *name, const char *part, const float *got, const float *want, const float *q,
                         size_t n, double K, int bf16_in) {
    double qmax = tu_max_abs_f32(q, n), bound = tu_sum_bound(K, qmax, TU_U_F32);
    bound += TU_LAMBDA * TU_U_BF16 * sqrt(bf16_in * qmax);
    char what[160];
    snprintf(what, sizeof what, "%s %s", name, part);
    tu_close_abs(what, got, want, n, bound);
}
static void check_shape(const char *name, ConvShape s, int has_bias, int want_din, int want_dw, int want_db,
                        int bf16) {
    size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * s.C * s.kh * s.kw;
    size_t no = (size_t)s.N * s.K * s.OH * s.OW;
    float *x = randn(nx, 1), *w = randn(nw, 0.05f), *b = has_bias ? randn(s.K, 0.1f) : NULL;
    float *dout = randn(no, 1), *din0 = randn(nx, 1), *dw0 = randn(nw, 1), *db0 = randn(s.K, 1);
    kern_use_onednn(0);
    Result ref = run(&s, x, w, b, dout, din0, dw0, db0, want_din, want_dw, want_db);
    // q of every output: the same conv on the squared inputs (the start values' squares included)
    float *x2 = squared(x, nx), *w2 = squared(w, nw), *b2 = has_bias ? squared(b, s.K) : NULL;
    float *dout2 = squared(dout, no), *din02 = squared(din0, nx), *dw02 = squared(dw0, nw), *db02 = squared(db0, s.K);
    Result q = run(&s, x2, w2, b2, dout2, din02, dw02, db02, 1, 1, 1);
    kern_use_onednn(1);
    onednn_conv_bf16(bf16);
    long before = onednn_conv_count();
    Result got = run(&s, x, w, b, dout, din0, dw0, db0, want_din, want_dw, want_db);
    Result again = run(&s, x, w, b, dout, din0, dw0, db0, want_din, want_dw, want_db);  // cached primitives
    onednn_conv_bf16(0);
    TU_CHECK(onednn_conv_count() - before == 4, "%s: %ld of 4 convs ran through oneDNN", name,
             onednn_conv_count() - before);
    double k_out = (double)s.C * s.kh * s.kw + 1, k_din = (double)s.K * s.kh * s.kw + 1,
           k_dw = (double)s.N * s.OH * s.OW + 1;
    close_budget(name, "out", got.out, ref.out, q.out, no, k_out, 2 * bf16);
    close_budget(name, "din (+=)", got.din, ref.din, q.din, nx, k_din, 2 * bf16);
    close_budget(name, "dw (+=)", got.dw, ref.dw, q.dw, nw, k_dw, 2 * bf16);
    close_budget(name, "db (+=)", got.db, ref.db, q.db, s.K, k_dw, bf16);  // db = Σ dout, dout read as bf16
    // the second run reuses the cached primitives and scratch: same arithmetic, same bits
    TU_CHECK(!memcmp(again.out, got.out, no * sizeof(float)) && !memcmp(again.din, got.din, nx * sizeof(float)) &&
                 !memcmp(again.dw, got.dw, nw * sizeof(float)),
             "%s: a second run on cached primitives differs", name);
    // the accumulating gradients must really have moved away from their start (the check is not vacuous)
    if (want_dw) TU_CHECK(tu_rel_err(got.dw, dw0, nw) > 1e-3, "%s: dw did not change", name);
    if (want_din) TU_CHECK(tu_rel_err(got.din, din0, nx) > 1e-3, "%s: din did not change", name);
    if (want_db) TU_CHECK(tu_rel_err(got.db, db0, s.K) > 1e-3, "%s: db did not change", name);
    result_free(&ref), result_free(&got), result_free(&again), result_free(&q);
    free(x), free(w), free(b), free(dout), free(din0), free(dw0), free(db0);
    free(x2), free(w2), free(b2), free(dout2), free(din02), free(dw02), free(db02);
}
// Run with RATLIP_KERNELS=openblas in the environment: oneDNN must start switched off, and a conv must
// not reach it.
static int expect_off(void) {
    TU_CHECK(!onednn_active(), "RATLIP_KERNELS=openblas: oneDNN still active");
    TU_CHECK(strstr(kern_backend_name(), "oneDNN") == NULL, "backend name says oneDNN: %s", kern_backend_name());
    ConvShape s = conv_shape(2, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1);
    float *x = randn(2 * 16 * 64, 1), *w = randn(16 * 16 * 9, 0.1f), *out = malloc(sizeof(float) * 2 * 16 * 64);
    conv2d_forward(out, x, w, NULL, &s);
    TU_CHECK(onednn_conv_count() == 0, "a conv ran through oneDNN");
    printf("backend: %s\n", kern_backend_name());
    free(x), free(w), free(out);
    return tu_done("test_conv_backends --expect-off");
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--expect-off")) return expect_off();
    kern_set_threads(1);
    if (!kern_use_onednn(1)) {
        printf("test_conv_backends: this build has no oneDNN (or RATLIP_KERNELS=openblas): skipped\n");
        return 77;
    }
    printf("backend: %s\n", kern_backend_name());
    // the model's convs at the tiny config (bench_ops' list), batch 8
    check_shape("3x3 256->256 @8", conv_shape(8, 256, 8, 8, 256, 3, 3, 1, 1, 1, 1), 1, 1, 1, 1, 0);
    check_shape("3x3 128->128 @16", conv_shape(8, 128, 16, 16, 128, 3, 3, 1, 1, 1, 1), 1, 1, 1, 1, 0);
    check_shape("3x3 64->64 @32", conv_shape(8, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1), 1, 1, 1, 1, 0);
    check_shape("3x3 32->32 @64", conv_shape(8, 32, 64, 64, 32, 3, 3, 1, 1, 1, 1), 1, 1, 1, 1, 0);
    check_shape("5x5 64->256 @8", conv_shape(8, 64, 8, 8, 256, 5, 5, 1, 1, 2, 2), 1, 1, 1, 1, 0);
    check_shape("5x5 256->256 @8", conv_shape(8, 256, 8, 8, 256, 5, 5, 1, 1, 2, 2), 1, 1, 1, 1, 0);
    check_shape("patch 3->256 k8 s8 @64", conv_shape(8, 3, 64, 64, 256, 8, 8, 8, 8, 0, 0), 0, 1, 1, 1, 0);
    // awkward ones: 1x1 shortcut, stride 2 with odd size, rectangular kernel and image, channels not a
    // multiple of 16, a single image, 3 output channels (to-RGB)
    check_shape("1x1 64->32 @16", conv_shape(4, 64, 16, 16, 32, 1, 1, 1, 1, 0, 0), 1, 1, 1, 1, 0);
    check_shape("3x3 s2 5->7 @9x11", conv_shape(3, 5, 9, 11, 7, 3, 3, 2, 2, 1, 1), 1, 1, 1, 1, 0);
    check_shape("3x5 s(1,2) 6->10 @7x13", conv_shape(2, 6, 7, 13, 10, 3, 5, 1, 2, 1, 2), 1, 1, 1, 1, 0);
    check_shape("3x3 32->3 N1 @64", conv_shape(1, 32, 64, 64, 3, 3, 3, 1, 1, 1, 1), 1, 1, 1, 1, 0);
    // partial requests: din only (D's input gradient for the G step), dw only, db without dw
    check_shape("din only 3x3 64->64 @16", conv_shape(4, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1), 1, 1, 0, 0, 0);
    check_shape("dw+db only 3x3 64->64 @16", conv_shape(4, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1), 1, 0, 1, 1, 0);
    check_shape("din+db 3x3 64->64 @16", conv_shape(4, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1), 1, 1, 0, 1, 0);
    // two threads: new primitives (the thread count is part of the cache key), same results
    kern_set_threads(2);
    check_shape("2 threads 3x3 128->128 @16", conv_shape(8, 128, 16, 16, 128, 3, 3, 1, 1, 1, 1), 1, 1, 1, 1, 0);
    kern_set_threads(1);
    // opt-in bf16 inputs, fp32 accumulation: agrees with fp32 within the bf16 rounding of the inputs.
    // oneDNN 2.6 has bf16 convolutions from AVX-512 on (avx512_core: emulated; avx512_core_bf16, AMX):
    // limited to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, or an AVX2-only CPU) the path falls back to im2col.
    const char *isa = onednn_isa();
    if (isa && (strncmp(isa, "avx512", 6) == 0 || strstr(isa, "amx"))) {
        check_shape("bf16 3x3 64->64 @32", conv_shape(8, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1), 1, 1, 1, 1, 1);
        check_shape("bf16 5x5 256->256 @8", conv_shape(8, 256, 8, 8, 256, 5, 5, 1, 1, 2, 2), 1, 1, 1, 1, 1);
    } else {
        printf("skip bf16 cases: oneDNN dispatches to %s here, its bf16 convolutions need AVX-512\n",
               isa ? isa : "(unknown)");
    }
    return tu_done("test_conv_backends");
}
