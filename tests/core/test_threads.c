// test_threads: ratlip's results do not depend on the thread count (issue 14; core/par.h). Every op
// whose loops are split over the OpenMP pool runs once on 1 thread and once on 2 (and 3, more threads
// than cores) on the same inputs, sized above the parallel threshold with odd extents so the split
// and the vector tails land in different places; outputs and accumulated gradients must be equal bit
// for bit. Then a whole training iteration of the tiny networks (D step with MA-GP, Adam, G step,
// Adam + EMA; batch 2) from the same initial state, 1 vs 2 threads of ratlip's loops: every
// parameter, Adam moment and EMA value equal bit for bit. The vendor kernels are held at one thread
// for that part (convolutions im2col + OpenBLAS, every GEMM OpenBLAS at 1 thread): oneDNN's backward-weights
// convolutions and some OpenBLAS shapes split their reductions by thread, so their last bits do
// depend on the thread count (measured: relative 1e-7 per product) and would hide ours.
//   usage: test_threads [tiny.json]   (without it, only the op cases run)
#include "core/gan.h"
#include "core/gblocks.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/rng.h"
#include "io/config.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int);  // <cblas.h>'s, declared here: the test holds the BLAS at one thread
static int failures;

static real *rnd(size_t n, uint64_t stream) { return tu_randn(n, 11, stream); }
static real *copy(const real *x, size_t n) {
    real *p = malloc(n * sizeof(real));
    if (!p) fprintf(stderr, "test_threads: out of memory\n"), exit(1);
    memcpy(p, x, n * sizeof(real));
    return p;
}

// An op case: fills its outputs (given fresh copies of the mutable arrays) from fixed inputs.
#define MAXBUF 6
typedef struct {
    const char *name;
    int nbuf;
    size_t len[MAXBUF];
    real *init[MAXBUF];  // starting contents of each mutable buffer (outputs, accumulated grads, state)
} Case;
typedef void (*CaseFn)(real **buf, void *ctx);

static void run_case(Case *c, CaseFn fn, void *ctx) {
    real *ref[MAXBUF];
    int failures_before = failures;
    int threads[] = {1, 2, 3};
    for (int t = 0; t < 3; t++) {
        real *buf[MAXBUF];
        for (int i = 0; i < c->nbuf; i++) buf[i] = copy(c->init[i], c->len[i]);
        kern_set_threads(threads[t]);
        // the vendor GEMMs (attention's projections) at one thread, as in the iteration below: OpenBLAS
        // splits some shapes' reductions by thread (its Haswell core did here, on an AMD EPYC with the
        // OPENBLAS_CORETYPE=Haswell preset), which would hide what this test is about: ratlip's own splits
        openblas_set_num_threads(1);
        fn(buf, ctx);
        for (int i = 0; i < c->nbuf; i++) {
            if (t == 0) {
                ref[i] = buf[i];
                continue;
            }
            if (memcmp(ref[i], buf[i], c->len[i] * sizeof(real))) {
                size_t k = 0;
                while (ref[i][k] == buf[i][k]) k++;
                printf("FAIL %s: buffer %d differs between 1 and %d threads at %zu: %.9g vs %.9g\n", c->name, i,
                       threads[t], k, (double)ref[i][k], (double)buf[i][k]);
                failures++;
            }
            free(buf[i]);
        }
    }
    for (int i = 0; i < c->nbuf; i++) free(ref[i]), free(c->init[i]);
    if (failures == failures_before) printf("ok   %s (1, 2 and 3 threads)\n", c->name);
    kern_set_threads(1);
}

// shapes: N·C·HW = 3·37·1021 (≈113k values, above PAR_MIN_WORK, nothing a multiple of 16)
enum { N = 3, C = 37, HW = 1021, G = 1 };
#define NV ((size_t)N * C * HW)
static real *X, *DY, *Y;  // fixed inputs

static void f_act(real **b, void *ctx) {
    (void)ctx;
    relu_forward(b[0], X, NV);
    leaky_relu_backward(b[1], DY, X, NV, (real)0.2);
    sigmoid_forward(b[2], X, NV);
    tanh_backward(b[1], DY, Y, NV);
    quickgelu_forward(b[3], X, NV);
    quickgelu_backward(b[4], DY, X, NV);
}
static void f_softmax(real **b, void *ctx) {
    (void)ctx;
    softmax_forward(b[0], X, N * C, HW);
    softmax_backward(b[1], DY, b[0], N * C, HW);
}
static void f_bn(real **b, void *ctx) {
    (void)ctx;
    real *mean = b[2], *invstd = b[2] + C, *rm = b[3], *rv = b[3] + C, *gam = b[4], *bet = b[4] + C;
    bn2d_forward_train(b[0], mean, invstd, rm, rv, X, gam, bet, N, C, HW, (real)1e-5, (real)0.1);
    bn2d_backward(b[1], b[5], b[5] + C, DY, X, mean, invstd, gam, N, C, HW);
    double sums[2 * C];
    bn2d_stats(sums, X, N, C, HW);
    bn2d_backward_sums(sums, DY, X, mean, invstd, N, C, HW);
    bn2d_backward_apply(b[1], b[5], b[5] + C, sums, (double)N * HW, DY, X, mean, invstd, gam, N, C, HW);
    bn2d_forward_eval(b[0], b[1], gam, bet, rm, rv, N, C, HW, (real)1e-5);
}
static void f_norms(real **b, void *ctx) {
    (void)ctx;
    real *gam = b[3], *bet = b[3] + C;
    // GroupNorm with 37 groups of one channel, and LayerNorm rows of 1021 (with and without dgamma)
    groupnorm_forward(b[0], b[2], b[2] + N * C, X, gam, bet, N, C, HW, C, (real)1e-5);
    groupnorm_backward(b[1], b[4], b[4] + C, DY, X, b[2], b[2] + N * C, gam, N, C, HW, C);
    real *lg = b[5], *lgrad = b[5] + HW;
    layernorm_forward(b[0], b[2], b[2] + N * C, X, lg, lg, N * C, HW, (real)1e-5);
    layernorm_backward(b[1], NULL, NULL, DY, X, b[2], b[2] + N * C, lg, N * C, HW);
    layernorm_backward(b[1], lgrad, lgrad + HW, DY, X, b[2], b[2] + N * C, lg, N * C, HW);
}
static void f_adam(real **b, void *ctx) {
    (void)ctx;
    adam_step(b[0], DY, b[1], b[2], NV, (real)1e-3, (real)0.9, (real)0.999, (real)1e-8, 3);
    adam_ema_step(b[0], X, b[1], b[2], b[3], (real)0.999, NV, (real)1e-3, (real)0.9, (real)0.999, (real)1e-8, 4);
}
static void f_resample(real **b, void *ctx) {
    (void)ctx;
    // planes of 37x37 → 2·HW would not fit: use HW as 1021 = a 1x1021 strip, pooled 1x3 and resized
    PoolShape ps = pool_shape(N, C, 1, HW, 1, 3, 1, 2, 0, 1, 1);
    avgpool2d_forward(b[0], X, &ps);
    avgpool2d_backward(b[1], DY, &ps);
    int32_t *am = malloc(NV * sizeof(int32_t));
    maxpool2d_forward(b[2], am, X, &ps);
    maxpool2d_backward(b[1], DY, am, &ps);
    free(am);
    resize_nearest_forward(b[3], X, N, C, 1, HW, 2, HW / 2);
    resize_nearest_backward(b[1], DY, N, C, 1, HW, 2, HW / 2);
    resize_bilinear_forward(b[4], X, N, C, 1, HW, 2, 400);
    global_avgpool_forward(b[5], X, N, C, HW);
    global_avgpool_backward(b[1], DY, N, C, HW);
}
static void f_mod(real **b, void *ctx) {
    (void)ctx;
    for (int per_sample = 0; per_sample < 2; per_sample++) {
        netg_mod_forward(b[0], X, Y, DY, N, C, HW, per_sample);
        netg_mod_backward(b[1], b[2], b[2] + N * C, DY, b[0], X, Y, N, C, HW, per_sample);
    }
}

// multi-head attention: B 3, L 37 tokens, D 64, H 4 heads (the (sample, head) split of attention.c)
enum { AB = 3, AL = 37, AD = 64, AH = 4 };
static void f_mha(real **b, void *ctx) {
    (void)ctx;
    size_t nio = (size_t)AB * AL * AD;
    const real *w_in = Y, *b_in = Y + 3 * AD * AD, *w_out = DY, *b_out = DY + AD * AD;
    mha_forward(b[0], b[1], X, w_in, b_in, w_out, b_out, AB, AL, AD, AH);
    mha_backward(b[2], b[3], b[4], b[3] + 3 * AD * AD, b[4] + 3 * AD, DY + nio, X, b[1], w_in, w_out, AB, AL, AD, AH);
}

static void op_cases(void) {
    X = rnd(NV, 1), DY = rnd(NV, 2), Y = rnd(NV, 3);
    size_t nv = NV;
    Case a = {"activations", 5, {nv, nv, nv, nv, nv}, {rnd(nv, 4), rnd(nv, 5), rnd(nv, 6), rnd(nv, 7), rnd(nv, 8)}};
    run_case(&a, f_act, NULL);
    Case s = {"softmax", 2, {nv, nv}, {rnd(nv, 9), rnd(nv, 10)}};
    run_case(&s, f_softmax, NULL);
    Case bn = {"batchnorm", 6, {nv, nv, 2 * C, 2 * C, 2 * C, 2 * C},
               {rnd(nv, 11), rnd(nv, 12), rnd(2 * C, 13), rnd(2 * C, 14), rnd(2 * C, 15), rnd(2 * C, 16)}};
    for (int c = 0; c < C; c++) bn.init[3][C + c] = 1 + bn.init[3][C + c] * bn.init[3][C + c];  // variances > 0
    run_case(&bn, f_bn, NULL);
    Case nm = {"group/layernorm", 6, {nv, nv, 2 * N * C, 2 * C, 2 * C, 3 * HW},
               {rnd(nv, 17), rnd(nv, 18), rnd(2 * N * C, 19), rnd(2 * C, 20), rnd(2 * C, 21), rnd(3 * HW, 22)}};
    run_case(&nm, f_norms, NULL);
    Case ad = {"adam+ema", 4, {nv, nv, nv, nv}, {rnd(nv, 23), rnd(nv, 24), rnd(nv, 25), rnd(nv, 26)}};
    for (size_t i = 0; i < nv; i++) ad.init[2][i] *= ad.init[2][i];  // second moments ≥ 0
    run_case(&ad, f_adam, NULL);
    Case rs = {"pool/resize", 6, {nv, nv, nv, nv, nv, (size_t)N * C},
               {rnd(nv, 27), rnd(nv, 28), rnd(nv, 29), rnd(nv, 30), rnd(nv, 31), rnd((size_t)N * C, 32)}};
    run_case(&rs, f_resample, NULL);
    Case md = {"netg modulation", 3, {nv, nv, 2 * (size_t)N * C}, {rnd(nv, 33), rnd(nv, 34), rnd(2 * (size_t)N * C, 35)}};
    run_case(&md, f_mod, NULL);
    size_t nio = (size_t)AB * AL * AD, ncache = mha_cache_floats(AB, AL, AD, AH), nw = 4 * (size_t)AD * AD;
    Case at = {"attention", 5, {nio, ncache, nio, nw, 4 * AD},
               {rnd(nio, 36), rnd(ncache, 37), rnd(nio, 38), rnd(nw, 39), rnd(4 * AD, 40)}};
    run_case(&at, f_mha, NULL);
    free(X), free(DY), free(Y);
}

// ---------------------------------------------------------------- a whole iteration
typedef struct {
    real *g, *d, *c, *ema;  // parameters and Adam moments, concatenated per network
    size_t ng, nd, nc, nema;
} Snapshot;

// values (all kinds) then the Adam moments (trainable part)
static real *snap_ps(const ParamSet *ps, size_t *n) {
    size_t t = ps->total, k = ps->n_trainable;
    *n = t + 2 * k;
    real *p = malloc(*n * sizeof(real));
    memcpy(p, ps->data, t * sizeof(real));
    memcpy(p + t, ps->adam_m, k * sizeof(real));
    memcpy(p + t + k, ps->adam_v, k * sizeof(real));
    return p;
}

static int iteration(const Config *cfg, int threads, Snapshot *out) {
    int B = 2;
    Gan gan;
    TuGanInputs in;
    tu_gan_build(&gan, &in, cfg, B);
    kern_set_threads(threads);
    openblas_set_num_threads(1);
    GanLosses L;
    int rc = 0;
    for (int it = 0; it < 2 && !rc; it++) {
        memset(&L, 0, sizeof L);
        rc = gan_d_backward(&gan, in.img, in.s, in.s_mis, in.z, B, &L);
        if (!rc) gan_d_update(&gan);
        if (!rc) rc = gan_g_backward(&gan, in.s, B, &L);
        if (!rc) gan_g_update(&gan);
    }
    kern_set_threads(1);
    if (rc) printf("FAIL the iteration failed at %d threads\n", threads);
    out->g = snap_ps(&gan.g.ps, &out->ng);
    out->d = snap_ps(&gan.dc.netd, &out->nd);
    out->c = snap_ps(&gan.dc.netc, &out->nc);
    out->nema = gan.has_ema ? gan.g_ema.ps.total : 0;
    out->ema = malloc((out->nema + 1) * sizeof(real));
    if (gan.has_ema) memcpy(out->ema, gan.g_ema.ps.data, out->nema * sizeof(real));
    tu_gan_inputs_free(&in);
    gan_free(&gan);
    return rc;
}

static void compare(const char *what, const real *a, const real *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(real))) {
            printf("FAIL iteration: %s differs between 1 and 2 threads at %zu of %zu: %.9g vs %.9g\n", what, i, n,
                   (double)a[i], (double)b[i]);
            failures++;
            return;
        }
    printf("ok   iteration: %s (%zu values) equal at 1 and 2 threads\n", what, n);
}

int main(int argc, char **argv) {
    setenv("RATLIP_GEMM", "openblas", 1);  // read at the first GEMM (for the iteration below)
    op_cases();
    if (argc > 1) {
        Config cfg;
        Err e = {{0}};
        config_defaults(&cfg);
        if (config_load_file(&cfg, argv[1], &e)) return printf("FAIL %s\n", e.msg), 1;
        kern_use_onednn(0);
        printf("# kernels: %s, OpenBLAS at 1 thread; ratlip's loops at 1 vs 2\n", kern_backend_name());
        Snapshot one, two;
        if (iteration(&cfg, 1, &one) || iteration(&cfg, 2, &two)) return 1;
        compare("NetG parameters + Adam moments", one.g, two.g, one.ng);
        compare("NetD parameters + Adam moments", one.d, two.d, one.nd);
        compare("NetC parameters + Adam moments", one.c, two.c, one.nc);
        compare("EMA generator", one.ema, two.ema, one.nema);
    }
    printf(failures ? "test_threads: %d failure(s)\n" : "test_threads: all equal\n", failures);
    return failures != 0;
}
