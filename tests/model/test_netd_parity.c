// Parity of NetD + NetC and MA-GP with the PyTorch reference (tests/reference/ratlip.py, cases netd
// and magp), from the reference's initial weights (/init/netD, /init/netC, gates jittered non-zero):
// NetC(NetD(taps), s), the gradients of ⟨dout, pred⟩ w.r.t. every parameter, the taps and the
// sentence; MA-GP's value and its (second-order) gradient w.r.t. every parameter. Weights and inputs
// from the float64 reference file (the float32 ones widened). Built twice, with the float core and with
// the double core (ratlip_core_f64); both are compared with the reference's float64 results within κ
// times the reference's own float32 error on these cases (testutil.h, tu_ref_tol: 2^-29 of it in double).
// usage: test_netd_parity REF.h5 [REF_F64.h5] CONFIG.json   (REF_F64 defaults to REF's name + _f64)
#include "core/netd.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "io/weights.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double TOL;
static const char *REF32, *REF64;

// An input of the case: the float build takes the reference's float32 run's (where the case feeds it
// an intermediate, as MA-GP's CLIP taps, the two runs' differ), the double build the float64 run's.
static real *read_real(const char *name, size_t *n) {
    double *d = tu_read_f64(sizeof(real) == 8 ? REF64 : REF32, name, n);
    real *r = malloc((*n ? *n : 1) * sizeof(real));
    for (size_t i = 0; i < *n; i++) r[i] = (real)d[i];
    free(d);
    return r;
}

// max|got-want| / max|want| with no floor: MA-GP's gradients are ~1e-8 at this config, so testutil's
// floor would pass anything. A reference that is all zeros (the unused conv_s, MA-GP's biases) must be
// matched exactly.
static int close_scaled(const char *what, const real *got, const char *name, size_t n) {
    size_t nw;
    double *want = tu_read_f64(REF64, name, &nw);
    TU_CHECK(nw == n, "%s: %zu values in the reference, %zu here", name, nw, n);
    double maxdiff = 0, maxref = 0, maxgot = 0;
    for (size_t i = 0; i < n && i < nw; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= maxdiff)) maxdiff = d;   // NaN fails
        maxref = fmax(maxref, fabs(want[i]));
        maxgot = fmax(maxgot, fabs((double)got[i]));
    }
    int ok;
    if (maxref == 0) {
        ok = maxgot == 0;
        printf("%-4s %-48s all zero in the reference; max|got| %.3e\n", ok ? "ok" : "FAIL", what, maxgot);
    } else {
        double r = maxdiff / maxref;
        double tol = tu_ref_tol_n(TOL, n);
        ok = r <= tol;
        printf("%-4s %-48s rel err %.3e (tol %.1e, max|ref| %.2e, %zu values)\n", ok ? "ok" : "FAIL", what, r, tol,
               maxref, n);
    }
    if (!ok) tu_failures++;
    free(want);
    return ok;
}

// every tensor of ps against <group>/<name>; or, with e_ref, the reference's float32 error on them
static void compare_grads(const ParamSet *ps, const char *group, const char *label, double *e_ref) {
    for (int t = 0; t < ps->count; t++) {
        char ds[256], what[256];
        snprintf(ds, sizeof ds, "%s/%s", group, ps->specs[t].name);
        snprintf(what, sizeof what, "%s d %s", label, ps->specs[t].name);
        if (e_ref)
            *e_ref = fmax(*e_ref, tu_ref_err(REF32, ds, REF64, ds));
        else
            close_scaled(what, params_grad(ps, t), ds, ps->specs[t].numel);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s REF.h5 [REF_F64.h5] CONFIG.json\n", argv[0]);
        return 2;
    }
    REF32 = argv[1];
    int ic = tu_ref_args(argc, argv, &REF64);
    if (ic >= argc) return fprintf(stderr, "usage: %s REF.h5 [REF_F64.h5] CONFIG.json\n", argv[0]), 2;
    Config cfg;
    Err e;
    tu_load_config(&cfg, argv[ic], NULL, 0);
    NetDDims d;
    modeldims_netd(&cfg.model, &d);
    NetDC net;
    if (netdc_build(&net, &d, &e) || weights_load(REF64, "/init/netD", &net.netd, 1, &e) < 0 ||
        weights_load(REF64, "/init/netC", &net.netc, 1, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    // the reference's float32 error over every tensor compared below
    double e_ref = 0;
    const char *outs[] = {"/netd/out", "/netd/dtaps", "/netd/ds", "/magp/gnorm", "/magp/value"};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) e_ref = fmax(e_ref, tu_ref_err(REF32, outs[i], REF64, outs[i]));
    compare_grads(&net.netd, "/netd/grad/netD", NULL, &e_ref);
    compare_grads(&net.netc, "/netd/grad/netC", NULL, &e_ref);
    if (sizeof(real) == 8) {   // MA-GP's parameter gradients: the double build only (see below)
        compare_grads(&net.netd, "/magp/grad/netD", NULL, &e_ref);
        compare_grads(&net.netc, "/magp/grad/netC", NULL, &e_ref);
    }
    TOL = tu_ref_tol(e_ref, sizeof(real));
    printf("reference float32 vs float64: %.3e; tolerance %.2e (%s build)\n", e_ref, TOL,
           sizeof(real) == 8 ? "double" : "float");

    int B = (int)tu_attr_long(REF64, "/", "batch");
    size_t n, n_taps, n_s;
    NetDActs *da = netd_acts_new(&d, B);
    NetCActs *ca = netc_acts_new(&d, B);
    size_t n_feat = (size_t)B * d.d_out_ch * d.grid * d.grid;
    real *feat = malloc(n_feat * sizeof(real)), *dfeat = calloc(n_feat, sizeof(real)), pred[64];

    // netd: forward and backward from dout
    real *taps = read_real("/netd/taps", &n_taps);
    real *s = read_real("/netd/s", &n_s);
    real *dout = read_real("/netd/dout", &n);
    real *dtaps = calloc(n_taps, sizeof(real)), *ds = calloc(n_s, sizeof(real));
    params_zero_grad(&net.netd);
    params_zero_grad(&net.netc);
    netd_forward(&net, da, feat, taps, B);
    netc_forward(&net, ca, pred, feat, s, B);
    netc_backward(&net, ca, dfeat, ds, dout, B);
    netd_backward(&net, da, dtaps, dfeat, B);
    close_scaled("netd NetC(NetD(taps), s)", pred, "/netd/out", (size_t)B);
    close_scaled("netd d taps", dtaps, "/netd/dtaps", n_taps);
    close_scaled("netd d s", ds, "/netd/ds", n_s);
    compare_grads(&net.netd, "/netd/grad/netD", "netd", NULL);
    compare_grads(&net.netc, "/netd/grad/netC", "netd", NULL);
    free(taps); free(s); free(dout); free(dtaps); free(ds);

    // magp: value and parameter gradients at the reference's real-image taps
    taps = read_real("/magp/taps", &n_taps);
    s = read_real("/magp/s", &n_s);
    real *gt = malloc(n_taps * sizeof(real)), *gs = malloc(n_s * sizeof(real));
    Magp *mg = magp_new(&d, B);
    params_zero_grad(&net.netd);
    params_zero_grad(&net.netc);
    netd_forward(&net, da, feat, taps, B);
    netc_forward(&net, ca, pred, feat, s, B);
    real value = (real)magp_forward_backward(&net, mg, da, ca, B, cfg.train.magp_weight, cfg.train.magp_p, gt, gs);
    real gnorm[64];
    size_t per = n_taps / (size_t)B, per_s = n_s / (size_t)B;
    for (int b = 0; b < B; b++) {
        double q = 0;
        for (size_t i = 0; i < per; i++) q += (double)gt[b * per + i] * gt[b * per + i];
        for (size_t i = 0; i < per_s; i++) q += (double)gs[b * per_s + i] * gs[b * per_s + i];
        gnorm[b] = (real)sqrt(q);
    }
    printf("magp value %.6e\n", (double)value);
    close_scaled("magp per-sample gradient norms", gnorm, "/magp/gnorm", (size_t)B);
    close_scaled("magp value", &value, "/magp/value", 1);
    // MA-GP's parameter gradients differentiate LeakyReLU's derivative, a step: in float32 they jump
    // wherever a pre-activation's rounding crosses 0 (measured: 4e-2 relative from a 1e-7 change of the
    // taps, with oneDNN limited to AVX2), so no rounding budget holds; the double build checks them.
    if (sizeof(real) == 8) {
        compare_grads(&net.netd, "/magp/grad/netD", "magp", NULL);
        compare_grads(&net.netc, "/magp/grad/netC", "magp", NULL);
    } else {
        printf("     magp parameter gradients: checked by the double build (float32: steps at LeakyReLU kinks)\n");
    }
    magp_free(mg);
    free(taps); free(s); free(gt); free(gs);

    free(feat); free(dfeat);
    netd_acts_free(da);
    netc_acts_free(ca);
    netdc_free(&net);
    return tu_done("test_netd_parity");
}
