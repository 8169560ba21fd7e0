#include "core/gan.h"
#include "core/ops.h"
#include "core/plan.h"
#include <stdlib.h>
#include <string.h>

// The networks' activations (one plan each: CLIP real and fake, NetG with its mapper, NetD/NetC per
// use, MA-GP), and the iteration's own arrays between them in one more plan.
struct GanBufs {
    Plan plan;                           // the iteration's own arrays (real_rs … dfake)
    int B, S, ntaps, E, nfeat;
    ClipActs *clip_real, *clip_fake;
    NetGActs *gacts;
    NetDActs *d_real, *d_fake;
    NetCActs *c_real, *c_mis, *c_fake;
    Magp *magp;
    real *real_rs;                       // real images resized to CLIP's input [B,3,S,S]
    real *fake;                          // [B,3,S,S]
    real *taps_real, *taps_fake;         // [B,n,W,g,g]
    real *dtaps_fake;
    real *emb_fake, *demb_fake;          // [B,E]
    real *feat_real, *feat_fake, *dfeat; // [B,Do,g,g]
    real *pred, *dpred, *cosv, *dcos;    // [B]
    real *dfake;                         // [B,3,S,S]
};

static void gan_layout(Plan *p, void *ctx) {
    GanBufs *b = ctx;
    size_t nimg = (size_t)b->B * 3 * b->S * b->S, B = (size_t)b->B;
    b->real_rs = plan_reals(p, PLAN_ACT, nimg);
    b->fake = plan_reals(p, PLAN_ACT, nimg);
    b->taps_real = plan_reals(p, PLAN_ACT, (size_t)b->ntaps);
    b->taps_fake = plan_reals(p, PLAN_ACT, (size_t)b->ntaps);
    b->emb_fake = plan_reals(p, PLAN_ACT, B * b->E);
    b->feat_real = plan_reals(p, PLAN_ACT, (size_t)b->nfeat);
    b->feat_fake = plan_reals(p, PLAN_ACT, (size_t)b->nfeat);
    b->pred = plan_reals(p, PLAN_ACT, B);
    b->cosv = plan_reals(p, PLAN_ACT, B);
    b->dfake = plan_reals(p, PLAN_GRAD, nimg);
    b->dtaps_fake = plan_reals(p, PLAN_GRAD, (size_t)b->ntaps);
    b->demb_fake = plan_reals(p, PLAN_GRAD, B * b->E);
    b->dfeat = plan_reals(p, PLAN_GRAD, (size_t)b->nfeat);
    b->dpred = plan_reals(p, PLAN_GRAD, B);
    b->dcos = plan_reals(p, PLAN_GRAD, B);
}

int gan_build(Gan *gan, const NetGDims *gd, const NetDDims *dd, const ClipDims *cd, const GanHyper *h,
              int max_batch, int real_size, Err *e) {
    memset(gan, 0, sizeof(*gan));
    gan->h = *h;
    gan->max_batch = max_batch;
    gan->real_size = real_size;
    if (clip_build(&gan->clip, cd)) return err_set(e, "gan: out of memory building the CLIP tower");
    if (netg_build(&gan->g, gd, e)) return -1;
    if (netdc_build(&gan->dc, dd, e)) return -1;
    gan->has_ema = h->ema_decay > 0;
    if (gan->has_ema && netg_build(&gan->g_ema, gd, e)) return -1;

    int B = max_batch, g = cd->image_size / cd->patch;
    GanBufs *b = calloc(1, sizeof(*b));
    gan->buf = b;
    if (!b) return err_set(e, "gan: out of memory");
    b->B = B, b->S = cd->image_size, b->E = cd->embed_dim;
    b->ntaps = B * cd->n_taps * cd->width * g * g, b->nfeat = B * dd->d_out_ch * g * g;
    b->gacts = netg_acts_new(&gan->g, &gan->clip, B, e);
    if (!b->gacts) return -1;
    if (!(b->clip_real = clip_acts_new(&gan->clip, B, 0)) || !(b->clip_fake = clip_acts_new(&gan->clip, B, 0)) ||
        !(b->d_real = netd_acts_new(dd, B)) || !(b->d_fake = netd_acts_new(dd, B)) ||
        !(b->c_real = netc_acts_new(dd, B)) || !(b->c_mis = netc_acts_new(dd, B)) ||
        !(b->c_fake = netc_acts_new(dd, B)) || !(b->magp = magp_new(dd, B)) || plan_build(&b->plan, gan_layout, b))
        return err_set(e, "gan: out of memory allocating activations for batch %d", B);
    return 0;
}

size_t gan_activation_bytes(const Gan *gan) {
    const GanBufs *b = gan->buf;
    if (!b) return 0;
    return plan_bytes(&b->plan) + clip_acts_bytes(b->clip_real) + clip_acts_bytes(b->clip_fake) +
           netg_acts_bytes(b->gacts) + netd_acts_bytes(b->d_real) + netd_acts_bytes(b->d_fake) +
           netc_acts_bytes(b->c_real) + netc_acts_bytes(b->c_mis) + netc_acts_bytes(b->c_fake) + magp_bytes(b->magp);
}

void gan_ema_reset(Gan *gan) {
    if (!gan->has_ema) return;
    memcpy(gan->g_ema.ps.data, gan->g.ps.data, gan->g.ps.total * sizeof(real));
    gan->g_ema.bn_batches_tracked = gan->g.bn_batches_tracked;
}

void gan_init(Gan *gan, uint64_t seed) {
    netg_init(&gan->g, seed);
    netdc_init(&gan->dc, seed);
    gan_ema_reset(gan);
}

void gan_free(Gan *gan) {
    GanBufs *b = gan->buf;
    if (b) {
        clip_acts_free(b->clip_real);
        clip_acts_free(b->clip_fake);
        netg_acts_free(b->gacts);
        netd_acts_free(b->d_real);
        netd_acts_free(b->d_fake);
        netc_acts_free(b->c_real);
        netc_acts_free(b->c_mis);
        netc_acts_free(b->c_fake);
        magp_free(b->magp);
        plan_free(&b->plan);
        free(b);
    }
    netg_free(&gan->g);
    if (gan->has_ema) netg_free(&gan->g_ema);
    netdc_free(&gan->dc);
    clip_free(&gan->clip);
    memset(gan, 0, sizeof(*gan));
}

// Hinge term mean(relu(1 + sign·pred)) and its gradient scaled by `weight` (accumulated into dpred).
static double hinge(const real *pred, real *dpred, int B, real sign, real weight) {
    double sum = 0;
    for (int b = 0; b < B; b++) {
        real m = 1 + sign * pred[b];
        if (m > 0) {
            sum += m;
            dpred[b] += weight * sign / B;
        }
    }
    return sum / B;
}

int gan_d_backward(Gan *gan, const real *real_img, const real *s, const real *s_mis, const real *z, int B,
                   GanLosses *L) {
    GanBufs *b = gan->buf;
    NetDC *dc = &gan->dc;
    const ClipDims *cd = &gan->clip.d;
    int S = cd->image_size;
    size_t nfeat = (size_t)B * dc->d.d_out_ch * dc->d.grid * dc->d.grid;
    params_zero_grad(&dc->netd);
    params_zero_grad(&dc->netc);

    // real images → CLIP taps (no gradient needed) → NetD features, scored with s and s_mis
    const real *real_in = real_img;
    if (gan->real_size != S) {
        resize_nearest_forward(b->real_rs, real_img, B, 3, gan->real_size, gan->real_size, S, S);
        real_in = b->real_rs;
    }
    clip_encode_forward(&gan->clip, b->clip_real, b->taps_real, NULL, real_in, B);
    netd_forward(dc, b->d_real, b->feat_real, b->taps_real, B);
    netc_forward(dc, b->c_real, b->pred, b->feat_real, s, B);
    // MA-GP first: it reuses (and overwrites) the real/matched pass's backward signals
    L->magp = magp_forward_backward(dc, b->magp, b->d_real, b->c_real, B, gan->h.magp_weight, gan->h.magp_p, NULL,
                                    NULL);
    memset(b->dpred, 0, B * sizeof(real));
    L->d_real = hinge(b->pred, b->dpred, B, -1, 1);
    memset(b->dfeat, 0, nfeat * sizeof(real));
    netc_backward(dc, b->c_real, b->dfeat, NULL, b->dpred, B);

    netc_forward(dc, b->c_mis, b->pred, b->feat_real, s_mis, B);
    memset(b->dpred, 0, B * sizeof(real));
    L->d_mis = hinge(b->pred, b->dpred, B, +1, 0.5);
    netc_backward(dc, b->c_mis, b->dfeat, NULL, b->dpred, B);
    netd_backward(dc, b->d_real, NULL, b->dfeat, B);

    // fake images (G in train mode; its activations stay for the G step)
    if (netg_forward(&gan->g, b->gacts, &gan->clip, z, s, b->fake, B, 1)) return -1;
    clip_encode_forward(&gan->clip, b->clip_fake, b->taps_fake, b->emb_fake, b->fake, B);
    netd_forward(dc, b->d_fake, b->feat_fake, b->taps_fake, B);
    netc_forward(dc, b->c_fake, b->pred, b->feat_fake, s, B);
    memset(b->dpred, 0, B * sizeof(real));
    L->d_fake = hinge(b->pred, b->dpred, B, +1, 0.5);
    memset(b->dfeat, 0, nfeat * sizeof(real));
    netc_backward(dc, b->c_fake, b->dfeat, NULL, b->dpred, B);
    netd_backward(dc, b->d_fake, NULL, b->dfeat, B);

    L->d_total = L->d_real + 0.5 * (L->d_fake + L->d_mis) + L->magp;
    return 0;
}

static void adam(ParamSet *ps, real lr, const GanHyper *h) {
    ps->adam_step++;
    adam_step(ps->data, ps->grad, ps->adam_m, ps->adam_v, ps->n_trainable, lr, h->beta1, h->beta2, h->adam_eps,
              ps->adam_step);
}

void gan_d_update(Gan *gan) {
    adam(&gan->dc.netd, gan->h.lr_d, &gan->h);
    adam(&gan->dc.netc, gan->h.lr_d, &gan->h);
}

int gan_g_backward(Gan *gan, const real *s, int B, GanLosses *L) {
    GanBufs *b = gan->buf;
    NetDC *dc = &gan->dc;
    const ClipDims *cd = &gan->clip.d;
    int S = cd->image_size, E = cd->embed_dim;
    size_t nfeat = (size_t)B * dc->d.d_out_ch * dc->d.grid * dc->d.grid;
    size_t ntaps = (size_t)B * cd->n_taps * cd->width * dc->d.grid * dc->d.grid;
    params_zero_grad(&gan->g.ps);

    // adversarial term with the updated D, on the CLIP taps of the fakes from the D step
    netd_forward(dc, b->d_fake, b->feat_fake, b->taps_fake, B);
    netc_forward(dc, b->c_fake, b->pred, b->feat_fake, s, B);
    double mean_pred = 0;
    for (int i = 0; i < B; i++) {
        mean_pred += b->pred[i];
        b->dpred[i] = (real)-1 / B;
    }
    L->g_adv = -mean_pred / B;
    memset(b->dfeat, 0, nfeat * sizeof(real));
    memset(b->dtaps_fake, 0, ntaps * sizeof(real));
    netc_backward_input(dc, b->c_fake, b->dfeat, NULL, b->dpred, B);
    netd_backward_input(dc, b->d_fake, b->dtaps_fake, b->dfeat, B);

    // CLIP similarity term: −w · mean cos(emb_fake, s)
    cosine_similarity_forward(b->cosv, b->emb_fake, s, B, E, (real)1e-8);
    double sim = 0;
    for (int i = 0; i < B; i++) {
        sim += b->cosv[i];
        b->dcos[i] = -gan->h.sim_weight / B;
    }
    L->sim = sim / B;
    L->g_total = L->g_adv - gan->h.sim_weight * L->sim;
    memset(b->demb_fake, 0, (size_t)B * E * sizeof(real));
    cosine_similarity_backward(b->demb_fake, NULL, b->dcos, b->emb_fake, s, B, E, (real)1e-8);

    // through the frozen CLIP encoder into the image, then through G
    memset(b->dfake, 0, (size_t)B * 3 * S * S * sizeof(real));
    clip_encode_backward(&gan->clip, b->clip_fake, b->dfake, b->dtaps_fake, b->demb_fake, B);
    return netg_backward(&gan->g, b->gacts, &gan->clip, b->dfake, NULL, B);
}

void gan_g_update(Gan *gan) {
    ParamSet *ps = &gan->g.ps;
    if (!gan->has_ema) {
        adam(ps, gan->h.lr_g, &gan->h);
        return;
    }
    // EMA of the trainable values, fused into Adam's pass; BatchNorm buffers are copied (StyleGAN
    // practice). The decay warms up as min(d, (1+t)/(10+t)) over the first G steps t (TensorFlow's
    // num_updates rule), so the EMA tracks G from the start instead of averaging in the initial
    // weights for ~1/(1-d) steps.
    const GanHyper *h = &gan->h;
    ps->adam_step++;
    real t = (real)ps->adam_step;
    real d = h->ema_decay < (1 + t) / (10 + t) ? h->ema_decay : (1 + t) / (10 + t);
    real *ema = gan->g_ema.ps.data;
    adam_ema_step(ps->data, ps->grad, ps->adam_m, ps->adam_v, ema, d, ps->n_trainable, h->lr_g, h->beta1, h->beta2,
                  h->adam_eps, ps->adam_step);
    memcpy(ema + ps->n_trainable, ps->data + ps->n_trainable, (ps->total - ps->n_trainable) * sizeof(real));
    gan->g_ema.bn_batches_tracked = gan->g.bn_batches_tracked;
}

int gan_generate(Gan *gan, int use_ema, const real *z, const real *s, real *img, int B) {
    NetG *net = use_ema && gan->has_ema ? &gan->g_ema : &gan->g;
    return netg_forward(net, gan->buf->gacts, &gan->clip, z, s, img, B, 0);
}

const real *gan_fake(const Gan *gan) { return gan->buf->fake; }

static double sumsq(const real *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

void gan_grad_norms(const Gan *gan, double *norm_d, double *norm_g) {
    *norm_d = sqrt(sumsq(gan->dc.netd.grad, gan->dc.netd.n_trainable) +
                   sumsq(gan->dc.netc.grad, gan->dc.netc.n_trainable));
    *norm_g = sqrt(sumsq(gan->g.ps.grad, gan->g.ps.n_trainable));
}
