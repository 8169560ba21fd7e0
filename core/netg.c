// netg: parameter declaration (upstream state_dict order), initialisation, the activation plan
// (core/plan.h) and the top-level forward/backward of the generator. Layer arithmetic is in
// gblocks.c, the RAT in rat.c.
#include "core/par.h"
#include "core/netg.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/gblocks.h"
#include "core/ops.h"
#include "core/plan.h"
#include "core/rng.h"

// ---------------------------------------------------------------- declaration
// Every tensor is declared once, in upstream state_dict order, into a PTensor field of net
// (core/params.h); a failed declaration (out of memory, name too long) makes params_finalize fail.

static const ParamKind TR = PARAM_TRAINABLE;

static ParamInit unif(real bound) { return param_uniform(-bound, bound); }

// A name prefix into buf[PARAM_NAME_MAX]. One that does not fit is cut, and then the full name made
// from it does not fit either: params_add refuses it, so the build fails.
static const char *pfx(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *pfx(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, PARAM_NAME_MAX, fmt, ap);
    va_end(ap);
    return buf;
}

// Linear(in → out) with PyTorch's default init U(±1/sqrt(in)).
static void decl_linear(ParamSet *ps, const char *P_, int in, int out, PTensor *w, PTensor *b) {
    real bound = 1 / sqrt((real)in);
    params_add(ps, w, TR, unif(bound), 2, (int[]){out, in}, "%s.weight", P_);
    params_add(ps, b, TR, unif(bound), 1, (int[]){out}, "%s.bias", P_);
}

// Conv2d(cin → cout, k×k), U(±1/sqrt(fan_in)); bias optional (b = NULL for none).
static void decl_conv(ParamSet *ps, const char *P_, int cin, int cout, int k, PTensor *w, PTensor *b) {
    real bound = 1 / sqrt((real)(cin * k * k));
    params_add(ps, w, TR, unif(bound), 4, (int[]){cout, cin, k, k}, "%s.weight", P_);
    if (b) params_add(ps, b, TR, unif(bound), 1, (int[]){cout}, "%s.bias", P_);
}

// Conv_shuffle: conv (no bias), bn (weight, bias, running_mean, running_var), se (cweight, cbias,
// sweight, sbias, gn.weight, gn.bias), in upstream order.
static void decl_cs(NetG *net, const char *P_, int cin, int cout, int HW_side, NetgConvShuffle *cs) {
    ParamSet *ps = &net->ps;
    char buf[PARAM_NAME_MAX];
    int G = net->d.shuffle_groups, k = cout / (2 * G);
    cs->cin = cin, cs->cout = cout, cs->H = cs->W = HW_side, cs->G = G;
    decl_conv(ps, pfx(buf, "%s.conv", P_), cin, cout, 3, &cs->conv_w, NULL);
    ParamInit one = param_const(1), zero = param_const(0);
    params_add(ps, &cs->bn_w, TR, one, 1, (int[]){cout}, "%s.bn.weight", P_);
    params_add(ps, &cs->bn_b, TR, zero, 1, (int[]){cout}, "%s.bn.bias", P_);
    params_add(ps, &cs->bn_rm, PARAM_BUFFER, zero, 1, (int[]){cout}, "%s.bn.running_mean", P_);
    params_add(ps, &cs->bn_rv, PARAM_BUFFER, one, 1, (int[]){cout}, "%s.bn.running_var", P_);
    const int s4[4] = {1, k, 1, 1};
    params_add(ps, &cs->cweight, TR, zero, 4, s4, "%s.se.cweight", P_);
    params_add(ps, &cs->cbias, TR, one, 4, s4, "%s.se.cbias", P_);
    params_add(ps, &cs->sweight, TR, zero, 4, s4, "%s.se.sweight", P_);
    params_add(ps, &cs->sbias, TR, one, 4, s4, "%s.se.sbias", P_);
    params_add(ps, &cs->gn_w, TR, one, 1, (int[]){k}, "%s.se.gn.weight", P_);
    params_add(ps, &cs->gn_b, TR, zero, 1, (int[]){k}, "%s.se.gn.bias", P_);
}

// fc_gamma / fc_beta MLPs: l1, l2 are the Sequential's layer names ("0","2" for Affine_rnn,
// "linear1","linear2" for Affine). Last layers start at W = 0, b = 1 (γ) / 0 (β).
static void decl_mlp(ParamSet *ps, const char *P_, int in, int C, const char *l1, const char *l2, NetgAffineMLP *m) {
    m->in_dim = in, m->C = C;
    ParamInit first = unif(1 / sqrt((real)in));
    for (int br = 0; br < 2; br++) {
        const char *fc = br ? "fc_beta" : "fc_gamma";
        NetgLinear *L1 = br ? &m->beta1 : &m->gamma1, *L2 = br ? &m->beta2 : &m->gamma2;
        params_add(ps, &L1->w, TR, first, 2, (int[]){C, in}, "%s.%s.%s.weight", P_, fc, l1);
        params_add(ps, &L1->b, TR, first, 1, (int[]){C}, "%s.%s.%s.bias", P_, fc, l1);
        params_add(ps, &L2->w, TR, param_const(0), 2, (int[]){C, C}, "%s.%s.%s.weight", P_, fc, l2);
        params_add(ps, &L2->b, TR, param_const(br ? 0 : 1), 1, (int[]){C}, "%s.%s.%s.bias", P_, fc, l2);
    }
}

// LSTM weights, U(±1/sqrt(hidden)); sfx = "_l0" for nn.LSTM, "" for nn.LSTMCell.
static void decl_lstm(ParamSet *ps, const char *P_, const char *sfx, int I, int H, NetgLSTM *l) {
    ParamInit init = unif(1 / sqrt((real)H));
    params_add(ps, &l->wih, TR, init, 2, (int[]){4 * H, I}, "%s.weight_ih%s", P_, sfx);
    params_add(ps, &l->whh, TR, init, 2, (int[]){4 * H, H}, "%s.weight_hh%s", P_, sfx);
    params_add(ps, &l->bih, TR, init, 1, (int[]){4 * H}, "%s.bias_ih%s", P_, sfx);
    params_add(ps, &l->bhh, TR, init, 1, (int[]){4 * H}, "%s.bias_hh%s", P_, sfx);
}

static void decl_mblock(NetG *net, int j) {
    const NetGDims *d = &net->d;
    ParamSet *ps = &net->ps;
    NetgMBlock *m = &net->mb[j];
    char P_[PARAM_NAME_MAX], buf[PARAM_NAME_MAX];
    pfx(P_, "mapping.FBlocks.%d", j);
    m->first = ps->count;
    decl_conv(ps, pfx(buf, "%s.conv1", P_), d->code_ch, d->mblock_mid, 3, &m->conv1_w, &m->conv1_b);
    if (!d->rat_batch) decl_lstm(ps, pfx(buf, "%s.rat_cell", P_), "", net->cond_dim, d->rat_hidden, &m->cell);
    for (int q = 0; q < 4; q++) {
        if (q == 2) decl_cs(net, pfx(buf, "%s.conv2", P_), d->mblock_mid, d->code_ch, d->code_size, &m->conv2);
        char A[PARAM_NAME_MAX];
        pfx(A, "%s.fuse%d.affine%d", P_, q / 2 + 1, q % 2);
        if (d->rat_batch)
            decl_lstm(ps, pfx(buf, "%s.rnn", A), "_l0", net->cond_dim, d->rat_hidden, &m->rnn[q]);
        decl_mlp(ps, A, d->rat_hidden, q < 2 ? d->mblock_mid : d->code_ch, "0", "2", &m->aff[q]);
    }
    m->last = ps->count - 1;
}

static void decl_gblock(NetG *net, int i) {
    const NetGDims *d = &net->d;
    ParamSet *ps = &net->ps;
    NetgGBlock *g = &net->gb[i];
    char P_[PARAM_NAME_MAX], buf[PARAM_NAME_MAX];
    pfx(P_, "GBlocks.%d", i);
    g->cin = d->g_channels[i], g->cout = d->g_channels[i + 1];
    g->Sin = i ? d->g_sizes[i - 1] : d->code_size, g->S = d->g_sizes[i];
    g->first = ps->count;
    decl_cs(net, pfx(buf, "%s.c1", P_), g->cin, g->cout, g->S, &g->c1);
    decl_cs(net, pfx(buf, "%s.c2", P_), g->cout, g->cout, g->S, &g->c2);
    for (int q = 0; q < 4; q++)
        decl_mlp(ps, pfx(buf, "%s.fuse%d.affine%d", P_, q / 2 + 1, q % 2), net->cond_dim, q < 2 ? g->cin : g->cout,
                 "linear1", "linear2", &g->aff[q]);
    g->has_sc = g->cin != g->cout;
    if (g->has_sc) decl_conv(ps, pfx(buf, "%s.c_sc", P_), g->cin, g->cout, 1, &g->sc_w, &g->sc_b);
    g->last = ps->count - 1;
}

static int check_dims(const NetGDims *d, Err *e) {
    if (d->z_dim <= 0 || d->text_dim <= 0 || d->code_ch <= 0 || d->code_size <= 0 || d->mblock_mid <= 0 ||
        d->rat_hidden <= 0 || d->clip_width <= 0 || d->n_prompts <= 0 || d->shuffle_groups <= 0)
        return err_set(e, "netg: model: z_dim, text_dim, code_ch, code_size, mblock_mid, rat_hidden, clip_width, "
                          "prompts and shuffle_groups must all be positive (check the model section of the config)");
    if (d->mblocks < 0 || d->mblocks > NETG_MAX_MBLOCKS)
        return err_set(e, "netg: model.mblocks: %d out of range (0..%d)", d->mblocks, NETG_MAX_MBLOCKS);
    if (d->n_gblocks < 1 || d->n_gblocks > NETG_MAX_GBLOCKS)
        return err_set(e, "netg: model.g_sizes: %d G blocks, need 1..%d", d->n_gblocks, NETG_MAX_GBLOCKS);
    int q = 2 * d->shuffle_groups;
    if (d->code_ch % q)
        return err_set(e, "netg: model.code_ch: %d is not a multiple of 2·shuffle_groups = %d (ShuffleAttention "
                          "splits channels into groups and halves)", d->code_ch, q);
    for (int i = 0; i <= d->n_gblocks; i++) {
        if (d->g_channels[i] <= 0)
            return err_set(e, "netg: model.g_channels[%d]: must be positive", i);
        if (i > 0 && d->g_channels[i] % q)
            return err_set(e, "netg: model.g_channels[%d]: %d is not a multiple of 2·shuffle_groups = %d", i,
                           d->g_channels[i], q);
    }
    for (int i = 0; i < d->n_gblocks; i++)
        if (d->g_sizes[i] <= 0) return err_set(e, "netg: model.g_sizes[%d]: must be positive", i);
    return 0;
}

int netg_build(NetG *net, const NetGDims *d, Err *e) {
    memset(net, 0, sizeof(*net));
    if (check_dims(d, e)) return -1;
    net->d = *d;
    net->cond_dim = d->z_dim + d->text_dim;
    net->bn_eps = (real)1e-5;
    net->bn_momentum = (real)0.1;
    ParamSet *ps = &net->ps;
    int cs2 = d->code_size * d->code_size;
    decl_linear(ps, "fc_code", d->z_dim, d->code_ch * cs2, &net->fc_code_w, &net->fc_code_b);
    for (int j = 0; j < d->mblocks; j++) decl_mblock(net, j);
    decl_conv(ps, "mapping.conv_fuse", d->code_ch, d->clip_width, 5, &net->conv_fuse_w, &net->conv_fuse_b);
    decl_conv(ps, "mapping.conv", d->clip_width, d->g_channels[0], 5, &net->conv_w, &net->conv_b);
    decl_linear(ps, "mapping.fc_prompt", net->cond_dim, d->n_prompts * d->clip_width, &net->fc_prompt_w,
                &net->fc_prompt_b);
    for (int i = 0; i < d->n_gblocks; i++) decl_gblock(net, i);
    decl_conv(ps, "to_rgb.1", d->g_channels[d->n_gblocks], 3, 3, &net->rgb_w, &net->rgb_b);
    if (params_finalize(ps)) {
        netg_free(net);
        return err_set(e, "netg: declaring the generator's parameters failed (out of memory, or a name longer "
                          "than %d characters)", PARAM_NAME_MAX - 1);
    }
    return 0;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void netg_init(NetG *net, uint64_t seed) {
    RngKey key = rng_key(seed, RNG_INIT);
    for (int i = 0; i < net->ps.count; i++)   // each tensor its own counter stream, keyed by its name
        params_init_tensor(&net->ps, i, key, fnv1a(net->ps.specs[i].name));
    net->bn_batches_tracked = 0;
}

void netg_free(NetG *net) {
    params_free(&net->ps);
    memset(net, 0, sizeof(*net));
}

// ---------------------------------------------------------------- activations

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

// Every activation of one NetGActs, the CLIP mapper's included (both plan passes run it).
static void netg_layout(Plan *p, void *ctx) {
    NetGActs *a = ctx;
    const NetG *net = a->net;
    const NetGDims *d = &net->d;
    int B = a->max_batch, cs2 = d->code_size * d->code_size, H = d->rat_hidden, S = 4 * d->mblocks;
    size_t Bz = (size_t)B;
    a->cond = plan_reals(p, PLAN_ACT, Bz * net->cond_dim);
    a->z = plan_reals(p, PLAN_ACT, Bz * d->z_dim);
    a->code = plan_reals(p, PLAN_ACT, Bz * d->code_ch * cs2);
    a->prompts = plan_reals(p, PLAN_ACT, Bz * d->n_prompts * d->clip_width);
    a->fuse = plan_reals(p, PLAN_ACT, Bz * d->clip_width * cs2);
    a->map = plan_reals(p, PLAN_ACT, Bz * d->clip_width * cs2);
    a->mix = plan_reals(p, PLAN_ACT, Bz * d->clip_width * cs2);
    a->h0 = plan_reals(p, PLAN_ACT, Bz * d->g_channels[0] * cs2);
    size_t gs = max_size(Bz * d->code_ch * cs2, Bz * d->mblock_mid * cs2);
    gs = max_size(gs, Bz * d->g_channels[0] * cs2);
    for (int j = 0; j < d->mblocks; j++) {
        NetgMBActs *m = &a->mb[j];
        m->h1 = plan_reals(p, PLAN_ACT, Bz * d->mblock_mid * cs2);
        for (int q = 0; q < 4; q++) m->t[q] = plan_reals(p, PLAN_ACT, Bz * (q < 2 ? d->mblock_mid : d->code_ch) * cs2);
        netg_cs_acts_layout(p, &m->conv2, &net->mb[j].conv2, B);
        m->out = plan_reals(p, PLAN_ACT, Bz * d->code_ch * cs2);
    }
    for (int i = 0; i < d->n_gblocks; i++) {
        const NetgGBlock *g = &net->gb[i];
        NetgGBActs *ga = &a->gb[i];
        size_t S2 = (size_t)g->S * g->S;
        ga->xu = g->Sin != g->S ? plan_reals(p, PLAN_ACT, Bz * g->cin * S2) : NULL;
        ga->sc = g->has_sc ? plan_reals(p, PLAN_ACT, Bz * g->cout * S2) : NULL;
        for (int q = 0; q < 4; q++) ga->t[q] = plan_reals(p, PLAN_ACT, Bz * (q < 2 ? g->cin : g->cout) * S2);
        netg_cs_acts_layout(p, &ga->c1, &g->c1, B);
        netg_cs_acts_layout(p, &ga->c2, &g->c2, B);
        for (int q = 0; q < 4; q++) netg_mlp_acts_layout(p, &ga->aff[q], B, g->aff[q].C);
        ga->out = plan_reals(p, PLAN_ACT, Bz * g->cout * S2);
        gs = max_size(gs, Bz * max_size(g->cin, g->cout) * S2);
    }
    int Sl = d->g_sizes[d->n_gblocks - 1];
    a->lrelu = plan_reals(p, PLAN_ACT, Bz * d->g_channels[d->n_gblocks] * Sl * Sl);
    a->rh = plan_reals(p, PLAN_ACT, (size_t)S * Bz * H);
    a->rc = plan_reals(p, PLAN_ACT, (size_t)S * Bz * H);
    a->rgates = plan_reals(p, PLAN_ACT, (size_t)S * Bz * 4 * H);
    for (int s = 0; s < S; s++)
        netg_mlp_acts_layout(p, &a->rat[s], d->rat_batch ? 1 : B, net->mb[s / 4].aff[s % 4].C);
    a->rdh = plan_reals(p, PLAN_GRAD, (size_t)S * Bz * H);
    for (int k = 0; k < 4; k++) a->carry[k] = plan_reals(p, PLAN_GRAD, Bz * H);
    a->dcond = plan_reals(p, PLAN_GRAD, Bz * net->cond_dim);
    a->dprompts = plan_reals(p, PLAN_GRAD, Bz * d->n_prompts * d->clip_width);
    a->dfuse = plan_reals(p, PLAN_GRAD, Bz * d->clip_width * cs2);
    a->dmap = plan_reals(p, PLAN_GRAD, Bz * d->clip_width * cs2);
    a->dmix = plan_reals(p, PLAN_GRAD, Bz * d->clip_width * cs2);
    a->gsize = gs;
    for (int k = 0; k < 7; k++) a->g[k] = plan_reals(p, PLAN_GRAD, gs);
    if (a->clip) clip_acts_layout(p, a->clip);
}

NetGActs *netg_acts_new(const NetG *net, const ClipTower *clip, int max_batch, Err *e) {
    const NetGDims *d = &net->d;
    if (clip && (clip->d.width != d->clip_width || clip->d.grid != d->code_size ||
                 clip->d.prompt_last - clip->d.prompt_first + 1 != d->n_prompts))
        return err_set(e, "netg: model.clip_*: the CLIP tower (width %d, grid %d, %d prompt blocks) does not match "
                          "the generator (clip_width %d, code_size %d, %d prompts): code_size must equal "
                          "clip_image_size/clip_patch",
                       clip->d.width, clip->d.grid, clip->d.prompt_last - clip->d.prompt_first + 1, d->clip_width,
                       d->code_size, d->n_prompts),
               NULL;
    NetGActs *a = calloc(1, sizeof(*a));
    if (!a) return err_set(e, "netg: out of memory for activations"), NULL;
    a->net = net;
    a->max_batch = max_batch;
    if ((clip && !(a->clip = clip_acts_create(clip, max_batch, 1))) || plan_build(&a->plan, netg_layout, a)) {
        netg_acts_free(a);
        return err_set(e, "netg: out of memory for the activations of batch %d", max_batch), NULL;
    }
    return a;
}

void netg_acts_free(NetGActs *a) {
    if (!a) return;
    if (a->clip) clip_acts_free(a->clip);
    plan_free(&a->plan);
    free(a);
}

size_t netg_acts_bytes(const NetGActs *a) { return plan_bytes(&a->plan); }

// ---------------------------------------------------------------- forward

static void add3(real *out, const real *x, const real *y, size_t n) {
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) out[i] = x[i] + y[i];
}

static int mblock_forward(NetG *net, NetGActs *a, int j, const real *x, int B, int train) {
    const NetGDims *d = &net->d;
    const NetgMBlock *m = &net->mb[j];
    NetgMBActs *ma = &a->mb[j];
    int cs = d->code_size, HW = cs * cs, per_sample = !d->rat_batch;
    ma->in = x;
    ConvShape sh = conv_shape(B, d->code_ch, cs, cs, d->mblock_mid, 3, 3, 1, 1, 1, 1);
    conv2d_forward(ma->h1, x, m->conv1_w.v, m->conv1_b.v, &sh);
    const NetgMlpActs *r = &a->rat[4 * j];
    netg_mod_forward(ma->t[0], ma->h1, r[0].gamma, r[0].beta, B, d->mblock_mid, HW, per_sample);
    netg_mod_forward(ma->t[1], ma->t[0], r[1].gamma, r[1].beta, B, d->mblock_mid, HW, per_sample);
    if (netg_cs_forward(net, &m->conv2, &ma->conv2, ma->t[1], B, train)) return -1;
    netg_mod_forward(ma->t[2], ma->conv2.out, r[2].gamma, r[2].beta, B, d->code_ch, HW, per_sample);
    netg_mod_forward(ma->t[3], ma->t[2], r[3].gamma, r[3].beta, B, d->code_ch, HW, per_sample);
    add3(ma->out, x, ma->t[3], (size_t)B * d->code_ch * HW);
    return 0;
}

static int gblock_forward(NetG *net, NetGActs *a, int i, const real *x, int B, int train) {
    const NetgGBlock *g = &net->gb[i];
    NetgGBActs *ga = &a->gb[i];
    int S2 = g->S * g->S;
    ga->in = x;
    ga->xin = x;
    if (ga->xu) {
        resize_nearest_forward(ga->xu, x, B, g->cin, g->Sin, g->Sin, g->S, g->S);
        ga->xin = ga->xu;
    }
    const real *sc = ga->xin;
    if (ga->sc) {
        ConvShape sh = conv_shape(B, g->cin, g->S, g->S, g->cout, 1, 1, 1, 1, 0, 0);
        conv2d_forward(ga->sc, ga->xin, g->sc_w.v, g->sc_b.v, &sh);
        sc = ga->sc;
    }
    for (int q = 0; q < 4; q++) netg_mlp_forward(&g->aff[q], &ga->aff[q], a->cond, B);
    const NetgMlpActs *f = ga->aff;
    netg_mod_forward(ga->t[0], ga->xin, f[0].gamma, f[0].beta, B, g->cin, S2, 1);
    netg_mod_forward(ga->t[1], ga->t[0], f[1].gamma, f[1].beta, B, g->cin, S2, 1);
    if (netg_cs_forward(net, &g->c1, &ga->c1, ga->t[1], B, train)) return -1;
    netg_mod_forward(ga->t[2], ga->c1.out, f[2].gamma, f[2].beta, B, g->cout, S2, 1);
    netg_mod_forward(ga->t[3], ga->t[2], f[3].gamma, f[3].beta, B, g->cout, S2, 1);
    if (netg_cs_forward(net, &g->c2, &ga->c2, ga->t[3], B, train)) return -1;
    add3(ga->out, sc, ga->c2.out, (size_t)B * g->cout * S2);
    return 0;
}

int netg_forward(NetG *net, NetGActs *a, const ClipTower *clip, const real *z, const real *s, real *img, int B,
                 int train) {
    const NetGDims *d = &net->d;
    int cs = d->code_size, cs2 = cs * cs, CD = net->cond_dim;
    for (int b = 0; b < B; b++) {   // cond = cat(z, s)
        memcpy(a->cond + (size_t)b * CD, z + (size_t)b * d->z_dim, d->z_dim * sizeof(real));
        memcpy(a->cond + (size_t)b * CD + d->z_dim, s + (size_t)b * d->text_dim, d->text_dim * sizeof(real));
    }
    memcpy(a->z, z, (size_t)B * d->z_dim * sizeof(real));   // fc_code's weight gradient needs it
    linear_forward(a->code, z, net->fc_code_w.v, net->fc_code_b.v, B, d->z_dim, d->code_ch * cs2);
    linear_forward(a->prompts, a->cond, net->fc_prompt_w.v, net->fc_prompt_b.v, B, CD,
                   d->n_prompts * d->clip_width);
    netg_rat_forward(net, a, B);
    const real *x = a->code;
    for (int j = 0; j < d->mblocks; j++) {
        if (mblock_forward(net, a, j, x, B, train)) return -1;
        x = a->mb[j].out;
    }
    ConvShape shf = conv_shape(B, d->code_ch, cs, cs, d->clip_width, 5, 5, 1, 1, 2, 2);
    conv2d_forward(a->fuse, x, net->conv_fuse_w.v, net->conv_fuse_b.v, &shf);
    size_t nf = (size_t)B * d->clip_width * cs2;
    if (clip)
        clip_mapper_forward(clip, a->clip, a->map, a->fuse, a->prompts, B);
    else
        memset(a->map, 0, nf * sizeof(real));
    PAR_FOR_SIMD(nf)
    for (size_t i = 0; i < nf; i++) a->mix[i] = a->fuse[i] + (real)0.1 * a->map[i];
    ConvShape shc = conv_shape(B, d->clip_width, cs, cs, d->g_channels[0], 5, 5, 1, 1, 2, 2);
    conv2d_forward(a->h0, a->mix, net->conv_w.v, net->conv_b.v, &shc);
    x = a->h0;
    for (int i = 0; i < d->n_gblocks; i++) {
        if (gblock_forward(net, a, i, x, B, train)) return -1;
        x = a->gb[i].out;
    }
    int Cl = d->g_channels[d->n_gblocks], Sl = d->g_sizes[d->n_gblocks - 1];
    leaky_relu_forward(a->lrelu, x, (size_t)B * Cl * Sl * Sl, (real)0.2);
    ConvShape shr = conv_shape(B, Cl, Sl, Sl, 3, 3, 3, 1, 1, 1, 1);
    conv2d_forward(img, a->lrelu, net->rgb_w.v, net->rgb_b.v, &shr);
    if (train) net->bn_batches_tracked++;
    return 0;
}

// ---------------------------------------------------------------- backward

static void zero(real *x, size_t n) { memset(x, 0, n * sizeof(real)); }

// D: gradient at the block output on entry, at its input on return (identity shortcut).
static int mblock_backward(NetG *net, NetGActs *a, int j, real *D, int B) {
    const NetGDims *d = &net->d;
    const NetgMBlock *m = &net->mb[j];
    NetgMBActs *ma = &a->mb[j];
    int cs = d->code_size, HW = cs * cs, ps_ = !d->rat_batch, mid = d->mblock_mid, C = d->code_ch;
    NetgMlpActs *r = &a->rat[4 * j];
    real *A = a->g[2], *Bb = a->g[3];
    size_t nm_ = (size_t)B * mid * HW, nc = (size_t)B * C * HW;
    zero(Bb, nc);
    netg_mod_backward(Bb, r[3].dgamma, r[3].dbeta, D, ma->t[3], ma->t[2], r[3].gamma, B, C, HW, ps_);
    zero(A, nc);
    netg_mod_backward(A, r[2].dgamma, r[2].dbeta, Bb, ma->t[2], ma->conv2.out, r[2].gamma, B, C, HW, ps_);
    zero(Bb, nm_);
    if (netg_cs_backward(net, &m->conv2, &ma->conv2, A, Bb, a->g[4], a->g[5], B)) return -1;
    zero(A, nm_);
    netg_mod_backward(A, r[1].dgamma, r[1].dbeta, Bb, ma->t[1], ma->t[0], r[1].gamma, B, mid, HW, ps_);
    zero(Bb, nm_);
    netg_mod_backward(Bb, r[0].dgamma, r[0].dbeta, A, ma->t[0], ma->h1, r[0].gamma, B, mid, HW, ps_);
    ConvShape sh = conv_shape(B, C, cs, cs, mid, 3, 3, 1, 1, 1, 1);
    conv2d_backward(D, m->conv1_w.g, m->conv1_b.g, Bb, ma->in, m->conv1_w.v, &sh);
    return 0;
}

// Dout: gradient at the block output; Dprev (overwritten): gradient at its input.
static int gblock_backward(NetG *net, NetGActs *a, int i, const real *Dout, real *Dprev, int B) {
    const NetgGBlock *g = &net->gb[i];
    NetgGBActs *ga = &a->gb[i];
    int S2 = g->S * g->S;
    size_t ni = (size_t)B * g->cin * S2, no = (size_t)B * g->cout * S2;
    real *X = ga->xu ? a->g[6] : Dprev, *A = a->g[2], *Bb = a->g[3];
    zero(X, ni);
    if (ga->sc) {
        ConvShape sh = conv_shape(B, g->cin, g->S, g->S, g->cout, 1, 1, 1, 1, 0, 0);
        conv2d_backward(X, g->sc_w.g, g->sc_b.g, Dout, ga->xin, g->sc_w.v, &sh);
    } else {
        for (size_t k = 0; k < ni; k++) X[k] += Dout[k];
    }
    NetgMlpActs *f = ga->aff;
    zero(A, no);
    if (netg_cs_backward(net, &g->c2, &ga->c2, Dout, A, a->g[4], a->g[5], B)) return -1;
    zero(Bb, no);
    netg_mod_backward(Bb, f[3].dgamma, f[3].dbeta, A, ga->t[3], ga->t[2], f[3].gamma, B, g->cout, S2, 1);
    zero(A, no);
    netg_mod_backward(A, f[2].dgamma, f[2].dbeta, Bb, ga->t[2], ga->c1.out, f[2].gamma, B, g->cout, S2, 1);
    zero(Bb, ni);
    if (netg_cs_backward(net, &g->c1, &ga->c1, A, Bb, a->g[4], a->g[5], B)) return -1;
    zero(A, ni);
    netg_mod_backward(A, f[1].dgamma, f[1].dbeta, Bb, ga->t[1], ga->t[0], f[1].gamma, B, g->cin, S2, 1);
    netg_mod_backward(X, f[0].dgamma, f[0].dbeta, A, ga->t[0], ga->xin, f[0].gamma, B, g->cin, S2, 1);
    if (ga->xu) {
        zero(Dprev, (size_t)B * g->cin * g->Sin * g->Sin);
        resize_nearest_backward(Dprev, X, B, g->cin, g->Sin, g->Sin, g->S, g->S);
    }
    for (int q = 0; q < 4; q++) netg_mlp_backward(&g->aff[q], &f[q], a->dcond, a->cond, B);
    params_mark_ready(&net->ps, g->first, g->last);
    return 0;
}

int netg_backward(NetG *net, NetGActs *a, const ClipTower *clip, const real *dimg, real *ds_out, int B) {
    const NetGDims *d = &net->d;
    int cs = d->code_size, cs2 = cs * cs, CD = net->cond_dim;
    int Cl = d->g_channels[d->n_gblocks], Sl = d->g_sizes[d->n_gblocks - 1];
    size_t nl = (size_t)B * Cl * Sl * Sl;
    zero(a->dcond, (size_t)B * CD);
    // to_rgb: conv3×3 then LeakyReLU(0.2) backward
    real *Dcur = a->g[0], *Dprev = a->g[1];
    zero(Dprev, nl);
    ConvShape shr = conv_shape(B, Cl, Sl, Sl, 3, 3, 3, 1, 1, 1, 1);
    conv2d_backward(Dprev, net->rgb_w.g, net->rgb_b.g, dimg, a->lrelu, net->rgb_w.v, &shr);
    params_mark_ready(&net->ps, net->rgb_w.i, net->rgb_b.i);
    zero(Dcur, nl);
    leaky_relu_backward(Dcur, Dprev, a->lrelu, nl, (real)0.2);
    for (int i = d->n_gblocks - 1; i >= 0; i--) {
        if (gblock_backward(net, a, i, Dcur, Dprev, B)) return -1;
        real *t = Dcur;
        Dcur = Dprev, Dprev = t;
    }
    // conv on fuse + 0.1·map; the mapper; conv_fuse
    size_t nf = (size_t)B * d->clip_width * cs2;
    zero(a->dmix, nf);
    ConvShape shc = conv_shape(B, d->clip_width, cs, cs, d->g_channels[0], 5, 5, 1, 1, 2, 2);
    conv2d_backward(a->dmix, net->conv_w.g, net->conv_b.g, Dcur, a->mix, net->conv_w.v, &shc);
    params_mark_ready(&net->ps, net->conv_w.i, net->conv_b.i);
    memcpy(a->dfuse, a->dmix, nf * sizeof(real));
    zero(a->dprompts, (size_t)B * d->n_prompts * d->clip_width);
    if (clip) {
        for (size_t k = 0; k < nf; k++) a->dmap[k] = (real)0.1 * a->dmix[k];
        clip_mapper_backward(clip, a->clip, a->dfuse, a->dprompts, a->dmap, B);
    }
    real *D = Dprev;   // gradient along the M-block chain, updated in place
    zero(D, (size_t)B * d->code_ch * cs2);
    const real *xM = d->mblocks ? a->mb[d->mblocks - 1].out : a->code;
    ConvShape shf = conv_shape(B, d->code_ch, cs, cs, d->clip_width, 5, 5, 1, 1, 2, 2);
    conv2d_backward(D, net->conv_fuse_w.g, net->conv_fuse_b.g, a->dfuse, xM, net->conv_fuse_w.v, &shf);
    params_mark_ready(&net->ps, net->conv_fuse_w.i, net->conv_fuse_b.i);
    for (int j = d->mblocks - 1; j >= 0; j--)
        if (mblock_backward(net, a, j, D, B)) return -1;
    linear_backward(NULL, net->fc_code_w.g, net->fc_code_b.g, D, a->z, net->fc_code_w.v, B, d->z_dim,
                    d->code_ch * cs2);
    params_mark_ready(&net->ps, net->fc_code_w.i, net->fc_code_b.i);
    linear_backward(a->dcond, net->fc_prompt_w.g, net->fc_prompt_b.g, a->dprompts, a->cond, net->fc_prompt_w.v,
                    B, CD, d->n_prompts * d->clip_width);
    params_mark_ready(&net->ps, net->fc_prompt_w.i, net->fc_prompt_b.i);
    netg_rat_backward(net, a, B);   // the M-blocks deposited dγ, dβ; now MLPs and BPTT
    for (int j = 0; j < d->mblocks; j++) params_mark_ready(&net->ps, net->mb[j].first, net->mb[j].last);
    if (ds_out)
        for (int b = 0; b < B; b++)
            for (int k = 0; k < d->text_dim; k++)
                ds_out[(size_t)b * d->text_dim + k] += a->dcond[(size_t)b * CD + d->z_dim + k];
    return 0;
}
