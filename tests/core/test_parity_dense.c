// Parity of the dense ops (linear, conv2d, BatchNorm2d, GroupNorm, LayerNorm, activations, softmax)
// with PyTorch: tests/reference/ops_dense.py wrote inputs, parameters, outputs, the upstream gradient
// and every gradient of each case to one HDF5 file (argv[1]); here the same op runs in C and is
// compared (tu_rel_err's figure: max abs difference over max |reference|) with the rounding budget of
// the op, since the reference computed in float32 too (testutil.h explains the model, λ = 8, u = 2^-24):
// - linear, conv: every output is a sum of K products (+ bias, + GRAD_FILL for gradients); the two sides
//   sum in different orders: |diff| <= 2·λ·u·sqrt(K·q), q = Σ t² = the same op run on the squared inputs.
// - norms (statistics over R values) and softmax (R = D): each side's sums of R terms err by at most
//   λ·u·sqrt(R)·Σ|t| in any order (Higham & Mary 2019, no assumption on the data), Σ|t| <= R·M·(result
//   scale), plus c roundings of the formula: tol = 2·u·(λ·sqrt(R)·M + c) relative (norm_tol below).
// - elementwise: exp, tanh within 1 ulp (2u) on either side (glibc, Sleef u10), plus the formula's
//   roundings; counted per op in test_act.
// Gradient buffers start at GRAD_FILL, not zero, so the test also proves that backward adds (+=). Adding
// and removing GRAD_FILL rounds twice more: u·(GRAD_FILL + 2·|g|), added to every gradient's budget.
// Usage: test_parity_dense ops_dense.h5 [FAMILY] (tests/opfamily.h; ctest runs each family as
// op_<family>_parity).
#include "core/ops.h"
#include "opfamily.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRAD_FILL 0.25f
#define U TU_U_F32

static const char *ref_file;

static float *rd(const char *grp, const char *name, size_t *n) {
    char path[256];
    snprintf(path, sizeof path, "/%s/%s", grp, name);
    size_t dummy;
    return tu_read_f32(ref_file, path, n ? n : &dummy);
}
static float rd1(const char *grp, const char *name) {
    float *p = rd(grp, name, NULL), v = p[0];
    free(p);
    return v;
}
static int at(const char *grp, const char *attr) { return (int)tu_attr_long(ref_file, grp, attr); }

static float *grad_buf(size_t n) {
    float *g = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) g[i] = GRAD_FILL;
    return g;
}
static float *sq(const float *a, size_t n) {
    float *b = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) b[i] = a[i] * a[i];
    return b;
}
static float *fill(size_t n, float v) {
    float *b = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) b[i] = v;
    return b;
}
// Budget of one tensor: rel·max|want| + abs (+ the GRAD_FILL term for a gradient).
typedef struct {
    double rel, abs;
} Budget;
static Budget rel_budget(double rel) { return (Budget){rel, 0}; }
// sums of K terms with Σ t² <= max q (bilinear ops)
static Budget sum_budget(double K, const float *q, size_t n) {
    return (Budget){0, tu_sum_bound(K, tu_max_abs_f32(q, n), U)};
}
// norms and softmax: reductions of length R over terms with Σ|t| <= R·M·(result scale), c roundings more
static double norm_tol(double R, double M, double c) { return 2 * U * (TU_LAMBDA * sqrt(R) * M + c); }

static void check(const char *grp, const char *name, float *got, size_t n, Budget b, int is_grad) {
    size_t nw;
    float *want = rd(grp, name, &nw);
    TU_CHECK(nw == n, "%s/%s: %zu values, expected %zu", grp, name, nw, n);
    double maxw = 0;
    for (size_t i = 0; i < n; i++) maxw = fmax(maxw, fabs((double)want[i]));
    double bound = b.rel * maxw + b.abs;
    if (is_grad) {
        for (size_t i = 0; i < n; i++) got[i] -= GRAD_FILL;
        bound += U * (GRAD_FILL + 2 * maxw);
    }
    char what[128];
    snprintf(what, sizeof what, "%s %s", grp, name);
    tu_close_abs(what, got, want, n, bound);
    free(want);
}
// compare a gradient that was accumulated onto GRAD_FILL with the reference dataset grp/name
static void check_grad(const char *grp, const char *name, float *got, size_t n, Budget b) {
    check(grp, name, got, n, b, 1);
}
static void check_out(const char *grp, const char *name, float *got, size_t n, Budget b) {
    check(grp, name, got, n, b, 0);
}

static void test_linear(const char *g) {
    int N = at(g, "N"), IN = at(g, "IN"), OUT = at(g, "OUT"), bias = at(g, "bias");
    size_t nx = (size_t)N * IN, nw = (size_t)OUT * IN, no = (size_t)N * OUT;
    float *x = rd(g, "x", NULL), *w = rd(g, "w", NULL), *dout = rd(g, "dout", NULL);
    float *b = bias ? rd(g, "b", NULL) : NULL;
    // q: the op on the squared inputs (gradients from GRAD_FILL², the start value being one more term)
    float *x2 = sq(x, nx), *w2 = sq(w, nw), *b2 = bias ? sq(b, OUT) : NULL, *dout2 = sq(dout, no);
    float *qo = malloc(sizeof(float) * no), *qdx = fill(nx, GRAD_FILL * GRAD_FILL), *qdw = fill(nw, GRAD_FILL * GRAD_FILL),
          *qdb = fill(OUT, GRAD_FILL * GRAD_FILL);
    linear_forward(qo, x2, w2, b2, N, IN, OUT);
    linear_backward(qdx, qdw, bias ? qdb : NULL, dout2, x2, w2, N, IN, OUT);
    float *out = malloc(sizeof(float) * no);
    linear_forward(out, x, w, b, N, IN, OUT);
    check_out(g, "out", out, no, sum_budget(IN + 1, qo, no));
    float *dx = grad_buf(nx), *dw = grad_buf(nw), *db = grad_buf(OUT);
    linear_backward(dx, dw, bias ? db : NULL, dout, x, w, N, IN, OUT);
    check_grad(g, "dx", dx, nx, sum_budget(OUT + 1, qdx, nx));
    check_grad(g, "dw", dw, nw, sum_budget(N + 1, qdw, nw));
    if (bias) check_grad(g, "db", db, OUT, sum_budget(N + 1, qdb, OUT));
    free(x), free(w), free(b), free(dout), free(out), free(dx), free(dw), free(db);
    free(x2), free(w2), free(b2), free(dout2), free(qo), free(qdx), free(qdw), free(qdb);
}

static void test_conv(const char *g) {
    ConvShape s = conv_shape(at(g, "N"), at(g, "C"), at(g, "H"), at(g, "W"), at(g, "K"), at(g, "kh"), at(g, "kw"),
                             at(g, "sh"), at(g, "sw"), at(g, "ph"), at(g, "pw"));
    int bias = at(g, "bias");
    size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * s.C * s.kh * s.kw,
           no = (size_t)s.N * s.K * s.OH * s.OW, nref;
    float *x = rd(g, "x", NULL), *w = rd(g, "w", NULL), *dout = rd(g, "dout", &nref);
    TU_CHECK(nref == no, "%s: output size %zu, reference %zu (conv_shape wrong?)", g, no, nref);
    float *b = bias ? rd(g, "b", NULL) : NULL;
    float *x2 = sq(x, nx), *w2 = sq(w, nw), *b2 = bias ? sq(b, s.K) : NULL, *dout2 = sq(dout, no);
    float *qo = malloc(sizeof(float) * no), *qdx = fill(nx, GRAD_FILL * GRAD_FILL), *qdw = fill(nw, GRAD_FILL * GRAD_FILL),
          *qdb = fill(s.K, GRAD_FILL * GRAD_FILL);
    conv2d_forward(qo, x2, w2, b2, &s);
    conv2d_backward(qdx, qdw, bias ? qdb : NULL, dout2, x2, w2, &s);
    // terms per output: out C·kh·kw (+ bias), dx at most K·kh·kw, dw and db N·OH·OW (+ the start value)
    double k_out = (double)s.C * s.kh * s.kw + 1, k_dx = (double)s.K * s.kh * s.kw + 1,
           k_dw = (double)s.N * s.OH * s.OW + 1;
    float *out = malloc(sizeof(float) * no);
    conv2d_forward(out, x, w, b, &s);
    check_out(g, "out", out, no, sum_budget(k_out, qo, no));
    float *dx = grad_buf(nx), *dw = grad_buf(nw), *db = grad_buf(s.K);
    conv2d_backward(dx, dw, bias ? db : NULL, dout, x, w, &s);
    check_grad(g, "dx", dx, nx, sum_budget(k_dx, qdx, nx));
    check_grad(g, "dw", dw, nw, sum_budget(k_dw, qdw, nw));
    if (bias) check_grad(g, "db", db, s.K, sum_budget(k_dw, qdb, s.K));
    free(x), free(w), free(b), free(dout), free(out), free(dx), free(dw), free(db);
    free(x2), free(w2), free(b2), free(dout2), free(qo), free(qdx), free(qdw), free(qdb);
}

// Norms: statistics over R values, M = 4: the mean's Σ|x| / (R·σ) <= 1 + |offset|/σ <= 2 on this data
// (offsets ~N(0,1), scales 1-3), the variance (positive terms) and the backward's Σ dout·x̂ (|x̂| <= 3)
// add as much again; dgamma and dbeta are random sums, sqrt(q) ~ their size (M ~ 1). c = 8 roundings of
// the formula ((x - μ)·r·γ + β, rsqrt, the backward's three products).
#define NORM_M 4
#define NORM_C 8

static void test_bn(const char *g) {
    int N = at(g, "N"), C = at(g, "C"), HW = at(g, "H") * at(g, "W");
    size_t n = (size_t)N * C * HW;
    Budget bud = rel_budget(norm_tol((double)N * HW, NORM_M, NORM_C));
    float eps = rd1(g, "eps"), mom = rd1(g, "momentum");
    float *x = rd(g, "x", NULL), *gamma = rd(g, "gamma", NULL), *beta = rd(g, "beta", NULL);
    float *rm = rd(g, "rm0", NULL), *rv = rd(g, "rv0", NULL), *dout = rd(g, "dout", NULL);
    float *out = malloc(sizeof(float) * n), *mean = malloc(sizeof(float) * C), *invstd = malloc(sizeof(float) * C);
    bn2d_forward_train(out, mean, invstd, rm, rv, x, gamma, beta, N, C, HW, eps, mom);
    check_out(g, "out", out, n, bud);
    check_out(g, "rm1", rm, C, bud);
    check_out(g, "rv1", rv, C, bud);
    float *dx = grad_buf(n), *dgamma = grad_buf(C), *dbeta = grad_buf(C);
    bn2d_backward(dx, dgamma, dbeta, dout, x, mean, invstd, gamma, N, C, HW);
    check_grad(g, "dx", dx, n, bud);
    check_grad(g, "dgamma", dgamma, C, bud);
    check_grad(g, "dbeta", dbeta, C, bud);

    // the split phases (what sync BN runs with an allreduce between them) give the same result
    double *sums = malloc(sizeof(double) * 2 * C);
    float *mean2 = malloc(sizeof(float) * C), *invstd2 = malloc(sizeof(float) * C), *out2 = malloc(sizeof(float) * n);
    bn2d_stats(sums, x, N, C, HW);
    bn2d_mean_invstd(mean2, invstd2, sums, (double)N * HW, C, eps);
    bn2d_apply(out2, x, mean2, invstd2, gamma, beta, N, C, HW);
    check_out(g, "out", out2, n, bud);
    float *dx2 = grad_buf(n), *dgamma2 = grad_buf(C), *dbeta2 = grad_buf(C);
    bn2d_backward_sums(sums, dout, x, mean2, invstd2, N, C, HW);
    bn2d_backward_apply(dx2, dgamma2, dbeta2, sums, (double)N * HW, dout, x, mean2, invstd2, gamma, N, C, HW);
    check_grad(g, "dx", dx2, n, bud);
    check_grad(g, "dgamma", dgamma2, C, bud);
    check_grad(g, "dbeta", dbeta2, C, bud);

    // eval mode with the running statistics updated by the train forward
    float *xe = rd(g, "x_eval", NULL);
    bn2d_forward_eval(out, xe, gamma, beta, rm, rv, N, C, HW, eps);
    check_out(g, "out_eval", out, n, bud);
    free(x), free(gamma), free(beta), free(rm), free(rv), free(dout), free(out), free(mean), free(invstd);
    free(dx), free(dgamma), free(dbeta), free(sums), free(mean2), free(invstd2), free(out2), free(dx2);
    free(dgamma2), free(dbeta2), free(xe);
}

static void test_groupnorm(const char *g) {
    int N = at(g, "N"), C = at(g, "C"), HW = at(g, "H") * at(g, "W"), G = at(g, "G");
    size_t n = (size_t)N * C * HW;
    // statistics over a group (C/G·HW values); dgamma, dbeta sum N·HW
    Budget bud = rel_budget(norm_tol(fmax((double)C / G * HW, (double)N * HW), NORM_M, NORM_C));
    float eps = rd1(g, "eps");
    float *x = rd(g, "x", NULL), *gamma = rd(g, "gamma", NULL), *beta = rd(g, "beta", NULL), *dout = rd(g, "dout", NULL);
    float *out = malloc(sizeof(float) * n), *mean = malloc(sizeof(float) * N * G), *rstd = malloc(sizeof(float) * N * G);
    groupnorm_forward(out, mean, rstd, x, gamma, beta, N, C, HW, G, eps);
    check_out(g, "out", out, n, bud);
    float *dx = grad_buf(n), *dgamma = grad_buf(C), *dbeta = grad_buf(C);
    groupnorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma, N, C, HW, G);
    check_grad(g, "dx", dx, n, bud);
    check_grad(g, "dgamma", dgamma, C, bud);
    check_grad(g, "dbeta", dbeta, C, bud);
    free(x), free(gamma), free(beta), free(dout), free(out), free(mean), free(rstd), free(dx), free(dgamma), free(dbeta);
}

static void test_layernorm(const char *g) {
    int R = at(g, "R"), D = at(g, "D");
    size_t n = (size_t)R * D;
    Budget bud = rel_budget(norm_tol(fmax(R, D), NORM_M, NORM_C));  // statistics over D; dgamma, dbeta sum R
    float eps = rd1(g, "eps");
    float *x = rd(g, "x", NULL), *gamma = rd(g, "gamma", NULL), *beta = rd(g, "beta", NULL), *dout = rd(g, "dout", NULL);
    float *out = malloc(sizeof(float) * n), *mean = malloc(sizeof(float) * R), *rstd = malloc(sizeof(float) * R);
    layernorm_forward(out, mean, rstd, x, gamma, beta, R, D, eps);
    check_out(g, "out", out, n, bud);
    float *dx = grad_buf(n), *dgamma = grad_buf(D), *dbeta = grad_buf(D);
    layernorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma, R, D);
    check_grad(g, "dx", dx, n, bud);
    check_grad(g, "dgamma", dgamma, D, bud);
    check_grad(g, "dbeta", dbeta, D, bud);
    free(x), free(gamma), free(beta), free(dout), free(out), free(mean), free(rstd), free(dx), free(dgamma), free(dbeta);
}

// elementwise ops: the backward takes either the input or the output, as ops.h declares.
// Budgets, both sides together (u = 2^-24; exp, tanh within 1 ulp = 2u on either side):
//   relu out: exact (a copy or 0); leaky out, relu/leaky dx: one product each side, 2u relative.
//   sigmoid out: exp, 1 + e, division: <= 4u relative each side, 8u. dx = dout·y·(1 - y) from each side's
//     own y: 1 - y keeps y's absolute error (<= 4u), 2 more products: <= 6u·|dout| each side, 12u·max|dout|.
//   tanh out: <= 2u each side (C rounds the double tanh once), 4u. dx = dout·(1 - y²): y² errs by <= 5u
//     absolute, 2 more roundings: <= 7u·|dout| each side, 14u·max|dout|.
//   quickgelu out = x·σ(1.702x): σ <= 4u, 1.702x and the product one rounding each: 6u·|x| each side,
//     12u·max|x|. dx = dout·(s + 1.702·x·s·(1 - s)): s <= 5u, 1 - s keeps s's absolute error, 1.702·x·s·(1-s)
//     errs by <= 8u·1.702|x|, the sum and product 3u: <= (8 + 8·1.702|x|)u·|dout| each side, twice that.
typedef enum { RELU, LEAKY, SIGMOID, TANH, QUICKGELU } Act;
static void test_act(const char *g, Act a) {
    size_t n = (size_t)at(g, "n");
    float *x = rd(g, "x", NULL), *dout = rd(g, "dout", NULL), *out = malloc(sizeof(float) * n), *dx = grad_buf(n);
    float slope = a == LEAKY ? rd1(g, "slope") : 0;
    double mx = 0, mg = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(x[i])), mg = fmax(mg, fabs(dout[i]));
    Budget bo = {0, 0}, bg = {0, 0};
    switch (a) {
    case RELU:
        relu_forward(out, x, n), relu_backward(dx, dout, x, n);
        bg = rel_budget(2 * U);
        break;
    case LEAKY:
        leaky_relu_forward(out, x, n, slope), leaky_relu_backward(dx, dout, x, n, slope);
        bo = bg = rel_budget(2 * U);
        break;
    case SIGMOID:
        sigmoid_forward(out, x, n), sigmoid_backward(dx, dout, out, n);
        bo = rel_budget(8 * U), bg = (Budget){0, 12 * U * mg};
        break;
    case TANH:
        tanh_forward(out, x, n), tanh_backward(dx, dout, out, n);
        bo = rel_budget(4 * U), bg = (Budget){0, 14 * U * mg};
        break;
    case QUICKGELU:
        quickgelu_forward(out, x, n), quickgelu_backward(dx, dout, x, n);
        bo = (Budget){0, 12 * U * mx}, bg = (Budget){0, 2 * (8 + 8 * 1.702 * mx) * U * mg};
        break;
    }
    check_out(g, "out", out, n, bo);
    check_grad(g, "dx", dx, n, bg);
    free(x), free(dout), free(out), free(dx);
}

// softmax over rows of D: out: exp (2u), x - max, the scale (2u) and the row sum of positive terms
// (λ·u·sqrt(D) relative, any order): norm_tol(D, 1, 4). dx = y·(g - Σ g·y): the dot errs by
// <= λ·u·sqrt(D)·max|g| (Σ y = 1), plus 3 roundings of values <= 2·max|g|: 2u·(λ·sqrt(D) + 6)·max|g|.
static void test_softmax(const char *g) {
    int R = at(g, "R"), D = at(g, "D");
    size_t n = (size_t)R * D;
    float *x = rd(g, "x", NULL), *dout = rd(g, "dout", NULL), *out = malloc(sizeof(float) * n), *dx = grad_buf(n);
    double mg = 0;
    for (size_t i = 0; i < n; i++) mg = fmax(mg, fabs(dout[i]));
    softmax_forward(out, x, R, D);
    check_out(g, "out", out, n, rel_budget(norm_tol(D, 1, 4)));
    softmax_backward(dx, dout, out, R, D);
    check_grad(g, "dx", dx, n, (Budget){0, 2 * U * (TU_LAMBDA * sqrt(D) + 6) * mg});
    free(x), free(dout), free(out), free(dx);
}

// The op families (tests/opfamily.h), the same as test_fd_dense's.
static const char *const families[] = {"linear", "conv", "batchnorm", "groupnorm", "layernorm", "activation", "softmax"};

int main(int argc, char **argv) {
    int st = of_parse(argc, argv, 1, families, sizeof families / sizeof *families);
    if (st >= 0) return st;
    ref_file = argv[1];
    if (of_want("linear")) {
        test_linear("linear");
        test_linear("linear_nobias");
    }
    const char *convs[] = {"conv_1x1",       "conv_3x3_p1",  "conv_3x3_p1_n1_nobias", "conv_4x4_valid",
                           "conv_5x5_p2",    "conv_5x5_valid", "conv_patch32",        "conv_patch8",
                           "conv_1x7_p03",   "conv_7x1_p30", "conv_3x3_s2",           "conv_3x3_s2_p1"};
    if (of_want("conv"))
        for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) test_conv(convs[i]);
    if (of_want("batchnorm")) test_bn("bn2d");
    if (of_want("groupnorm")) {
        test_groupnorm("groupnorm_g3");
        test_groupnorm("groupnorm_gc");
    }
    if (of_want("layernorm")) test_layernorm("layernorm");
    if (of_want("activation")) {
        test_act("relu", RELU);
        test_act("leaky_relu_0.2", LEAKY);
        test_act("leaky_relu_0.01", LEAKY);
        test_act("sigmoid", SIGMOID);
        test_act("tanh", TANH);
        test_act("quickgelu", QUICKGELU);
    }
    if (of_want("softmax")) test_softmax("softmax");
    return tu_done("test_parity_dense");
}
