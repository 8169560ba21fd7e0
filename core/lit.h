// lit: locked-text contrastive pretraining of the CLIP image tower ("LiT"): CLIP's symmetric InfoNCE
// with a learned temperature, where the text side is fixed (the dataset's caption embeddings). Also
// the two numbers that say whether a tower learned anything: top-1 retrieval accuracy both ways and
// the CLIP score (mean cosine) of images with their own vs with other captions.
// The batch here is the GLOBAL batch: the caller gathers the image embeddings of every rank.
#pragma once
#include "core/real.h"

#define LIT_LOGIT_SCALE_MAX 4.605170185988092   // log(100): CLIP clamps exp(logit_scale) at 100

// u[N,E] raw image embeddings (tower outputs), t[N,E] caption embeddings (fixed targets), row i of
// each belongs to sample i. With û, t̂ the L2-normalised rows (eps 1e-12, F.normalize) and
// s = exp(logit_scale):  logits[i,j] = s·<û_i, t̂_j>,
//   loss = ½ (mean_i CE(logits[i,:], i) + mean_j CE(logits[:,j], j)).
// bank[M,E] (NULL or M = 0: none): more caption embeddings, negatives only, in the image→text direction:
// row i's softmax runs over the N batch captions and every bank row that is not bitwise t_i (image i's own
// caption is no negative of it). With the text side locked a bank never goes stale; it makes the tower
// tell apart captions that a batch rarely contrasts (issue 15: shape, when colours already separate a batch).
// Returns the loss. du[N,E] and dlogit_scale (each may be NULL) ACCUMULATE d loss. Sums in double.
double lit_loss(real *du, real *dlogit_scale, const real *u, const real *t, int N, int E, real logit_scale,
                const real *bank, int M);

// Top-1 retrieval over N pairs (u_i, t_i). Captions repeat in a synthetic set (identical caption =
// identical embedding), so a retrieval is correct when what it finds has the right content:
//   image→text: the caption nearest to u_i equals t_i;   text→image: the image nearest to t_j has
//   caption equal to t_j. Ties go to the lowest index. chance_*: the expected accuracy of a random
//   pick (mean over queries of the fraction of candidates that would count as correct). Any output
//   may be NULL.
void lit_retrieval(double *i2t, double *t2i, double *chance_i2t, double *chance_t2i, const real *u, const real *t,
                   int N, int E);

// CLIP score as GALIP reports it: mean_i cos(u_i, t_{perm[i]}) (perm NULL = identity: own captions).
double lit_clip_score(const real *u, const real *t, const int *perm, int N, int E);

// Keeps logit_scale in [0, log 100] after an optimiser step, as CLIP's training does.
real lit_clamp_logit_scale(real logit_scale);
