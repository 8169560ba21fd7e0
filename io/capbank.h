// capbank: a bank of distinct caption embeddings drawn from a dataset split, with the labels of the
// sample each came from. Two users: `clip train`'s extra negatives (clip.text_negatives, core/lit.h)
// and the trainer's hard mismatched captions (train.hard_mismatch): for a sample, the bank's caption
// most like its own among those of samples with other labels, so the discriminator must tell one
// changed attribute ("a small red circle" vs "a small red square"), which a batch rolled by one
// (upstream's mismatch) almost never asks on the synthetic set.
#pragma once
#include <stdint.h>
#include "core/err.h"
#include "core/real.h"
#include "io/dataset.h"

typedef struct {
    int n, E, L;          // rows, embedding width, label width (0: the split has no /labels)
    real *emb;            // [n,E]
    float *inv_norm;      // [n] 1/|emb row| (0 for a zero row)
    int32_t *labels;      // [n,L] or NULL
    long reads;           // captions read to fill it
} CapBank;

// Up to `want` distinct caption embeddings of ds (distinct = not bitwise equal), every caption of one
// sample after another in a seeded order of the samples (the same rows for the same seed on every rank
// and at every resume). The scan stops after 16 reads per wanted row: a split with fewer distinct
// captions gives what it has. -1 with e set on a read error or out of memory.
int capbank_build(CapBank *b, Dataset *ds, int want, uint64_t seed, Err *e);
void capbank_free(CapBank *b);

// The row most like q[E] by cosine (first of equals) among rows whose labels differ from lab[L] in
// column col and equal it in every other column: on the synthetic set the same phrasing with that one
// attribute changed ("a small red circle ..." -> "a small red square ..."). -1 when no row does (or the
// bank has no labels).
int capbank_nearest_other(const CapBank *b, const real *q, const int32_t *lab, int col);
