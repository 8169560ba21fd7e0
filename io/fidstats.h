// fidstats: the FID reference-statistics file (`ratlip data stats`, read by evaluation and `ratlip fid`).
//   /mu        float64 [d]     mean of the Inception pool3 features
//   /sigma     float64 [d,d]   their unbiased covariance
//   /features  float32 [n,d]   the features themselves (KID needs samples, not moments)
//   root attributes: n (int64, feature count), network ("inception_fid" | "inception_tv"),
//   weights_sha256 (SHA-256 of the PyTorch checkpoint the weight file was converted from, or
//   "random-seed-<seed>"), random_weights (int64 0/1), note (for random weights: "random-weight
//   features: not comparable to published FID"), source (what the features were computed from),
//   inception_size (int64, the side the images were resized to before Inception, eval.inception_size; a
//   file without it was made at 299, the only size before the attribute existed and pytorch-fid's).
// Written to <path>.tmp, fsynced and renamed. Statistics are comparable only with the same network,
// weights and input size: evaluation refuses others, `ratlip fid` unless --force. The reader refuses a
// network or weights_sha256 longer than it keeps (naming the file and attribute) instead of cutting it:
// two weight ids cut to one prefix would compare equal.
#pragma once
#include <stddef.h>
#include "core/err.h"
#include "core/inception.h"
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
    int inception_size;     // Inception's input side, INCEPTION_SIZE_MIN..MAX (core/inception.h; 299 = pytorch-fid's)
    char *source;           // what the features came from: read malloc'd at its full length (fidstats_free);
                            // the writer's is the caller's (NULL: "")
} FidStats;


int fidstats_write(const char *path, const FidStats *s, Err *e);
int fidstats_read(const char *path, FidStats *s, Err *e);   // allocates; fidstats_free
void fidstats_free(FidStats *s);                            // mu, sigma, feat and source
// 1 when a and b come from the same network, weights and input size; else 0 with why filled.
int fidstats_comparable(const FidStats *a, const FidStats *b, char *why, size_t n);
// "<dir>/fid-stats-<split>-<network>.h5" at size 299, "<dir>/fid-stats-<split>-<network>-<size>px.h5"
// at another Inception input size (so the statistics of both can live side by side)
void fidstats_default_path(char *out, size_t n, const char *dir, const char *split, const char *network, int size);

// The `network` and `source_sha256` attributes of an Inception weight file made by
// io/tools/convert_inception.py.
int fidstats_weights_info(const char *path, char *network, size_t nn, char *sha, size_t ns, Err *e);
