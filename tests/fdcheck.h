// fdcheck: header-only finite-difference checking of a backward, in double precision, for tests linked
// with ratlip_core_f64 (they must not link ratlip_testutil, which pulls in the float core).
//
// The checked scalar is L(θ) = Σ_i wout_i · f(θ)_i for a fixed random wout; the backward run with
// dout = wout must give dL/dθ. For each checked element θ_j, the central difference
// (L(θ_j + eps) - L(θ_j - eps)) / 2eps is compared with the analytic gradient; the figure reported is
// max |numeric - analytic| / max(max |analytic|, 1e-3) over the checked elements.
//
// Budget (issue 11): the central difference errs by its truncation, h²/6·|f'''|, plus the rounding of L
// in double over the step, ~ε_L/h: L sums n_out products of random sign, so ε_L ~ λ·u64·sqrt(n_out·Σ(w·f)²)
// (testutil.h's model; u64 = 2^-53) times the gain G with which the op passes rounding on. For the ops
// (n_out <= ~1e5, |w·f| ~ 1, G ~ 1) at h = 1e-6..1e-5 that is <= ~1e-8 relative, the truncation ~1e-11:
// the tests' 1e-6 leaves 100x. Whole networks (NetG: GroupNorm over 3 samples, G ~ 10) state their own.
// A kink (ReLU, LeakyReLU, max pool, clamp) within h of a checked point is not rounding: the tests keep
// their inputs away from kinks.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stddef.h>

static int fd_failures = 0;
// Set while a case runs that an op-family filter left out (tests/opfamily.h): fd_check then checks and
// prints nothing, but the case still draws its random inputs, so the next one's do not depend on the filter.
static int fd_skip = 0;

// forward: computes f into out[n_out] from the tensors `ctx` points at (θ is one of them)
typedef void (*fd_forward_fn)(void *ctx, double *out);

// L = Σ wout·f
static inline double fd_loss(fd_forward_fn f, void *ctx, double *scratch, const double *wout, size_t n_out) {
    f(ctx, scratch);
    double L = 0;
    for (size_t i = 0; i < n_out; i++) L += wout[i] * scratch[i];
    return L;
}

// Checks grad[n] = dL/dtheta. theta is perturbed in place and restored. At most max_checks elements
// are checked, spread evenly (all of them when n <= max_checks). Returns 1 when within tol.
static inline int fd_check(const char *what, fd_forward_fn f, void *ctx, double *theta, const double *grad,
                           size_t n, const double *wout, size_t n_out, double *scratch, double eps, double tol,
                           size_t max_checks) {
    if (fd_skip) return 1;
    double maxg = 1e-3, maxdiff = 0;
    for (size_t j = 0; j < n; j++)
        if (fabs(grad[j]) > maxg) maxg = fabs(grad[j]);
    size_t step = n > max_checks ? (n + max_checks - 1) / max_checks : 1, checked = 0;
    for (size_t j = (step > 1 ? step / 2 : 0); j < n; j += step, checked++) {
        double keep = theta[j];
        theta[j] = keep + eps;
        double lp = fd_loss(f, ctx, scratch, wout, n_out);
        theta[j] = keep - eps;
        double lm = fd_loss(f, ctx, scratch, wout, n_out);
        theta[j] = keep;
        double d = fabs((lp - lm) / (2 * eps) - grad[j]);
        if (!(d <= maxdiff)) maxdiff = d;  // NaN counts as a failure
    }
    double r = maxdiff / maxg;
    int ok = r <= tol;
    printf("%-4s fd %-44s rel err %.3e (tol %.0e, %zu of %zu checked)\n", ok ? "ok" : "FAIL", what, r, tol, checked,
           n);
    if (!ok) fd_failures++;
    return ok;
}

static inline int fd_done(const char *test) {
    if (fd_failures) {
        printf("%s: %d check(s) FAILED\n", test, fd_failures);
        return 1;
    }
    printf("%s: all checks passed\n", test);
    return 0;
}
