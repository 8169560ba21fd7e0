// netd: NetD + NetC forward/backward and MA-GP (see netd.h for the network and the derivation).
// Parameters: declared once in netdc_build into n->blk[i], n->main, n->joint*_w (core/params.h);
// activations: one core/plan.h buffer per NetDActs / NetCActs / Magp.
#include "core/par.h"
#include "core/netd.h"
#include "core/ops.h"
#include "core/plan.h"
#include "core/rng.h"
#include <stdlib.h>
#include <string.h>

static const real D_SLOPE = 0.2;   // LeakyReLU slope in D_Block and NetC

// ------------------------------------------------------------------ parameters

static const ParamKind TR = PARAM_TRAINABLE;

// PyTorch defaults: Conv2d kaiming_uniform(a=√5) = U(±1/sqrt(fan_in)) for the weight, the same bound
// for the bias; D_Block's gates are torch.zeros(1).
static ParamInit conv_init(int fan_in) {
    real bound = 1 / sqrt((real)fan_in);
    return param_uniform(-bound, bound);
}

int netdc_build(NetDC *n, const NetDDims *d, Err *e) {
    memset(n, 0, sizeof(*n));
    n->d = *d;
    if (d->width <= 0 || d->grid <= 0 || d->d_out_ch <= 0 || d->text_dim <= 0 || d->netc_mid <= 0)
        return err_set(e, "netd: model.clip_width/code_size/d_out_ch/text_dim/netc_mid must be positive "
                          "(got %d/%d/%d/%d/%d)", d->width, d->grid, d->d_out_ch, d->text_dim, d->netc_mid);
    if (d->n_taps < 1 || d->n_taps > NETD_MAX_TAPS)
        return err_set(e, "netd: model.clip_taps: NetD needs 1..%d CLIP taps (got %d)", NETD_MAX_TAPS, d->n_taps);
    if (d->netc_k1 < 1 || d->netc_k2 < 1 || d->grid - d->netc_k1 + 1 != d->netc_k2)
        return err_set(e, "netd: model.netc_k1/netc_k2: the two valid convs must bring the %dx%d grid to 1x1 "
                          "(need netc_k1 + netc_k2 = grid + 1 = %d; got %d + %d)",
                       d->grid, d->grid, d->grid + 1, d->netc_k1, d->netc_k2);
    int W = d->width, Do = d->d_out_ch, M = d->netc_mid, k1 = d->netc_k1, k2 = d->netc_k2;
    ParamSet *D = &n->netd, *C = &n->netc;
    ParamInit zero = param_const(0), c3 = conv_init(W * 9), c1 = conv_init(W);
    // state_dict order (spec/state-dict.md §3.1): each block's scalars before its children
    for (int i = 0; i < d->n_taps - 1; i++) {
        NetDBlock *b = &n->blk[i];
        params_add(D, &b->gamma, TR, zero, 1, (int[]){1}, "DBlocks.%d.gamma", i);
        params_add(D, &b->beta, TR, zero, 1, (int[]){1}, "DBlocks.%d.beta", i);
        params_add(D, &b->conv_r0_w, TR, c3, 4, (int[]){W, W, 3, 3}, "DBlocks.%d.conv_r.0.weight", i);
        params_add(D, &b->conv_r2_w, TR, c3, 4, (int[]){W, W, 3, 3}, "DBlocks.%d.conv_r.2.weight", i);
        params_add(D, &b->conv_s_w, TR, c1, 4, (int[]){W, W, 1, 1}, "DBlocks.%d.conv_s.weight", i);
        params_add(D, &b->conv_s_b, TR, c1, 1, (int[]){W}, "DBlocks.%d.conv_s.bias", i);
    }
    NetDMain *m = &n->main;
    params_add(D, &m->gamma, TR, zero, 1, (int[]){1}, "main.gamma");
    params_add(D, &m->conv_r0_w, TR, c3, 4, (int[]){Do, W, 3, 3}, "main.conv_r.0.weight");
    params_add(D, &m->conv_r2_w, TR, conv_init(Do * 9), 4, (int[]){Do, Do, 3, 3}, "main.conv_r.2.weight");
    params_add(D, &m->conv_s_w, TR, c1, 4, (int[]){Do, W, 1, 1}, "main.conv_s.weight");
    params_add(D, &m->conv_s_b, TR, c1, 1, (int[]){Do}, "main.conv_s.bias");
    params_add(C, &n->joint0_w, TR, conv_init((Do + d->text_dim) * k1 * k1), 4, (int[]){M, Do + d->text_dim, k1, k1},
               "joint_conv.0.weight");
    params_add(C, &n->joint2_w, TR, conv_init(M * k2 * k2), 4, (int[]){1, M, k2, k2}, "joint_conv.2.weight");
    if (params_finalize(D) || params_finalize(C)) {
        netdc_free(n);
        return err_set(e, "netd: out of memory allocating NetD/NetC parameters");
    }
    return 0;
}

// Each tensor draws from its own counter (tag, declaration index).
static void init_set(ParamSet *ps, uint64_t seed, uint64_t tag) {
    RngKey key = rng_key(seed, RNG_INIT);
    for (int i = 0; i < ps->count; i++) params_init_tensor(ps, i, key, (tag << 32) + (uint64_t)i);
}

void netdc_init(NetDC *n, uint64_t seed) {
    init_set(&n->netd, seed, 0x4E657444u);   // "NetD"
    init_set(&n->netc, seed, 0x4E657443u);   // "NetC"
}

void netdc_free(NetDC *n) {
    params_free(&n->netd);
    params_free(&n->netc);
}

// ------------------------------------------------------------------ activations

struct NetDActs {
    Plan plan;
    NetDDims d;
    int nb, B;                       // DBlocks = n_taps - 1; max batch
    real *F;                         // [n_taps][B,W,HW] the taps, contiguous per tap
    real *a;                         // [nb+1][B,W,HW] block inputs/outputs (a[0] = F[0])
    real *r1, *h1, *r2, *h2;         // [nb][B,W,HW] conv outputs and their LeakyReLUs
    real *mr1, *mh1, *mr2, *mh2;     // main block, [B,Do,HW]
    // backward signals of the last backward (MA-GP reads them)
    real *da;                        // [nb+1][B,W,HW] gradient at a[i]
    real *dr1, *dr2;                 // [nb][B,W,HW] gradient at the conv outputs
    real *dmr1, *dmr2, *dout;        // [B,Do,HW]
    real *t1, *t2;                   // scratch [B,max(W,Do),HW]
};

struct NetCActs {
    Plan plan;
    NetDDims d;
    int B;
    real *h;      // [B,Do+T,HW] cat(features, tiled sentence)
    real *c1;     // [B,M,HW1] first conv output
    real *hc;     // LeakyReLU(c1)
    real *dc1;    // gradient at c1 of the last backward
    real *dhc;    // scratch [B,M,HW1]
    real *dh;     // scratch [B,Do+T,HW]
    real *dpred;  // [B] gradient at pred of the last backward
};

static void netd_layout(Plan *p, void *ctx) {
    NetDActs *a = ctx;
    const NetDDims *d = &a->d;
    int nb = a->nb, HW = d->grid * d->grid;
    size_t nW = (size_t)a->B * d->width * HW, nD = (size_t)a->B * d->d_out_ch * HW;
    size_t nM = nW > nD ? nW : nD;
    a->F = plan_reals(p, PLAN_ACT, nW * d->n_taps);
    a->a = plan_reals(p, PLAN_ACT, nW * (nb + 1));
    a->r1 = plan_reals(p, PLAN_ACT, nW * nb);
    a->h1 = plan_reals(p, PLAN_ACT, nW * nb);
    a->r2 = plan_reals(p, PLAN_ACT, nW * nb);
    a->h2 = plan_reals(p, PLAN_ACT, nW * nb);
    a->mr1 = plan_reals(p, PLAN_ACT, nD);
    a->mh1 = plan_reals(p, PLAN_ACT, nD);
    a->mr2 = plan_reals(p, PLAN_ACT, nD);
    a->mh2 = plan_reals(p, PLAN_ACT, nD);
    a->da = plan_reals(p, PLAN_GRAD, nW * (nb + 1));
    a->dr1 = plan_reals(p, PLAN_GRAD, nW * nb);
    a->dr2 = plan_reals(p, PLAN_GRAD, nW * nb);
    a->dmr1 = plan_reals(p, PLAN_GRAD, nD);
    a->dmr2 = plan_reals(p, PLAN_GRAD, nD);
    a->dout = plan_reals(p, PLAN_GRAD, nD);
    a->t1 = plan_reals(p, PLAN_SCRATCH, nM);
    a->t2 = plan_reals(p, PLAN_SCRATCH, nM);
}

NetDActs *netd_acts_new(const NetDDims *d, int B) {
    NetDActs *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->d = *d;
    a->nb = d->n_taps - 1;
    a->B = B;
    if (plan_build(&a->plan, netd_layout, a)) {
        free(a);
        return NULL;
    }
    return a;
}

void netd_acts_free(NetDActs *a) {
    if (!a) return;
    plan_free(&a->plan);
    free(a);
}

size_t netd_acts_bytes(const NetDActs *a) { return plan_bytes(&a->plan); }

static void netc_layout(Plan *p, void *ctx) {
    NetCActs *a = ctx;
    const NetDDims *d = &a->d;
    int HW = d->grid * d->grid, g1 = d->grid - d->netc_k1 + 1;
    size_t nh = (size_t)a->B * (d->d_out_ch + d->text_dim) * HW, nc = (size_t)a->B * d->netc_mid * g1 * g1;
    a->h = plan_reals(p, PLAN_ACT, nh);
    a->c1 = plan_reals(p, PLAN_ACT, nc);
    a->hc = plan_reals(p, PLAN_ACT, nc);
    a->dc1 = plan_reals(p, PLAN_GRAD, nc);
    a->dpred = plan_reals(p, PLAN_GRAD, (size_t)a->B);
    a->dhc = plan_reals(p, PLAN_SCRATCH, nc);
    a->dh = plan_reals(p, PLAN_SCRATCH, nh);
}

NetCActs *netc_acts_new(const NetDDims *d, int B) {
    NetCActs *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->d = *d;
    a->B = B;
    if (plan_build(&a->plan, netc_layout, a)) {
        free(a);
        return NULL;
    }
    return a;
}

void netc_acts_free(NetCActs *a) {
    if (!a) return;
    plan_free(&a->plan);
    free(a);
}

size_t netc_acts_bytes(const NetCActs *a) { return plan_bytes(&a->plan); }

// ------------------------------------------------------------------ shapes and small helpers

static ConvShape res_conv(const NetDDims *d, int B, int C, int K) {   // 3×3, pad 1
    return conv_shape(B, C, d->grid, d->grid, K, 3, 3, 1, 1, 1, 1);
}
static ConvShape shortcut_conv(const NetDDims *d, int B) {   // 1×1, W → Do
    return conv_shape(B, d->width, d->grid, d->grid, d->d_out_ch, 1, 1, 1, 1, 0, 0);
}
static ConvShape joint0(const NetDDims *d, int B) {
    return conv_shape(B, d->d_out_ch + d->text_dim, d->grid, d->grid, d->netc_mid, d->netc_k1, d->netc_k1, 1, 1, 0, 0);
}
static ConvShape joint2(const NetDDims *d, int B) {
    int g1 = d->grid - d->netc_k1 + 1;
    return conv_shape(B, d->netc_mid, g1, g1, 1, d->netc_k2, d->netc_k2, 1, 1, 0, 0);
}

static double dot(const real *x, const real *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * y[i];
    return s;
}

// taps[B, n_taps, W, HW] (sample-major) ↔ F[n_taps][B, W, HW] (tap-major)
static void gather_taps(real *F, const real *taps, int B, int n_taps, size_t WHW) {
    for (int s = 0; s < B; s++)
        for (int k = 0; k < n_taps; k++)
            memcpy(F + ((size_t)k * B + s) * WHW, taps + ((size_t)s * n_taps + k) * WHW, WHW * sizeof(real));
}
// dtaps[s, k] += f · dF[s] for one tap k
static void scatter_tap_add(real *dtaps, const real *dF, real f, int B, int n_taps, int k, size_t WHW) {
    for (int s = 0; s < B; s++) {
        real *y = dtaps + ((size_t)s * n_taps + k) * WHW;
        const real *x = dF + (size_t)s * WHW;
        PAR_FOR_SIMD(WHW)
        for (size_t i = 0; i < WHW; i++) y[i] += f * x[i];
    }
}

static void lrelu_grad(real *din, const real *dout, const real *pre, size_t n) {   // din = dout·σ'(pre)
    memset(din, 0, n * sizeof(real));
    leaky_relu_backward(din, dout, pre, n, D_SLOPE);
}

// ------------------------------------------------------------------ NetD

void netd_forward(const NetDC *n, NetDActs *a, real *out, const real *taps, int B) {
    const NetDDims *d = &n->d;
    const NetDMain *M = &n->main;
    int W = d->width, Do = d->d_out_ch, HW = d->grid * d->grid;
    size_t nW = (size_t)B * W * HW, nD = (size_t)B * Do * HW;
    gather_taps(a->F, taps, B, d->n_taps, (size_t)W * HW);
    memcpy(a->a, a->F, nW * sizeof(real));
    ConvShape cw = res_conv(d, B, W, W);
    for (int i = 0; i < a->nb; i++) {
        const NetDBlock *b = &n->blk[i];
        real *ai = a->a + i * nW, *an = a->a + (i + 1) * nW, *Fn = a->F + (i + 1) * nW;
        real *r1 = a->r1 + i * nW, *h1 = a->h1 + i * nW, *r2 = a->r2 + i * nW, *h2 = a->h2 + i * nW;
        conv2d_forward(r1, ai, b->conv_r0_w.v, NULL, &cw);
        leaky_relu_forward(h1, r1, nW, D_SLOPE);
        conv2d_forward(r2, h1, b->conv_r2_w.v, NULL, &cw);
        leaky_relu_forward(h2, r2, nW, D_SLOPE);
        real gam = b->gamma.v[0], bet = b->beta.v[0];
        for (size_t j = 0; j < nW; j++) an[j] = ai[j] + gam * h2[j] + bet * Fn[j];
    }
    const real *am = a->a + a->nb * nW;
    ConvShape c0 = res_conv(d, B, W, Do), c2 = res_conv(d, B, Do, Do), cs = shortcut_conv(d, B);
    conv2d_forward(a->mr1, am, M->conv_r0_w.v, NULL, &c0);
    leaky_relu_forward(a->mh1, a->mr1, nD, D_SLOPE);
    conv2d_forward(a->mr2, a->mh1, M->conv_r2_w.v, NULL, &c2);
    leaky_relu_forward(a->mh2, a->mr2, nD, D_SLOPE);
    conv2d_forward(out, am, M->conv_s_w.v, M->conv_s_b.v, &cs);
    real gm = M->gamma.v[0];
    for (size_t j = 0; j < nD; j++) out[j] += gm * a->mh2[j];
}

// Backward from dout; stores the backward signals in a (for MA-GP). acc: also accumulate parameter
// gradients (MA-GP's own pass from Σ pred only wants the signals and the input gradient).
static void netd_backward_impl(NetDC *n, NetDActs *a, real *dtaps, const real *dout, int B, int acc) {
    const NetDDims *d = &n->d;
    const NetDMain *M = &n->main;
    int W = d->width, Do = d->d_out_ch, HW = d->grid * d->grid, nb = a->nb;
    size_t nW = (size_t)B * W * HW, nD = (size_t)B * Do * HW;
    memcpy(a->dout, dout, nD * sizeof(real));
    // main: out = conv_s(am) + γm·lrelu(conv2(lrelu(conv0(am))))
    const real *am = a->a + nb * nW;
    real *dam = a->da + nb * nW;
    real gm = M->gamma.v[0];
    if (acc) M->gamma.g[0] += (real)dot(dout, a->mh2, nD);
    for (size_t j = 0; j < nD; j++) a->t1[j] = gm * dout[j];
    lrelu_grad(a->dmr2, a->t1, a->mr2, nD);
    ConvShape c0 = res_conv(d, B, W, Do), c2 = res_conv(d, B, Do, Do), cs = shortcut_conv(d, B);
    memset(a->t2, 0, nD * sizeof(real));
    conv2d_backward(a->t2, acc ? M->conv_r2_w.g : NULL, NULL, a->dmr2, a->mh1, M->conv_r2_w.v, &c2);
    lrelu_grad(a->dmr1, a->t2, a->mr1, nD);
    memset(dam, 0, nW * sizeof(real));
    conv2d_backward(dam, acc ? M->conv_r0_w.g : NULL, NULL, a->dmr1, am, M->conv_r0_w.v, &c0);
    conv2d_backward(dam, acc ? M->conv_s_w.g : NULL, acc ? M->conv_s_b.g : NULL, dout, am, M->conv_s_w.v, &cs);
    // DBlocks, last first: a(i+1) = a(i) + γ·lrelu(conv2(lrelu(conv0(a(i))))) + β·F(i+1)
    ConvShape cw = res_conv(d, B, W, W);
    for (int i = nb - 1; i >= 0; i--) {
        const NetDBlock *b = &n->blk[i];
        const real *dan = a->da + (i + 1) * nW, *Fn = a->F + (i + 1) * nW;
        real *dai = a->da + i * nW;
        real gam = b->gamma.v[0], bet = b->beta.v[0];
        if (acc) {
            b->gamma.g[0] += (real)dot(dan, a->h2 + i * nW, nW);
            b->beta.g[0] += (real)dot(dan, Fn, nW);
        }
        if (dtaps) scatter_tap_add(dtaps, dan, bet, B, d->n_taps, i + 1, (size_t)W * HW);
        for (size_t j = 0; j < nW; j++) a->t1[j] = gam * dan[j];
        lrelu_grad(a->dr2 + i * nW, a->t1, a->r2 + i * nW, nW);
        memset(a->t2, 0, nW * sizeof(real));
        conv2d_backward(a->t2, acc ? b->conv_r2_w.g : NULL, NULL, a->dr2 + i * nW, a->h1 + i * nW, b->conv_r2_w.v,
                        &cw);
        lrelu_grad(a->dr1 + i * nW, a->t2, a->r1 + i * nW, nW);
        memcpy(dai, dan, nW * sizeof(real));
        conv2d_backward(dai, acc ? b->conv_r0_w.g : NULL, NULL, a->dr1 + i * nW, a->a + i * nW, b->conv_r0_w.v, &cw);
    }
    if (dtaps) scatter_tap_add(dtaps, a->da, 1, B, d->n_taps, 0, (size_t)W * HW);
}

void netd_backward(NetDC *n, NetDActs *a, real *dtaps, const real *dout, int B) {
    netd_backward_impl(n, a, dtaps, dout, B, 1);
}

void netd_backward_input(NetDC *n, NetDActs *a, real *dtaps, const real *dout, int B) {
    netd_backward_impl(n, a, dtaps, dout, B, 0);
}

// ------------------------------------------------------------------ NetC

// h[B, Do+T, HW] = cat(feat, sent tiled over the grid)
static void netc_concat(real *h, const real *feat, const real *sent, int B, int Do, int Tn, int HW) {
    for (int s = 0; s < B; s++) {
        real *hs = h + (size_t)s * (Do + Tn) * HW;
        memcpy(hs, feat + (size_t)s * Do * HW, (size_t)Do * HW * sizeof(real));
        for (int c = 0; c < Tn; c++)
            for (int p = 0; p < HW; p++) hs[(size_t)(Do + c) * HW + p] = sent[(size_t)s * Tn + c];
    }
}

void netc_forward(const NetDC *n, NetCActs *a, real *pred, const real *feat, const real *sent, int B) {
    const NetDDims *d = &n->d;
    int HW = d->grid * d->grid, g1 = d->grid - d->netc_k1 + 1;
    netc_concat(a->h, feat, sent, B, d->d_out_ch, d->text_dim, HW);
    ConvShape j0 = joint0(d, B), j2 = joint2(d, B);
    conv2d_forward(a->c1, a->h, n->joint0_w.v, NULL, &j0);
    leaky_relu_forward(a->hc, a->c1, (size_t)B * d->netc_mid * g1 * g1, D_SLOPE);
    conv2d_forward(pred, a->hc, n->joint2_w.v, NULL, &j2);
}

static void netc_backward_impl(NetDC *n, NetCActs *a, real *dfeat, real *dsent, const real *dpred, int B, int acc) {
    const NetDDims *d = &n->d;
    int HW = d->grid * d->grid, g1 = d->grid - d->netc_k1 + 1, Do = d->d_out_ch, Tn = d->text_dim;
    size_t nc = (size_t)B * d->netc_mid * g1 * g1, nh = (size_t)B * (Do + Tn) * HW;
    memcpy(a->dpred, dpred, (size_t)B * sizeof(real));
    ConvShape j0 = joint0(d, B), j2 = joint2(d, B);
    memset(a->dhc, 0, nc * sizeof(real));
    conv2d_backward(a->dhc, acc ? n->joint2_w.g : NULL, NULL, dpred, a->hc, n->joint2_w.v, &j2);
    lrelu_grad(a->dc1, a->dhc, a->c1, nc);
    if (!dfeat && !dsent && !acc) return;
    memset(a->dh, 0, nh * sizeof(real));
    conv2d_backward((dfeat || dsent) ? a->dh : NULL, acc ? n->joint0_w.g : NULL, NULL, a->dc1, a->h,
                    n->joint0_w.v, &j0);
    for (int s = 0; s < B; s++) {
        const real *hs = a->dh + (size_t)s * (Do + Tn) * HW;
        if (dfeat) {
            real *y = dfeat + (size_t)s * Do * HW;
            PAR_FOR_SIMD((size_t)Do * HW)
            for (size_t i = 0; i < (size_t)Do * HW; i++) y[i] += hs[i];
        }
        if (dsent)
            for (int c = 0; c < Tn; c++) {
                double acc_s = 0;
                for (int p = 0; p < HW; p++) acc_s += hs[(size_t)(Do + c) * HW + p];
                dsent[(size_t)s * Tn + c] += (real)acc_s;
            }
    }
}

void netc_backward(NetDC *n, NetCActs *a, real *dfeat, real *dsent, const real *dpred, int B) {
    netc_backward_impl(n, a, dfeat, dsent, dpred, B, 1);
}

void netc_backward_input(NetDC *n, NetCActs *a, real *dfeat, real *dsent, const real *dpred, int B) {
    netc_backward_impl(n, a, dfeat, dsent, dpred, B, 0);
}

// ------------------------------------------------------------------ MA-GP

struct Magp {
    Plan plan;
    NetDDims d;
    int B;
    real *ones;            // [B]
    real *gF, *gs;         // g = ∂Σpred/∂(taps, sent): [B, n_taps, W, HW], [B, T]; then v in place
    real *dfeat;           // [B, Do, HW] ∂Σpred/∂(NetD output)
    real *vF;              // [n_taps][B, W, HW] v for the taps, tap-major
    real *ta, *tr, *th1, *th2;   // tangents [B, max(W,Do), HW]
    real *th;              // [B, Do+T, HW] NetC input tangent
    real *tc1, *thc;       // [B, M, HW1]
};

static void magp_layout(Plan *p, void *ctx) {
    Magp *m = ctx;
    const NetDDims *d = &m->d;
    int B = m->B, HW = d->grid * d->grid, g1 = d->grid - d->netc_k1 + 1;
    size_t nW = (size_t)B * d->width * HW, nD = (size_t)B * d->d_out_ch * HW, nM = nW > nD ? nW : nD;
    m->ones = plan_reals(p, PLAN_ACT, (size_t)B);
    m->gF = plan_reals(p, PLAN_GRAD, nW * d->n_taps);
    m->gs = plan_reals(p, PLAN_GRAD, (size_t)B * d->text_dim);
    m->dfeat = plan_reals(p, PLAN_GRAD, nD);
    m->vF = plan_reals(p, PLAN_GRAD, nW * d->n_taps);
    m->ta = plan_reals(p, PLAN_SCRATCH, nM);
    m->tr = plan_reals(p, PLAN_SCRATCH, nM);
    m->th1 = plan_reals(p, PLAN_SCRATCH, nM);
    m->th2 = plan_reals(p, PLAN_SCRATCH, nM);
    m->th = plan_reals(p, PLAN_SCRATCH, (size_t)B * (d->d_out_ch + d->text_dim) * HW);
    m->tc1 = plan_reals(p, PLAN_SCRATCH, (size_t)B * d->netc_mid * g1 * g1);
    m->thc = plan_reals(p, PLAN_SCRATCH, (size_t)B * d->netc_mid * g1 * g1);
}

Magp *magp_new(const NetDDims *d, int B) {
    Magp *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->d = *d;
    m->B = B;
    if (plan_build(&m->plan, magp_layout, m)) {
        free(m);
        return NULL;
    }
    for (int s = 0; s < B; s++) m->ones[s] = 1;
    return m;
}

void magp_free(Magp *m) {
    if (!m) return;
    plan_free(&m->plan);
    free(m);
}

size_t magp_bytes(const Magp *m) { return plan_bytes(&m->plan); }

double magp_forward_backward(NetDC *n, Magp *m, NetDActs *da, NetCActs *ca, int B, real k, real p, real *gtaps,
                             real *gsent) {
    const NetDDims *d = &n->d;
    const NetDMain *M = &n->main;
    int W = d->width, Do = d->d_out_ch, Tn = d->text_dim, HW = d->grid * d->grid, nb = d->n_taps - 1;
    size_t WHW = (size_t)W * HW, nW = (size_t)B * WHW, nD = (size_t)B * Do * HW;
    size_t per_F = (size_t)d->n_taps * WHW;

    // (1) g = ∇ of Σ_b pred_b w.r.t. (taps, sent), keeping every layer's backward signal δ
    memset(m->dfeat, 0, nD * sizeof(real));
    memset(m->gs, 0, (size_t)B * Tn * sizeof(real));
    memset(m->gF, 0, nW * d->n_taps * sizeof(real));
    netc_backward_impl(n, ca, m->dfeat, m->gs, m->ones, B, 0);
    netd_backward_impl(n, da, m->gF, m->dfeat, B, 0);
    if (gtaps) memcpy(gtaps, m->gF, nW * d->n_taps * sizeof(real));
    if (gsent) memcpy(gsent, m->gs, (size_t)B * Tn * sizeof(real));

    // (2) value = k·mean‖g_b‖^p;  v_b = ∂value/∂g_b = (k/B)·p·‖g_b‖^(p-2)·g_b  (in place)
    double value = 0;
    for (int s = 0; s < B; s++) {
        real *gF = m->gF + (size_t)s * per_F, *gs = m->gs + (size_t)s * Tn;
        double sq = dot(gF, gF, per_F) + dot(gs, gs, (size_t)Tn);
        double norm = sqrt(sq);
        value += pow(norm, (double)p);
        real c = (real)((double)k / B * p * pow(norm, (double)p - 2));
        for (size_t i = 0; i < per_F; i++) gF[i] *= c;
        for (int i = 0; i < Tn; i++) gs[i] *= c;
    }
    value *= (double)k / B;

    // (3) push v forward through the linearised net (no biases, LeakyReLU slopes from the primal
    // pre-activations); each weight's gradient is the weight-gradient kernel of its δ with the
    // tangent as input, each gate's is ⟨δ at its output, the tangent it multiplies⟩.
    gather_taps(m->vF, m->gF, B, d->n_taps, WHW);
    memcpy(m->ta, m->vF, nW * sizeof(real));
    ConvShape cw = res_conv(d, B, W, W);
    for (int i = 0; i < nb; i++) {
        const NetDBlock *b = &n->blk[i];
        const real *dan = da->da + (i + 1) * nW, *vFn = m->vF + (i + 1) * nW;
        conv2d_forward(m->tr, m->ta, b->conv_r0_w.v, NULL, &cw);
        conv2d_backward(NULL, b->conv_r0_w.g, NULL, da->dr1 + i * nW, m->ta, b->conv_r0_w.v, &cw);
        lrelu_grad(m->th1, m->tr, da->r1 + i * nW, nW);
        conv2d_forward(m->tr, m->th1, b->conv_r2_w.v, NULL, &cw);
        conv2d_backward(NULL, b->conv_r2_w.g, NULL, da->dr2 + i * nW, m->th1, b->conv_r2_w.v, &cw);
        lrelu_grad(m->th2, m->tr, da->r2 + i * nW, nW);
        b->gamma.g[0] += (real)dot(dan, m->th2, nW);
        b->beta.g[0] += (real)dot(dan, vFn, nW);
        real gam = b->gamma.v[0], bet = b->beta.v[0];
        for (size_t j = 0; j < nW; j++) m->ta[j] += gam * m->th2[j] + bet * vFn[j];
    }
    ConvShape c0 = res_conv(d, B, W, Do), c2 = res_conv(d, B, Do, Do), cs = shortcut_conv(d, B);
    conv2d_forward(m->tr, m->ta, M->conv_r0_w.v, NULL, &c0);
    conv2d_backward(NULL, M->conv_r0_w.g, NULL, da->dmr1, m->ta, M->conv_r0_w.v, &c0);
    lrelu_grad(m->th1, m->tr, da->mr1, nD);
    conv2d_forward(m->tr, m->th1, M->conv_r2_w.v, NULL, &c2);
    conv2d_backward(NULL, M->conv_r2_w.g, NULL, da->dmr2, m->th1, M->conv_r2_w.v, &c2);
    lrelu_grad(m->th2, m->tr, da->mr2, nD);
    M->gamma.g[0] += (real)dot(da->dout, m->th2, nD);
    conv2d_backward(NULL, M->conv_s_w.g, NULL, da->dout, m->ta, M->conv_s_w.v, &cs);
    // tangent of NetD's output: conv_s(t_a) (no bias) + γm·t_h2, written into th1 (free now)
    conv2d_forward(m->th1, m->ta, M->conv_s_w.v, NULL, &cs);
    real gm = M->gamma.v[0];
    for (size_t j = 0; j < nD; j++) m->th1[j] += gm * m->th2[j];
    // NetC: tangent input cat(t_out, v_sent tiled)
    int g1 = d->grid - d->netc_k1 + 1;
    size_t nc = (size_t)B * d->netc_mid * g1 * g1;
    netc_concat(m->th, m->th1, m->gs, B, Do, Tn, HW);
    ConvShape j0 = joint0(d, B), j2 = joint2(d, B);
    conv2d_forward(m->tc1, m->th, n->joint0_w.v, NULL, &j0);
    conv2d_backward(NULL, n->joint0_w.g, NULL, ca->dc1, m->th, n->joint0_w.v, &j0);
    lrelu_grad(m->thc, m->tc1, ca->c1, nc);
    conv2d_backward(NULL, n->joint2_w.g, NULL, ca->dpred, m->thc, n->joint2_w.v, &j2);
    return value;
}
