// fidstats: the FID reference-statistics file (`ratlip data stats`, read by evaluation and `ratlip fid`).
//   /mu        float64 [d]     mean of the Inception pool3 features
//   /sigma     float64 [d,d]   their unbiased covariance
//   /features  float32 [n,d]   the features themselves (KID needs samples, not moments)
//   root attributes: n (int64, feature count), network ("inception_fid" | "inception_tv"),
//   weights_sha256 (SHA-256 of the PyTorch checkpoint the weight file was converted from, or
//   "random-seed-<seed>"), random_weights (int64 0/1), note (for random weights: "random-weight
//   features: not comparable to published FID"), source (what the features were computed from).
// Written to <path>.tmp, fsynced and renamed. Statistics are comparable only with the same network and
// weights: evaluation refuses others, `ratlip fid` unless --force.
#pragma once
#include <stddef.h>
#include "core/err.h"
#include "core/real.h"

#define FIDSTATS_RANDOM_NOTE "random-weight features: not comparable to published FID"

typedef struct {
    int d;
    long n;                 // feature vectors behind mu/sigma
    double *mu, *sigma;     // [d], [d,d]
    real *feat;             // [n_feat, d] or NULL (core's scalar; float32 in the file)
    long n_feat;
    char network[32];
    char weights_sha256[128];
    int random_weights;
    char source[512];
} FidStats;

int fidstats_write(const char *path, const FidStats *s, Err *e);
int fidstats_read(const char *path, FidStats *s, Err *e);   // allocates; fidstats_free
void fidstats_free(FidStats *s);
// 1 when a and b come from the same network and weights; else 0 with why filled.
int fidstats_comparable(const FidStats *a, const FidStats *b, char *why, size_t n);
// "<dir>/fid-stats-<split>-<network>.h5"
void fidstats_default_path(char *out, size_t n, const char *dir, const char *split, const char *network);

// The `network` and `source_sha256` attributes of an Inception weight file made by
// io/tools/convert_inception.py.
int fidstats_weights_info(const char *path, char *network, size_t nn, char *sha, size_t ns, Err *e);
