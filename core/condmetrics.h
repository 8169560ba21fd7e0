// condmetrics: the arithmetic of "does the picture follow its caption" (no MPI, no files): R-precision
// and diversity per caption, on embeddings and features already computed (dist/evaluate.c gathers them
// to rank 0 and calls these). Everything is double and in a fixed order: the same inputs give the same
// figures whatever produced them.
#pragma once
#include <stdint.h>
#include "core/real.h"

#define CONDM_CANDIDATES 99   // mismatched captions per image: R-precision ranks 1 of 100 (AttnGAN)

// R-precision: for each sample g, its image embedding img[g] [E] ranks its own caption embedding own[g]
// against K = min(CONDM_CANDIDATES, P-1) captions drawn without replacement from pool [P,E] (pool row j is
// a caption of test image j; never row self[g], the sample's own image) by cosine similarity; a hit when
// the own caption is strictly above every candidate. Draws: Philox(seed, purpose) with counter
// (4<<32 | repeat, g<<24 | attempt). *mean ± *std (n−1): the top-1 rate over `repeats` draws; NaN when
// K < 1. *candidates = K.
void condm_rprecision(const real *img, const real *own, const long *self, long N, const real *pool, long P, int E,
                      int repeats, uint64_t seed, uint32_t purpose, double *mean, double *std, int *candidates);

// Mean pairwise L2 distance of the rows of feat [captions·M, D] within each caption's M rows (caption c:
// rows cM..cM+M-1), averaged over captions. M >= 2.
double condm_diversity(const real *feat, int captions, int M, int D);

// The same over every pair (a<b<n) of rows whose labels [n,L] are all equal: the mean distance over those
// pairs, their count in *pairs; NaN (pairs 0) when there is none.
double condm_diversity_equal_labels(const real *feat, const int32_t *labels, long n, int L, int D, long *pairs);
