// channel: channel-axis permutations (concat/split, ShuffleAttention's channel shuffle) and cosine
// similarity between rows.
#include "core/ops.h"
#include <string.h>

void concat_channels_forward(real *out, const real *a, const real *b, int N, int Ca, int Cb, int HW) {
    size_t na = (size_t)Ca * HW, nb = (size_t)Cb * HW;
    for (int n = 0; n < N; n++) {
        memcpy(out + n * (na + nb), a + n * na, na * sizeof(real));
        memcpy(out + n * (na + nb) + na, b + n * nb, nb * sizeof(real));
    }
}

void concat_channels_backward(real *da, real *db, const real *dout, int N, int Ca, int Cb, int HW) {
    size_t na = (size_t)Ca * HW, nb = (size_t)Cb * HW;
    for (int n = 0; n < N; n++) {
        const real *d = dout + n * (na + nb);
        if (da) for (size_t i = 0; i < na; i++) da[n * na + i] += d[i];
        if (db) for (size_t i = 0; i < nb; i++) db[n * nb + i] += d[na + i];
    }
}

// out channel j·groups + q = in channel q·(C/groups) + j
void channel_shuffle_forward(real *out, const real *in, int N, int C, int HW, int groups) {
    int cg = C / groups;
    for (int n = 0; n < N; n++)
        for (int q = 0; q < groups; q++)
            for (int j = 0; j < cg; j++)
                memcpy(out + ((size_t)n * C + j * groups + q) * HW, in + ((size_t)n * C + q * cg + j) * HW,
                       (size_t)HW * sizeof(real));
}

void channel_shuffle_backward(real *din, const real *dout, int N, int C, int HW, int groups) {
    int cg = C / groups;
    for (int n = 0; n < N; n++)
        for (int q = 0; q < groups; q++)
            for (int j = 0; j < cg; j++) {
                real *di = din + ((size_t)n * C + q * cg + j) * HW;
                const real *d = dout + ((size_t)n * C + j * groups + q) * HW;
                for (int i = 0; i < HW; i++) di[i] += d[i];
            }
}

// torch.cosine_similarity as the installed PyTorch (1.13) computes it:
//   sa = max(Σa², eps²), sb = max(Σb², eps²), out = Σ a·b / sqrt(sa·sb)
// The clamps run under no_grad in PyTorch, so its backward differentiates sa, sb as if unclamped
// (d sa / d a = 2a even when clamped); the backward below reproduces that.
typedef struct {
    double dot, sa, sb;
} CosSums;

static CosSums cos_sums(const real *a, const real *b, int D, real eps) {
    CosSums s = {0, 0, 0};
    for (int j = 0; j < D; j++) {
        s.dot += (double)a[j] * b[j];
        s.sa += (double)a[j] * a[j];
        s.sb += (double)b[j] * b[j];
    }
    double e2 = (double)eps * eps;
    if (s.sa < e2) s.sa = e2;
    if (s.sb < e2) s.sb = e2;
    return s;
}

void cosine_similarity_forward(real *out, const real *a, const real *b, int N, int D, real eps) {
    for (int n = 0; n < N; n++) {
        CosSums s = cos_sums(a + (size_t)n * D, b + (size_t)n * D, D, eps);
        out[n] = (real)(s.dot / sqrt(s.sa * s.sb));
    }
}

// d out / d a = b/sqrt(sa·sb) - out·a/sa ; d out / d b = a/sqrt(sa·sb) - out·b/sb
void cosine_similarity_backward(real *da, real *db, const real *dout, const real *a, const real *b, int N, int D,
                                real eps) {
    for (int n = 0; n < N; n++) {
        const real *an = a + (size_t)n * D, *bn = b + (size_t)n * D;
        CosSums s = cos_sums(an, bn, D, eps);
        double inv = 1 / sqrt(s.sa * s.sb), y = s.dot * inv, g = dout[n];
        for (int j = 0; j < D; j++) {
            if (da) da[(size_t)n * D + j] += (real)(g * (bn[j] * inv - y * an[j] / s.sa));
            if (db) db[(size_t)n * D + j] += (real)(g * (an[j] * inv - y * bn[j] / s.sb));
        }
    }
}
