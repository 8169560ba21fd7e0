// netd_fd_fixture: what the NetD/NetC finite-difference tests (test_netd_fd, test_magp_fd; double core)
// share: a reduced NetD/NetC with its gates moved away from 0 so every path carries gradient, random
// taps and sentences for a batch of B, the activations, a central difference of a scalar function and
// the relative comparison that counts failures. Header-only: each test includes it once.
#pragma once
#include "core/netd.h"
#include "core/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int failures = 0;
static const double H = 1e-6, TOL = 1e-6;  // budget: tests/fdcheck.h

// max|got-want| / max(max|want|, 1e-8) <= TOL; prints the figure, counts a failure
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

// fd[i] = (f(x + H e_i) - f(x - H e_i)) / 2H for every element of x (restored afterwards)
static void fd_central(double (*f)(void), double *x, size_t n, double *fd) {
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + H;
        double fp = f();
        x[i] = x0 - H;
        double fm = f();
        x[i] = x0;
        fd[i] = (fp - fm) / (2 * H);
    }
}

static const NetDDims DIMS = {.width = 4, .grid = 4, .n_taps = 3, .d_out_ch = 3, .text_dim = 5,
                              .netc_mid = 3, .netc_k1 = 2, .netc_k2 = 3};
enum { B = 3 };

static NetDC net;
static NetDActs *da;
static NetCActs *ca;
static double *taps, *sent, *out, *pred;   // [B,n_taps,width,grid,grid], [B,text_dim], NetD out, [B]
static size_t ntaps, nsent, nout;

// Builds and initialises the nets (init_seed), sets every gate to U(0.3, 0.7) and draws taps and
// sentences from N(0,1), all from key (counters 1, 2, 3; later draws use 4 on). Returns -1 on failure.
static int fixture_setup(uint64_t init_seed, RngKey key) {
    Err e;
    if (netdc_build(&net, &DIMS, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    netdc_init(&net, init_seed);
    for (int t = 0; t < net.netd.count; t++)
        if (net.netd.specs[t].numel == 1) *params_tensor(&net.netd, t) = 0.3 + 0.4 * rng_uniform(key, 1, (uint64_t)t);
    int HW = DIMS.grid * DIMS.grid;
    ntaps = (size_t)B * DIMS.n_taps * DIMS.width * HW, nout = (size_t)B * DIMS.d_out_ch * HW;
    nsent = (size_t)B * DIMS.text_dim;
    taps = malloc(ntaps * sizeof(double));
    sent = malloc(nsent * sizeof(double));
    out = malloc(nout * sizeof(double));
    pred = malloc(B * sizeof(double));
    rng_fill_normal(taps, ntaps, 0, 1, key, 2);
    rng_fill_normal(sent, nsent, 0, 1, key, 3);
    da = netd_acts_new(&DIMS, B);
    ca = netc_acts_new(&DIMS, B);
    return 0;
}

// pred = NetC(NetD(taps), sent) at the current parameters
static void fixture_forward(void) {
    netd_forward(&net, da, out, taps, B);
    netc_forward(&net, ca, pred, out, sent, B);
}

static void fixture_free(void) {
    free(taps), free(sent), free(out), free(pred);
    netd_acts_free(da);
    netc_acts_free(ca);
    netdc_free(&net);
}

// the exit status, after a summary line
static int fixture_done(void) {
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
