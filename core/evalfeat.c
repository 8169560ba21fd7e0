// evalfeat: generated samples and dataset images → Inception features (and CLIP cosines). See evalfeat.h.
#include "core/evalfeat.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/ops.h"

int evalfeat_ready(EvalFeat *f, int batch, Err *e) {
    if (batch < 1 || batch > EVALFEAT_BATCH_MAX)
        return err_set(e, "eval: batch %d is outside 1..%d", batch, EVALFEAT_BATCH_MAX);
    f->batch = batch;
    if (inception_prepare(&f->net, e)) return -1;
    f->acts = inception_acts_new(&f->net, f->batch);
    if (!f->acts) return err_set(e, "eval: out of memory for Inception activations (batch %d)", f->batch);
    return 0;
}

void evalfeat_free(EvalFeat *f) {
    inception_acts_free(f->acts);
    inception_free(&f->net);
    netg_acts_free(f->gacts);
    clip_acts_free(f->cacts);
    free(f->imgc);
    free(f->emb);
    free(f->img);
    *f = (EvalFeat){0};
}

// CLIP's activations, once.
static int clip_side(EvalFeat *f, const ClipTower *clip, Err *e) {
    int B = f->batch, Sc = clip->d.image_size;
    if (f->cacts) return 0;
    f->cacts = clip_acts_new(clip, B, 0);
    f->imgc = malloc((size_t)B * 3 * Sc * Sc * sizeof(real));
    f->emb = malloc((size_t)B * clip->d.embed_dim * sizeof(real));
    if (!f->cacts || !f->imgc || !f->emb) return err_set(e, "eval: out of memory for CLIP activations");
    return 0;
}

// The generator's activations for G (remade when the caller switches G, e.g. raw and EMA), CLIP's once.
static int generator_side(EvalFeat *f, const NetG *G, const ClipTower *clip, Err *e) {
    if (f->gacts_for != G || !f->gacts) {
        netg_acts_free(f->gacts);
        f->gacts = netg_acts_new(G, clip, f->batch, e);
        if (!f->gacts) return -1;
        f->gacts_for = G;
    }
    return clip_side(f, clip, e);
}

// img [nb,3,S,S] → f->emb [nb,E] (nearest resize to the tower's size first, as the CLIP score does).
static void clip_embed(EvalFeat *f, const ClipTower *clip, const real *img, int nb, int S) {
    int Sc = clip->d.image_size;
    const real *ci = img;
    if (S != Sc) {
        resize_nearest_forward(f->imgc, img, nb, 3, S, S, Sc, Sc);
        ci = f->imgc;
    }
    clip_encode_forward(clip, f->cacts, NULL, f->emb, ci, nb);
}

int evalfeat_generated(EvalFeat *f, const NetG *G, const ClipTower *clip, const real *z, const real *s, int nb,
                       int S, real *img, real *feat, real *cosv, Err *e) {
    if (generator_side(f, G, clip, e)) return -1;
    if (netg_forward((NetG *)G, f->gacts, clip, z, s, img, nb, 0)) return err_set(e, "eval: generator forward failed");
    for (size_t i = 0; i < (size_t)nb * 3 * S * S; i++)   // clamp(-1,1), nan_to_num as upstream
        img[i] = isnan(img[i]) ? 0 : img[i] > 1 ? 1 : img[i] < -1 ? -1 : img[i];
    inception_forward(&f->net, f->acts, feat, img, nb, S);
    clip_embed(f, clip, img, nb, S);
    cosine_similarity_forward(cosv, f->emb, s, nb, G->d.text_dim, (real)1e-8);
    return 0;
}

// hwc [nb,S,S,3] uint8 → f->img [nb,3,S,S] in [-1,1].
static int images_from_u8(EvalFeat *f, const uint8_t *hwc, int nb, int S, Err *e) {
    size_t n = (size_t)nb * 3 * S * S;
    if (n > f->img_cap) {
        free(f->img);
        f->img_cap = 0;
        if (!(f->img = malloc(n * sizeof(real))))
            return err_set(e, "eval: out of memory for %d images of %dx%d", nb, S, S);
        f->img_cap = n;
    }
    for (int b = 0; b < nb; b++)   // HWC → CHW in [-1,1] (the reader's convention: pixel/127.5 − 1)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int ch = 0; ch < 3; ch++)
                    f->img[(((size_t)b * 3 + ch) * S + y) * S + x] =
                        (real)(hwc[(((size_t)b * S + y) * S + x) * 3 + ch] / 127.5 - 1.0);
    return 0;
}

int evalfeat_images_u8(EvalFeat *f, const uint8_t *hwc, int nb, int S, real *feat, Err *e) {
    if (images_from_u8(f, hwc, nb, S, e)) return -1;
    inception_forward(&f->net, f->acts, feat, f->img, nb, S);
    return 0;
}

int evalfeat_clip_u8(EvalFeat *f, const ClipTower *clip, const uint8_t *hwc, int nb, int S, real *emb, Err *e) {
    if (nb > f->batch) return err_set(e, "eval: %d images in a batch of %d", nb, f->batch);
    if (clip_side(f, clip, e) || images_from_u8(f, hwc, nb, S, e)) return -1;
    clip_embed(f, clip, f->img, nb, S);
    memcpy(emb, f->emb, (size_t)nb * clip->d.embed_dim * sizeof(real));
    return 0;
}
