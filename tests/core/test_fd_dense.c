// Finite-difference check, in double precision (ratlip_core_f64), of every gradient of the dense ops:
// linear, conv2d (the shapes RATLIP, CLIP and Inception use), BatchNorm2d (train), GroupNorm,
// LayerNorm, the activations and softmax. Independent of PyTorch, so a wrong reference cannot hide a
// wrong backward. L = Σ wout·f(θ), eps 1e-6, tolerance 1e-6 relative (the budget: tests/fdcheck.h).
// Usage: test_fd_dense [FAMILY] (tests/opfamily.h; ctest runs each family as op_<family>_fd).
#include "core/kernels.h"
#include "core/ops.h"
#include "core/rng.h"
#include "fdcheck.h"
#include "opfamily.h"
#include <stdlib.h>
#include <string.h>

#define EPS 1e-6
#define TOL 1e-6
#define MAX_CHECKS 300

typedef enum { LINEAR, CONV, BN, GN, LN, RELU, LEAKY, SIGMOID, TANH, QUICKGELU, SOFTMAX } Op;

// One op with its tensors. p[0] is the input; p[1], p[2] the parameters (w, b or gamma, beta), NULL
// when absent. np[i]: their sizes.
typedef struct {
    Op op;
    double *p[3];
    size_t np[3];
    size_t n_out;
    int N, IN, OUT;       // linear
    ConvShape cs;         // conv
    int C, HW, G, R, D;   // norms, softmax
    double slope, eps;
} Case;

static uint64_t draw_counter = 0;
static double *randn(size_t n, double mean, double std) {
    double *a = malloc(n * sizeof(double));
    rng_fill_normal(a, n, mean, std, rng_key(1234, RNG_INIT), draw_counter++);
    return a;
}

// out = f(p): the op's forward; the caches the backward needs go to mean/rstd when non-NULL
static void forward_cached(const Case *c, double *out, double *mean, double *rstd) {
    double *x = c->p[0], *a = c->p[1], *b = c->p[2];
    switch (c->op) {
    case LINEAR: linear_forward(out, x, a, b, c->N, c->IN, c->OUT); break;
    case CONV: conv2d_forward(out, x, a, b, &c->cs); break;
    case BN: bn2d_forward_train(out, mean, rstd, NULL, NULL, x, a, b, c->N, c->C, c->HW, c->eps, 0.1); break;
    case GN: groupnorm_forward(out, mean, rstd, x, a, b, c->N, c->C, c->HW, c->G, c->eps); break;
    case LN: layernorm_forward(out, mean, rstd, x, a, b, c->R, c->D, c->eps); break;
    case RELU: relu_forward(out, x, c->np[0]); break;
    case LEAKY: leaky_relu_forward(out, x, c->np[0], c->slope); break;
    case SIGMOID: sigmoid_forward(out, x, c->np[0]); break;
    case TANH: tanh_forward(out, x, c->np[0]); break;
    case QUICKGELU: quickgelu_forward(out, x, c->np[0]); break;
    case SOFTMAX: softmax_forward(out, x, c->R, c->D); break;
    }
}

static size_t stats_len(const Case *c) { return c->op == BN ? (size_t)c->C : c->op == GN ? (size_t)c->N * c->G : (size_t)c->R; }

static void forward(void *ctx, double *out) {
    const Case *c = ctx;
    size_t ns = stats_len(c) + 1;
    double *mean = malloc(ns * sizeof(double)), *rstd = malloc(ns * sizeof(double));
    forward_cached(c, out, mean, rstd);
    free(mean), free(rstd);
}

// g[i] += dL/dp[i] for dout = wout
static void backward(const Case *c, double *g[3], const double *dout) {
    double *x = c->p[0], *a = c->p[1];
    size_t ns = stats_len(c) + 1;
    double *out = malloc(c->n_out * sizeof(double)), *mean = malloc(ns * sizeof(double)),
           *rstd = malloc(ns * sizeof(double));
    forward_cached(c, out, mean, rstd);
    size_t n = c->np[0];
    switch (c->op) {
    case LINEAR: linear_backward(g[0], g[1], g[2], dout, x, a, c->N, c->IN, c->OUT); break;
    case CONV: conv2d_backward(g[0], g[1], g[2], dout, x, a, &c->cs); break;
    case BN: bn2d_backward(g[0], g[1], g[2], dout, x, mean, rstd, a, c->N, c->C, c->HW); break;
    case GN: groupnorm_backward(g[0], g[1], g[2], dout, x, mean, rstd, a, c->N, c->C, c->HW, c->G); break;
    case LN: layernorm_backward(g[0], g[1], g[2], dout, x, mean, rstd, a, c->R, c->D); break;
    case RELU: relu_backward(g[0], dout, x, n); break;
    case LEAKY: leaky_relu_backward(g[0], dout, x, n, c->slope); break;
    case SIGMOID: sigmoid_backward(g[0], dout, out, n); break;
    case TANH: tanh_backward(g[0], dout, out, n); break;
    case QUICKGELU: quickgelu_backward(g[0], dout, x, n); break;
    case SOFTMAX: softmax_backward(g[0], dout, out, c->R, c->D); break;
    }
    free(out), free(mean), free(rstd);
}

// checks the gradient of every tensor of the case, then frees them
static void check_case(const char *name, Case *c) {
    static const char *labels[3] = {"dx", "dparam1", "dparam2"};
    double *wout = randn(c->n_out, 0, 1), *scratch = malloc(c->n_out * sizeof(double));
    double *g[3] = {NULL, NULL, NULL};
    if (fd_skip) {   // the draws are made: the next case's data does not depend on the filter
        for (int i = 0; i < 3; i++) free(c->p[i]);
        free(wout), free(scratch);
        return;
    }
    for (int i = 0; i < 3; i++)
        if (c->p[i]) g[i] = calloc(c->np[i], sizeof(double));
    backward(c, g, wout);
    for (int i = 0; i < 3; i++) {
        if (!c->p[i]) continue;
        char what[96];
        const char *lab = labels[i];
        if (c->op == LINEAR || c->op == CONV) lab = i == 1 ? "dw" : i == 2 ? "db" : "dx";
        if (c->op == BN || c->op == GN || c->op == LN) lab = i == 1 ? "dgamma" : i == 2 ? "dbeta" : "dx";
        snprintf(what, sizeof what, "%s %s", name, lab);
        fd_check(what, forward, c, c->p[i], g[i], c->np[i], wout, c->n_out, scratch, EPS, TOL, MAX_CHECKS);
    }
    for (int i = 0; i < 3; i++) free(g[i]), free(c->p[i]);
    free(wout), free(scratch);
}

static void fd_linear(void) {
    Case c = {.op = LINEAR, .N = 4, .IN = 6, .OUT = 5};
    c.np[0] = 24, c.np[1] = 30, c.np[2] = 5;
    c.p[0] = randn(24, 0, 1), c.p[1] = randn(30, 0, 0.5), c.p[2] = randn(5, 0, 1);
    c.n_out = 20;
    check_case("linear", &c);
}

static void fd_conv(const char *name, int N, int C, int H, int W, int K, int kh, int kw, int sh, int sw, int ph,
                    int pw, int bias) {
    Case c = {.op = CONV, .cs = conv_shape(N, C, H, W, K, kh, kw, sh, sw, ph, pw)};
    c.np[0] = (size_t)N * C * H * W, c.np[1] = (size_t)K * C * kh * kw, c.np[2] = bias ? (size_t)K : 0;
    c.p[0] = randn(c.np[0], 0, 1), c.p[1] = randn(c.np[1], 0, 0.3), c.p[2] = bias ? randn(K, 0, 1) : NULL;
    c.n_out = (size_t)N * K * c.cs.OH * c.cs.OW;
    check_case(name, &c);
}

static void fd_norm(const char *name, Op op, int N, int C, int HW, int G) {
    Case c = {.op = op, .N = N, .C = C, .HW = HW, .G = G, .eps = 1e-5};
    size_t n = (size_t)N * C * HW;
    if (op == LN) c.R = N * C, c.D = HW;   // LayerNorm: rows of HW values, per-element affine over HW
    size_t np = op == LN ? (size_t)HW : (size_t)C;
    c.np[0] = n, c.np[1] = np, c.np[2] = np;
    c.p[0] = randn(n, 0.5, 2), c.p[1] = randn(np, 1, 0.3), c.p[2] = randn(np, 0, 0.3);
    c.n_out = n;
    check_case(name, &c);
}

// elementwise ops; inputs kept at least 0.01 away from 0 so no difference straddles a kink
static void fd_act(const char *name, Op op, double slope) {
    Case c = {.op = op, .slope = slope, .R = 6, .D = 7};
    size_t n = 42;
    double *x = randn(n, 0, 2);
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) < 0.01) x[i] = x[i] < 0 ? -0.01 : 0.01;
    c.np[0] = n, c.p[0] = x, c.n_out = n;
    check_case(name, &c);
}

// conv2d over a batch, which runs in chunks of images when the column buffer would pass its budget (here
// 8 images of 16×24×24 with 3×3 kernels: chunks of 6 and 2 at the 2^19-float budget of one BLAS thread),
// must equal the same conv run image by image (a single-image GEMM path), output and every gradient.
// Budget: the same sums in other orders (other GEMM shapes), in double: out and dx sum C·9 = 144 and
// K·9 = 45 terms, dw and db N·H·W = 4608 (the per-image path adds image by image): 2·λ·u64·sqrt(4608) =
// 1.3e-13 relative to the result scale (testutil.h's model, random data); tolerance 1e-12.
static double max_rel_diff(const double *a, const double *b, size_t n) {
    double md = 0, mr = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= md)) md = d;
        if (fabs(b[i]) > mr) mr = fabs(b[i]);
    }
    return md / mr;
}
static void check_conv_chunks(void) {
    const int N = 8, C = 16, H = 24, K = 5;
    kern_set_threads(1);   // the column budget scales with the BLAS threads
    ConvShape s = conv_shape(N, C, H, H, K, 3, 3, 1, 1, 1, 1), s1 = conv_shape(1, C, H, H, K, 3, 3, 1, 1, 1, 1);
    size_t nx = (size_t)N * C * H * H, nw = (size_t)K * C * 9, no = (size_t)N * K * H * H;
    size_t nx1 = nx / N, no1 = no / N;
    double *x = randn(nx, 0, 1), *w = randn(nw, 0, 0.1), *b = randn(K, 0, 1), *dout = randn(no, 0, 1);
    if (fd_skip) {
        free(x), free(w), free(b), free(dout);
        return;
    }
    double *out = malloc(no * sizeof(double)), *out1 = malloc(no * sizeof(double));
    double *dx = calloc(nx, sizeof(double)), *dw = calloc(nw, sizeof(double)), *db = calloc(K, sizeof(double));
    double *dx1 = calloc(nx, sizeof(double)), *dw1 = calloc(nw, sizeof(double)), *db1 = calloc(K, sizeof(double));
    conv2d_forward(out, x, w, b, &s);
    conv2d_backward(dx, dw, db, dout, x, w, &s);
    for (int n = 0; n < N; n++) {
        conv2d_forward(out1 + n * no1, x + n * nx1, w, b, &s1);
        conv2d_backward(dx1 + n * nx1, dw1, db1, dout + n * no1, x + n * nx1, w, &s1);
    }
    const char *names[4] = {"out", "dx", "dw", "db"};
    double r[4] = {max_rel_diff(out, out1, no), max_rel_diff(dx, dx1, nx), max_rel_diff(dw, dw1, nw),
                   max_rel_diff(db, db1, K)};
    for (int i = 0; i < 4; i++) {
        int ok = r[i] <= 1e-12;
        printf("%-4s conv chunked batch vs per image %-12s rel diff %.3e (tol 1e-12)\n", ok ? "ok" : "FAIL",
               names[i], r[i]);
        if (!ok) fd_failures++;
    }
    free(x), free(w), free(b), free(dout), free(out), free(out1), free(dx), free(dw), free(db), free(dx1);
    free(dw1), free(db1);
}

// The op families (tests/opfamily.h), the same as test_parity_dense's. A family left out by the filter
// still draws its random inputs (fd_skip: only the checks are skipped), so that every case sees the
// same data whatever the filter.
static const char *const families[] = {"linear", "conv", "batchnorm", "groupnorm", "layernorm", "activation", "softmax"};
static void family(const char *name) { fd_skip = !of_want(name); }

int main(int argc, char **argv) {
    int st = of_parse(argc, argv, 0, families, sizeof families / sizeof *families);
    if (st >= 0) return st;
    family("conv");
    check_conv_chunks();
    family("linear");
    fd_linear();
    family("conv");
    fd_conv("conv 1x1", 2, 3, 4, 5, 4, 1, 1, 1, 1, 0, 0, 1);
    fd_conv("conv 3x3 pad 1", 2, 3, 5, 4, 4, 3, 3, 1, 1, 1, 1, 1);
    fd_conv("conv 3x3 pad 1 N=1 no bias", 1, 3, 5, 5, 2, 3, 3, 1, 1, 1, 1, 0);
    fd_conv("conv 4x4 valid", 2, 2, 6, 5, 3, 4, 4, 1, 1, 0, 0, 1);
    fd_conv("conv 5x5 pad 2", 2, 2, 6, 6, 3, 5, 5, 1, 1, 2, 2, 1);
    fd_conv("conv 5x5 valid", 2, 2, 7, 6, 3, 5, 5, 1, 1, 0, 0, 1);
    fd_conv("conv patch 4/4", 2, 3, 8, 12, 4, 4, 4, 4, 4, 0, 0, 1);
    fd_conv("conv 1x7 pad (0,3)", 2, 2, 4, 8, 3, 1, 7, 1, 1, 0, 3, 1);
    fd_conv("conv 7x1 pad (3,0)", 2, 2, 8, 4, 3, 7, 1, 1, 1, 3, 0, 1);
    fd_conv("conv 3x3 stride 2", 2, 2, 9, 8, 3, 3, 3, 2, 2, 0, 0, 1);
    fd_conv("conv 3x3 stride 2 pad 1", 2, 2, 8, 7, 3, 3, 3, 2, 2, 1, 1, 1);
    family("batchnorm");
    fd_norm("batchnorm2d train", BN, 3, 4, 6, 0);
    family("groupnorm");
    fd_norm("groupnorm G=2", GN, 2, 6, 5, 2);
    fd_norm("groupnorm G=C", GN, 2, 4, 6, 4);
    family("layernorm");
    fd_norm("layernorm", LN, 2, 3, 8, 0);
    family("activation");
    fd_act("relu", RELU, 0);
    fd_act("leaky_relu 0.2", LEAKY, 0.2);
    fd_act("leaky_relu 0.01", LEAKY, 0.01);
    fd_act("sigmoid", SIGMOID, 0);
    fd_act("tanh", TANH, 0);
    fd_act("quickgelu", QUICKGELU, 0);
    family("softmax");
    fd_act("softmax", SOFTMAX, 0);
    return fd_done("test_fd_dense");
}
