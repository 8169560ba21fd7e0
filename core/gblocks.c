#include "core/gblocks.h"
#include <stdlib.h>
#include <string.h>
#include "core/ops.h"

#define P(i) params_tensor(&net->ps, (i))
#define PG(i) params_grad(&net->ps, (i))

real *netg_take(NetgArena *ar, size_t nfloats) {
    if (ar->n == ar->cap) {
        int cap = ar->cap ? 2 * ar->cap : 64;
        void **p = realloc(ar->p, (size_t)cap * sizeof(void *));
        if (!p) {
            ar->failed = 1;
            return NULL;
        }
        ar->p = p;
        ar->cap = cap;
    }
    real *x = calloc(nfloats ? nfloats : 1, sizeof(real));
    if (!x) {
        ar->failed = 1;
        return NULL;
    }
    ar->p[ar->n++] = x;
    return x;
}

void netg_arena_free(NetgArena *ar) {
    for (int i = 0; i < ar->n; i++) free(ar->p[i]);
    free(ar->p);
    memset(ar, 0, sizeof(*ar));
}

static real sigm(real x) { return 1 / (1 + exp(-x)); }

// ShuffleAttention's channel_shuffle(2): pre-shuffle channel oc goes to 2j+q where oc = q·C/2 + j.
static int shuffled(int oc, int C) { return oc < C / 2 ? 2 * oc : 2 * (oc - C / 2) + 1; }

// ---------------------------------------------------------------- Conv_shuffle

int netg_cs_acts_alloc(NetgArena *ar, NetgCsActs *a, const NetgConvShuffle *cs, int B) {
    size_t n = (size_t)B * cs->cout * cs->H * cs->W;
    int k = cs->cout / (2 * cs->G);
    size_t nk = (size_t)B * cs->G * k;
    a->y = netg_take(ar, n);
    a->a = netg_take(ar, n);
    a->xhat = netg_take(ar, n / 2);
    a->sg = netg_take(ar, n / 2);
    a->out = netg_take(ar, n);
    a->mean = netg_take(ar, cs->cout);
    a->invstd = netg_take(ar, cs->cout);
    a->cmean = netg_take(ar, nk);
    a->cgate = netg_take(ar, nk);
    a->rstd = netg_take(ar, nk);
    a->sums = (double *)netg_take(ar, 4 * (size_t)cs->cout);   // 2·cout doubles
    return ar->failed ? -1 : 0;
}

// ShuffleAttention forward on a->a (see spec/model.md §1.8): per (sample, group) the first k channels
// get the channel gate σ(cw·mean + cb), the next k the spatial gate σ(sw·GN(x1) + sb); the result is
// written straight to its channel_shuffle(2) position.
static void sa_forward(NetG *net, const NetgConvShuffle *cs, NetgCsActs *a, int B) {
    int C = cs->cout, G = cs->G, k = C / (2 * G), HW = cs->H * cs->W, Cg = C / G;
    const real *cw = P(cs->cweight), *cb = P(cs->cbias), *sw = P(cs->sweight), *sb = P(cs->sbias);
    const real *gw = P(cs->gn_w), *gb = P(cs->gn_b);
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++)
            for (int i = 0; i < k; i++) {
                size_t gi = ((size_t)b * G + g) * k + i;   // (sample, group, channel-in-half) index
                // channel branch on channel g·Cg + i
                int c0 = g * Cg + i;
                const real *x0 = a->a + ((size_t)b * C + c0) * HW;
                double s = 0;
                for (int p = 0; p < HW; p++) s += x0[p];
                real m = (real)(s / HW), gate = sigm(cw[i] * m + cb[i]);
                a->cmean[gi] = m;
                a->cgate[gi] = gate;
                real *o0 = a->out + ((size_t)b * C + shuffled(c0, C)) * HW;
                for (int p = 0; p < HW; p++) o0[p] = x0[p] * gate;
                // spatial branch on channel g·Cg + k + i: instance norm (GroupNorm(k,k)), gate
                int c1 = c0 + k;
                const real *x1 = a->a + ((size_t)b * C + c1) * HW;
                double s1 = 0, s2 = 0;
                for (int p = 0; p < HW; p++) s1 += x1[p];
                double mu = s1 / HW;
                for (int p = 0; p < HW; p++) s2 += (x1[p] - mu) * (x1[p] - mu);
                real rstd = (real)(1.0 / sqrt(s2 / HW + 1e-5));
                a->rstd[gi] = rstd;
                real *xh = a->xhat + gi * HW, *sg = a->sg + gi * HW;
                real *o1 = a->out + ((size_t)b * C + shuffled(c1, C)) * HW;
                for (int p = 0; p < HW; p++) {
                    xh[p] = (x1[p] - (real)mu) * rstd;
                    sg[p] = sigm(sw[i] * (xh[p] * gw[i] + gb[i]) + sb[i]);
                    o1[p] = x1[p] * sg[p];
                }
            }
}

// da += ∂/∂a of ShuffleAttention given dout (post-shuffle gradient); parameter grads += .
static void sa_backward(NetG *net, const NetgConvShuffle *cs, NetgCsActs *a, const real *dout, real *da, int B) {
    int C = cs->cout, G = cs->G, k = C / (2 * G), HW = cs->H * cs->W, Cg = C / G;
    const real *cw = P(cs->cweight), *sw = P(cs->sweight), *gw = P(cs->gn_w), *gb = P(cs->gn_b);
    real *dcw = PG(cs->cweight), *dcb = PG(cs->cbias), *dsw = PG(cs->sweight), *dsb = PG(cs->sbias);
    real *dgw = PG(cs->gn_w), *dgb = PG(cs->gn_b);
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++)
            for (int i = 0; i < k; i++) {
                size_t gi = ((size_t)b * G + g) * k + i;
                // channel branch: o0 = x0·σ(cw·m + cb), m = mean(x0)
                int c0 = g * Cg + i;
                const real *x0 = a->a + ((size_t)b * C + c0) * HW;
                const real *d0 = dout + ((size_t)b * C + shuffled(c0, C)) * HW;
                real *dx0 = da + ((size_t)b * C + c0) * HW;
                real gate = a->cgate[gi];
                double dgate = 0;
                for (int p = 0; p < HW; p++) dgate += d0[p] * x0[p];
                real dpre = (real)dgate * gate * (1 - gate);
                dcw[i] += dpre * a->cmean[gi];
                dcb[i] += dpre;
                real dm = dpre * cw[i] / HW;
                for (int p = 0; p < HW; p++) dx0[p] += d0[p] * gate + dm;
                // spatial branch: o1 = x1·σ(sw·n + sb), n = x̂·gw + gb, x̂ = instance norm of x1
                int c1 = c0 + k;
                const real *x1 = a->a + ((size_t)b * C + c1) * HW;
                const real *d1 = dout + ((size_t)b * C + shuffled(c1, C)) * HW;
                real *dx1 = da + ((size_t)b * C + c1) * HW;
                const real *xh = a->xhat + gi * HW, *sg = a->sg + gi * HW;
                double sdsw = 0, sdsb = 0, sdgw = 0, sdgb = 0, sdxh = 0, sdxhx = 0;
                for (int p = 0; p < HW; p++) {
                    real n = xh[p] * gw[i] + gb[i];
                    real dspre = d1[p] * x1[p] * sg[p] * (1 - sg[p]);
                    real dn = dspre * sw[i];
                    sdsw += dspre * n;
                    sdsb += dspre;
                    sdgw += dn * xh[p];
                    sdgb += dn;
                    real dxh = dn * gw[i];
                    sdxh += dxh;
                    sdxhx += dxh * xh[p];
                }
                dsw[i] += (real)sdsw;
                dsb[i] += (real)sdsb;
                dgw[i] += (real)sdgw;
                dgb[i] += (real)sdgb;
                real mdxh = (real)(sdxh / HW), mdxhx = (real)(sdxhx / HW), rstd = a->rstd[gi];
                for (int p = 0; p < HW; p++) {
                    real dxh = d1[p] * x1[p] * sg[p] * (1 - sg[p]) * sw[i] * gw[i];
                    dx1[p] += d1[p] * sg[p] + rstd * (dxh - mdxh - xh[p] * mdxhx);
                }
            }
}

int netg_cs_forward(NetG *net, const NetgConvShuffle *cs, NetgCsActs *a, const real *in, int B, int train) {
    int C = cs->cout, HW = cs->H * cs->W;
    size_t n = (size_t)B * C * HW;
    a->in = in;
    a->train = train;
    ConvShape sh = conv_shape(B, cs->cin, cs->H, cs->W, C, 3, 3, 1, 1, 1, 1);
    conv2d_forward(a->y, in, P(cs->conv_w), NULL, &sh);
    real *rm = P(cs->bn_rm), *rv = P(cs->bn_rv);
    if (train) {
        bn2d_stats(a->sums, a->y, B, C, HW);
        double count = (double)B * HW;
        if (net->bn_hook && net->bn_hook(net->bn_hook_ctx, a->sums, 2 * C, &count)) return -1;
        bn2d_mean_invstd(a->mean, a->invstd, a->sums, count, C, net->bn_eps);
        bn2d_update_running(rm, rv, a->sums, count, C, net->bn_momentum);
    } else {
        for (int c = 0; c < C; c++) {
            a->mean[c] = rm[c];
            a->invstd[c] = 1 / sqrt(rv[c] + net->bn_eps);
        }
    }
    bn2d_apply(a->a, a->y, a->mean, a->invstd, P(cs->bn_w), P(cs->bn_b), B, C, HW);
    leaky_relu_forward(a->a, a->a, n, (real)0.01);
    sa_forward(net, cs, a, B);
    return 0;
}

int netg_cs_backward(NetG *net, const NetgConvShuffle *cs, NetgCsActs *a, const real *dout, real *din, real *s0,
                     real *s1, int B) {
    int C = cs->cout, HW = cs->H * cs->W;
    size_t n = (size_t)B * C * HW;
    memset(s0, 0, n * sizeof(real));
    sa_backward(net, cs, a, dout, s0, B);   // s0 = d a
    memset(s1, 0, n * sizeof(real));
    leaky_relu_backward(s1, s0, a->a, n, (real)0.01);   // s1 = d BN out (a and BN out share signs)
    memset(s0, 0, n * sizeof(real));        // s0 = d y
    if (a->train) {
        bn2d_backward_sums(a->sums, s1, a->y, a->mean, a->invstd, B, C, HW);
        double count = (double)B * HW;
        if (net->bn_hook && net->bn_hook(net->bn_hook_ctx, a->sums, 2 * C, &count)) return -1;
        bn2d_backward_apply(s0, PG(cs->bn_w), PG(cs->bn_b), a->sums, count, s1, a->y, a->mean, a->invstd,
                            P(cs->bn_w), B, C, HW);
    } else {   // running statistics: a per-channel affine map
        const real *gam = P(cs->bn_w);
        real *dgam = PG(cs->bn_w), *dbet = PG(cs->bn_b);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) {
                size_t o = ((size_t)b * C + c) * HW;
                double sg = 0, sb = 0;
                for (int p = 0; p < HW; p++) {
                    real xh = (a->y[o + p] - a->mean[c]) * a->invstd[c];
                    sg += s1[o + p] * xh;
                    sb += s1[o + p];
                    s0[o + p] += s1[o + p] * gam[c] * a->invstd[c];
                }
                dgam[c] += (real)sg;
                dbet[c] += (real)sb;
            }
    }
    ConvShape sh = conv_shape(B, cs->cin, cs->H, cs->W, C, 3, 3, 1, 1, 1, 1);
    conv2d_backward(din, PG(cs->conv_w), NULL, s0, a->in, P(cs->conv_w), &sh);
    return 0;
}

// ---------------------------------------------------------------- affine MLP

int netg_mlp_acts_alloc(NetgArena *ar, NetgMlpActs *a, int N, int C) {
    size_t n = (size_t)N * C;
    a->rg = netg_take(ar, n);
    a->rb = netg_take(ar, n);
    a->gamma = netg_take(ar, n);
    a->beta = netg_take(ar, n);
    a->dgamma = netg_take(ar, n);
    a->dbeta = netg_take(ar, n);
    a->tmp = netg_take(ar, n);
    return ar->failed ? -1 : 0;
}

void netg_mlp_forward(const ParamSet *ps, const NetgAffineMLP *m, NetgMlpActs *a, const real *in, int N) {
    int C = m->C;
    size_t n = (size_t)N * C;
    linear_forward(a->rg, in, params_tensor(ps, m->gw1), params_tensor(ps, m->gb1), N, m->in_dim, C);
    relu_forward(a->rg, a->rg, n);
    linear_forward(a->gamma, a->rg, params_tensor(ps, m->gw2), params_tensor(ps, m->gb2), N, C, C);
    linear_forward(a->rb, in, params_tensor(ps, m->bw1), params_tensor(ps, m->bb1), N, m->in_dim, C);
    relu_forward(a->rb, a->rb, n);
    linear_forward(a->beta, a->rb, params_tensor(ps, m->bw2), params_tensor(ps, m->bb2), N, C, C);
    memset(a->dgamma, 0, n * sizeof(real));
    memset(a->dbeta, 0, n * sizeof(real));
}

void netg_mlp_backward(ParamSet *ps, const NetgAffineMLP *m, NetgMlpActs *a, real *din, const real *in, int N) {
    int C = m->C, IN = m->in_dim;
    size_t n = (size_t)N * C;
    for (int br = 0; br < 2; br++) {
        int w1 = br ? m->bw1 : m->gw1, b1 = br ? m->bb1 : m->gb1, w2 = br ? m->bw2 : m->gw2, b2 = br ? m->bb2 : m->gb2;
        const real *r = br ? a->rb : a->rg, *dout = br ? a->dbeta : a->dgamma;
        // tmp = dL/dr, then masked by r > 0 (the ReLU's output carries its mask)
        memset(a->tmp, 0, n * sizeof(real));
        linear_backward(a->tmp, params_grad(ps, w2), params_grad(ps, b2), dout, r, params_tensor(ps, w2), N, C, C);
        for (size_t i = 0; i < n; i++)
            if (!(r[i] > 0)) a->tmp[i] = 0;
        linear_backward(din, params_grad(ps, w1), params_grad(ps, b1), a->tmp, in, params_tensor(ps, w1), N, IN, C);
    }
}

// ---------------------------------------------------------------- DFBLK modulation

void netg_mod_forward(real *out, const real *x, const real *gamma, const real *beta, int B, int C, int HW,
                      int per_sample) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            size_t gi = per_sample ? (size_t)b * C + c : (size_t)c;
            real g = gamma[gi], be = beta[gi];
            const real *xp = x + ((size_t)b * C + c) * HW;
            real *op = out + ((size_t)b * C + c) * HW;
            for (int p = 0; p < HW; p++) {
                real v = g * xp[p] + be;
                op[p] = v > 0 ? v : (real)0.2 * v;
            }
        }
}

void netg_mod_backward(real *dx, real *dgamma, real *dbeta, const real *dout, const real *out, const real *x,
                       const real *gamma, int B, int C, int HW, int per_sample) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            size_t gi = per_sample ? (size_t)b * C + c : (size_t)c;
            real g = gamma[gi];
            size_t o = ((size_t)b * C + c) * HW;
            double sg = 0, sb = 0;
            for (int p = 0; p < HW; p++) {
                real d = out[o + p] > 0 ? dout[o + p] : (real)0.2 * dout[o + p];
                sg += d * x[o + p];
                sb += d;
                if (dx) dx[o + p] += g * d;
            }
            dgamma[gi] += (real)sg;
            dbeta[gi] += (real)sb;
        }
}
