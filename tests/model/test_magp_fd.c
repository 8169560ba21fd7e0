// Finite-difference check (double precision, ratlip_core_f64) of MA-GP's exact parameter gradient:
// value(θ) = k·mean_b ‖∂Σpred/∂(taps_b, sent_b)‖^p, differentiated numerically w.r.t. every NetD and
// NetC parameter (gates, conv weights, biases) and compared with magp_forward_backward's
// second-order gradient. Run for upstream's (k, p) = (2, 6) and for (1.5, 4); also checks that the
// returned g equals the ordinary backward from Σ pred.
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
static Magp *mg;
static double *taps, *sent, *out, *pred;
static double K, Pw;

// MA-GP value at the current parameters (its gradient side effect is discarded by the caller)
static double value(void) {
    netd_forward(&net, da, out, taps, B);
    netc_forward(&net, ca, pred, out, sent, B);
    return magp_forward_backward(&net, mg, da, ca, B, K, Pw, NULL, NULL);
}

static void run(double k, double p) {
    K = k;
    Pw = p;
    ParamSet *sets[2] = {&net.netd, &net.netc};
    // analytic
    params_zero_grad(&net.netd);
    params_zero_grad(&net.netc);
    double v0 = value();
    double *ana[2];
    for (int s = 0; s < 2; s++) {
        ana[s] = malloc(sets[s]->n_trainable * sizeof(double));
        memcpy(ana[s], sets[s]->grad, sets[s]->n_trainable * sizeof(double));
    }
    printf("k %.1f p %.1f: MA-GP value %.6e\n", k, p, v0);
    for (int s = 0; s < 2; s++) {
        ParamSet *ps = sets[s];
        for (int t = 0; t < ps->count; t++) {
            size_t n = ps->specs[t].numel;
            double *x = params_tensor(ps, t), *fd = malloc(n * sizeof(double));
            for (size_t i = 0; i < n; i++) {
                double x0 = x[i];
                x[i] = x0 + H;
                double vp = value();
                x[i] = x0 - H;
                double vm = value();
                x[i] = x0;
                fd[i] = (vp - vm) / (2 * H);
            }
            char what[160];
            snprintf(what, sizeof what, "k%.1f p%.0f %s.%s", k, p, s ? "netC" : "netD", ps->specs[t].name);
            check(what, ana[s] + ps->specs[t].offset, fd, n);
            free(fd);
        }
        free(ana[s]);
    }
}

int main(void) {
    Err e;
    if (netdc_build(&net, &DIMS, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    netdc_init(&net, 5);
    RngKey key = rng_key(13, RNG_SYNTH);
    for (int t = 0; t < net.netd.count; t++)
        if (net.netd.specs[t].numel == 1) *params_tensor(&net.netd, t) = 0.3 + 0.4 * rng_uniform(key, 1, (uint64_t)t);
    int HW = DIMS.grid * DIMS.grid;
    size_t ntaps = (size_t)B * DIMS.n_taps * DIMS.width * HW, nout = (size_t)B * DIMS.d_out_ch * HW;
    size_t nsent = (size_t)B * DIMS.text_dim;
    taps = malloc(ntaps * sizeof(double));
    sent = malloc(nsent * sizeof(double));
    out = malloc(nout * sizeof(double));
    pred = malloc(B * sizeof(double));
    rng_fill_normal(taps, ntaps, 0, 1, key, 2);
    rng_fill_normal(sent, nsent, 0, 1, key, 3);
    da = netd_acts_new(&DIMS, B);
    ca = netc_acts_new(&DIMS, B);
    mg = magp_new(&DIMS, B);

    // g returned by MA-GP = the ordinary input gradient of Σ pred
    double *gt = malloc(ntaps * sizeof(double)), *gs = malloc(nsent * sizeof(double));
    double *dt = calloc(ntaps, sizeof(double)), *ds = calloc(nsent, sizeof(double)), *dout = calloc(nout, sizeof(double));
    double ones[B] = {1, 1, 1};
    netd_forward(&net, da, out, taps, B);
    netc_forward(&net, ca, pred, out, sent, B);
    magp_forward_backward(&net, mg, da, ca, B, 2, 6, gt, gs);
    netc_backward(&net, ca, dout, ds, ones, B);
    netd_backward(&net, da, dt, dout, B);
    check("g taps = backward of sum pred", gt, dt, ntaps);
    check("g sent = backward of sum pred", gs, ds, nsent);

    run(2, 6);
    run(1.5, 4);

    free(gt); free(gs); free(dt); free(ds); free(dout);
    free(taps); free(sent); free(out); free(pred);
    magp_free(mg);
    netd_acts_free(da);
    netc_acts_free(ca);
    netdc_free(&net);
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
