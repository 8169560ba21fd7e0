#include "core/gblocks.h"
#include <stdlib.h>
#include <string.h>
#include "core/kernels.h"
#include "core/ops.h"
#include "core/par.h"
#include "core/plan.h"
#include "core/vmath.h"

#define sigm vsigmoid

// ShuffleAttention's channel_shuffle(2): pre-shuffle channel oc goes to 2j+q where oc = q·C/2 + j.
static int shuffled(int oc, int C) { return oc < C / 2 ? 2 * oc : 2 * (oc - C / 2) + 1; }

// ---------------------------------------------------------------- Conv_shuffle

void netg_cs_acts_layout(Plan *p, NetgCsActs *a, const NetgConvShuffle *cs, int B) {
    size_t n = (size_t)B * cs->cout * cs->H * cs->W;
    int k = cs->cout / (2 * cs->G);
    size_t nk = (size_t)B * cs->G * k;
    a->y = plan_reals(p, PLAN_ACT, n);
    a->a = plan_reals(p, PLAN_ACT, n);
    a->xhat = plan_reals(p, PLAN_ACT, n / 2);
    a->sg = plan_reals(p, PLAN_ACT, n / 2);
    a->out = plan_reals(p, PLAN_ACT, n);
    a->mean = plan_reals(p, PLAN_ACT, (size_t)cs->cout);
    a->invstd = plan_reals(p, PLAN_ACT, (size_t)cs->cout);
    a->cmean = plan_reals(p, PLAN_ACT, nk);
    a->cgate = plan_reals(p, PLAN_ACT, nk);
    a->rstd = plan_reals(p, PLAN_ACT, nk);
    a->sums = plan_doubles(p, PLAN_ACT, 2 * (size_t)cs->cout);
}

// ShuffleAttention forward on a->a (see spec/model.md §1.8): per (sample, group) the first k channels
// get the channel gate σ(cw·mean + cb), the next k the spatial gate σ(sw·GN(x1) + sb); the result is
// written straight to its channel_shuffle(2) position.
static void sa_forward(const NetgConvShuffle *cs, NetgCsActs *a, int B) {
    int C = cs->cout, G = cs->G, k = C / (2 * G), HW = cs->H * cs->W, Cg = C / G;
    const real *cw = cs->cweight.v, *cb = cs->cbias.v, *sw = cs->sweight.v, *sb = cs->sbias.v;
    const real *gw = cs->gn_w.v, *gb = cs->gn_b.v;
    PAR_FOR2((size_t)B * C * HW)
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
                SIMD
                for (int p = 0; p < HW; p++) {
                    xh[p] = (x1[p] - (real)mu) * rstd;
                    sg[p] = sigm(sw[i] * (xh[p] * gw[i] + gb[i]) + sb[i]);
                    o1[p] = x1[p] * sg[p];
                }
            }
}

// da += ∂/∂a of ShuffleAttention given dout (post-shuffle gradient); parameter grads += .
// The (sample, group, channel) items run in parallel; each writes its six parameter-gradient terms to
// part[6][nk], which are then added in the one-thread order (b, g, i), so the sums do not depend on
// the thread count.
static void sa_backward(const NetgConvShuffle *cs, NetgCsActs *a, const real *dout, real *da, int B) {
    int C = cs->cout, G = cs->G, k = C / (2 * G), HW = cs->H * cs->W, Cg = C / G;
    const real *cw = cs->cweight.v, *sw = cs->sweight.v, *gw = cs->gn_w.v, *gb = cs->gn_b.v;
    real *dparam[6] = {cs->cweight.g, cs->cbias.g, cs->sweight.g, cs->sbias.g, cs->gn_w.g, cs->gn_b.g};
    size_t nk = (size_t)B * G * k;
    real *part = kern_scratch(KERN_SCRATCH_SLOTS - 1, 6 * nk);
    PAR_FOR2((size_t)B * C * HW)
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
                part[0 * nk + gi] = dpre * a->cmean[gi];
                part[1 * nk + gi] = dpre;
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
                part[2 * nk + gi] = (real)sdsw;
                part[3 * nk + gi] = (real)sdsb;
                part[4 * nk + gi] = (real)sdgw;
                part[5 * nk + gi] = (real)sdgb;
                real mdxh = (real)(sdxh / HW), mdxhx = (real)(sdxhx / HW), rstd = a->rstd[gi];
                for (int p = 0; p < HW; p++) {
                    real dxh = d1[p] * x1[p] * sg[p] * (1 - sg[p]) * sw[i] * gw[i];
                    dx1[p] += d1[p] * sg[p] + rstd * (dxh - mdxh - xh[p] * mdxhx);
                }
            }
    for (size_t gi = 0; gi < nk; gi++)
        for (int t = 0; t < 6; t++) dparam[t][gi % k] += part[t * nk + gi];
}

// out = leaky_relu((x-mean)·invstd·gamma + beta, slope): BatchNorm's apply and Conv_shuffle's
// activation in one pass over memory (values as bn2d_apply then leaky_relu_forward would give)
static void bn_apply_leaky(real *out, const real *in, const real *mean, const real *invstd, const real *gamma,
                           const real *beta, int N, int C, int HW, real slope) {
    PAR_FOR2((size_t)N * C * HW)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            real scale = invstd[c] * gamma[c];
            real shift = beta[c] - mean[c] * scale;
            const real *x = in + ((size_t)n * C + c) * HW;
            real *y = out + ((size_t)n * C + c) * HW;
            SIMD
            for (int i = 0; i < HW; i++) {
                real v = x[i] * scale + shift;
                y[i] = v > 0 ? v : v * slope;
            }
        }
}

int netg_cs_forward(NetG *net, const NetgConvShuffle *cs, NetgCsActs *a, const real *in, int B, int train) {
    int C = cs->cout, HW = cs->H * cs->W;
    a->in = in;
    a->train = train;
    ConvShape sh = conv_shape(B, cs->cin, cs->H, cs->W, C, 3, 3, 1, 1, 1, 1);
    conv2d_forward(a->y, in, cs->conv_w.v, NULL, &sh);
    real *rm = cs->bn_rm.v, *rv = cs->bn_rv.v;
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
    bn_apply_leaky(a->a, a->y, a->mean, a->invstd, cs->bn_w.v, cs->bn_b.v, B, C, HW, (real)0.01);
    sa_forward(cs, a, B);
    return 0;
}

int netg_cs_backward(NetG *net, const NetgConvShuffle *cs, NetgCsActs *a, const real *dout, real *din, real *s0,
                     real *s1, int B) {
    int C = cs->cout, HW = cs->H * cs->W;
    size_t n = (size_t)B * C * HW;
    memset(s0, 0, n * sizeof(real));
    sa_backward(cs, a, dout, s0, B);   // s0 = d a
    memset(s1, 0, n * sizeof(real));
    leaky_relu_backward(s1, s0, a->a, n, (real)0.01);   // s1 = d BN out (a and BN out share signs)
    memset(s0, 0, n * sizeof(real));        // s0 = d y
    if (a->train) {
        bn2d_backward_sums(a->sums, s1, a->y, a->mean, a->invstd, B, C, HW);
        double count = (double)B * HW;
        if (net->bn_hook && net->bn_hook(net->bn_hook_ctx, a->sums, 2 * C, &count)) return -1;
        bn2d_backward_apply(s0, cs->bn_w.g, cs->bn_b.g, a->sums, count, s1, a->y, a->mean, a->invstd,
                            cs->bn_w.v, B, C, HW);
    } else {   // running statistics: a per-channel affine map
        const real *gam = cs->bn_w.v;
        real *dgam = cs->bn_w.g, *dbet = cs->bn_b.g;
        PAR_FOR(n)  // over channels, samples in order: dgam/dbet add up as with one thread
        for (int c = 0; c < C; c++)
            for (int b = 0; b < B; b++) {
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
    conv2d_backward(din, cs->conv_w.g, NULL, s0, a->in, cs->conv_w.v, &sh);
    return 0;
}

// ---------------------------------------------------------------- affine MLP

void netg_mlp_acts_layout(Plan *p, NetgMlpActs *a, int N, int C) {
    size_t n = (size_t)N * C;
    a->rg = plan_reals(p, PLAN_ACT, n);
    a->rb = plan_reals(p, PLAN_ACT, n);
    a->gamma = plan_reals(p, PLAN_ACT, n);
    a->beta = plan_reals(p, PLAN_ACT, n);
    a->dgamma = plan_reals(p, PLAN_GRAD, n);
    a->dbeta = plan_reals(p, PLAN_GRAD, n);
    a->tmp = plan_reals(p, PLAN_SCRATCH, n);
}

void netg_mlp_forward(const NetgAffineMLP *m, NetgMlpActs *a, const real *in, int N) {
    int C = m->C;
    size_t n = (size_t)N * C;
    linear_forward(a->rg, in, m->gamma1.w.v, m->gamma1.b.v, N, m->in_dim, C);
    relu_forward(a->rg, a->rg, n);
    linear_forward(a->gamma, a->rg, m->gamma2.w.v, m->gamma2.b.v, N, C, C);
    linear_forward(a->rb, in, m->beta1.w.v, m->beta1.b.v, N, m->in_dim, C);
    relu_forward(a->rb, a->rb, n);
    linear_forward(a->beta, a->rb, m->beta2.w.v, m->beta2.b.v, N, C, C);
    memset(a->dgamma, 0, n * sizeof(real));
    memset(a->dbeta, 0, n * sizeof(real));
}

void netg_mlp_backward(const NetgAffineMLP *m, NetgMlpActs *a, real *din, const real *in, int N) {
    int C = m->C, IN = m->in_dim;
    size_t n = (size_t)N * C;
    for (int br = 0; br < 2; br++) {
        const NetgLinear *L1 = br ? &m->beta1 : &m->gamma1, *L2 = br ? &m->beta2 : &m->gamma2;
        const real *r = br ? a->rb : a->rg, *dout = br ? a->dbeta : a->dgamma;
        // tmp = dL/dr, then masked by r > 0 (the ReLU's output carries its mask)
        memset(a->tmp, 0, n * sizeof(real));
        linear_backward(a->tmp, L2->w.g, L2->b.g, dout, r, L2->w.v, N, C, C);
        for (size_t i = 0; i < n; i++)
            if (!(r[i] > 0)) a->tmp[i] = 0;
        linear_backward(din, L1->w.g, L1->b.g, a->tmp, in, L1->w.v, N, IN, C);
    }
}

// ---------------------------------------------------------------- DFBLK modulation

void netg_mod_forward(real *out, const real *x, const real *gamma, const real *beta, int B, int C, int HW,
                      int per_sample) {
    PAR_FOR2((size_t)B * C * HW)
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            size_t gi = per_sample ? (size_t)b * C + c : (size_t)c;
            real g = gamma[gi], be = beta[gi];
            const real *xp = x + ((size_t)b * C + c) * HW;
            real *op = out + ((size_t)b * C + c) * HW;
            SIMD
            for (int p = 0; p < HW; p++) {
                real v = g * xp[p] + be;
                op[p] = v > 0 ? v : (real)0.2 * v;
            }
        }
}

void netg_mod_backward(real *dx, real *dgamma, real *dbeta, const real *dout, const real *out, const real *x,
                       const real *gamma, int B, int C, int HW, int per_sample) {
    // over channels, samples in order inside: a shared (per-channel) dgamma adds up as with one thread
    PAR_FOR((size_t)B * C * HW)
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++) {
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
