// Finite-difference check (double precision, ratlip_core_f64) of MA-GP's exact parameter gradient:
// value(θ) = k·mean_b ‖∂Σpred/∂(taps_b, sent_b)‖^p, differentiated numerically w.r.t. every NetD and
// NetC parameter (gates, conv weights, biases) and compared with magp_forward_backward's
// second-order gradient. Run for upstream's (k, p) = (2, 6) and for (1.5, 4); also checks that the
// returned g equals the ordinary backward from Σ pred.
#include "netd_fd_fixture.h"
#include <string.h>

static Magp *mg;
static double K, Pw;

// MA-GP value at the current parameters (its gradient side effect is discarded by the caller)
static double value(void) {
    fixture_forward();
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
            double *fd = malloc(n * sizeof(double));
            fd_central(value, params_tensor(ps, t), n, fd);
            char what[160];
            snprintf(what, sizeof what, "k%.1f p%.0f %s.%s", k, p, s ? "netC" : "netD", ps->specs[t].name);
            check(what, ana[s] + ps->specs[t].offset, fd, n);
            free(fd);
        }
        free(ana[s]);
    }
}

int main(void) {
    if (fixture_setup(5, rng_key(13, RNG_SYNTH))) return 1;
    mg = magp_new(&DIMS, B);

    // g returned by MA-GP = the ordinary input gradient of Σ pred
    double *gt = malloc(ntaps * sizeof(double)), *gs = malloc(nsent * sizeof(double));
    double *dt = calloc(ntaps, sizeof(double)), *ds = calloc(nsent, sizeof(double)), *dout = calloc(nout, sizeof(double));
    double ones[B] = {1, 1, 1};
    fixture_forward();
    magp_forward_backward(&net, mg, da, ca, B, 2, 6, gt, gs);
    netc_backward(&net, ca, dout, ds, ones, B);
    netd_backward(&net, da, dt, dout, B);
    check("g taps = backward of sum pred", gt, dt, ntaps);
    check("g sent = backward of sum pred", gs, ds, nsent);

    run(2, 6);
    run(1.5, 4);

    free(gt); free(gs); free(dt); free(ds); free(dout);
    magp_free(mg);
    fixture_free();
    return fixture_done();
}
