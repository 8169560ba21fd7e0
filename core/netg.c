// netg: parameter declaration (upstream state_dict order), initialisation, and the top-level
// forward/backward of the generator. Layer arithmetic is in gblocks.c, the RAT in rat.c.
#include "core/netg.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/gblocks.h"
#include "core/ops.h"
#include "core/rng.h"

#define P(i) params_tensor(&net->ps, (i))
#define PG(i) params_grad(&net->ps, (i))

// ---------------------------------------------------------------- declaration

static int g_decl_failed;

// Declares one tensor with its init rule: bound > 0 → U(±bound), else the constant `value`.
static int decl(NetG *net, const char *name, ParamKind kind, int ndim, const int *shape, real bound, real value) {
    int idx = params_declare(&net->ps, name, kind, ndim, shape);
    if (idx < 0) {
        g_decl_failed = 1;
        return 0;
    }
    real *b = realloc(net->init_bound, (size_t)(idx + 1) * sizeof(real));
    if (!b) {
        g_decl_failed = 1;
        return idx;
    }
    net->init_bound = b;
    real *v = realloc(net->init_value, (size_t)(idx + 1) * sizeof(real));
    if (!v) {
        g_decl_failed = 1;
        return idx;
    }
    net->init_value = v;
    net->init_bound[idx] = bound;
    net->init_value[idx] = value;
    return idx;
}

// Formats a tensor name into buf[PARAM_NAME_MAX]; a name that does not fit fails the build.
static const char *fmtname(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PARAM_NAME_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PARAM_NAME_MAX) g_decl_failed = 1;
    return buf;
}

static const char *nm(char *buf, const char *prefix, const char *suffix) {
    return fmtname(buf, "%s.%s", prefix, suffix);
}

// Linear(in → out) with PyTorch's default init U(±1/sqrt(in)) (or constants when cw/cb ≥ 0).
static void decl_linear(NetG *net, const char *prefix, int in, int out, int *w, int *b) {
    char buf[PARAM_NAME_MAX];
    real bound = 1 / sqrt((real)in);
    *w = decl(net, nm(buf, prefix, "weight"), PARAM_TRAINABLE, 2, (int[]){out, in}, bound, 0);
    *b = decl(net, nm(buf, prefix, "bias"), PARAM_TRAINABLE, 1, (int[]){out}, bound, 0);
}

// Conv2d(cin → cout, k×k), bias optional (b = NULL for none).
static void decl_conv(NetG *net, const char *prefix, int cin, int cout, int k, int *w, int *b) {
    char buf[PARAM_NAME_MAX];
    real bound = 1 / sqrt((real)(cin * k * k));
    *w = decl(net, nm(buf, prefix, "weight"), PARAM_TRAINABLE, 4, (int[]){cout, cin, k, k}, bound, 0);
    if (b) *b = decl(net, nm(buf, prefix, "bias"), PARAM_TRAINABLE, 1, (int[]){cout}, bound, 0);
}

// Conv_shuffle: conv (no bias), bn (weight, bias, running_mean, running_var), se (cweight, cbias,
// sweight, sbias, gn.weight, gn.bias), in upstream order.
static void decl_cs(NetG *net, const char *P_, int cin, int cout, int HW_side, NetgConvShuffle *cs) {
    char buf[PARAM_NAME_MAX];
    int G = net->d.shuffle_groups, k = cout / (2 * G);
    cs->cin = cin, cs->cout = cout, cs->H = cs->W = HW_side, cs->G = G;
    decl_conv(net, nm(buf, P_, "conv"), cin, cout, 3, &cs->conv_w, NULL);
    char bn[PARAM_NAME_MAX], se[PARAM_NAME_MAX];
    fmtname(bn, "%s.bn", P_);
    fmtname(se, "%s.se", P_);
    cs->bn_w = decl(net, nm(buf, bn, "weight"), PARAM_TRAINABLE, 1, (int[]){cout}, 0, 1);
    cs->bn_b = decl(net, nm(buf, bn, "bias"), PARAM_TRAINABLE, 1, (int[]){cout}, 0, 0);
    cs->bn_rm = decl(net, nm(buf, bn, "running_mean"), PARAM_BUFFER, 1, (int[]){cout}, 0, 0);
    cs->bn_rv = decl(net, nm(buf, bn, "running_var"), PARAM_BUFFER, 1, (int[]){cout}, 0, 1);
    const int s4[4] = {1, k, 1, 1};
    cs->cweight = decl(net, nm(buf, se, "cweight"), PARAM_TRAINABLE, 4, s4, 0, 0);
    cs->cbias = decl(net, nm(buf, se, "cbias"), PARAM_TRAINABLE, 4, s4, 0, 1);
    cs->sweight = decl(net, nm(buf, se, "sweight"), PARAM_TRAINABLE, 4, s4, 0, 0);
    cs->sbias = decl(net, nm(buf, se, "sbias"), PARAM_TRAINABLE, 4, s4, 0, 1);
    cs->gn_w = decl(net, nm(buf, se, "gn.weight"), PARAM_TRAINABLE, 1, (int[]){k}, 0, 1);
    cs->gn_b = decl(net, nm(buf, se, "gn.bias"), PARAM_TRAINABLE, 1, (int[]){k}, 0, 0);
}

// fc_gamma / fc_beta MLPs: l1, l2 are the Sequential's layer names ("0","2" for Affine_rnn,
// "linear1","linear2" for Affine). Last layers start at W = 0, b = 1 (γ) / 0 (β).
static void decl_mlp(NetG *net, const char *P_, int in, int C, const char *l1, const char *l2, NetgAffineMLP *m) {
    char buf[PARAM_NAME_MAX];
    m->in_dim = in, m->C = C;
    real b1 = 1 / sqrt((real)in);
    for (int br = 0; br < 2; br++) {
        const char *fc = br ? "fc_beta" : "fc_gamma";
        int *w1 = br ? &m->bw1 : &m->gw1, *bb1 = br ? &m->bb1 : &m->gb1;
        int *w2 = br ? &m->bw2 : &m->gw2, *bb2 = br ? &m->bb2 : &m->gb2;
        fmtname(buf, "%s.%s.%s.weight", P_, fc, l1);
        *w1 = decl(net, buf, PARAM_TRAINABLE, 2, (int[]){C, in}, b1, 0);
        fmtname(buf, "%s.%s.%s.bias", P_, fc, l1);
        *bb1 = decl(net, buf, PARAM_TRAINABLE, 1, (int[]){C}, b1, 0);
        fmtname(buf, "%s.%s.%s.weight", P_, fc, l2);
        *w2 = decl(net, buf, PARAM_TRAINABLE, 2, (int[]){C, C}, 0, 0);
        fmtname(buf, "%s.%s.%s.bias", P_, fc, l2);
        *bb2 = decl(net, buf, PARAM_TRAINABLE, 1, (int[]){C}, 0, br ? 0 : 1);
    }
}

// LSTM weights, U(±1/sqrt(hidden)); sfx = "_l0" for nn.LSTM, "" for nn.LSTMCell.
static void decl_lstm(NetG *net, const char *P_, const char *sfx, int I, int H, int *wih, int *whh, int *bih,
                      int *bhh) {
    char buf[PARAM_NAME_MAX];
    real bound = 1 / sqrt((real)H);
    fmtname(buf, "%s.weight_ih%s", P_, sfx);
    *wih = decl(net, buf, PARAM_TRAINABLE, 2, (int[]){4 * H, I}, bound, 0);
    fmtname(buf, "%s.weight_hh%s", P_, sfx);
    *whh = decl(net, buf, PARAM_TRAINABLE, 2, (int[]){4 * H, H}, bound, 0);
    fmtname(buf, "%s.bias_ih%s", P_, sfx);
    *bih = decl(net, buf, PARAM_TRAINABLE, 1, (int[]){4 * H}, bound, 0);
    fmtname(buf, "%s.bias_hh%s", P_, sfx);
    *bhh = decl(net, buf, PARAM_TRAINABLE, 1, (int[]){4 * H}, bound, 0);
}

static void decl_mblock(NetG *net, int j) {
    const NetGDims *d = &net->d;
    NetgMBlock *m = &net->mb[j];
    char P_[PARAM_NAME_MAX], buf[PARAM_NAME_MAX];
    fmtname(P_, "mapping.FBlocks.%d", j);
    m->first = net->ps.count;
    decl_conv(net, nm(buf, P_, "conv1"), d->code_ch, d->mblock_mid, 3, &m->conv1_w, &m->conv1_b);
    if (!d->rat_batch)
        decl_lstm(net, nm(buf, P_, "rat_cell"), "", net->cond_dim, d->rat_hidden, &m->cell_wih, &m->cell_whh,
                  &m->cell_bih, &m->cell_bhh);
    for (int q = 0; q < 4; q++) {
        if (q == 2) {
            fmtname(buf, "%s.conv2", P_);
            decl_cs(net, buf, d->mblock_mid, d->code_ch, d->code_size, &m->conv2);
        }
        char A[PARAM_NAME_MAX];
        fmtname(A, "%s.fuse%d.affine%d", P_, q / 2 + 1, q % 2);
        if (d->rat_batch)
            decl_lstm(net, nm(buf, A, "rnn"), "_l0", net->cond_dim, d->rat_hidden, &m->rnn_wih[q], &m->rnn_whh[q],
                      &m->rnn_bih[q], &m->rnn_bhh[q]);
        decl_mlp(net, A, d->rat_hidden, q < 2 ? d->mblock_mid : d->code_ch, "0", "2", &m->aff[q]);
    }
    m->last = net->ps.count - 1;
}

static void decl_gblock(NetG *net, int i) {
    const NetGDims *d = &net->d;
    NetgGBlock *g = &net->gb[i];
    char P_[PARAM_NAME_MAX], buf[PARAM_NAME_MAX];
    fmtname(P_, "GBlocks.%d", i);
    g->cin = d->g_channels[i], g->cout = d->g_channels[i + 1];
    g->Sin = i ? d->g_sizes[i - 1] : d->code_size, g->S = d->g_sizes[i];
    g->first = net->ps.count;
    decl_cs(net, nm(buf, P_, "c1"), g->cin, g->cout, g->S, &g->c1);
    decl_cs(net, nm(buf, P_, "c2"), g->cout, g->cout, g->S, &g->c2);
    for (int q = 0; q < 4; q++) {
        fmtname(buf, "%s.fuse%d.affine%d", P_, q / 2 + 1, q % 2);
        decl_mlp(net, buf, net->cond_dim, q < 2 ? g->cin : g->cout, "linear1", "linear2", &g->aff[q]);
    }
    g->sc_w = g->sc_b = -1;
    if (g->cin != g->cout) decl_conv(net, nm(buf, P_, "c_sc"), g->cin, g->cout, 1, &g->sc_w, &g->sc_b);
    g->last = net->ps.count - 1;
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
    g_decl_failed = 0;
    char buf[PARAM_NAME_MAX];
    int cs2 = d->code_size * d->code_size;
    decl_linear(net, "fc_code", d->z_dim, d->code_ch * cs2, &net->fc_code_w, &net->fc_code_b);
    for (int j = 0; j < d->mblocks; j++) decl_mblock(net, j);
    decl_conv(net, "mapping.conv_fuse", d->code_ch, d->clip_width, 5, &net->conv_fuse_w, &net->conv_fuse_b);
    decl_conv(net, "mapping.conv", d->clip_width, d->g_channels[0], 5, &net->conv_w, &net->conv_b);
    decl_linear(net, "mapping.fc_prompt", net->cond_dim, d->n_prompts * d->clip_width, &net->fc_prompt_w,
                &net->fc_prompt_b);
    for (int i = 0; i < d->n_gblocks; i++) decl_gblock(net, i);
    decl_conv(net, nm(buf, "to_rgb", "1"), d->g_channels[d->n_gblocks], 3, 3, &net->rgb_w, &net->rgb_b);
    if (g_decl_failed || params_finalize(&net->ps)) {
        netg_free(net);
        return err_set(e, "netg: out of memory declaring the generator's parameters");
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
    for (int i = 0; i < net->ps.count; i++) {
        const ParamSpec *sp = &net->ps.specs[i];
        real *t = params_tensor(&net->ps, i);
        if (net->init_bound[i] > 0)   // the tensor's own counter stream, keyed by its name
            rng_fill_uniform(t, sp->numel, -net->init_bound[i], net->init_bound[i], key, fnv1a(sp->name));
        else
            for (size_t k = 0; k < sp->numel; k++) t[k] = net->init_value[i];
    }
    net->bn_batches_tracked = 0;
}

void netg_free(NetG *net) {
    params_free(&net->ps);
    free(net->init_bound);
    free(net->init_value);
    memset(net, 0, sizeof(*net));
}

// ---------------------------------------------------------------- activations

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

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
    NetgArena *ar = &a->ar;
    int B = max_batch, cs2 = d->code_size * d->code_size, H = d->rat_hidden, S = 4 * d->mblocks;
    size_t Bz = (size_t)B;
    a->max_batch = B;
    a->cond = netg_take(ar, Bz * net->cond_dim);
    a->z = netg_take(ar, Bz * d->z_dim);
    a->code = netg_take(ar, Bz * d->code_ch * cs2);
    a->prompts = netg_take(ar, Bz * d->n_prompts * d->clip_width);
    a->fuse = netg_take(ar, Bz * d->clip_width * cs2);
    a->map = netg_take(ar, Bz * d->clip_width * cs2);
    a->mix = netg_take(ar, Bz * d->clip_width * cs2);
    a->h0 = netg_take(ar, Bz * d->g_channels[0] * cs2);
    size_t gs = max_size(Bz * d->code_ch * cs2, Bz * d->mblock_mid * cs2);
    gs = max_size(gs, Bz * d->g_channels[0] * cs2);
    for (int j = 0; j < d->mblocks; j++) {
        NetgMBActs *m = &a->mb[j];
        m->h1 = netg_take(ar, Bz * d->mblock_mid * cs2);
        for (int q = 0; q < 4; q++) m->t[q] = netg_take(ar, Bz * (q < 2 ? d->mblock_mid : d->code_ch) * cs2);
        netg_cs_acts_alloc(ar, &m->conv2, &net->mb[j].conv2, B);
        m->out = netg_take(ar, Bz * d->code_ch * cs2);
    }
    for (int i = 0; i < d->n_gblocks; i++) {
        const NetgGBlock *g = &net->gb[i];
        NetgGBActs *ga = &a->gb[i];
        size_t S2 = (size_t)g->S * g->S;
        if (g->Sin != g->S) ga->xu = netg_take(ar, Bz * g->cin * S2);
        if (g->sc_w >= 0) ga->sc = netg_take(ar, Bz * g->cout * S2);
        for (int q = 0; q < 4; q++) ga->t[q] = netg_take(ar, Bz * (q < 2 ? g->cin : g->cout) * S2);
        netg_cs_acts_alloc(ar, &ga->c1, &g->c1, B);
        netg_cs_acts_alloc(ar, &ga->c2, &g->c2, B);
        for (int q = 0; q < 4; q++) netg_mlp_acts_alloc(ar, &ga->aff[q], B, g->aff[q].C);
        ga->out = netg_take(ar, Bz * g->cout * S2);
        gs = max_size(gs, Bz * max_size(g->cin, g->cout) * S2);
    }
    int Sl = d->g_sizes[d->n_gblocks - 1];
    a->lrelu = netg_take(ar, Bz * d->g_channels[d->n_gblocks] * Sl * Sl);
    a->rh = netg_take(ar, (size_t)S * Bz * H);
    a->rc = netg_take(ar, (size_t)S * Bz * H);
    a->rgates = netg_take(ar, (size_t)S * Bz * 4 * H);
    a->rdh = netg_take(ar, (size_t)S * Bz * H);
    for (int k = 0; k < 4; k++) a->carry[k] = netg_take(ar, Bz * H);
    for (int s = 0; s < S; s++)
        netg_mlp_acts_alloc(ar, &a->rat[s], d->rat_batch ? 1 : B, net->mb[s / 4].aff[s % 4].C);
    a->dcond = netg_take(ar, Bz * net->cond_dim);
    a->dprompts = netg_take(ar, Bz * d->n_prompts * d->clip_width);
    a->dfuse = netg_take(ar, Bz * d->clip_width * cs2);
    a->dmap = netg_take(ar, Bz * d->clip_width * cs2);
    a->dmix = netg_take(ar, Bz * d->clip_width * cs2);
    a->gsize = gs;
    for (int k = 0; k < 7; k++) a->g[k] = netg_take(ar, gs);
    if (clip) a->clip = clip_acts_new(clip, B, 1);
    if (ar->failed || (clip && !a->clip)) {
        netg_acts_free(a);
        return err_set(e, "netg: out of memory for the activations of batch %d", max_batch), NULL;
    }
    return a;
}

void netg_acts_free(NetGActs *a) {
    if (!a) return;
    if (a->clip) clip_acts_free(a->clip);
    netg_arena_free(&a->ar);
    free(a);
}

// ---------------------------------------------------------------- forward

static void add3(real *out, const real *x, const real *y, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = x[i] + y[i];
}

static int mblock_forward(NetG *net, NetGActs *a, int j, const real *x, int B, int train) {
    const NetGDims *d = &net->d;
    const NetgMBlock *m = &net->mb[j];
    NetgMBActs *ma = &a->mb[j];
    int cs = d->code_size, HW = cs * cs, per_sample = !d->rat_batch;
    ma->in = x;
    ConvShape sh = conv_shape(B, d->code_ch, cs, cs, d->mblock_mid, 3, 3, 1, 1, 1, 1);
    conv2d_forward(ma->h1, x, P(m->conv1_w), P(m->conv1_b), &sh);
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
        conv2d_forward(ga->sc, ga->xin, P(g->sc_w), P(g->sc_b), &sh);
        sc = ga->sc;
    }
    for (int q = 0; q < 4; q++) netg_mlp_forward(&net->ps, &g->aff[q], &ga->aff[q], a->cond, B);
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
    linear_forward(a->code, z, P(net->fc_code_w), P(net->fc_code_b), B, d->z_dim, d->code_ch * cs2);
    linear_forward(a->prompts, a->cond, P(net->fc_prompt_w), P(net->fc_prompt_b), B, CD,
                   d->n_prompts * d->clip_width);
    netg_rat_forward(net, a, B);
    const real *x = a->code;
    for (int j = 0; j < d->mblocks; j++) {
        if (mblock_forward(net, a, j, x, B, train)) return -1;
        x = a->mb[j].out;
    }
    ConvShape shf = conv_shape(B, d->code_ch, cs, cs, d->clip_width, 5, 5, 1, 1, 2, 2);
    conv2d_forward(a->fuse, x, P(net->conv_fuse_w), P(net->conv_fuse_b), &shf);
    size_t nf = (size_t)B * d->clip_width * cs2;
    if (clip)
        clip_mapper_forward(clip, a->clip, a->map, a->fuse, a->prompts, B);
    else
        memset(a->map, 0, nf * sizeof(real));
    for (size_t i = 0; i < nf; i++) a->mix[i] = a->fuse[i] + (real)0.1 * a->map[i];
    ConvShape shc = conv_shape(B, d->clip_width, cs, cs, d->g_channels[0], 5, 5, 1, 1, 2, 2);
    conv2d_forward(a->h0, a->mix, P(net->conv_w), P(net->conv_b), &shc);
    x = a->h0;
    for (int i = 0; i < d->n_gblocks; i++) {
        if (gblock_forward(net, a, i, x, B, train)) return -1;
        x = a->gb[i].out;
    }
    int Cl = d->g_channels[d->n_gblocks], Sl = d->g_sizes[d->n_gblocks - 1];
    leaky_relu_forward(a->lrelu, x, (size_t)B * Cl * Sl * Sl, (real)0.2);
    ConvShape shr = conv_shape(B, Cl, Sl, Sl, 3, 3, 3, 1, 1, 1, 1);
    conv2d_forward(img, a->lrelu, P(net->rgb_w), P(net->rgb_b), &shr);
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
    conv2d_backward(D, PG(m->conv1_w), PG(m->conv1_b), Bb, ma->in, P(m->conv1_w), &sh);
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
        conv2d_backward(X, PG(g->sc_w), PG(g->sc_b), Dout, ga->xin, P(g->sc_w), &sh);
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
    for (int q = 0; q < 4; q++) netg_mlp_backward(&net->ps, &g->aff[q], &f[q], a->dcond, a->cond, B);
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
    conv2d_backward(Dprev, PG(net->rgb_w), PG(net->rgb_b), dimg, a->lrelu, P(net->rgb_w), &shr);
    params_mark_ready(&net->ps, net->rgb_w, net->rgb_b);
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
    conv2d_backward(a->dmix, PG(net->conv_w), PG(net->conv_b), Dcur, a->mix, P(net->conv_w), &shc);
    params_mark_ready(&net->ps, net->conv_w, net->conv_b);
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
    conv2d_backward(D, PG(net->conv_fuse_w), PG(net->conv_fuse_b), a->dfuse, xM, P(net->conv_fuse_w), &shf);
    params_mark_ready(&net->ps, net->conv_fuse_w, net->conv_fuse_b);
    for (int j = d->mblocks - 1; j >= 0; j--)
        if (mblock_backward(net, a, j, D, B)) return -1;
    linear_backward(NULL, PG(net->fc_code_w), PG(net->fc_code_b), D, a->z, P(net->fc_code_w), B, d->z_dim,
                    d->code_ch * cs2);
    params_mark_ready(&net->ps, net->fc_code_w, net->fc_code_b);
    linear_backward(a->dcond, PG(net->fc_prompt_w), PG(net->fc_prompt_b), a->dprompts, a->cond, P(net->fc_prompt_w),
                    B, CD, d->n_prompts * d->clip_width);
    params_mark_ready(&net->ps, net->fc_prompt_w, net->fc_prompt_b);
    netg_rat_backward(net, a, B);   // the M-blocks deposited dγ, dβ; now MLPs and BPTT
    for (int j = 0; j < d->mblocks; j++) params_mark_ready(&net->ps, net->mb[j].first, net->mb[j].last);
    if (ds_out)
        for (int b = 0; b < B; b++)
            for (int k = 0; k < d->text_dim; k++)
                ds_out[(size_t)b * d->text_dim + k] += a->dcond[(size_t)b * CD + d->z_dim + k];
    return 0;
}
