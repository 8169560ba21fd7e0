// fid: FID and KID in double. See fid.h.
#include "core/fid.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/kernels.h"
#include "core/rng.h"

// Fortran LAPACK from OpenBLAS (Debian builds it without LAPACKE). gfortran appends hidden lengths for
// the CHARACTER arguments.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

// ---------------------------------------------------------------- streaming sums

int featsums_init(FeatSums *fs, int d) {
    fs->d = d;
    fs->n = 0;
    fs->s = calloc((size_t)d, sizeof(double));
    fs->q = calloc((size_t)d * d, sizeof(double));
    if (!fs->s || !fs->q) {
        featsums_free(fs);
        return -1;
    }
    return 0;
}

void featsums_free(FeatSums *fs) {
    free(fs->s);
    free(fs->q);
    fs->s = fs->q = NULL;
}

void featsums_zero(FeatSums *fs) {
    fs->n = 0;
    memset(fs->s, 0, (size_t)fs->d * sizeof(double));
    memset(fs->q, 0, (size_t)fs->d * fs->d * sizeof(double));
}

void featsums_add(FeatSums *fs, const real *f, int B) {
    int d = fs->d;
    double *fd = malloc((size_t)B * d * sizeof(double));
    if (!fd) abort();   // a few MB: nothing sensible to return from a statistics update
    for (size_t i = 0; i < (size_t)B * d; i++) fd[i] = f[i];
    for (int b = 0; b < B; b++)
        for (int j = 0; j < d; j++) fs->s[j] += fd[(size_t)b * d + j];
    // Q[d,d] += F^T F
    kern_dgemm(1, 0, d, d, B, 1.0, fd, d, fd, d, 1.0, fs->q, d);
    fs->n += B;
    free(fd);
}

int featsums_stats(const FeatSums *fs, double *mu, double *sigma, Err *e) {
    int d = fs->d;
    if (fs->n < 2) return err_set(e, "fid: %g feature vectors: a covariance needs at least 2 (raise eval.n_samples)", fs->n);
    for (int j = 0; j < d; j++) mu[j] = fs->s[j] / fs->n;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
            sigma[(size_t)i * d + j] = (fs->q[(size_t)i * d + j] - fs->n * mu[i] * mu[j]) / (fs->n - 1);
    return 0;
}

void feat_mean_cov(const real *x, long n, int d, double *mu, double *sigma) {
    memset(mu, 0, (size_t)d * sizeof(double));
    for (long i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mu[j] += x[(size_t)i * d + j];
    for (int j = 0; j < d; j++) mu[j] /= (double)n;
    double *c = malloc((size_t)n * d * sizeof(double));
    if (!c) abort();
    for (long i = 0; i < n; i++)
        for (int j = 0; j < d; j++) c[(size_t)i * d + j] = x[(size_t)i * d + j] - mu[j];
    kern_dgemm(1, 0, d, d, (int)n, 1.0 / (double)(n - 1), c, d, c, d, 0.0, sigma, d);
    free(c);
}

// ---------------------------------------------------------------- symmetric eigenproblem

// Eigenvalues w[d] (ascending) of symmetric a[d,d]; with vectors, row i of a becomes eigenvector i
// (LAPACK leaves them in the columns of the column-major matrix, i.e. the rows of our row-major one).
static int sym_eig(double *a, int d, double *w, int vectors, Err *e) {
    const char jobz = vectors ? 'V' : 'N', uplo = 'L';
    int lwork = -1, liwork = -1, info = 0, iwq = 0;
    double wq = 0;
    dsyevd_(&jobz, &uplo, &d, a, &d, w, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
    if (info) return err_set(e, "fid: dsyevd_ workspace query failed (info %d)", info);
    lwork = (int)wq + 1;
    liwork = iwq + 1;
    double *work = malloc((size_t)lwork * sizeof(double));
    int *iwork = malloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) {
        free(work);
        free(iwork);
        return err_set(e, "fid: out of memory for the eigensolver workspace (d = %d)", d);
    }
    dsyevd_(&jobz, &uplo, &d, a, &d, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work);
    free(iwork);
    if (info) return err_set(e, "fid: dsyevd_ did not converge (info %d, d = %d): are the statistics finite?", info, d);
    return 0;
}

static int all_finite(const double *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

int fid_sqrtm_psd(const double *S, int d, double *R, Err *e) {
    if (!all_finite(S, (size_t)d * d)) return err_set(e, "fid: covariance holds NaN or Inf (features diverged?)");
    double *E = malloc((size_t)d * d * sizeof(double)), *w = malloc((size_t)d * sizeof(double));
    if (!E || !w) {
        free(E);
        free(w);
        return err_set(e, "fid: out of memory for a %dx%d matrix", d, d);
    }
    memcpy(E, S, (size_t)d * d * sizeof(double));
    int rc = sym_eig(E, d, w, 1, e);
    if (!rc) {
        // S = Eᵀ diag(w) E  ⇒  S^½ = Gᵀ G with G = diag(w^¼) E
        for (int i = 0; i < d; i++) {
            double s = sqrt(sqrt(w[i] > 0 ? w[i] : 0.0));
            for (int j = 0; j < d; j++) E[(size_t)i * d + j] *= s;
        }
        kern_dgemm(1, 0, d, d, d, 1.0, E, d, E, d, 0.0, R, d);
    }
    free(E);
    free(w);
    return rc;
}

int fid_trace_sqrt(const double *R1, const double *S2, int d, double *tr, double *min_ratio, Err *e) {
    if (!all_finite(S2, (size_t)d * d)) return err_set(e, "fid: covariance holds NaN or Inf (features diverged?)");
    double *T = malloc((size_t)d * d * sizeof(double)), *M = malloc((size_t)d * d * sizeof(double));
    double *w = malloc((size_t)d * sizeof(double));
    if (!T || !M || !w) {
        free(T);
        free(M);
        free(w);
        return err_set(e, "fid: out of memory for a %dx%d matrix", d, d);
    }
    kern_dgemm(0, 0, d, d, d, 1.0, S2, d, R1, d, 0.0, T, d);   // T = S2 R1
    kern_dgemm(0, 0, d, d, d, 1.0, R1, d, T, d, 0.0, M, d);    // M = R1 S2 R1
    for (int i = 0; i < d; i++)                                  // symmetrise the round-off
        for (int j = 0; j < i; j++) {
            double a = 0.5 * (M[(size_t)i * d + j] + M[(size_t)j * d + i]);
            M[(size_t)i * d + j] = M[(size_t)j * d + i] = a;
        }
    int rc = sym_eig(M, d, w, 0, e);
    if (!rc) {
        // Eigenvalues below d·ε·λmax are round-off of a singular product (n ≤ d): their square roots
        // (~1e-7 each) would add up to a visible bias over thousands of them, so they count as 0.
        double sum = 0, wmax = w[d - 1], floor_ = wmax * d * DBL_EPSILON;
        for (int i = 0; i < d; i++) sum += w[i] > floor_ ? sqrt(w[i]) : 0.0;
        *tr = sum;
        if (min_ratio) *min_ratio = wmax > 0 ? w[0] / wmax : 0.0;
    }
    free(T);
    free(M);
    free(w);
    return rc;
}

int fid_compute(const double *mu1, const double *S1, const double *R1, const double *mu2, const double *S2, int d,
                double *fid, double *min_ratio, Err *e) {
    double *own = NULL;
    if (!R1) {
        own = malloc((size_t)d * d * sizeof(double));
        if (!own) return err_set(e, "fid: out of memory for a %dx%d matrix", d, d);
        if (fid_sqrtm_psd(S1, d, own, e)) {
            free(own);
            return -1;
        }
        R1 = own;
    }
    double tr = 0;
    int rc = fid_trace_sqrt(R1, S2, d, &tr, min_ratio, e);
    free(own);
    if (rc) return -1;
    double diff = 0, t1 = 0, t2 = 0;
    for (int i = 0; i < d; i++) {
        double dm = mu1[i] - mu2[i];
        diff += dm * dm;
        t1 += S1[(size_t)i * d + i];
        t2 += S2[(size_t)i * d + i];
    }
    *fid = diff + t1 + t2 - 2.0 * tr;
    return 0;
}

// ---------------------------------------------------------------- KID

// First m entries of a permutation of 0..n-1 (partial Fisher-Yates on Philox draws keyed by subset j).
static void subset_indices(long *idx, long n, int m, RngKey key, uint64_t j) {
    for (long i = 0; i < n; i++) idx[i] = i;
    for (long i = 0; i < m; i++) {
        long r = i + (long)(rng_u32(key, j, (uint64_t)i) % (uint64_t)(n - i));
        long t = idx[i];
        idx[i] = idx[r];
        idx[r] = t;
    }
}

// K[n,n] = (Z Zᵀ/d + 1)³ for rows Z[n,d].
static void poly_kernel(double *K, const double *Z, int n, int d) {
    kern_dgemm(0, 1, n, n, d, 1.0 / d, Z, d, Z, d, 0.0, K, n);
    for (size_t i = 0; i < (size_t)n * n; i++) {
        double v = K[i] + 1.0;
        K[i] = v * v * v;
    }
}

// Unbiased MMD² of kernel matrix K (leading dim ld) between rows ix[m] and iy[m].
static double mmd2_unbiased(const double *K, int ld, const int *ix, const int *iy, int m) {
    double kxx = 0, kyy = 0, kxy = 0;
    for (int a = 0; a < m; a++)
        for (int b = 0; b < m; b++) {
            if (a != b) {
                kxx += K[(size_t)ix[a] * ld + ix[b]];
                kyy += K[(size_t)iy[a] * ld + iy[b]];
            }
            kxy += K[(size_t)ix[a] * ld + iy[b]];
        }
    return (kxx + kyy) / ((double)m * (m - 1)) - 2.0 * kxy / ((double)m * m);
}

int kid_compute(const real *x, long nx, const real *y, long ny, int d, int m, int n_subsets, uint64_t seed,
                double *mean, double *std, Err *e) {
    if (m > nx) m = (int)nx;
    if (m > ny) m = (int)ny;
    if (m < 2 || n_subsets < 1)
        return err_set(e, "kid: subsets of %d samples (%ld generated, %ld reference): KID needs at least 2 per side", m,
                       ny, nx);
    long nmax = nx > ny ? nx : ny;
    long *px = malloc((size_t)nmax * sizeof(long)), *py = malloc((size_t)nmax * sizeof(long));
    int *ix = malloc((size_t)m * sizeof(int)), *iy = malloc((size_t)m * sizeof(int));
    double *Z = malloc((size_t)2 * m * d * sizeof(double)), *K = malloc((size_t)4 * m * m * sizeof(double));
    double *vals = malloc((size_t)n_subsets * sizeof(double));
    int rc = 0;
    if (!px || !py || !ix || !iy || !Z || !K || !vals) {
        rc = err_set(e, "kid: out of memory for subsets of %d samples of %d features", m, d);
        goto done;
    }
    RngKey kx = rng_key(seed, RNG_EVAL), ky = rng_key(seed + 0x9e3779b97f4a7c15ULL, RNG_EVAL);
    for (int j = 0; j < n_subsets; j++) {
        // Whole sets need no drawing (and MMD² does not depend on their order).
        if (m == nx) for (long i = 0; i < nx; i++) px[i] = i;
        else subset_indices(px, nx, m, kx, (uint64_t)j);
        if (m == ny) for (long i = 0; i < ny; i++) py[i] = i;
        else subset_indices(py, ny, m, ky, (uint64_t)j);
        // Z = [x subset; y subset] in double, one kernel matrix over both
        for (int a = 0; a < m; a++)
            for (int k = 0; k < d; k++) {
                Z[(size_t)a * d + k] = x[(size_t)px[a] * d + k];
                Z[(size_t)(m + a) * d + k] = y[(size_t)py[a] * d + k];
            }
        poly_kernel(K, Z, 2 * m, d);
        for (int a = 0; a < m; a++) {
            ix[a] = a;
            iy[a] = m + a;
        }
        vals[j] = mmd2_unbiased(K, 2 * m, ix, iy, m);
    }
    double s = 0, ss = 0;
    for (int j = 0; j < n_subsets; j++) s += vals[j];
    s /= n_subsets;
    for (int j = 0; j < n_subsets; j++) ss += (vals[j] - s) * (vals[j] - s);
    *mean = s;
    *std = sqrt(ss / n_subsets);   // population std, as torchmetrics (unbiased=False)
done:
    free(px);
    free(py);
    free(ix);
    free(iy);
    free(Z);
    free(K);
    free(vals);
    return rc;
}
