// Finite-difference check (double precision, ratlip_core_f64) of NetD + NetC backward: every parameter
// gradient and the input gradients (taps, sentence) of L = Σ_b w_b·pred_b with random weights w, on a
// reduced config. Gates are made non-zero so every path carries gradient.
#include "netd_fd_fixture.h"
#include <string.h>

static double *w;

static double loss(void) {
    fixture_forward();
    double s = 0;
    for (int b = 0; b < B; b++) s += w[b] * pred[b];
    return s;
}

static void check_params(ParamSet *ps, const char *net_name) {
    for (int t = 0; t < ps->count; t++) {
        size_t n = ps->specs[t].numel;
        double *fd = malloc(n * sizeof(double));
        fd_central(loss, params_tensor(ps, t), n, fd);
        char what[160];
        snprintf(what, sizeof what, "%s.%s", net_name, ps->specs[t].name);
        check(what, params_grad(ps, t), fd, n);
        free(fd);
    }
}

int main(void) {
    Err e;
    RngKey key = rng_key(11, RNG_SYNTH);
    if (fixture_setup(7, key)) return 1;
    w = malloc(B * sizeof(double));
    rng_fill_uniform(w, B, -1, 1, key, 4);

    // analytic: params and inputs
    double *dtaps = calloc(ntaps, sizeof(double)), *dsent = calloc(nsent, sizeof(double));
    double *dout = calloc(nout, sizeof(double));
    params_zero_grad(&net.netd);
    params_zero_grad(&net.netc);
    loss();
    netc_backward(&net, ca, dout, dsent, w, B);
    netd_backward(&net, da, dtaps, dout, B);

    check_params(&net.netd, "netD");
    check_params(&net.netc, "netC");
    double *fd = malloc(ntaps * sizeof(double));
    fd_central(loss, taps, ntaps, fd);
    check("d taps", dtaps, fd, ntaps);
    fd_central(loss, sent, nsent, fd);
    check("d sentence", dsent, fd, nsent);

    // the input-only backward (G step) gives the same input gradients and leaves parameter grads alone
    {
        double *gsave = malloc(net.netd.n_trainable * sizeof(double));
        memcpy(gsave, net.netd.grad, net.netd.n_trainable * sizeof(double));
        double *dt2 = calloc(ntaps, sizeof(double)), *ds2 = calloc(nsent, sizeof(double));
        double *do2 = calloc(nout, sizeof(double));
        loss();
        netc_backward_input(&net, ca, do2, ds2, w, B);
        netd_backward_input(&net, da, dt2, do2, B);
        check("input-only backward: d taps", dt2, dtaps, ntaps);
        check("input-only backward: d sentence", ds2, dsent, nsent);
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

    free(fd); free(dtaps); free(dsent); free(dout); free(w);
    fixture_free();
    return fixture_done();
}
