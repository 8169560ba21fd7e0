// condmetrics: R-precision and diversity per caption on embeddings whose answer is known by construction.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/condmetrics.h"
#include "core/rng.h"
#include "testutil.h"

enum { E = 16 };

static void randn(real *x, size_t n, uint64_t seed) { rng_fill_normal(x, n, 0, 1, rng_key(seed, 99), 0); }

int main(void) {
    const long N = 2000, P = 500;
    real *own = malloc((size_t)N * E * sizeof(real)), *img = malloc((size_t)N * E * sizeof(real));
    real *pool = malloc((size_t)P * E * sizeof(real));
    long *self = malloc((size_t)N * sizeof(long));
    randn(pool, (size_t)P * E, 1);
    for (long g = 0; g < N; g++) {   // as in the evaluation: the own caption may be its image's pool caption
        self[g] = g % P;
        memcpy(own + (size_t)g * E, pool + (size_t)self[g] * E, E * sizeof(real));
    }
    double m, s;
    int K;
    // 1. images equal to their captions: every own caption wins, which needs the own pool row left out
    //    (drawn, it would tie and count as a miss)
    condm_rprecision(own, own, self, N, pool, P, E, 3, 7, RNG_EVAL, &m, &s, &K);
    TU_CHECK(K == CONDM_CANDIDATES && m == 1.0 && s == 0, "perfect images: rate %.4f +- %.4f, K %d", m, s, K);
    // 2. images unrelated to their captions: chance, 1/(K+1) = 0.01 (2000 samples: 20 hits expected, sd 4.5)
    randn(img, (size_t)N * E, 2);
    condm_rprecision(img, own, self, N, pool, P, E, 5, 7, RNG_EVAL, &m, &s, &K);
    TU_CHECK(m > 0.002 && m < 0.025 && s > 0 && s < 0.01, "random images: rate %.4f +- %.4f (chance 0.01)", m, s);
    printf("random images: R-precision %.4f +- %.4f over 5 draws (chance 0.0100)\n", m, s);
    // the same inputs and seed give the same figures; another seed other draws
    double m2, s2;
    condm_rprecision(img, own, self, N, pool, P, E, 5, 7, RNG_EVAL, &m2, &s2, &K);
    TU_CHECK(m2 == m && s2 == s, "not deterministic");
    condm_rprecision(img, own, self, N, pool, P, E, 5, 8, RNG_EVAL, &m2, &s2, &K);
    TU_CHECK(m2 != m || s2 != s, "the seed does not change the draws");
    // 3. a small pool: K = P-1 candidates, so every other row is drawn exactly once (without replacement).
    //    Row 2 is a trap that beats the own caption of samples of image 0: they must all miss; the samples
    //    of image 1 and 2 have no trap (their own row is theirs, the trap is row 2 = image 2's own) ...
    const long P3 = 3, N3 = 300;
    real pool3[3 * E], own3[300 * E], img3[300 * E];
    long self3[300];
    randn(pool3, 3 * E, 3);
    for (long g = 0; g < N3; g++) {
        self3[g] = g % 3;
        memcpy(own3 + g * E, pool3 + self3[g] * E, sizeof pool3 / 3);
        // image of sample g: its own caption, except image-0 samples, which equal pool row 2 (the trap)
        memcpy(img3 + g * E, self3[g] == 0 ? pool3 + 2 * E : own3 + g * E, sizeof pool3 / 3);
    }
    condm_rprecision(img3, own3, self3, N3, pool3, P3, E, 2, 9, RNG_EVAL, &m, &s, &K);
    TU_CHECK(K == 2 && fabs(m - 2.0 / 3) < 1e-12, "small pool: K %d, rate %.6f (want 2/3: image-0 samples miss)", K, m);
    // a pool of one image has no candidate: NaN
    condm_rprecision(img3, own3, self3, N3, pool3, 1, E, 2, 9, RNG_EVAL, &m, &s, &K);
    TU_CHECK(K == 0 && isnan(m), "one-image pool: K %d rate %g", K, m);

    // 4. diversity: identical samples 0; two samples (0,0,...) and (3,4,0,...) at distance 5
    enum { D = 8 };
    real f[2 * 3 * D] = {0};
    TU_CHECK(condm_diversity(f, 2, 3, D) == 0, "identical samples: diversity not 0");
    // caption 0: rows 0..2 = a, b, a with |a-b| = 5 -> pairs 5, 0, 5 -> 10/3; caption 1: all 0 -> 0; mean 5/3
    f[1 * D + 0] = 3, f[1 * D + 1] = 4;
    double dv = condm_diversity(f, 2, 3, D);
    TU_CHECK(fabs(dv - 5.0 / 3) < 1e-12, "diversity %.12f (want 5/3)", dv);
    // 5. real pairs with equal labels: rows 0 and 2 share (1,2), row 1 is (0,2): one pair at distance 5
    real g3[3 * D] = {0};
    g3[2 * D + 0] = 3, g3[2 * D + 1] = 4;
    g3[1 * D + 5] = 100;   // a different-label row far away must not count
    int32_t lab[3 * 2] = {1, 2, 0, 2, 1, 2};
    long pairs;
    dv = condm_diversity_equal_labels(g3, lab, 3, 2, D, &pairs);
    TU_CHECK(pairs == 1 && fabs(dv - 5) < 1e-12, "equal labels: %ld pairs, %.6f (want 1 pair, 5)", pairs, dv);
    int32_t lab2[3] = {0, 1, 2};
    dv = condm_diversity_equal_labels(g3, lab2, 3, 1, D, &pairs);
    TU_CHECK(pairs == 0 && isnan(dv), "no equal labels: %ld pairs, %g", pairs, dv);
    free(own), free(img), free(pool), free(self);
    return tu_done("eval_condmetrics");
}
