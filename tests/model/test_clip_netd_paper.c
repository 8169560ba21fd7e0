// Paper-size forward parity (ViT-B/32 layout: 224 px, patch 32, width 768, 12 blocks; NetD/NetC 768→512)
// against the reference's `forward` case at batch 2 (fixture ref_paper_fwd, label slow): CLIP taps and
// embedding of the real and the generated images, and NetC(NetD(taps), s) for both. Compared with the
// reference's float64 run (fixture ref_paper_fwd_f64: the same weights and inputs widened) within κ times
// the float32 run's own error on these tensors (testutil.h, tu_ref_tol).
// usage: test_clip_netd_paper REF.h5 REF_F64.h5 CONFIG.json
#include "core/clip.h"
#include "core/netd.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "io/weights.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double TOL;

// D's logit at paper init is ~1e-2, the difference of terms of order 1 (NetC sums 16·1024 then 16·128
// products): float32 round-off of those terms, not of the result, sets the error, so the logit is
// compared against max(max|want|, LOGIT_SCALE) instead of its own tiny magnitude.
static const double LOGIT_SCALE = 0.1;
static double logit_err(const double *got, const double *want, size_t n, double *maxdiff) {
    double maxref = LOGIT_SCALE;
    *maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        if (!(d <= *maxdiff)) *maxdiff = d;
        maxref = fmax(maxref, fabs(want[i]));
    }
    return *maxdiff / maxref;
}
static void close_logit(const char *what, const float *got, const double *want, size_t n) {
    double g[64], maxdiff;
    for (size_t i = 0; i < n; i++) g[i] = got[i];
    double r = logit_err(g, want, n, &maxdiff), tol = tu_ref_tol_n(TOL, n);
    int ok = r <= tol;
    printf("%-4s %-48s err/max(|ref|,%.1f) %.3e (tol %.1e; abs %.2e)\n", ok ? "ok" : "FAIL", what, LOGIT_SCALE, r,
           tol, maxdiff);
    if (!ok) tu_failures++;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s REF.h5 REF_F64.h5 CONFIG.json\n", argv[0]);
        return 2;
    }
    const char *ref32 = argv[1], *ref = argv[2];
    Config cfg;
    Err e;
    tu_load_config(&cfg, argv[3], NULL, 0);
    double e_ref = 0;
    const char *which[2] = {"real", "fake"}, *input[2] = {"/forward/real", "/forward/img"};
    for (int k = 0; k < 2; k++) {
        char name[96];
        snprintf(name, sizeof name, "/forward/taps_%s", which[k]);
        e_ref = fmax(e_ref, tu_ref_err(ref32, name, ref, name));
        snprintf(name, sizeof name, "/forward/emb_%s", which[k]);
        e_ref = fmax(e_ref, tu_ref_err(ref32, name, ref, name));
        snprintf(name, sizeof name, "/forward/d_%s", which[k]);
        size_t n1, n2;
        double *a = tu_read_f64(ref32, name, &n1), *b = tu_read_f64(ref, name, &n2), md;
        e_ref = fmax(e_ref, logit_err(a, b, n1 < n2 ? n1 : n2, &md));
        free(a), free(b);
    }
    TOL = tu_ref_tol(e_ref, sizeof(float));
    printf("reference float32 vs float64: %.3e; tolerance %.2e\n", e_ref, TOL);
    ClipDims cd;
    NetDDims dd;
    modeldims_clip(&cfg.model, &cd);
    modeldims_netd(&cfg.model, &dd);
    ClipTower tw;
    NetDC net;
    if (clip_build(&tw, &cd) || weights_load(ref, "/clip", &tw.ps, 1, &e) < 0 || netdc_build(&net, &dd, &e) ||
        weights_load(ref, "/init/netD", &net.netd, 1, &e) < 0 || weights_load(ref, "/init/netC", &net.netc, 1, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    printf("CLIP tower %zu frozen values, NetD %zu + NetC %zu trainable\n", params_count_kind(&tw.ps, PARAM_FROZEN),
           net.netd.n_trainable, net.netc.n_trainable);
    // spec/model.md §9 and state-dict.md §3-§4: NetD 28,706,821, NetC 2,099,200, CLIP visual 87,849,216
    TU_CHECK(net.netd.n_trainable == 28706821u, "NetD has %zu trainable values, spec 28706821", net.netd.n_trainable);
    TU_CHECK(net.netc.n_trainable == 2099200u, "NetC has %zu trainable values, spec 2099200", net.netc.n_trainable);
    TU_CHECK(params_count_kind(&tw.ps, PARAM_FROZEN) == 87849216u, "CLIP visual has %zu values, spec 87849216",
             params_count_kind(&tw.ps, PARAM_FROZEN));
    TU_CHECK(tw.ps.count == 152, "CLIP visual has %d tensors, spec 152", tw.ps.count);
    TU_CHECK(net.netd.count == 17 && net.netc.count == 2, "NetD/NetC have %d/%d tensors, spec 17/2", net.netd.count,
             net.netc.count);
    int B = (int)tu_attr_long(ref, "/", "batch");
    size_t n, n_s;
    float *s = tu_read_f32(ref, "/forward/s", &n_s);
    ClipActs *ca = clip_acts_new(&tw, B, 0);
    NetDActs *da = netd_acts_new(&dd, B);
    NetCActs *cc = netc_acts_new(&dd, B);
    size_t n_taps = (size_t)B * dd.n_taps * dd.width * dd.grid * dd.grid, n_emb = (size_t)B * cd.embed_dim;
    float *taps = malloc(n_taps * sizeof(float)), *emb = malloc(n_emb * sizeof(float));
    float *feat = malloc((size_t)B * dd.d_out_ch * dd.grid * dd.grid * sizeof(float)), pred[64];
    for (int k = 0; k < 2; k++) {
        char name[96], what[96];
        float *img = tu_read_f32(ref, input[k], &n);
        TU_CHECK(n == (size_t)B * 3 * cd.image_size * cd.image_size, "%s: expected %d×3×%d×%d values", input[k], B,
                 cd.image_size, cd.image_size);
        clip_encode_forward(&tw, ca, taps, emb, img, B);
        netd_forward(&net, da, feat, taps, B);
        netc_forward(&net, cc, pred, feat, s, B);
        snprintf(name, sizeof name, "/forward/taps_%s", which[k]);
        float *want = tu_read_f32(ref, name, &n);
        snprintf(what, sizeof what, "paper CLIP taps (%s)", which[k]);
        tu_close(what, taps, want, n_taps, TOL);
        free(want);
        snprintf(name, sizeof name, "/forward/emb_%s", which[k]);
        want = tu_read_f32(ref, name, &n);
        snprintf(what, sizeof what, "paper CLIP embedding (%s)", which[k]);
        tu_close(what, emb, want, n_emb, TOL);
        free(want);
        snprintf(name, sizeof name, "/forward/d_%s", which[k]);
        double *want_d = tu_read_f64(ref, name, &n);
        snprintf(what, sizeof what, "paper NetC(NetD(taps), s) (%s)", which[k]);
        close_logit(what, pred, want_d, (size_t)B);
        free(want_d);
        free(img);
    }
    free(s); free(taps); free(emb); free(feat);
    clip_acts_free(ca);
    netd_acts_free(da);
    netc_acts_free(cc);
    clip_free(&tw);
    netdc_free(&net);
    return tu_done("test_clip_netd_paper");
}
