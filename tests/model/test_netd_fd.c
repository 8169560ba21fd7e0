// Finite-difference check (double precision, ratlip_core_f64) of NetD + NetC backward: every parameter
// gradient and the input gradients (taps, sentence) of L = Σ_b w_b·pred_b with random weights w, on a
// reduced config. Gates are made non-zero so every path carries gradient.
#include "core/netd.h"
#include "core/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static const double H = 1e-6, TOL = 1e-6;

static void check(const char *what, const double *got, const double *want, size_t n) {
    double md = 0, mw = 1e-8;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs(got[i] - want[i]));
        mw = fmax(mw, fabs(want[i]));
    }
    double rel = md / mw;
    int ok = rel <= TOL;
    printf("%s %-34s rel %.2e (max|fd| %.2e, n %zu)\n", ok ? "ok  " : "FAIL", what, rel, mw, n);
    failures += !ok;
}

static const NetDDims DIMS = {.width = 4, .grid = 4, .n_taps = 3, .d_out_ch = 3, .text_dim = 5,
                              .netc_mid = 3, .netc_k1 = 2, .netc_k2 = 3};
enum { B = 3 };

static NetDC net;
static NetDActs *da;
static NetCActs *ca;
static double *taps, *sent, *w, *out, *pred;

static double loss(void) {
    netd_forward(&net, da, out, taps, B);
    netc_forward(&net, ca, pred, out, sent, B);
    double s = 0;
    for (int b = 0; b < B; b++) s += w[b] * pred[b];
    return s;
}

static void fd_array(double *x, size_t n, double *fd) {
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + H;
        double lp = loss();
        x[i] = x0 - H;
        double lm = loss();
        x[i] = x0;
        fd[i] = (lp - lm) / (2 * H);
    }
}

static void check_params(ParamSet *ps, const char *net_name) {
    for (int t = 0; t < ps->count; t++) {
        size_t n = ps->specs[t].numel;
        double *fd = malloc(n * sizeof(double));
        fd_array(params_tensor(ps, t), n, fd);
        char what[160];
        snprintf(what, sizeof what, "%s.%s", net_name, ps->specs[t].name);
        check(what, params_grad(ps, t), fd, n);
        free(fd);
    }
}

int main(void) {
    Err e;
    if (netdc_build(&net, &DIMS, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    netdc_init(&net, 7);
    RngKey key = rng_key(11, RNG_SYNTH);
    // gates away from 0 so the residual branches and the β·F paths are exercised
    for (int t = 0; t < net.netd.count; t++)
        if (net.netd.specs[t].numel == 1) *params_tensor(&net.netd, t) = 0.3 + 0.4 * rng_uniform(key, 1, (uint64_t)t);
    int HW = DIMS.grid * DIMS.grid;
    size_t ntaps = (size_t)B * DIMS.n_taps * DIMS.width * HW, nout = (size_t)B * DIMS.d_out_ch * HW;
    taps = malloc(ntaps * sizeof(double));
    sent = malloc((size_t)B * DIMS.text_dim * sizeof(double));
    w = malloc(B * sizeof(double));
    out = malloc(nout * sizeof(double));
    pred = malloc(B * sizeof(double));
    rng_fill_normal(taps, ntaps, 0, 1, key, 2);
    rng_fill_normal(sent, (size_t)B * DIMS.text_dim, 0, 1, key, 3);
    rng_fill_uniform(w, B, -1, 1, key, 4);
    da = netd_acts_new(&DIMS, B);
    ca = netc_acts_new(&DIMS, B);

    // analytic: params and inputs
    double *dtaps = calloc(ntaps, sizeof(double)), *dsent = calloc((size_t)B * DIMS.text_dim, sizeof(double));
    double *dout = calloc(nout, sizeof(double));
    params_zero_grad(&net.netd);
    params_zero_grad(&net.netc);
    loss();
    netc_backward(&net, ca, dout, dsent, w, B);
    netd_backward(&net, da, dtaps, dout, B);

    check_params(&net.netd, "netD");
    check_params(&net.netc, "netC");
    double *fd = malloc(ntaps * sizeof(double));
    fd_array(taps, ntaps, fd);
    check("d taps", dtaps, fd, ntaps);
    fd_array(sent, (size_t)B * DIMS.text_dim, fd);
    check("d sentence", dsent, fd, (size_t)B * DIMS.text_dim);

    // the input-only backward (G step) gives the same input gradients and leaves parameter grads alone
    {
        double *gsave = malloc(net.netd.n_trainable * sizeof(double));
        memcpy(gsave, net.netd.grad, net.netd.n_trainable * sizeof(double));
        double *dt2 = calloc(ntaps, sizeof(double)), *ds2 = calloc((size_t)B * DIMS.text_dim, sizeof(double));
        double *do2 = calloc(nout, sizeof(double));
        loss();
        netc_backward_input(&net, ca, do2, ds2, w, B);
        netd_backward_input(&net, da, dt2, do2, B);
        check("input-only backward: d taps", dt2, dtaps, ntaps);
        check("input-only backward: d sentence", ds2, dsent, (size_t)B * DIMS.text_dim);
        int same = memcmp(gsave, net.netd.grad, net.netd.n_trainable * sizeof(double)) == 0;
        printf("%s input-only backward leaves NetD parameter gradients unchanged\n", same ? "ok  " : "FAIL");
        failures += !same;
        free(gsave); free(dt2); free(ds2); free(do2);
    }
    // the DBlocks' conv_s is declared but unused: its gradient must stay exactly 0
    const double *gs = params_grad(&net.netd, params_find(&net.netd, "DBlocks.0.conv_s.weight"));
    int zero = 1;
    for (int i = 0; i < DIMS.width * DIMS.width; i++) zero &= gs[i] == 0;
    printf("%s unused DBlocks.0.conv_s has zero gradient\n", zero ? "ok  " : "FAIL");
    failures += !zero;

    // a bad NetC kernel configuration is an error naming the field
    NetDDims bad = DIMS;
    bad.netc_k2 = 2;
    NetDC tmp;
    int r = netdc_build(&tmp, &bad, &e);
    int named = r == -1 && strstr(e.msg, "netc_k1/netc_k2") != NULL;
    printf("%s bad netc kernels rejected: %s\n", named ? "ok  " : "FAIL", r ? e.msg : "(accepted)");
    failures += !named;

    free(fd); free(dtaps); free(dsent); free(dout);
    free(taps); free(sent); free(w); free(out); free(pred);
    netd_acts_free(da);
    netc_acts_free(ca);
    netdc_free(&net);
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
