// test_fid: core/fid.c against numpy/scipy (tests/reference/fid_ref.py): streaming statistics, FID
// against pytorch-fid's scipy sqrtm formula (incl. singular covariances) to 1e-6, KID over whole
// sets, and the analytic identities of spec/metrics-and-io.md §1.2.
// Everything here is double on both sides (float32 features widened exactly), so the budgets are in
// u64 = 2^-53 (testutil.h's model, λ = 8), for the cases of fid_ref.py: n <= 400 samples, d <= 64,
// mean|x| <= 1, max|μ| ~ 1, max|Σ| ~ 0.7, FID >= 0.47.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fid.h"
#include "testutil.h"

static void check_case(const char *file, const char *name) {
    char k[128];
    size_t n1, n2, nd, ns;
#define RDF(var, key) snprintf(k, sizeof k, "%s/%s", name, key); float *var = tu_read_f32(file, k, &ns)
#define RDD(var, key) snprintf(k, sizeof k, "%s/%s", name, key); double *var = tu_read_f64(file, k, &ns)
    snprintf(k, sizeof k, "%s/mu1", name);
    double *mu1 = tu_read_f64(file, k, &nd);
    int d = (int)nd;
    RDF(x1, "x1");
    n1 = ns / d;
    RDF(x2, "x2");
    n2 = ns / d;
    RDD(mu2, "mu2");
    RDD(s1, "sigma1");
    RDD(s2, "sigma2");
    RDD(fs_ref, "fid_scipy");
    RDD(fn_ref, "fid_nuclear");
    RDD(kid_ref, "kid");
    Err e = {{0}};
    char what[160];

    // streaming sums (two halves, as two ranks would add them) == numpy mean/cov
    FeatSums a, b;
    featsums_init(&a, d);
    featsums_init(&b, d);
    featsums_add(&a, x1, (int)(n1 / 3));
    featsums_add(&b, x1 + (n1 / 3) * d, (int)(n1 - n1 / 3));
    a.n += b.n;
    for (int j = 0; j < d; j++) a.s[j] += b.s[j];
    for (size_t j = 0; j < (size_t)d * d; j++) a.q[j] += b.q[j];
    double *mu = malloc(d * sizeof(double)), *sg = malloc((size_t)d * d * sizeof(double));
    TU_CHECK(featsums_stats(&a, mu, sg, &e) == 0, "%s", e.msg);
    // mean: sums of n values, any order: <= 2·λ·u64·sqrt(n)·mean|x| = 4e-14 of max|μ|; tolerance 1e-12.
    // one-pass covariance (Σ x xᵀ - n μ μᵀ)/(n - 1): the same on E[x xᵀ] <= max|μ|² + max|Σ| ~ 2.5·max|Σ|,
    // so ~1e-13 of max|Σ|; tolerance 1e-12 (was 1e-10).
    snprintf(what, sizeof what, "%s: streaming mean", name);
    tu_close_d(what, mu, mu1, d, 1e-12);
    snprintf(what, sizeof what, "%s: streaming covariance", name);
    tu_close_d(what, sg, s1, (size_t)d * d, 1e-12);
    double *mc = malloc(d * sizeof(double)), *sc = malloc((size_t)d * d * sizeof(double));
    feat_mean_cov(x1, (long)n1, d, mc, sc);
    snprintf(what, sizeof what, "%s: two-pass covariance", name);  // n centred products: ~4e-14 of max|Σ|
    tu_close_d(what, sc, s1, (size_t)d * d, 1e-12);

    // FID vs scipy (pytorch-fid formula)
    double fid = NAN, ratio = 0;
    TU_CHECK(fid_compute(mu1, s1, NULL, mu2, s2, d, &fid, &ratio, &e) == 0, "%s", e.msg);
    // scipy's sqrtm of S1·S2: where the product is singular (the `singular` case: m = d - n + 1 = 41 zero
    // eigenvalues), its round-off eigenvalues, ~u64·d·|S|², enter as their square roots: <= m·sqrt(u64·d)·|S|
    // = 2.7e-6 absolute, 7.7e-8 of FID 34.8, on either side: tolerance 1e-6 (7x). Full-rank cases: ~1e-13.
    snprintf(what, sizeof what, "%s: FID vs scipy sqrtm (pytorch-fid)", name);
    tu_close_d(what, &fid, fs_ref, 1, 1e-6);
    snprintf(what, sizeof what, "%s: FID vs nuclear norm (exact)", name);
    tu_close_d(what, &fid, fn_ref, 1, 1e-7);   // the same √ of round-off eigenvalues, ours alone: <= 7.7e-8
    printf("     %s: FID C %.10f scipy %.10f nuclear %.10f, min/max eigenvalue %.2e\n", name, fid, fs_ref[0],
           fn_ref[0], ratio);
    // with a cached sqrt of sigma1, and from the streaming statistics
    double *R = malloc((size_t)d * d * sizeof(double)), fid2 = NAN;
    TU_CHECK(fid_sqrtm_psd(s1, d, R, &e) == 0, "%s", e.msg);
    TU_CHECK(fid_compute(mu1, s1, R, mu2, s2, d, &fid2, NULL, &e) == 0, "%s", e.msg);
    TU_CHECK(fabs(fid2 - fid) <= 1e-12 * fabs(fid), "cached sqrt: %.15g vs %.15g", fid2, fid);
    // symmetry and FID(x, x) = 0
    double fid_ba = NAN, fid_aa = NAN, tr = 0;
    TU_CHECK(fid_compute(mu2, s2, NULL, mu1, s1, d, &fid_ba, NULL, &e) == 0, "%s", e.msg);
    snprintf(what, sizeof what, "%s: FID symmetric", name);  // two evaluations of the above: <= 1.5e-7
    tu_close_d(what, &fid_ba, &fid, 1, 2e-7);
    TU_CHECK(fid_compute(mu1, s1, R, mu1, s1, d, &fid_aa, NULL, &e) == 0, "%s", e.msg);
    for (int i = 0; i < d; i++) tr += s1[(size_t)i * d + i];
    // d round-off eigenvalues' square roots, <= d·sqrt(u64·d·|S|²) = 2.9e-6·|S|: ~1.3e-7 of the trace
    TU_CHECK(fabs(fid_aa) <= 1e-6 * tr, "%s: FID(x,x) = %.3e (trace %.3e)", name, fid_aa, tr);
    printf("ok   %s: FID(x,x) = %.2e (trace %.3g)\n", name, fid_aa, tr);

    // KID over the whole sets
    if (n1 == n2) {
        double km = NAN, ks = NAN;
        TU_CHECK(kid_compute(x1, (long)n1, x2, (long)n2, d, (int)n1, 3, 1, &km, &ks, &e) == 0, "%s", e.msg);
        // means of n² kernel values (x·y/d + 1)³ <= ~8, a difference of such means (KID ~0.05): <= 2·λ·u64·n·8
        // = 6e-12 absolute, 1.1e-10 of KID; tolerance 1e-9
        snprintf(what, sizeof what, "%s: KID whole sets vs numpy", name);
        tu_close_d(what, &km, kid_ref, 1, 1e-9);
        TU_CHECK(ks == 0, "whole-set subsets differ: std %g", ks);
        // subsets: reproducible for a seed, different for another, near the whole-set value
        double m1, s1_, m2, s2_, m3, s3_;
        int m = (int)n1 / 2;
        kid_compute(x1, (long)n1, x2, (long)n2, d, m, 20, 7, &m1, &s1_, &e);
        kid_compute(x1, (long)n1, x2, (long)n2, d, m, 20, 7, &m2, &s2_, &e);
        kid_compute(x1, (long)n1, x2, (long)n2, d, m, 20, 8, &m3, &s3_, &e);
        TU_CHECK(m1 == m2 && s1_ == s2_, "KID subsets not reproducible");
        TU_CHECK(m1 != m3, "KID subsets do not depend on the seed");
        TU_CHECK(s1_ > 0, "KID subsets all equal");
        TU_CHECK(fabs(m1 - km) < 4 * s1_ + 1e-12, "KID subsets %.4g +- %.2g far from whole-set %.4g", m1, s1_, km);
        printf("ok   %s: KID subsets m=%d: %.5g +- %.2g (whole %.5g)\n", name, m, m1, s1_, km);
    }
    featsums_free(&a);
    featsums_free(&b);
    free(mu1); free(mu2); free(s1); free(s2); free(x1); free(x2); free(fs_ref); free(fn_ref); free(kid_ref);
    free(mu); free(sg); free(mc); free(sc); free(R);
}

// Diagonal covariances: FID = |dmu|^2 + sum (sqrt a - sqrt b)^2, incl. zero variances.
static void check_diagonal(void) {
    int d = 50;
    double *mu1 = calloc(d, sizeof(double)), *mu2 = calloc(d, sizeof(double));
    double *s1 = calloc((size_t)d * d, sizeof(double)), *s2 = calloc((size_t)d * d, sizeof(double));
    double want = 0;
    for (int i = 0; i < d; i++) {
        double a = (i % 7 == 0) ? 0.0 : 0.1 + 0.03 * i, b = 0.5 + 0.01 * (i % 11);
        mu1[i] = 0.01 * i;
        mu2[i] = 0.02 * (d - i);
        s1[(size_t)i * d + i] = a;
        s2[(size_t)i * d + i] = b;
        want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + (sqrt(a) - sqrt(b)) * (sqrt(a) - sqrt(b));
    }
    double fid = NAN;
    Err e;
    TU_CHECK(fid_compute(mu1, s1, NULL, mu2, s2, d, &fid, NULL, &e) == 0, "%s", e.msg);
    // d = 50 terms of size <= 2, a few roundings each (the zero variances give exact square roots): ~1e-14
    tu_close_d("diagonal (singular) covariances: analytic FID", &fid, &want, 1, 1e-12);
    free(mu1); free(mu2); free(s1); free(s2);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_fid fid_ref.h5\n");
        return 2;
    }
    check_case(argv[1], "full");
    check_case(argv[1], "singular");
    check_case(argv[1], "shifted");
    check_diagonal();
    // too few samples is an error that names the cause
    FeatSums fs;
    featsums_init(&fs, 4);
    float f[4] = {1, 2, 3, 4};
    featsums_add(&fs, f, 1);
    double mu[4], sg[16];
    Err e = {{0}};
    TU_CHECK(featsums_stats(&fs, mu, sg, &e) == -1 && strstr(e.msg, "at least 2"), "n=1 accepted: '%s'", e.msg);
    featsums_free(&fs);
    return tu_done("test_fid");
}
