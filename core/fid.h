// fid: the metric math of evaluation, all in double (spec/metrics-and-io.md §1.1-§1.3, §1.7).
//   - streaming feature statistics: n, s = Σf [d], Q = Σ f fᵀ [d,d] (sums, so ranks can add them)
//   - FID = ‖μ₁−μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Σᵢ √λᵢ, λ = eigenvalues of Σ₁^½ Σ₂ Σ₁^½ (symmetric PSD, so
//     LAPACK dsyevd_ and no complex arithmetic; negative round-off eigenvalues are clamped to 0)
//   - KID: unbiased MMD² with the cubic polynomial kernel k(x,y) = (x·y/d + 1)³, mean and std over
//     subsets of m samples per side drawn without replacement (Philox, so reproducible)
// Covariances are unbiased (divide by n−1), as numpy.cov and pytorch-fid.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/real.h"

// ---- streaming sums ----
typedef struct {
    int d;
    double n;      // samples added
    double *s;     // [d]   Σ f
    double *q;     // [d,d] Σ f fᵀ (full, symmetric)
} FeatSums;

int featsums_init(FeatSums *fs, int d);          // zeroed; -1 on allocation failure
void featsums_free(FeatSums *fs);
void featsums_zero(FeatSums *fs);
// Adds B feature rows f[B,d] (real). Uses kern_dgemm on a double copy of the batch.
void featsums_add(FeatSums *fs, const real *f, int B);
// mu[d] = s/n, sigma[d,d] = (Q − n μ μᵀ)/(n−1). Needs n ≥ 2.
int featsums_stats(const FeatSums *fs, double *mu, double *sigma, Err *e);

// Two-pass mean and unbiased covariance of x[n,d] (real rows), for tools and tests.
void feat_mean_cov(const real *x, long n, int d, double *mu, double *sigma);

// ---- FID ----
// R[d,d] = S^½ of a symmetric PSD S[d,d] (eigenvalues < 0 clamped). Cache it for a fixed reference set.
int fid_sqrtm_psd(const double *S, int d, double *R, Err *e);
// Tr sqrtm(S1 S2) = Σ √λ(R1 S2 R1) with R1 = S1^½ (from fid_sqrtm_psd). min_ratio (may be NULL):
// min λ / max λ before clamping, the analogue of pytorch-fid's "imaginary component" diagnostic.
int fid_trace_sqrt(const double *R1, const double *S2, int d, double *tr, double *min_ratio, Err *e);
// FID between N(mu1,S1) and N(mu2,S2). R1 may be NULL (then it is computed from S1).
int fid_compute(const double *mu1, const double *S1, const double *R1, const double *mu2, const double *S2, int d,
                double *fid, double *min_ratio, Err *e);

// ---- KID ----
// x[nx,d], y[ny,d] feature rows. m = subset size (clamped to min(nx, ny); m ≥ 2), n_subsets ≥ 1.
// Subset j of each side: the first m of a Philox permutation keyed by (seed, j). When m equals both
// nx and ny the subsets are the whole sets (order does not matter to MMD²).
int kid_compute(const real *x, long nx, const real *y, long ny, int d, int m, int n_subsets, uint64_t seed,
                double *mean, double *std, Err *e);
