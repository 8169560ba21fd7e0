// Parity of NetD + NetC and MA-GP with the PyTorch reference (tests/reference/ratlip.py, cases netd
// and magp), from the reference's initial weights (/init/netD, /init/netC, gates jittered non-zero):
// NetC(NetD(taps), s), the gradients of ⟨dout, pred⟩ w.r.t. every parameter, the taps and the
// sentence; MA-GP's value and its (second-order) gradient w.r.t. every parameter.
// usage: test_netd_parity REF.h5 CONFIG.json
#include "core/netd.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "io/weights.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double TOL = 1e-4;

// max|got-want| / max|want| with no floor: MA-GP's gradients are ~1e-8 at this config, so testutil's
// floor of 1e-6 would pass anything. A reference that is all zeros (the unused conv_s, MA-GP's biases)
// must be matched exactly.
static int close_scaled(const char *what, const float *got, const float *want, size_t n, double tol) {
    double maxdiff = 0, maxref = 0, maxgot = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= maxdiff)) maxdiff = d;   // NaN fails
        maxref = fmax(maxref, fabs((double)want[i]));
        maxgot = fmax(maxgot, fabs((double)got[i]));
    }
    int ok;
    if (maxref == 0) {
        ok = maxgot == 0;
        printf("%-4s %-48s all zero in the reference; max|got| %.3e\n", ok ? "ok" : "FAIL", what, maxgot);
    } else {
        double r = maxdiff / maxref;
        ok = r <= tol;
        printf("%-4s %-48s rel err %.3e (tol %.0e, max|ref| %.2e, %zu values)\n", ok ? "ok" : "FAIL", what, r, tol,
               maxref, n);
    }
    if (!ok) tu_failures++;
    return ok;
}

// every tensor of ps against <group>/<name>
static void compare_grads(const ParamSet *ps, const char *ref, const char *group, const char *label) {
    for (int t = 0; t < ps->count; t++) {
        char ds[256], what[256];
        snprintf(ds, sizeof ds, "%s/%s", group, ps->specs[t].name);
        snprintf(what, sizeof what, "%s d %s", label, ps->specs[t].name);
        size_t n;
        float *want = tu_read_f32(ref, ds, &n);
        TU_CHECK(n == ps->specs[t].numel, "%s: %zu values in the reference, %zu here", ds, n, ps->specs[t].numel);
        close_scaled(what, params_grad(ps, t), want, n, TOL);
        free(want);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s REF.h5 CONFIG.json\n", argv[0]);
        return 2;
    }
    const char *ref = argv[1];
    Config cfg;
    Err e;
    tu_load_config(&cfg, argv[2], NULL, 0);
    NetDDims d;
    modeldims_netd(&cfg.model, &d);
    NetDC net;
    if (netdc_build(&net, &d, &e) || weights_load(ref, "/init/netD", &net.netd, 1, &e) < 0 ||
        weights_load(ref, "/init/netC", &net.netc, 1, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int B = (int)tu_attr_long(ref, "/", "batch");
    size_t n, n_taps, n_s;
    NetDActs *da = netd_acts_new(&d, B);
    NetCActs *ca = netc_acts_new(&d, B);
    size_t n_feat = (size_t)B * d.d_out_ch * d.grid * d.grid;
    float *feat = malloc(n_feat * sizeof(float)), *dfeat = calloc(n_feat, sizeof(float)), pred[64];

    // netd: forward and backward from dout
    float *taps = tu_read_f32(ref, "/netd/taps", &n_taps);
    float *s = tu_read_f32(ref, "/netd/s", &n_s);
    float *out_ref = tu_read_f32(ref, "/netd/out", &n);
    float *dout = tu_read_f32(ref, "/netd/dout", &n);
    float *dtaps_ref = tu_read_f32(ref, "/netd/dtaps", &n);
    float *ds_ref = tu_read_f32(ref, "/netd/ds", &n);
    float *dtaps = calloc(n_taps, sizeof(float)), *ds = calloc(n_s, sizeof(float));
    params_zero_grad(&net.netd);
    params_zero_grad(&net.netc);
    netd_forward(&net, da, feat, taps, B);
    netc_forward(&net, ca, pred, feat, s, B);
    netc_backward(&net, ca, dfeat, ds, dout, B);
    netd_backward(&net, da, dtaps, dfeat, B);
    close_scaled("netd NetC(NetD(taps), s)", pred, out_ref, (size_t)B, TOL);
    close_scaled("netd d taps", dtaps, dtaps_ref, n_taps, TOL);
    close_scaled("netd d s", ds, ds_ref, n_s, TOL);
    compare_grads(&net.netd, ref, "/netd/grad/netD", "netd");
    compare_grads(&net.netc, ref, "/netd/grad/netC", "netd");
    free(taps); free(s); free(out_ref); free(dout); free(dtaps_ref); free(ds_ref); free(dtaps); free(ds);

    // magp: value and parameter gradients at the reference's real-image taps
    taps = tu_read_f32(ref, "/magp/taps", &n_taps);
    s = tu_read_f32(ref, "/magp/s", &n_s);
    float *value_ref = tu_read_f32(ref, "/magp/value", &n);
    float *gnorm_ref = tu_read_f32(ref, "/magp/gnorm", &n);
    float *gt = malloc(n_taps * sizeof(float)), *gs = malloc(n_s * sizeof(float));
    Magp *mg = magp_new(&d, B);
    params_zero_grad(&net.netd);
    params_zero_grad(&net.netc);
    netd_forward(&net, da, feat, taps, B);
    netc_forward(&net, ca, pred, feat, s, B);
    float value = (float)magp_forward_backward(&net, mg, da, ca, B, cfg.train.magp_weight, cfg.train.magp_p, gt, gs);
    float gnorm[64];
    size_t per = n_taps / (size_t)B, per_s = n_s / (size_t)B;
    for (int b = 0; b < B; b++) {
        double q = 0;
        for (size_t i = 0; i < per; i++) q += (double)gt[b * per + i] * gt[b * per + i];
        for (size_t i = 0; i < per_s; i++) q += (double)gs[b * per_s + i] * gs[b * per_s + i];
        gnorm[b] = (float)sqrt(q);
    }
    printf("magp value %.6e (reference %.6e)\n", value, value_ref[0]);
    close_scaled("magp per-sample gradient norms", gnorm, gnorm_ref, (size_t)B, TOL);
    close_scaled("magp value", &value, value_ref, 1, TOL);
    compare_grads(&net.netd, ref, "/magp/grad/netD", "magp");
    compare_grads(&net.netc, ref, "/magp/grad/netC", "magp");
    magp_free(mg);
    free(taps); free(s); free(value_ref); free(gnorm_ref); free(gt); free(gs);

    free(feat); free(dfeat);
    netd_acts_free(da);
    netc_acts_free(ca);
    netdc_free(&net);
    return tu_done("test_netd_parity");
}
