// netd: NetD + NetC forward/backward and MA-GP (see netd.h for the network and the derivation).
#include "core/netd.h"
#include "core/ops.h"
#include "core/rng.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const real D_SLOPE = 0.2;   // LeakyReLU slope in D_Block and NetC

// ------------------------------------------------------------------ parameters

static int tensor_index(const ParamSet *ps, const char *fmt, va_list ap) {
    char name[PARAM_NAME_MAX];
    vsnprintf(name, sizeof name, fmt, ap);
    int i = params_find(ps, name);
    if (i < 0) {   // names are declared by netdc_build: a missing one is a programming error
        fprintf(stderr, "netd: parameter %s was never declared\n", name);
        abort();
    }
    return i;
}

// data / gradient view of the tensor named by fmt
static real *T(const ParamSet *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static real *T(const ParamSet *ps, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = tensor_index(ps, fmt, ap);
    va_end(ap);
    return params_tensor(ps, i);
}
static real *G(const ParamSet *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static real *G(const ParamSet *ps, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = tensor_index(ps, fmt, ap);
    va_end(ap);
    return params_grad(ps, i);
}

static int decl(ParamSet *ps, int ndim, int d0, int d1, int d2, int d3, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static int decl(ParamSet *ps, int ndim, int d0, int d1, int d2, int d3, const char *fmt, ...) {
    char name[PARAM_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int shape[4] = {d0, d1, d2, d3};
    return params_declare(ps, name, PARAM_TRAINABLE, ndim, shape) < 0;
}

int netdc_build(NetDC *n, const NetDDims *d, Err *e) {
    memset(n, 0, sizeof(*n));
    n->d = *d;
    if (d->width <= 0 || d->grid <= 0 || d->d_out_ch <= 0 || d->text_dim <= 0 || d->netc_mid <= 0)
        return err_set(e, "netd: model.clip_width/code_size/d_out_ch/text_dim/netc_mid must be positive "
                          "(got %d/%d/%d/%d/%d)", d->width, d->grid, d->d_out_ch, d->text_dim, d->netc_mid);
    if (d->n_taps < 1)
        return err_set(e, "netd: model.clip_taps: NetD needs at least one CLIP tap (got %d)", d->n_taps);
    if (d->netc_k1 < 1 || d->netc_k2 < 1 || d->grid - d->netc_k1 + 1 != d->netc_k2)
        return err_set(e, "netd: model.netc_k1/netc_k2: the two valid convs must bring the %dx%d grid to 1x1 "
                          "(need netc_k1 + netc_k2 = grid + 1 = %d; got %d + %d)",
                       d->grid, d->grid, d->grid + 1, d->netc_k1, d->netc_k2);
    int W = d->width, Do = d->d_out_ch, r = 0;
    ParamSet *D = &n->netd, *C = &n->netc;
    // state_dict order (spec/state-dict.md §3.1): each block's scalars before its children
    for (int i = 0; i < d->n_taps - 1; i++) {
        r |= decl(D, 1, 1, 0, 0, 0, "DBlocks.%d.gamma", i);
        r |= decl(D, 1, 1, 0, 0, 0, "DBlocks.%d.beta", i);
        r |= decl(D, 4, W, W, 3, 3, "DBlocks.%d.conv_r.0.weight", i);
        r |= decl(D, 4, W, W, 3, 3, "DBlocks.%d.conv_r.2.weight", i);
        r |= decl(D, 4, W, W, 1, 1, "DBlocks.%d.conv_s.weight", i);   // unused (fin == fout), as upstream
        r |= decl(D, 1, W, 0, 0, 0, "DBlocks.%d.conv_s.bias", i);
    }
    r |= decl(D, 1, 1, 0, 0, 0, "main.gamma");
    r |= decl(D, 4, Do, W, 3, 3, "main.conv_r.0.weight");
    r |= decl(D, 4, Do, Do, 3, 3, "main.conv_r.2.weight");
    r |= decl(D, 4, Do, W, 1, 1, "main.conv_s.weight");
    r |= decl(D, 1, Do, 0, 0, 0, "main.conv_s.bias");
    r |= decl(C, 4, d->netc_mid, Do + d->text_dim, d->netc_k1, d->netc_k1, "joint_conv.0.weight");
    r |= decl(C, 4, 1, d->netc_mid, d->netc_k2, d->netc_k2, "joint_conv.2.weight");
    if (r || params_finalize(D) || params_finalize(C)) {
        netdc_free(n);
        return err_set(e, "netd: out of memory allocating NetD/NetC parameters");
    }
    return 0;
}

// PyTorch defaults: Conv2d kaiming_uniform(a=√5) = U(±1/sqrt(fan_in)) for the weight, the same bound
// for the bias; D_Block's gates are torch.zeros(1).
static void init_set(ParamSet *ps, uint64_t seed, uint64_t tag) {
    RngKey key = rng_key(seed, RNG_INIT);
    for (int i = 0; i < ps->count; i++) {
        ParamSpec *s = &ps->specs[i];
        real *x = params_tensor(ps, i);
        if (strstr(s->name, "gamma") || strstr(s->name, "beta")) {
            memset(x, 0, s->numel * sizeof(real));
            continue;
        }
        int fan_in;
        if (s->ndim == 4) {
            fan_in = s->shape[1] * s->shape[2] * s->shape[3];
        } else {   // a conv bias: fan_in of the weight declared just before it
            const ParamSpec *w = &ps->specs[i - 1];
            fan_in = w->shape[1] * w->shape[2] * w->shape[3];
        }
        real bound = 1 / sqrt((real)fan_in);
        rng_fill_uniform(x, s->numel, -bound, bound, key, (tag << 32) + (uint64_t)i);
    }
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
    int nb;                          // DBlocks = n_taps - 1
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
    real *h;      // [B,Do+T,HW] cat(features, tiled sentence)
    real *c1;     // [B,M,HW1] first conv output
    real *hc;     // LeakyReLU(c1)
    real *dc1;    // gradient at c1 of the last backward
    real *dhc;    // scratch [B,M,HW1]
    real *dh;     // scratch [B,Do+T,HW]
    real *dpred;  // [B] gradient at pred of the last backward
};

#define ALLOC(p, n) do { (p) = calloc((size_t)(n), sizeof(real)); ok = ok && (p); } while (0)

NetDActs *netd_acts_new(const NetDDims *d, int B) {
    NetDActs *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    int ok = 1, nb = d->n_taps - 1, HW = d->grid * d->grid;
    size_t nW = (size_t)B * d->width * HW, nD = (size_t)B * d->d_out_ch * HW;
    size_t nM = nW > nD ? nW : nD;
    a->nb = nb;
    ALLOC(a->F, nW * d->n_taps); ALLOC(a->a, nW * (nb + 1));
    ALLOC(a->r1, nW * nb + 1); ALLOC(a->h1, nW * nb + 1); ALLOC(a->r2, nW * nb + 1); ALLOC(a->h2, nW * nb + 1);
    ALLOC(a->mr1, nD); ALLOC(a->mh1, nD); ALLOC(a->mr2, nD); ALLOC(a->mh2, nD);
    ALLOC(a->da, nW * (nb + 1)); ALLOC(a->dr1, nW * nb + 1); ALLOC(a->dr2, nW * nb + 1);
    ALLOC(a->dmr1, nD); ALLOC(a->dmr2, nD); ALLOC(a->dout, nD);
    ALLOC(a->t1, nM); ALLOC(a->t2, nM);
    if (!ok) {
        netd_acts_free(a);
        return NULL;
    }
    return a;
}

void netd_acts_free(NetDActs *a) {
    if (!a) return;
    real *p[] = {a->F, a->a, a->r1, a->h1, a->r2, a->h2, a->mr1, a->mh1, a->mr2, a->mh2,
                 a->da, a->dr1, a->dr2, a->dmr1, a->dmr2, a->dout, a->t1, a->t2};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    free(a);
}

NetCActs *netc_acts_new(const NetDDims *d, int B) {
    NetCActs *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    int ok = 1, HW = d->grid * d->grid, g1 = d->grid - d->netc_k1 + 1;
    size_t nh = (size_t)B * (d->d_out_ch + d->text_dim) * HW, nc = (size_t)B * d->netc_mid * g1 * g1;
    ALLOC(a->h, nh); ALLOC(a->c1, nc); ALLOC(a->hc, nc); ALLOC(a->dc1, nc); ALLOC(a->dhc, nc);
    ALLOC(a->dh, nh); ALLOC(a->dpred, B);
    if (!ok) {
        netc_acts_free(a);
        return NULL;
    }
    return a;
}

void netc_acts_free(NetCActs *a) {
    if (!a) return;
    real *p[] = {a->h, a->c1, a->hc, a->dc1, a->dhc, a->dh, a->dpred};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    free(a);
}

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
    const ParamSet *D = &n->netd;
    int W = d->width, Do = d->d_out_ch, HW = d->grid * d->grid;
    size_t nW = (size_t)B * W * HW, nD = (size_t)B * Do * HW;
    gather_taps(a->F, taps, B, d->n_taps, (size_t)W * HW);
    memcpy(a->a, a->F, nW * sizeof(real));
    ConvShape cw = res_conv(d, B, W, W);
    for (int i = 0; i < a->nb; i++) {
        real *ai = a->a + i * nW, *an = a->a + (i + 1) * nW, *Fn = a->F + (i + 1) * nW;
        real *r1 = a->r1 + i * nW, *h1 = a->h1 + i * nW, *r2 = a->r2 + i * nW, *h2 = a->h2 + i * nW;
        conv2d_forward(r1, ai, T(D, "DBlocks.%d.conv_r.0.weight", i), NULL, &cw);
        leaky_relu_forward(h1, r1, nW, D_SLOPE);
        conv2d_forward(r2, h1, T(D, "DBlocks.%d.conv_r.2.weight", i), NULL, &cw);
        leaky_relu_forward(h2, r2, nW, D_SLOPE);
        real gam = *T(D, "DBlocks.%d.gamma", i), bet = *T(D, "DBlocks.%d.beta", i);
        for (size_t j = 0; j < nW; j++) an[j] = ai[j] + gam * h2[j] + bet * Fn[j];
    }
    const real *am = a->a + a->nb * nW;
    ConvShape c0 = res_conv(d, B, W, Do), c2 = res_conv(d, B, Do, Do), cs = shortcut_conv(d, B);
    conv2d_forward(a->mr1, am, T(D, "main.conv_r.0.weight"), NULL, &c0);
    leaky_relu_forward(a->mh1, a->mr1, nD, D_SLOPE);
    conv2d_forward(a->mr2, a->mh1, T(D, "main.conv_r.2.weight"), NULL, &c2);
    leaky_relu_forward(a->mh2, a->mr2, nD, D_SLOPE);
    conv2d_forward(out, am, T(D, "main.conv_s.weight"), T(D, "main.conv_s.bias"), &cs);
    real gm = *T(D, "main.gamma");
    for (size_t j = 0; j < nD; j++) out[j] += gm * a->mh2[j];
}

// Backward from dout; stores the backward signals in a (for MA-GP). acc: also accumulate parameter
// gradients (MA-GP's own pass from Σ pred only wants the signals and the input gradient).
static void netd_backward_impl(NetDC *n, NetDActs *a, real *dtaps, const real *dout, int B, int acc) {
    const NetDDims *d = &n->d;
    ParamSet *D = &n->netd;
    int W = d->width, Do = d->d_out_ch, HW = d->grid * d->grid, nb = a->nb;
    size_t nW = (size_t)B * W * HW, nD = (size_t)B * Do * HW;
    memcpy(a->dout, dout, nD * sizeof(real));
    // main: out = conv_s(am) + γm·lrelu(conv2(lrelu(conv0(am))))
    const real *am = a->a + nb * nW;
    real *dam = a->da + nb * nW;
    real gm = *T(D, "main.gamma");
    if (acc) *G(D, "main.gamma") += (real)dot(dout, a->mh2, nD);
    for (size_t j = 0; j < nD; j++) a->t1[j] = gm * dout[j];
    lrelu_grad(a->dmr2, a->t1, a->mr2, nD);
    ConvShape c0 = res_conv(d, B, W, Do), c2 = res_conv(d, B, Do, Do), cs = shortcut_conv(d, B);
    memset(a->t2, 0, nD * sizeof(real));
    conv2d_backward(a->t2, acc ? G(D, "main.conv_r.2.weight") : NULL, NULL, a->dmr2, a->mh1,
                    T(D, "main.conv_r.2.weight"), &c2);
    lrelu_grad(a->dmr1, a->t2, a->mr1, nD);
    memset(dam, 0, nW * sizeof(real));
    conv2d_backward(dam, acc ? G(D, "main.conv_r.0.weight") : NULL, NULL, a->dmr1, am, T(D, "main.conv_r.0.weight"), &c0);
    conv2d_backward(dam, acc ? G(D, "main.conv_s.weight") : NULL, acc ? G(D, "main.conv_s.bias") : NULL, dout, am,
                    T(D, "main.conv_s.weight"), &cs);
    // DBlocks, last first: a(i+1) = a(i) + γ·lrelu(conv2(lrelu(conv0(a(i))))) + β·F(i+1)
    ConvShape cw = res_conv(d, B, W, W);
    for (int i = nb - 1; i >= 0; i--) {
        const real *dan = a->da + (i + 1) * nW, *Fn = a->F + (i + 1) * nW;
        real *dai = a->da + i * nW;
        real gam = *T(D, "DBlocks.%d.gamma", i), bet = *T(D, "DBlocks.%d.beta", i);
        if (acc) {
            *G(D, "DBlocks.%d.gamma", i) += (real)dot(dan, a->h2 + i * nW, nW);
            *G(D, "DBlocks.%d.beta", i) += (real)dot(dan, Fn, nW);
        }
        if (dtaps) scatter_tap_add(dtaps, dan, bet, B, d->n_taps, i + 1, (size_t)W * HW);
        for (size_t j = 0; j < nW; j++) a->t1[j] = gam * dan[j];
        lrelu_grad(a->dr2 + i * nW, a->t1, a->r2 + i * nW, nW);
        memset(a->t2, 0, nW * sizeof(real));
        conv2d_backward(a->t2, acc ? G(D, "DBlocks.%d.conv_r.2.weight", i) : NULL, NULL, a->dr2 + i * nW,
                        a->h1 + i * nW, T(D, "DBlocks.%d.conv_r.2.weight", i), &cw);
        lrelu_grad(a->dr1 + i * nW, a->t2, a->r1 + i * nW, nW);
        memcpy(dai, dan, nW * sizeof(real));
        conv2d_backward(dai, acc ? G(D, "DBlocks.%d.conv_r.0.weight", i) : NULL, NULL, a->dr1 + i * nW,
                        a->a + i * nW, T(D, "DBlocks.%d.conv_r.0.weight", i), &cw);
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
    conv2d_forward(a->c1, a->h, T(&n->netc, "joint_conv.0.weight"), NULL, &j0);
    leaky_relu_forward(a->hc, a->c1, (size_t)B * d->netc_mid * g1 * g1, D_SLOPE);
    conv2d_forward(pred, a->hc, T(&n->netc, "joint_conv.2.weight"), NULL, &j2);
}

static void netc_backward_impl(NetDC *n, NetCActs *a, real *dfeat, real *dsent, const real *dpred, int B, int acc) {
    const NetDDims *d = &n->d;
    ParamSet *C = &n->netc;
    int HW = d->grid * d->grid, g1 = d->grid - d->netc_k1 + 1, Do = d->d_out_ch, Tn = d->text_dim;
    size_t nc = (size_t)B * d->netc_mid * g1 * g1, nh = (size_t)B * (Do + Tn) * HW;
    memcpy(a->dpred, dpred, (size_t)B * sizeof(real));
    ConvShape j0 = joint0(d, B), j2 = joint2(d, B);
    memset(a->dhc, 0, nc * sizeof(real));
    conv2d_backward(a->dhc, acc ? G(C, "joint_conv.2.weight") : NULL, NULL, dpred, a->hc,
                    T(C, "joint_conv.2.weight"), &j2);
    lrelu_grad(a->dc1, a->dhc, a->c1, nc);
    if (!dfeat && !dsent && !acc) return;
    memset(a->dh, 0, nh * sizeof(real));
    conv2d_backward((dfeat || dsent) ? a->dh : NULL, acc ? G(C, "joint_conv.0.weight") : NULL, NULL, a->dc1, a->h,
                    T(C, "joint_conv.0.weight"), &j0);
    for (int s = 0; s < B; s++) {
        const real *hs = a->dh + (size_t)s * (Do + Tn) * HW;
        if (dfeat) {
            real *y = dfeat + (size_t)s * Do * HW;
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
    real *ones;            // [B]
    real *gF, *gs;         // g = ∂Σpred/∂(taps, sent): [B, n_taps, W, HW], [B, T]; then v in place
    real *dfeat;           // [B, Do, HW] ∂Σpred/∂(NetD output)
    real *vF;              // [n_taps][B, W, HW] v for the taps, tap-major
    real *ta, *tr, *th1, *th2;   // tangents [B, max(W,Do), HW]
    real *th;              // [B, Do+T, HW] NetC input tangent
    real *tc1, *thc;       // [B, M, HW1]
};

Magp *magp_new(const NetDDims *d, int B) {
    Magp *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    int ok = 1, HW = d->grid * d->grid, g1 = d->grid - d->netc_k1 + 1;
    size_t nW = (size_t)B * d->width * HW, nD = (size_t)B * d->d_out_ch * HW, nM = nW > nD ? nW : nD;
    ALLOC(m->ones, B); ALLOC(m->gF, nW * d->n_taps); ALLOC(m->gs, (size_t)B * d->text_dim);
    ALLOC(m->dfeat, nD); ALLOC(m->vF, nW * d->n_taps);
    ALLOC(m->ta, nM); ALLOC(m->tr, nM); ALLOC(m->th1, nM); ALLOC(m->th2, nM);
    ALLOC(m->th, (size_t)B * (d->d_out_ch + d->text_dim) * HW);
    ALLOC(m->tc1, (size_t)B * d->netc_mid * g1 * g1); ALLOC(m->thc, (size_t)B * d->netc_mid * g1 * g1);
    if (!ok) {
        magp_free(m);
        return NULL;
    }
    for (int s = 0; s < B; s++) m->ones[s] = 1;
    return m;
}

void magp_free(Magp *m) {
    if (!m) return;
    real *p[] = {m->ones, m->gF, m->gs, m->dfeat, m->vF, m->ta, m->tr, m->th1, m->th2, m->th, m->tc1, m->thc};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    free(m);
}

#undef ALLOC

double magp_forward_backward(NetDC *n, Magp *m, NetDActs *da, NetCActs *ca, int B, real k, real p, real *gtaps,
                             real *gsent) {
    const NetDDims *d = &n->d;
    ParamSet *D = &n->netd, *C = &n->netc;
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
        const real *dan = da->da + (i + 1) * nW, *vFn = m->vF + (i + 1) * nW;
        conv2d_forward(m->tr, m->ta, T(D, "DBlocks.%d.conv_r.0.weight", i), NULL, &cw);
        conv2d_backward(NULL, G(D, "DBlocks.%d.conv_r.0.weight", i), NULL, da->dr1 + i * nW, m->ta,
                        T(D, "DBlocks.%d.conv_r.0.weight", i), &cw);
        lrelu_grad(m->th1, m->tr, da->r1 + i * nW, nW);
        conv2d_forward(m->tr, m->th1, T(D, "DBlocks.%d.conv_r.2.weight", i), NULL, &cw);
        conv2d_backward(NULL, G(D, "DBlocks.%d.conv_r.2.weight", i), NULL, da->dr2 + i * nW, m->th1,
                        T(D, "DBlocks.%d.conv_r.2.weight", i), &cw);
        lrelu_grad(m->th2, m->tr, da->r2 + i * nW, nW);
        *G(D, "DBlocks.%d.gamma", i) += (real)dot(dan, m->th2, nW);
        *G(D, "DBlocks.%d.beta", i) += (real)dot(dan, vFn, nW);
        real gam = *T(D, "DBlocks.%d.gamma", i), bet = *T(D, "DBlocks.%d.beta", i);
        for (size_t j = 0; j < nW; j++) m->ta[j] += gam * m->th2[j] + bet * vFn[j];
    }
    ConvShape c0 = res_conv(d, B, W, Do), c2 = res_conv(d, B, Do, Do), cs = shortcut_conv(d, B);
    conv2d_forward(m->tr, m->ta, T(D, "main.conv_r.0.weight"), NULL, &c0);
    conv2d_backward(NULL, G(D, "main.conv_r.0.weight"), NULL, da->dmr1, m->ta, T(D, "main.conv_r.0.weight"), &c0);
    lrelu_grad(m->th1, m->tr, da->mr1, nD);
    conv2d_forward(m->tr, m->th1, T(D, "main.conv_r.2.weight"), NULL, &c2);
    conv2d_backward(NULL, G(D, "main.conv_r.2.weight"), NULL, da->dmr2, m->th1, T(D, "main.conv_r.2.weight"), &c2);
    lrelu_grad(m->th2, m->tr, da->mr2, nD);
    *G(D, "main.gamma") += (real)dot(da->dout, m->th2, nD);
    conv2d_backward(NULL, G(D, "main.conv_s.weight"), NULL, da->dout, m->ta, T(D, "main.conv_s.weight"), &cs);
    // tangent of NetD's output: conv_s(t_a) (no bias) + γm·t_h2, written into th1 (free now)
    conv2d_forward(m->th1, m->ta, T(D, "main.conv_s.weight"), NULL, &cs);
    real gm = *T(D, "main.gamma");
    for (size_t j = 0; j < nD; j++) m->th1[j] += gm * m->th2[j];
    // NetC: tangent input cat(t_out, v_sent tiled)
    int g1 = d->grid - d->netc_k1 + 1;
    size_t nc = (size_t)B * d->netc_mid * g1 * g1;
    netc_concat(m->th, m->th1, m->gs, B, Do, Tn, HW);
    ConvShape j0 = joint0(d, B), j2 = joint2(d, B);
    conv2d_forward(m->tc1, m->th, T(C, "joint_conv.0.weight"), NULL, &j0);
    conv2d_backward(NULL, G(C, "joint_conv.0.weight"), NULL, ca->dc1, m->th, T(C, "joint_conv.0.weight"), &j0);
    lrelu_grad(m->thc, m->tc1, ca->c1, nc);
    conv2d_backward(NULL, G(C, "joint_conv.2.weight"), NULL, ca->dpred, m->thc, T(C, "joint_conv.2.weight"), &j2);
    return value;
}
