// evalfeat: the arithmetic of evaluation on one process, batch by batch (no MPI, no files):
//   generated samples: G(z, s) → clamp to [-1,1], NaN → 0 (as upstream) → Inception pool3 features, and
//                      the CLIP score term cos(CLIP_img(x), s) (x resized to the tower's input size);
//   dataset images:    uint8 HWC → [-1,1] CHW (pixel/127.5 − 1, the reader's convention) → features.
// The sample plan, the reductions over ranks and FID/KID are dist/evaluate.c's; the printed line,
// metrics and sample grid are jobs/eval_report.c's; the Inception weights come from a file through
// dist/evaluate.c's eval_net_init (io/weights.h).
#pragma once
#include <stdint.h>
#include "core/clip.h"
#include "core/err.h"
#include "core/inception.h"
#include "core/netg.h"

#define EVALFEAT_BATCH_MAX 64   // most samples per call (callers keep per-batch index arrays this long)

typedef struct {
    Inception net;          // built, its weights filled (loaded or seeded), by the caller
    IncActs *acts;          // for `batch` images (evalfeat_ready)
    int batch;              // most samples per call, <= EVALFEAT_BATCH_MAX
    // generator side, made by the first evalfeat_generated (the generator's remade when G changes)
    const NetG *gacts_for;
    NetGActs *gacts;
    ClipActs *cacts;
    real *imgc, *emb;       // [batch,3,Sc,Sc] the images at CLIP's size, [batch,E] their embeddings
    // dataset side: [batch,3,S,S] the converted images (grown on demand)
    real *img;
    size_t img_cap;
} EvalFeat;

// After f->net is built and its weights are in: folds BN (inception_prepare) and makes the Inception
// activations for batches of up to `batch` images (1..EVALFEAT_BATCH_MAX).
int evalfeat_ready(EvalFeat *f, int batch, Err *e);
void evalfeat_free(EvalFeat *f);   // the network too

// One batch of nb <= f->batch generated samples, G in eval mode (BN running statistics):
//   z [nb,Z], s [nb,T] → img [nb,3,S,S] (clamped, NaN → 0), feat [nb,2048], cosv [nb] = cos(CLIP_img(img), s)
// (model.clip_remap applies inside the tower; CLIP's embed_dim must equal T, the caller checks).
// Afterwards f->emb [nb,E] holds the images' CLIP embeddings (R-precision ranks captions by them).
int evalfeat_generated(EvalFeat *f, const NetG *G, const ClipTower *clip, const real *z, const real *s, int nb,
                       int S, real *img, real *feat, real *cosv, Err *e);

// nb <= f->batch dataset images hwc [nb,S,S,3] uint8 → feat [nb,2048].
int evalfeat_images_u8(EvalFeat *f, const uint8_t *hwc, int nb, int S, real *feat, Err *e);
// nb <= f->batch dataset images hwc [nb,S,S,3] uint8 → their CLIP embeddings emb [nb,E] (the real-image
// ceiling of R-precision).
int evalfeat_clip_u8(EvalFeat *f, const ClipTower *clip, const uint8_t *hwc, int nb, int S, real *emb, Err *e);
