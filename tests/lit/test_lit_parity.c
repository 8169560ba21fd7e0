// Parity of one LiT step with the PyTorch reference (tests/reference/lit_ref.py): the embedding, the
// contrastive loss, d loss / d embedding, d loss / d logit_scale and the weight gradient of every
// tower tensor (clip_encode_backward_params); plus retrieval accuracy, chance level and CLIP scores
// on the reference's set with repeated captions. Built twice: float (ratlip_core) and double
// (ratlip_core_f64); both are compared with the reference's float64 results, within κ times the
// reference's own float32 error (its /lit/f32 run; testutil.h, tu_ref_tol: 2^-29 of it in double).
// usage: test_lit_parity REF.h5 CONFIG.json
#include "core/clip.h"
#include "core/lit.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "io/weights.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Reads a dataset as double (the comparison type) and as `real` (the compute type).
static double *rd(const char *f, const char *name, size_t *n) { return tu_read_f64(f, name, n); }
static real *rr(const char *f, const char *name, size_t *n) {
    double *d = tu_read_f64(f, name, n);
    real *r = malloc(*n * sizeof(real));
    for (size_t i = 0; i < *n; i++) r[i] = (real)d[i];
    free(d);
    return r;
}
static double *widen(const real *x, size_t n) {
    double *d = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = (double)x[i];
    return d;
}
static void close_r(const char *what, const real *got, const double *want, size_t n, double tol) {
    double *g = widen(got, n);
    tu_close_d(what, g, want, n, tol);
    free(g);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s REF.h5 CONFIG.json\n", argv[0]);
        return 2;
    }
    const char *ref = argv[1];
    const double u_real = sizeof(real) == 8 ? TU_U_F64 : TU_U_F32;  // unit roundoff of this build
    Config cfg;
    Err e;
    tu_load_config(&cfg, argv[2], NULL, 0);
    ClipDims d;
    modeldims_clip(&cfg.model, &d);
    ClipTower tw;
    TU_CHECK(clip_build_trainable(&tw, &d) == 0, "clip_build_trainable");
    TU_CHECK(tw.ps.n_trainable == tw.ps.total, "every tower tensor trainable (%zu of %zu)", tw.ps.n_trainable,
             tw.ps.total);
    if (weights_load(ref, "/clip", &tw.ps, 1, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int B = (int)tu_attr_long(ref, "/", "batch"), E = d.embed_dim;
    size_t n;
    double e_ref = 0;
    const char *outs[] = {"emb", "loss", "demb", "dlogit_scale"};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
        char n32[64], n64[64];
        snprintf(n32, sizeof n32, "/lit/f32/%s", outs[i]), snprintf(n64, sizeof n64, "/lit/f64/%s", outs[i]);
        e_ref = fmax(e_ref, tu_ref_err(ref, n32, ref, n64));
    }
    for (int i = 0; i < tw.ps.count; i++) {
        char n32[PARAM_NAME_MAX + 32], n64[PARAM_NAME_MAX + 32];
        snprintf(n32, sizeof n32, "/lit/f32/grad/%s", tw.ps.specs[i].name);
        snprintf(n64, sizeof n64, "/lit/f64/grad/%s", tw.ps.specs[i].name);
        e_ref = fmax(e_ref, tu_ref_err(ref, n32, ref, n64));
    }
    double tol = tu_ref_tol(e_ref, sizeof(real));
    printf("reference float32 vs float64: %.3e; tolerance %.2e (%s build)\n", e_ref, tol,
           sizeof(real) == 8 ? "double" : "float");
    real *img = rr(ref, "/lit/img", &n);
    real *text = rr(ref, "/lit/text", &n);
    real *ls = rr(ref, "/lit/logit_scale", &n);
    double *emb_ref = rd(ref, "/lit/f64/emb", &n), *demb_ref = rd(ref, "/lit/f64/demb", &n);
    double *loss_ref = rd(ref, "/lit/f64/loss", &n), *dls_ref = rd(ref, "/lit/f64/dlogit_scale", &n);

    ClipActs *a = clip_acts_new(&tw, B, 0);
    real *emb = malloc((size_t)B * E * sizeof(real)), *demb = calloc((size_t)B * E, sizeof(real));
    clip_encode_forward(&tw, a, NULL, emb, img, B);
    real dls = 0;
    double loss = lit_loss(demb, &dls, emb, text, B, E, ls[0], NULL, 0);
    close_r("emb", emb, emb_ref, (size_t)B * E, tu_ref_tol_n(tol, (size_t)B * E));
    tu_close_d("loss", &loss, loss_ref, 1, tu_ref_tol_n(tol, 1));
    close_r("d loss / d emb", demb, demb_ref, (size_t)B * E, tu_ref_tol_n(tol, (size_t)B * E));
    close_r("d loss / d logit_scale", &dls, dls_ref, 1, tu_ref_tol_n(tol, 1));
    // The loss alone, from the reference's own embedding: isolates the loss from the tower. lit_loss works
    // in double but for the unit rows û, t̂ (rounded to real: 2u on a cosine) and their similarity GEMM
    // (E terms: λ·u·sqrt(E·q), q = max Σ_k û_k²t̂_k², testutil.h): δsim. The logits are s·sim (s =
    // exp(logit_scale)); the loss's softmaxes pass on at most 2·s·δsim; d û = s·Σ dz·t̂ errs by the same
    // relative 2·s·δsim (+ its rounding to real, u); d logit_scale = s·Σ dz·sim by s·(2s + 1)·δsim absolute.
    real *emb_r = rr(ref, "/lit/f64/emb", &n), *demb2 = calloc((size_t)B * E, sizeof(real));
    double q = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            const real *a = emb_r + (size_t)i * E, *b = text + (size_t)j * E;
            double na = 0, nb = 0, qij = 0;
            for (int k = 0; k < E; k++) na += (double)a[k] * a[k], nb += (double)b[k] * b[k];
            for (int k = 0; k < E; k++) qij += (double)a[k] * a[k] * b[k] * b[k] / (na * nb);
            q = fmax(q, qij);
        }
    double s_ = exp((double)ls[0]), dsim = TU_LAMBDA * u_real * sqrt(E * q) + 2 * u_real;
    real dls2 = 0;
    double loss2 = lit_loss(demb2, &dls2, emb_r, text, B, E, ls[0], NULL, 0);
    tu_close_d("loss (reference embedding)", &loss2, loss_ref, 1, 2 * s_ * dsim / fabs(loss_ref[0]));
    close_r("d emb (reference embedding)", demb2, demb_ref, (size_t)B * E, 2 * s_ * dsim + u_real);
    close_r("d logit_scale (reference embedding)", &dls2, dls_ref, 1, s_ * (2 * s_ + 1) * dsim / fabs(dls_ref[0]));

    // weight gradients: twice the same backward must accumulate to twice the gradient
    params_zero_grad(&tw.ps);
    clip_encode_backward_params(&tw, a, NULL, NULL, demb, B);
    int checked = 0;
    for (int i = 0; i < tw.ps.count; i++) {
        char name[PARAM_NAME_MAX + 32];
        snprintf(name, sizeof name, "/lit/f64/grad/%s", tw.ps.specs[i].name);
        double *g_ref = rd(ref, name, &n);
        TU_CHECK(n == tw.ps.specs[i].numel, "%s: %zu values, reference %zu", name, tw.ps.specs[i].numel, n);
        close_r(tw.ps.specs[i].name, params_grad(&tw.ps, i), g_ref, n, tu_ref_tol_n(tol, n));
        free(g_ref);
        checked++;
    }
    TU_CHECK(checked == tw.ps.count && checked > 0, "checked %d of %d tensors", checked, tw.ps.count);
    real *g1 = malloc(tw.ps.n_trainable * sizeof(real));
    memcpy(g1, tw.ps.grad, tw.ps.n_trainable * sizeof(real));
    clip_encode_forward(&tw, a, NULL, emb, img, B);
    clip_encode_backward_params(&tw, a, NULL, NULL, demb, B);
    double worst = 0;
    for (size_t k = 0; k < tw.ps.n_trainable; k++) {
        double dd = fabs((double)tw.ps.grad[k] - 2.0 * g1[k]);
        if (dd > worst) worst = dd;
    }
    // g2 - 2·g1: every weight gradient is a sum over the B·L token positions (+ the start value); the second
    // pass adds into g1 inside that sum, so the two differ by the budget of such sums: tu_sum_tol(B·L + 1)
    // relative to 2·max|g1| (a missing += would leave a difference of |g1|)
    double maxg = 0, acc_tol = tu_sum_tol((double)B * (d.grid * d.grid + 1) + 1, u_real);
    for (size_t k = 0; k < tw.ps.n_trainable; k++) maxg = fmax(maxg, fabs((double)g1[k]));
    TU_CHECK(worst <= acc_tol * 2 * maxg, "a second backward does not accumulate (+=): max |g2 - 2 g1| = %g (bound %g)",
             worst, acc_tol * 2 * maxg);
    // the input-only backward leaves the weight gradients alone
    memcpy(g1, tw.ps.grad, tw.ps.n_trainable * sizeof(real));
    real *dimg = calloc((size_t)B * 3 * d.image_size * d.image_size, sizeof(real));
    clip_encode_backward(&tw, a, dimg, NULL, demb, B);
    TU_CHECK(memcmp(g1, tw.ps.grad, tw.ps.n_trainable * sizeof(real)) == 0,
             "clip_encode_backward (input-only) changed weight gradients");
    printf("%d tower tensors checked; accumulate: max |g2 - 2 g1| = %.2e\n", checked, worst);

    // The caption bank (core/lit.h): the loss from given embeddings, with bank rows that are image 1's (and 3's)
    // and image 2's own captions (out of those rows' softmaxes) and a hard negative of image 0.
    {
        size_t nb;
        real *bu = rr(ref, "/litbank/u", &n), *bt = rr(ref, "/litbank/t", &n), *bank = rr(ref, "/litbank/bank", &nb);
        real *bls = rr(ref, "/litbank/logit_scale", &n);
        int Mb = (int)(nb / (size_t)E);
        double be = 0;
        const char *bo[] = {"loss", "du", "dlogit_scale"};
        for (int i = 0; i < 3; i++) {
            char n32[64], n64[64];
            snprintf(n32, sizeof n32, "/litbank/f32/%s", bo[i]), snprintf(n64, sizeof n64, "/litbank/f64/%s", bo[i]);
            be = fmax(be, tu_ref_err(ref, n32, ref, n64));
        }
        double btol = tu_ref_tol(be, sizeof(real));
        double *wl = rd(ref, "/litbank/f64/loss", &n), *wdu = rd(ref, "/litbank/f64/du", &n);
        double *wds = rd(ref, "/litbank/f64/dlogit_scale", &n);
        real *du = calloc((size_t)B * E, sizeof(real)), dsb = 0;
        double lb = lit_loss(du, &dsb, bu, bt, B, E, bls[0], bank, Mb);
        tu_close_d("bank: loss", &lb, wl, 1, tu_ref_tol_n(btol, 1));
        close_r("bank: d loss / d u", du, wdu, (size_t)B * E, tu_ref_tol_n(btol, (size_t)B * E));
        close_r("bank: d loss / d logit_scale", &dsb, wds, 1, tu_ref_tol_n(btol, 1));
        // without the bank the loss is another number (the bank is used), and the own-caption rows matter:
        // the same bank with those rows made unequal to the captions (one ulp off) is another loss again
        double l0 = lit_loss(NULL, NULL, bu, bt, B, E, bls[0], NULL, 0);
        real *bank2 = malloc(nb * sizeof(real));
        memcpy(bank2, bank, nb * sizeof(real));
        bank2[2 * (size_t)E] = nextafterf((float)bank2[2 * (size_t)E], 1e30f);
        bank2[5 * (size_t)E] = nextafterf((float)bank2[5 * (size_t)E], 1e30f);
        double l2 = lit_loss(NULL, NULL, bu, bt, B, E, bls[0], bank2, Mb);
        TU_CHECK(fabs(l0 - wl[0]) > 1e-3 && fabs(l2 - wl[0]) > 1e-3,
                 "bank: loss %.6f, without the bank %.6f, with own captions counted as negatives %.6f", lb, l0, l2);
        printf("bank of %d: loss %.6f (reference %.6f; no bank %.6f; own captions as negatives %.6f)\n", Mb, lb, wl[0],
               l0, l2);
        free(bu), free(bt), free(bank), free(bank2), free(bls), free(wl), free(wdu), free(wds), free(du);
    }

    // retrieval and CLIP score on a set with repeated captions
    size_t nu;
    real *u = rr(ref, "/retrieval/u", &nu), *t = rr(ref, "/retrieval/t", &n);
    int M = (int)(nu / (size_t)E);
    double i2t, t2i, c1, c2;
    lit_retrieval(&i2t, &t2i, &c1, &c2, u, t, M, E);
    double *w_i2t = rd(ref, "/retrieval/i2t", &n), *w_t2i = rd(ref, "/retrieval/t2i", &n);
    double *w_ch = rd(ref, "/retrieval/chance", &n), *w_own = rd(ref, "/retrieval/score_own", &n);
    double *w_perm = rd(ref, "/retrieval/score_perm", &n), *permd = rd(ref, "/retrieval/perm", &n);
    int *perm = malloc((size_t)M * sizeof(int));
    for (int i = 0; i < M; i++) perm[i] = (int)permd[i];
    TU_CHECK(i2t == w_i2t[0] && t2i == w_t2i[0], "retrieval i2t %.4f t2i %.4f, reference %.4f %.4f", i2t, t2i,
             w_i2t[0], w_t2i[0]);
    TU_CHECK(fabs(c1 - w_ch[0]) < 1e-12 && c1 == c2, "chance %.4f, reference %.4f", c1, w_ch[0]);
    // CLIP score: the mean over M rows of ab/sqrt(aa·bb), sums of E float products, in double here and in the
    // reference (float64 from the float32 rows): each sum errs by <= λ·u64·sqrt(E) relative to Σ|ab| <= |a||b|
    // (Higham & Mary, any order), so a score by <= 2·(3λ·u64·sqrt(E) + 4·u64) absolute, both sides.
    double own = lit_clip_score(u, t, NULL, M, E), sh = lit_clip_score(u, t, perm, M, E);
    double score_abs = 2 * (3 * TU_LAMBDA * TU_U_F64 * sqrt(E) + 4 * TU_U_F64);
    tu_close_d("clip score (own captions)", &own, w_own, 1, score_abs / fabs(w_own[0]));
    tu_close_d("clip score (shifted captions)", &sh, w_perm, 1, score_abs / fabs(w_perm[0]));
    printf("retrieval i2t %.4f t2i %.4f chance %.4f (reference %.4f %.4f %.4f)\n", i2t, t2i, c1, w_i2t[0], w_t2i[0],
           w_ch[0]);
    // the clamp
    TU_CHECK(lit_clamp_logit_scale(9) == (real)LIT_LOGIT_SCALE_MAX && lit_clamp_logit_scale(-1) == 0 &&
                 lit_clamp_logit_scale(2) == 2,
             "logit_scale clamp to [0, log 100]");
    clip_acts_free(a);
    clip_free(&tw);
    return tu_done("test_lit_parity");
}
