// Parity of the dense ops (linear, conv2d, BatchNorm2d, GroupNorm, LayerNorm, activations, softmax)
// with PyTorch: tests/reference/ops_dense.py wrote inputs, parameters, outputs, the upstream gradient
// and every gradient of each case to one HDF5 file (argv[1]); here the same op runs in C and is
// compared at relative error <= 1e-4 (tu_rel_err: max abs difference over max |reference|).
// Gradient buffers start at GRAD_FILL, not zero, so the test also proves that backward adds (+=).
#include "core/ops.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4
#define GRAD_FILL 0.25f

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
// compare a gradient that was accumulated onto GRAD_FILL with the reference dataset grp/name
static void check_grad(const char *grp, const char *name, float *got, size_t n) {
    size_t nw;
    float *want = rd(grp, name, &nw);
    TU_CHECK(nw == n, "%s/%s: %zu values, expected %zu", grp, name, nw, n);
    for (size_t i = 0; i < n; i++) got[i] -= GRAD_FILL;
    char what[128];
    snprintf(what, sizeof what, "%s %s", grp, name);
    tu_close(what, got, want, n, TOL);
    free(want);
}
static void check_out(const char *grp, const char *name, const float *got, size_t n, double tol) {
    size_t nw;
    float *want = rd(grp, name, &nw);
    TU_CHECK(nw == n, "%s/%s: %zu values, expected %zu", grp, name, nw, n);
    char what[128];
    snprintf(what, sizeof what, "%s %s", grp, name);
    tu_close(what, got, want, n, tol);
    free(want);
}

static void test_linear(const char *g) {
    int N = at(g, "N"), IN = at(g, "IN"), OUT = at(g, "OUT"), bias = at(g, "bias");
    float *x = rd(g, "x", NULL), *w = rd(g, "w", NULL), *dout = rd(g, "dout", NULL);
    float *b = bias ? rd(g, "b", NULL) : NULL;
    float *out = malloc(sizeof(float) * N * OUT);
    linear_forward(out, x, w, b, N, IN, OUT);
    check_out(g, "out", out, (size_t)N * OUT, TOL);
    float *dx = grad_buf((size_t)N * IN), *dw = grad_buf((size_t)OUT * IN), *db = grad_buf(OUT);
    linear_backward(dx, dw, bias ? db : NULL, dout, x, w, N, IN, OUT);
    check_grad(g, "dx", dx, (size_t)N * IN);
    check_grad(g, "dw", dw, (size_t)OUT * IN);
    if (bias) check_grad(g, "db", db, OUT);
    free(x), free(w), free(b), free(dout), free(out), free(dx), free(dw), free(db);
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
    float *out = malloc(sizeof(float) * no);
    conv2d_forward(out, x, w, b, &s);
    check_out(g, "out", out, no, TOL);
    float *dx = grad_buf(nx), *dw = grad_buf(nw), *db = grad_buf(s.K);
    conv2d_backward(dx, dw, bias ? db : NULL, dout, x, w, &s);
    check_grad(g, "dx", dx, nx);
    check_grad(g, "dw", dw, nw);
    if (bias) check_grad(g, "db", db, s.K);
    free(x), free(w), free(b), free(dout), free(out), free(dx), free(dw), free(db);
}

static void test_bn(const char *g) {
    int N = at(g, "N"), C = at(g, "C"), HW = at(g, "H") * at(g, "W");
    size_t n = (size_t)N * C * HW;
    float eps = rd1(g, "eps"), mom = rd1(g, "momentum");
    float *x = rd(g, "x", NULL), *gamma = rd(g, "gamma", NULL), *beta = rd(g, "beta", NULL);
    float *rm = rd(g, "rm0", NULL), *rv = rd(g, "rv0", NULL), *dout = rd(g, "dout", NULL);
    float *out = malloc(sizeof(float) * n), *mean = malloc(sizeof(float) * C), *invstd = malloc(sizeof(float) * C);
    bn2d_forward_train(out, mean, invstd, rm, rv, x, gamma, beta, N, C, HW, eps, mom);
    check_out(g, "out", out, n, TOL);
    check_out(g, "rm1", rm, C, TOL);
    check_out(g, "rv1", rv, C, TOL);
    float *dx = grad_buf(n), *dgamma = grad_buf(C), *dbeta = grad_buf(C);
    bn2d_backward(dx, dgamma, dbeta, dout, x, mean, invstd, gamma, N, C, HW);
    check_grad(g, "dx", dx, n);
    check_grad(g, "dgamma", dgamma, C);
    check_grad(g, "dbeta", dbeta, C);

    // the split phases (what sync BN runs with an allreduce between them) give the same result
    double *sums = malloc(sizeof(double) * 2 * C);
    float *mean2 = malloc(sizeof(float) * C), *invstd2 = malloc(sizeof(float) * C), *out2 = malloc(sizeof(float) * n);
    bn2d_stats(sums, x, N, C, HW);
    bn2d_mean_invstd(mean2, invstd2, sums, (double)N * HW, C, eps);
    bn2d_apply(out2, x, mean2, invstd2, gamma, beta, N, C, HW);
    check_out(g, "out", out2, n, TOL);
    float *dx2 = grad_buf(n), *dgamma2 = grad_buf(C), *dbeta2 = grad_buf(C);
    bn2d_backward_sums(sums, dout, x, mean2, invstd2, N, C, HW);
    bn2d_backward_apply(dx2, dgamma2, dbeta2, sums, (double)N * HW, dout, x, mean2, invstd2, gamma, N, C, HW);
    check_grad(g, "dx", dx2, n);
    check_grad(g, "dgamma", dgamma2, C);
    check_grad(g, "dbeta", dbeta2, C);

    // eval mode with the running statistics updated by the train forward
    float *xe = rd(g, "x_eval", NULL);
    bn2d_forward_eval(out, xe, gamma, beta, rm, rv, N, C, HW, eps);
    check_out(g, "out_eval", out, n, TOL);
    free(x), free(gamma), free(beta), free(rm), free(rv), free(dout), free(out), free(mean), free(invstd);
    free(dx), free(dgamma), free(dbeta), free(sums), free(mean2), free(invstd2), free(out2), free(dx2);
    free(dgamma2), free(dbeta2), free(xe);
}

static void test_groupnorm(const char *g) {
    int N = at(g, "N"), C = at(g, "C"), HW = at(g, "H") * at(g, "W"), G = at(g, "G");
    size_t n = (size_t)N * C * HW;
    float eps = rd1(g, "eps");
    float *x = rd(g, "x", NULL), *gamma = rd(g, "gamma", NULL), *beta = rd(g, "beta", NULL), *dout = rd(g, "dout", NULL);
    float *out = malloc(sizeof(float) * n), *mean = malloc(sizeof(float) * N * G), *rstd = malloc(sizeof(float) * N * G);
    groupnorm_forward(out, mean, rstd, x, gamma, beta, N, C, HW, G, eps);
    check_out(g, "out", out, n, TOL);
    float *dx = grad_buf(n), *dgamma = grad_buf(C), *dbeta = grad_buf(C);
    groupnorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma, N, C, HW, G);
    check_grad(g, "dx", dx, n);
    check_grad(g, "dgamma", dgamma, C);
    check_grad(g, "dbeta", dbeta, C);
    free(x), free(gamma), free(beta), free(dout), free(out), free(mean), free(rstd), free(dx), free(dgamma), free(dbeta);
}

static void test_layernorm(const char *g) {
    int R = at(g, "R"), D = at(g, "D");
    size_t n = (size_t)R * D;
    float eps = rd1(g, "eps");
    float *x = rd(g, "x", NULL), *gamma = rd(g, "gamma", NULL), *beta = rd(g, "beta", NULL), *dout = rd(g, "dout", NULL);
    float *out = malloc(sizeof(float) * n), *mean = malloc(sizeof(float) * R), *rstd = malloc(sizeof(float) * R);
    layernorm_forward(out, mean, rstd, x, gamma, beta, R, D, eps);
    check_out(g, "out", out, n, TOL);
    float *dx = grad_buf(n), *dgamma = grad_buf(D), *dbeta = grad_buf(D);
    layernorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma, R, D);
    check_grad(g, "dx", dx, n);
    check_grad(g, "dgamma", dgamma, D);
    check_grad(g, "dbeta", dbeta, D);
    free(x), free(gamma), free(beta), free(dout), free(out), free(mean), free(rstd), free(dx), free(dgamma), free(dbeta);
}

// elementwise ops: the backward takes either the input or the output, as ops.h declares
typedef enum { RELU, LEAKY, SIGMOID, TANH, QUICKGELU } Act;
static void test_act(const char *g, Act a) {
    size_t n = (size_t)at(g, "n");
    float *x = rd(g, "x", NULL), *dout = rd(g, "dout", NULL), *out = malloc(sizeof(float) * n), *dx = grad_buf(n);
    float slope = a == LEAKY ? rd1(g, "slope") : 0;
    switch (a) {
    case RELU: relu_forward(out, x, n), relu_backward(dx, dout, x, n); break;
    case LEAKY: leaky_relu_forward(out, x, n, slope), leaky_relu_backward(dx, dout, x, n, slope); break;
    case SIGMOID: sigmoid_forward(out, x, n), sigmoid_backward(dx, dout, out, n); break;
    case TANH: tanh_forward(out, x, n), tanh_backward(dx, dout, out, n); break;
    case QUICKGELU: quickgelu_forward(out, x, n), quickgelu_backward(dx, dout, x, n); break;
    }
    check_out(g, "out", out, n, TOL);
    check_grad(g, "dx", dx, n);
    free(x), free(dout), free(out), free(dx);
}

static void test_softmax(const char *g) {
    int R = at(g, "R"), D = at(g, "D");
    size_t n = (size_t)R * D;
    float *x = rd(g, "x", NULL), *dout = rd(g, "dout", NULL), *out = malloc(sizeof(float) * n), *dx = grad_buf(n);
    softmax_forward(out, x, R, D);
    check_out(g, "out", out, n, TOL);
    softmax_backward(dx, dout, out, R, D);
    check_grad(g, "dx", dx, n);
    free(x), free(dout), free(out), free(dx);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_parity_dense ops_dense.h5\n");
        return 2;
    }
    ref_file = argv[1];
    test_linear("linear");
    test_linear("linear_nobias");
    const char *convs[] = {"conv_1x1",       "conv_3x3_p1",  "conv_3x3_p1_n1_nobias", "conv_4x4_valid",
                           "conv_5x5_p2",    "conv_5x5_valid", "conv_patch32",        "conv_patch8",
                           "conv_1x7_p03",   "conv_7x1_p30", "conv_3x3_s2",           "conv_3x3_s2_p1"};
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) test_conv(convs[i]);
    test_bn("bn2d");
    test_groupnorm("groupnorm_g3");
    test_groupnorm("groupnorm_gc");
    test_layernorm("layernorm");
    test_act("relu", RELU);
    test_act("leaky_relu_0.2", LEAKY);
    test_act("leaky_relu_0.01", LEAKY);
    test_act("sigmoid", SIGMOID);
    test_act("tanh", TANH);
    test_act("quickgelu", QUICKGELU);
    test_softmax("softmax");
    return tu_done("test_parity_dense");
}
