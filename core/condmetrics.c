// condmetrics: R-precision and diversity per caption. See condmetrics.h.
#include "core/condmetrics.h"
#include <math.h>
#include <stddef.h>
#include "core/rng.h"

static double cos_d(const real *a, const real *b, int n) {
    double d = 0, na = 0, nb = 0;
    for (int i = 0; i < n; i++) d += (double)a[i] * b[i], na += (double)a[i] * a[i], nb += (double)b[i] * b[i];
    return d / (sqrt(na * nb) + 1e-30);
}

void condm_rprecision(const real *img, const real *own, const long *self_image, long N, const real *pool, long P, int E,
                      int repeats, uint64_t seed, uint32_t purpose, double *mean, double *std, int *candidates) {
    RngKey key = rng_key(seed, purpose);
    int K = (int)(P - 1 < CONDM_CANDIDATES ? P - 1 : CONDM_CANDIDATES);
    *candidates = K;
    *mean = *std = NAN;
    if (K < 1 || N < 1) return;
    double sum = 0, sum2 = 0;
    long pick[CONDM_CANDIDATES];
    for (int r = 0; r < repeats; r++) {
        long hits = 0;
        for (long g = 0; g < N; g++) {
            long self = self_image[g];
            uint64_t t = 0;
            for (int c = 0; c < K; c++) {   // rejection: K <= 99 of P, duplicates are rare and cheap to check
                long j;
                int dup;
                do {
                    j = (long)(rng_u32(key, ((uint64_t)4 << 32) | (uint64_t)r, ((uint64_t)g << 24) | t++) % (uint64_t)P);
                    dup = j == self;
                    for (int q = 0; q < c && !dup; q++) dup = pick[q] == j;
                } while (dup);
                pick[c] = j;
            }
            const real *x = img + (size_t)g * E;
            double mine = cos_d(x, own + (size_t)g * E, E);
            int hit = 1;
            for (int c = 0; c < K && hit; c++) hit = cos_d(x, pool + (size_t)pick[c] * E, E) < mine;
            hits += hit;
        }
        double rate = (double)hits / (double)N;
        sum += rate, sum2 += rate * rate;
    }
    *mean = sum / repeats;
    *std = repeats > 1 ? sqrt(fmax(0, (sum2 - sum * sum / repeats) / (repeats - 1))) : 0;
}

static double l2_d(const real *a, const real *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s);
}

double condm_diversity(const real *feat, int captions, int M, int D) {
    double total = 0;
    for (int c = 0; c < captions; c++) {
        const real *f = feat + (size_t)c * M * D;
        double s = 0;
        for (int a = 0; a < M; a++)
            for (int b = a + 1; b < M; b++) s += l2_d(f + (size_t)a * D, f + (size_t)b * D, D);
        total += s / (M * (M - 1) / 2.0);
    }
    return total / captions;
}

static int labels_equal(const int32_t *a, const int32_t *b, int L) {
    for (int i = 0; i < L; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

double condm_diversity_equal_labels(const real *feat, const int32_t *labels, long n, int L, int D, long *pairs) {
    *pairs = 0;
    double s = 0;
    for (long a = 0; a < n; a++)
        for (long b = a + 1; b < n; b++)
            if (labels_equal(labels + (size_t)a * L, labels + (size_t)b * L, L)) {
                s += l2_d(feat + (size_t)a * D, feat + (size_t)b * D, D);
                (*pairs)++;
            }
    return *pairs ? s / (double)*pairs : NAN;
}
