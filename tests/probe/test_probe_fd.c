// Finite-difference check, in double precision (ratlip_core_f64), of probe_loss_grad's gradient: every
// tensor of the attribute probe (conv1..conv3 weights and biases, the head) against central
// differences of the batch loss itself (mean cross-entropy over images and heads, core/probe.h).
// L is the loss (n_out = 1, wout = 1); eps 1e-6, tolerance 1e-6 relative to the tensor's largest
// gradient: the op tests' budget (tests/fdcheck.h). The chain is 3 convs, 3 LeakyReLUs, a mean, a
// linear and a log-softmax, gains ~1, so rounding of L in double over the step is ~1e-10 relative and
// the truncation h²/6·|L'''| ~1e-12. A LeakyReLU kink within ~1e-6 of a pre-activation would break
// the difference of the elements whose step moves it across (a failure of those, not a pass by luck):
// the inputs are fixed (seeded), so the test is deterministic; the smallest |pre-activation| is printed
// (~1e-6..1e-5 of ~10^4 values; a ±1e-6 step of one weight moves a pre-activation by ~1e-6·|input|, and
// the checked elements did not cross).
// Three heads (3, 2, 5 classes) so the per-head softmax offsets are exercised; a batch of 3 images of
// side 16 = the probe's side (no resize), and a second case at S = 32 (area resize: not differentiated,
// the images are inputs) with labels on every class boundary.
#include "core/probe.h"
#include "core/rng.h"
#include "fdcheck.h"
#include <stdlib.h>
#include <string.h>

#define EPS 1e-6
#define TOL 1e-6
#define MAX_CHECKS 120

typedef struct {
    Probe *p;
    const double *img;
    const int32_t *labels;
    int nb, S;
} Ctx;

static void loss_fn(void *ctx, double *out) {
    Ctx *c = ctx;
    Err e;
    double L = 0;
    if (probe_loss_grad(c->p, c->img, c->labels, c->nb, c->S, &L, &e)) {
        fprintf(stderr, "probe_loss_grad: %s\n", e.msg);
        exit(1);
    }
    out[0] = L;
}

static double min_abs_preact(const Probe *p, int nb) {
    double m = 1e300;
    for (int l = 0; l < PROBE_LAYERS; l++) {
        size_t n = (size_t)nb * p->conv[l].K * p->conv[l].OH * p->conv[l].OW;
        for (size_t i = 0; i < n; i++)
            if (fabs(p->c[l][i]) < m) m = fabs(p->c[l][i]);
    }
    return m;
}

static void run_case(const char *name, int S, uint64_t seed) {
    const int ncls[3] = {3, 2, 5}, A = 3, nb = 3, side = 16;
    Probe p;
    Err e;
    if (probe_build(&p, A, ncls, side, 4, &e)) {
        fprintf(stderr, "probe_build: %s\n", e.msg);
        exit(1);
    }
    probe_init(&p, seed);
    double *img = malloc((size_t)nb * 3 * S * S * sizeof(double));
    rng_fill_uniform(img, (size_t)nb * 3 * S * S, -1, 1, rng_key(seed, RNG_INIT), 99);
    int32_t labels[3 * 3] = {0, 1, 4, 2, 0, 0, 1, 1, 2};
    Ctx c = {&p, img, labels, nb, S};
    double L;
    if (probe_loss_grad(&p, img, labels, nb, S, &L, &e)) {
        fprintf(stderr, "probe_loss_grad: %s\n", e.msg);
        exit(1);
    }
    double mpre = min_abs_preact(&p, nb);
    printf("%s: loss %.6f, smallest |pre-activation| %.2e\n", name, L, mpre);
    size_t nt = p.ps.n_trainable;
    double *g = malloc(nt * sizeof(double));
    memcpy(g, p.ps.grad, nt * sizeof(double));
    double wout = 1, scratch;
    for (int i = 0; i < p.ps.count; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s %s", name, p.ps.specs[i].name);
        fd_check(what, loss_fn, &c, params_tensor(&p.ps, i), g + p.ps.specs[i].offset, p.ps.specs[i].numel, &wout, 1,
                 &scratch, EPS, TOL, MAX_CHECKS);
    }
    // the analytic gradient is a gradient of the mean: a second call gives the same (= not +=)
    loss_fn(&c, &scratch);
    if (memcmp(g, p.ps.grad, nt * sizeof(double))) {
        printf("FAIL %s: probe_loss_grad accumulated into ps.grad instead of setting it\n", name);
        fd_failures++;
    }
    free(g);
    free(img);
    probe_free(&p);
}

int main(void) {
    run_case("S16", 16, 3);
    run_case("S32", 32, 5);
    return fd_done("test_probe_fd");
}
