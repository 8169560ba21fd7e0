// lit: the symmetric InfoNCE of CLIP with the text side locked, retrieval accuracy and CLIP score.
// N is a global batch (tens to a few thousand), so everything is plain loops in double; the N×E×N
// similarity product is the only O(N²E) part and goes through the GEMM seam.
#include "core/lit.h"
#include "core/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double NORM_EPS = 1e-12;

// out[N,E] = rows of x divided by max(|x_i|, eps); norms[N] keeps max(|x_i|, eps).
static void normalize_rows(real *out, double *norms, const real *x, int N, int E) {
    for (int i = 0; i < N; i++) {
        const real *r = x + (size_t)i * E;
        double ss = 0;
        for (int k = 0; k < E; k++) ss += (double)r[k] * r[k];
        double n = sqrt(ss);
        if (n < NORM_EPS) n = NORM_EPS;
        if (norms) norms[i] = n;
        for (int k = 0; k < E; k++) out[(size_t)i * E + k] = (real)(r[k] / n);
    }
}

// sim[N,M] = uh[N,E] · th[M,E]^T
static void cosine_matrix(real *sim, const real *uh, const real *th, int N, int M, int E) {
    kern_gemm(0, 1, N, M, E, 1, uh, E, th, E, 0, sim, M);
}

double lit_loss(real *du, real *dlogit_scale, const real *u, const real *t, int N, int E, real logit_scale,
                const real *bank, int M) {
    if (!bank) M = 0;
    real *uh = malloc((size_t)N * E * sizeof(real)), *th = malloc((size_t)N * E * sizeof(real));
    real *sim = malloc((size_t)N * N * sizeof(real));
    real *bh = M ? malloc((size_t)M * E * sizeof(real)) : NULL, *simb = M ? malloc((size_t)N * M * sizeof(real)) : NULL;
    double *un = malloc((size_t)N * sizeof(double));
    double *dz = calloc((size_t)N * N, sizeof(double));   // d loss / d logits
    double *dzb = M ? calloc((size_t)N * M, sizeof(double)) : NULL;   // ... of the bank's columns
    unsigned char *own = M ? calloc((size_t)N * M, 1) : NULL;          // bank row m is image i's own caption
    if (!uh || !th || !sim || !un || !dz || (M && (!bh || !simb || !dzb || !own))) abort();   // out of memory: fatal
    normalize_rows(uh, un, u, N, E);
    normalize_rows(th, NULL, t, N, E);
    cosine_matrix(sim, uh, th, N, N, E);
    if (M) {
        normalize_rows(bh, NULL, bank, M, E);
        cosine_matrix(simb, uh, bh, N, M, E);
        // a bank row that is image i's own caption is no negative of it: out of row i's softmax
        for (int i = 0; i < N; i++)
            for (int m = 0; m < M; m++)
                own[(size_t)i * M + m] = !memcmp(t + (size_t)i * E, bank + (size_t)m * E, (size_t)E * sizeof(real));
    }
    double s = exp((double)logit_scale), loss = 0, inv2n = 0.5 / N;
    // rows (image→text): softmax over j and the bank; columns (text→image): softmax over i
    for (int pass = 0; pass < 2; pass++)
        for (int a = 0; a < N; a++) {
            const real *ba = pass == 0 && M ? simb + (size_t)a * M : NULL;
            const unsigned char *oa = ba ? own + (size_t)a * M : NULL;
            double mx = -INFINITY, sum = 0;
            for (int b = 0; b < N; b++) {
                double z = s * (pass == 0 ? sim[(size_t)a * N + b] : sim[(size_t)b * N + a]);
                if (z > mx) mx = z;
            }
            for (int m = 0; ba && m < M; m++)
                if (!oa[m] && s * ba[m] > mx) mx = s * ba[m];
            for (int b = 0; b < N; b++)
                sum += exp(s * (pass == 0 ? sim[(size_t)a * N + b] : sim[(size_t)b * N + a]) - mx);
            for (int m = 0; ba && m < M; m++)
                if (!oa[m]) sum += exp(s * ba[m] - mx);
            double lse = mx + log(sum);
            loss += inv2n * (lse - s * sim[(size_t)a * N + a]);
            for (int b = 0; b < N; b++) {
                size_t ij = pass == 0 ? (size_t)a * N + b : (size_t)b * N + a;
                double p = exp(s * sim[ij] - lse);
                dz[ij] += inv2n * (p - (a == b));
            }
            for (int m = 0; ba && m < M; m++)
                if (!oa[m]) dzb[(size_t)a * M + m] = inv2n * exp(s * ba[m] - lse);
        }
    if (dlogit_scale) {
        double g = 0;
        for (size_t k = 0; k < (size_t)N * N; k++) g += dz[k] * sim[k];
        for (size_t k = 0; k < (size_t)N * M; k++) g += dzb[k] * simb[k];
        *dlogit_scale += (real)(g * s);   // d logits / d logit_scale = s·sim
    }
    if (du) {
        // d û_i = s (Σ_j dz_ij t̂_j + Σ_m dzb_im b̂_m); then through the normalisation: (g - û(û·g)) / |u|
        for (int i = 0; i < N; i++) {
            double g[E > 0 ? E : 1];
            for (int k = 0; k < E; k++) g[k] = 0;
            for (int j = 0; j < N + M; j++) {
                double c = s * (j < N ? dz[(size_t)i * N + j] : dzb[(size_t)i * M + j - N]);
                if (c == 0) continue;
                const real *tj = j < N ? th + (size_t)j * E : bh + (size_t)(j - N) * E;
                for (int k = 0; k < E; k++) g[k] += c * tj[k];
            }
            const real *ui = uh + (size_t)i * E;
            double dot = 0;
            for (int k = 0; k < E; k++) dot += g[k] * ui[k];
            if (un[i] <= NORM_EPS) dot = 0;   // below eps the normalisation is a plain division
            for (int k = 0; k < E; k++) du[(size_t)i * E + k] += (real)((g[k] - ui[k] * dot) / un[i]);
        }
    }
    free(uh); free(th); free(sim); free(un); free(dz); free(bh); free(simb); free(dzb); free(own);
    return loss;
}

static int same_row(const real *t, int a, int b, int E) {
    return a == b || memcmp(t + (size_t)a * E, t + (size_t)b * E, (size_t)E * sizeof(real)) == 0;
}

void lit_retrieval(double *i2t, double *t2i, double *chance_i2t, double *chance_t2i, const real *u, const real *t,
                   int N, int E) {
    real *uh = malloc((size_t)N * E * sizeof(real)), *th = malloc((size_t)N * E * sizeof(real));
    real *sim = malloc((size_t)N * N * sizeof(real));
    if (!uh || !th || !sim) abort();
    normalize_rows(uh, NULL, u, N, E);
    normalize_rows(th, NULL, t, N, E);
    cosine_matrix(sim, uh, th, N, N, E);
    long hit_i2t = 0, hit_t2i = 0;
    double ch = 0;   // the same for both directions: Σ_i |{j: t_j = t_i}| / N
    for (int a = 0; a < N; a++) {
        int best_t = 0, best_i = 0;
        for (int b = 1; b < N; b++) {
            if (sim[(size_t)a * N + b] > sim[(size_t)a * N + best_t]) best_t = b;   // captions for image a
            if (sim[(size_t)b * N + a] > sim[(size_t)best_i * N + a]) best_i = b;   // images for caption a
        }
        hit_i2t += same_row(t, best_t, a, E);
        hit_t2i += same_row(t, best_i, a, E);
        long dup = 0;
        for (int b = 0; b < N; b++) dup += same_row(t, a, b, E);
        ch += (double)dup / N;
    }
    if (i2t) *i2t = (double)hit_i2t / N;
    if (t2i) *t2i = (double)hit_t2i / N;
    if (chance_i2t) *chance_i2t = ch / N;
    if (chance_t2i) *chance_t2i = ch / N;
    free(uh); free(th); free(sim);
}

double lit_clip_score(const real *u, const real *t, const int *perm, int N, int E) {
    double sum = 0;
    for (int i = 0; i < N; i++) {
        const real *a = u + (size_t)i * E, *b = t + (size_t)(perm ? perm[i] : i) * E;
        double ab = 0, aa = 0, bb = 0;
        for (int k = 0; k < E; k++) {
            ab += (double)a[k] * b[k];
            aa += (double)a[k] * a[k];
            bb += (double)b[k] * b[k];
        }
        sum += ab / (fmax(sqrt(aa), 1e-8) * fmax(sqrt(bb), 1e-8));
    }
    return N > 0 ? sum / N : 0;
}

real lit_clamp_logit_scale(real logit_scale) {
    if (logit_scale < 0) return 0;
    if (logit_scale > (real)LIT_LOGIT_SCALE_MAX) return (real)LIT_LOGIT_SCALE_MAX;
    return logit_scale;
}
