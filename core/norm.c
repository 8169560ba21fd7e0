// norm: BatchNorm2d (train/eval, split in phases for sync BN), GroupNorm and LayerNorm, forward and
// backward. Statistics and the reductions of the backward accumulate in double.
#include "core/ops.h"
#include "core/par.h"

// ---------------------------------------------------------------- BatchNorm2d, in[N,C,HW]

// {Σx, Σx²} of channel c
static void bn_channel_sums(double out[2], const real *in, int N, int C, int HW, int c) {
    double s = 0, s2 = 0;
    for (int n = 0; n < N; n++) {
        const real *p = in + ((size_t)n * C + c) * HW;
        for (int i = 0; i < HW; i++) {
            double x = p[i];
            s += x;
            s2 += x * x;
        }
    }
    out[0] = s;
    out[1] = s2;
}

// sums[2C] = {Σx per channel, Σx² per channel}
void bn2d_stats(double *sums, const real *in, int N, int C, int HW) {
    PAR_FOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        double cs[2];
        bn_channel_sums(cs, in, N, C, HW, c);
        sums[c] = cs[0];
        sums[C + c] = cs[1];
    }
}

// the biased variance (what normalises in training) and the mean of channel c
static double bn_var(const double *sums, double count, int C, int c, double *mean) {
    *mean = sums[c] / count;
    double var = sums[C + c] / count - *mean * *mean;
    return var > 0 ? var : 0;  // round-off can push a constant channel slightly below zero
}

void bn2d_mean_invstd(real *mean, real *invstd, const double *sums, double count, int C, real eps) {
    for (int c = 0; c < C; c++) {
        double m, var = bn_var(sums, count, C, c, &m);
        mean[c] = (real)m;
        invstd[c] = (real)(1.0 / sqrt(var + (double)eps));
    }
}

// rm = (1-m)·rm + m·mean, rv = (1-m)·rv + m·var·count/(count-1)  (PyTorch keeps the unbiased variance)
void bn2d_update_running(real *running_mean, real *running_var, const double *sums, double count, int C,
                         real momentum) {
    double mo = momentum;
    for (int c = 0; c < C; c++) {
        double m, var = bn_var(sums, count, C, c, &m);
        double unbiased = count > 1 ? var * count / (count - 1) : var;
        running_mean[c] = (real)((1 - mo) * running_mean[c] + mo * m);
        running_var[c] = (real)((1 - mo) * running_var[c] + mo * unbiased);
    }
}

// out = (x-mean)·invstd·gamma + beta  (gamma, beta may be NULL: 1 and 0)
void bn2d_apply(real *out, const real *in, const real *mean, const real *invstd, const real *gamma,
                const real *beta, int N, int C, int HW) {
    PAR_FOR2((size_t)N * C * HW)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            real scale = invstd[c] * (gamma ? gamma[c] : 1);
            real shift = (beta ? beta[c] : 0) - mean[c] * scale;
            const real *x = in + ((size_t)n * C + c) * HW;
            real *y = out + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
        }
}

// single-process training forward; running_mean/var may be NULL (no update)
void bn2d_forward_train(real *out, real *mean, real *invstd, real *running_mean, real *running_var,
                        const real *in, const real *gamma, const real *beta, int N, int C, int HW, real eps,
                        real momentum) {
    double count = (double)N * HW;
    PAR_FOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {  // channel by channel: the sums need no buffer
        double cs[2];
        bn_channel_sums(cs, in, N, C, HW, c);
        bn2d_mean_invstd(mean + c, invstd + c, cs, count, 1, eps);
        if (running_mean && running_var) bn2d_update_running(running_mean + c, running_var + c, cs, count, 1, momentum);
    }
    bn2d_apply(out, in, mean, invstd, gamma, beta, N, C, HW);
}

void bn2d_forward_eval(real *out, const real *in, const real *gamma, const real *beta,
                       const real *running_mean, const real *running_var, int N, int C, int HW, real eps) {
    PAR_FOR2((size_t)N * C * HW)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            real scale = (real)(1.0 / sqrt((double)running_var[c] + (double)eps)) * (gamma ? gamma[c] : 1);
            real shift = (beta ? beta[c] : 0) - running_mean[c] * scale;
            const real *x = in + ((size_t)n * C + c) * HW;
            real *y = out + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
        }
}

// {Σ dout, Σ dout·xhat} of channel c
static void bn_channel_bsums(double out[2], const real *dout, const real *in, real mean, real invstd, int N,
                             int C, int HW, int c) {
    double sd = 0, sdx = 0;
    for (int n = 0; n < N; n++) {
        const real *x = in + ((size_t)n * C + c) * HW;
        const real *g = dout + ((size_t)n * C + c) * HW;
        for (int i = 0; i < HW; i++) {
            sd += g[i];
            sdx += (double)g[i] * (double)((x[i] - mean) * invstd);
        }
    }
    out[0] = sd;
    out[1] = sdx;
}

void bn2d_backward_sums(double *bsums, const real *dout, const real *in, const real *mean, const real *invstd,
                        int N, int C, int HW) {
    PAR_FOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        double cs[2];
        bn_channel_bsums(cs, dout, in, mean[c], invstd[c], N, C, HW, c);
        bsums[c] = cs[0];
        bsums[C + c] = cs[1];
    }
}

// din += gamma·invstd·(dout - Σdout/count - xhat·Σ(dout·xhat)/count), with bsums over all `count` values
// (all ranks under sync BN). dgamma, dbeta are this process's own sums (recomputed from the local dout),
// never the allreduced ones: the gradient allreduce that follows adds the ranks' shares.
void bn2d_backward_apply(real *din, real *dgamma, real *dbeta, const double *bsums, double count,
                         const real *dout, const real *in, const real *mean, const real *invstd,
                         const real *gamma, int N, int C, int HW) {
    PAR_FOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {
        if (dgamma || dbeta) {
            double local[2];
            bn_channel_bsums(local, dout, in, mean[c], invstd[c], N, C, HW, c);
            if (dgamma) dgamma[c] += (real)local[1];
            if (dbeta) dbeta[c] += (real)local[0];
        }
        if (!din) continue;
        real k = invstd[c] * (gamma ? gamma[c] : 1);
        real mean_d = (real)(bsums[c] / count), mean_dx = (real)(bsums[C + c] / count);
        for (int n = 0; n < N; n++) {
            const real *x = in + ((size_t)n * C + c) * HW;
            const real *g = dout + ((size_t)n * C + c) * HW;
            real *dx = din + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                real xhat = (x[i] - mean[c]) * invstd[c];
                dx[i] += k * (g[i] - mean_d - xhat * mean_dx);
            }
        }
    }
}

void bn2d_backward(real *din, real *dgamma, real *dbeta, const real *dout, const real *in, const real *mean,
                   const real *invstd, const real *gamma, int N, int C, int HW) {
    double count = (double)N * HW;
    PAR_FOR((size_t)N * C * HW)
    for (int c = 0; c < C; c++) {  // channel by channel: the local sums are the global ones
        double cs[2];
        bn_channel_bsums(cs, dout, in, mean[c], invstd[c], N, C, HW, c);
        if (dgamma) dgamma[c] += (real)cs[1];
        if (dbeta) dbeta[c] += (real)cs[0];
        if (!din) continue;
        real k = invstd[c] * (gamma ? gamma[c] : 1);
        real mean_d = (real)(cs[0] / count), mean_dx = (real)(cs[1] / count);
        for (int n = 0; n < N; n++) {
            const real *x = in + ((size_t)n * C + c) * HW;
            const real *g = dout + ((size_t)n * C + c) * HW;
            real *dx = din + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) dx[i] += k * (g[i] - mean_d - (x[i] - mean[c]) * invstd[c] * mean_dx);
        }
    }
}

// ---------------------------------------------------------------- GroupNorm and LayerNorm
// Both normalise contiguous blocks: a (n, g) group of GroupNorm is (C/G)·HW consecutive values; a
// LayerNorm row is D consecutive values. The affine is per channel (GroupNorm, stride HW) or per
// element (LayerNorm, stride 1), expressed by `per`: the number of consecutive values sharing one
// gamma/beta index.

// mean and 1/sqrt(var + eps) (biased variance) of x[len]
static void block_stats(real *mean, real *rstd, const real *x, size_t len, real eps) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < len; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
    }
    double m = s / (double)len, var = s2 / (double)len - m * m;
    if (var < 0) var = 0;
    *mean = (real)m;
    *rstd = (real)(1.0 / sqrt(var + (double)eps));
}

// y = (x-mean)·rstd·gamma[j] + beta[j] over a block of nj·per values; j = i / per
static void block_apply(real *y, const real *x, real mean, real rstd, const real *gamma, const real *beta,
                        int nj, int per) {
    for (int j = 0; j < nj; j++) {
        real scale = rstd * (gamma ? gamma[j] : 1), shift = (beta ? beta[j] : 0) - mean * scale;
        for (int i = 0; i < per; i++) y[(size_t)j * per + i] = x[(size_t)j * per + i] * scale + shift;
    }
}

// backward of one block: dx += rstd·(g - mean(g) - xhat·mean(g·xhat)) with g = dout·gamma;
// dgamma[j] += Σ dout·xhat, dbeta[j] += Σ dout
static void block_backward(real *dx, real *dgamma, real *dbeta, const real *dy, const real *x, real mean,
                           real rstd, const real *gamma, int nj, int per) {
    double sg = 0, sgx = 0;
    for (int j = 0; j < nj; j++) {
        double gj = gamma ? gamma[j] : 1, sd = 0, sdx = 0;
        for (int i = 0; i < per; i++) {
            size_t t = (size_t)j * per + i;
            double xhat = (double)((x[t] - mean) * rstd);
            sd += dy[t];
            sdx += dy[t] * xhat;
        }
        if (dgamma) dgamma[j] += (real)sdx;
        if (dbeta) dbeta[j] += (real)sd;
        sg += gj * sd;
        sgx += gj * sdx;
    }
    if (!dx) return;
    double len = (double)nj * per;
    real mg = (real)(sg / len), mgx = (real)(sgx / len);
    for (int j = 0; j < nj; j++) {
        real gj = gamma ? gamma[j] : 1;
        for (int i = 0; i < per; i++) {
            size_t t = (size_t)j * per + i;
            real xhat = (x[t] - mean) * rstd;
            dx[t] += rstd * (dy[t] * gj - mg - xhat * mgx);
        }
    }
}

// in[N,C,HW], G groups of C/G channels; mean, rstd [N·G]; gamma, beta [C] or NULL
void groupnorm_forward(real *out, real *mean, real *rstd, const real *in, const real *gamma,
                       const real *beta, int N, int C, int HW, int G, real eps) {
    const int cg = C / G;
    const size_t len = (size_t)cg * HW;
    PAR_FOR2((size_t)N * C * HW)
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            size_t at = ((size_t)n * G + g) * len, ng = (size_t)n * G + g;
            block_stats(&mean[ng], &rstd[ng], in + at, len, eps);
            block_apply(out + at, in + at, mean[ng], rstd[ng], gamma ? gamma + g * cg : NULL,
                        beta ? beta + g * cg : NULL, cg, HW);
        }
}

void groupnorm_backward(real *din, real *dgamma, real *dbeta, const real *dout, const real *in,
                        const real *mean, const real *rstd, const real *gamma, int N, int C, int HW, int G) {
    const int cg = C / G;
    const size_t len = (size_t)cg * HW;
    // over groups, each group's samples in order: dgamma/dbeta of a group add up in the same order
    // whatever the thread count
    PAR_FOR((size_t)N * C * HW)
    for (int g = 0; g < G; g++)
        for (int n = 0; n < N; n++) {
            size_t at = ((size_t)n * G + g) * len, ng = (size_t)n * G + g;
            block_backward(din ? din + at : NULL, dgamma ? dgamma + g * cg : NULL, dbeta ? dbeta + g * cg : NULL,
                           dout + at, in + at, mean[ng], rstd[ng], gamma ? gamma + g * cg : NULL, cg, HW);
        }
}

// in[R,D] normalised per row; mean, rstd [R]; gamma, beta [D] or NULL
void layernorm_forward(real *out, real *mean, real *rstd, const real *in, const real *gamma,
                       const real *beta, int R, int D, real eps) {
    PAR_FOR((size_t)R * D)
    for (int r = 0; r < R; r++) {
        size_t at = (size_t)r * D;
        block_stats(&mean[r], &rstd[r], in + at, (size_t)D, eps);
        block_apply(out + at, in + at, mean[r], rstd[r], gamma, beta, D, 1);
    }
}

void layernorm_backward(real *din, real *dgamma, real *dbeta, const real *dout, const real *in,
                        const real *mean, const real *rstd, const real *gamma, int R, int D) {
    // dgamma/dbeta add over rows: rows in parallel only when those are not wanted (frozen CLIP)
    PAR_FOR(dgamma || dbeta ? 0 : (size_t)R * D)
    for (int r = 0; r < R; r++) {
        size_t at = (size_t)r * D;
        block_backward(din ? din + at : NULL, dgamma, dbeta, dout + at, in + at, mean[r], rstd[r], gamma, D, 1);
    }
}
