#include "io/synth.h"
#include "io/fs.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/rng.h"
#include "io/bow.h"
#include "io/dataset.h"

const uint8_t synth_palette[SYNTH_COLOURS][3] = {
    {220, 40, 40}, {40, 170, 60}, {40, 80, 220}, {235, 210, 40},
    {140, 60, 190}, {245, 140, 30}, {240, 240, 240}, {25, 25, 25},
};
const char *const synth_colour_names[SYNTH_COLOURS] = {"red", "green", "blue", "yellow",
                                                       "purple", "orange", "white", "black"};
const char *const synth_shape_names[SYNTH_SHAPES] = {"circle", "square", "triangle"};

// The first caption's phrasing: size, colour, shape, background.
#define CAPTION0 "a %s %s %s on a %s background"

void synth_caption_of(const SynthLabel *L, char *out) {
    snprintf(out, SYNTH_CAPTION_LEN, CAPTION0, L->size ? "large" : "small",
             synth_colour_names[L->colour], synth_shape_names[L->shape], synth_colour_names[L->background]);
}

// Is pixel centre (px,py) inside the shape of side s centred at (cx,cy)?
static int inside(int shape, float px, float py, float cx, float cy, float s) {
    float dx = px - cx, dy = py - cy, h = 0.5f * s;
    switch (shape) {
    case 0: return dx * dx + dy * dy <= h * h;
    case 1: return dx >= -h && dx <= h && dy >= -h && dy <= h;
    default:  // apex up at (cx, cy-h), base from (cx-h, cy+h) to (cx+h, cy+h)
        return dy >= -h && dy <= h && (dx < 0 ? -dx : dx) <= 0.5f * (dy + h);
    }
}

// Counter layout under key (seed, RNG_SYNTH): c_hi = split<<48 | i; c_lo 0..2 the facts, 16+ the noise.
void synth_sample(uint64_t seed, int split, long i, int S, uint8_t *img, SynthLabel *lab,
                  char caps[SYNTH_K][SYNTH_CAPTION_LEN]) {
    RngKey key = rng_key(seed, RNG_SYNTH);
    uint64_t c = ((uint64_t)split << 48) | (uint64_t)i;
    uint32_t f[4], g[4], w[4];
    rng_block(key, c, 0, f);
    rng_block(key, c, 1, g);
    rng_block(key, c, 2, w);
    SynthLabel L;
    L.shape = (int)(f[0] % SYNTH_SHAPES);
    L.colour = (int)(f[1] % SYNTH_COLOURS);
    L.background = (int)(f[2] % (SYNTH_COLOURS - 1));
    if (L.background >= L.colour) L.background++;  // any colour but the shape's
    L.size = (int)(f[3] & 1);
    const float unit = 1.0f / 4294967296.0f;
    float side = (L.size ? 0.6f : 0.3f) * (0.9f + 0.2f * (float)g[0] * unit) * (float)S;  // +-10% around 30/60%
    float cx = 0.5f * S + (0.2f * (float)g[1] * unit - 0.1f) * S;                      // +-10% of the side
    float cy = 0.5f * S + (0.2f * (float)g[2] * unit - 0.1f) * S;
    const uint8_t *fg = synth_palette[L.colour], *bg = synth_palette[L.background];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            const uint8_t *col = inside(L.shape, x + 0.5f, y + 0.5f, cx, cy, side) ? fg : bg;
            uint32_t nz[4];
            rng_block(key, c, 16 + (uint64_t)y * S + x, nz);
            for (int ch = 0; ch < 3; ch++) {
                int v = col[ch] + (int)(nz[ch] % (2 * SYNTH_NOISE + 1)) - SYNTH_NOISE;
                img[((size_t)y * S + x) * 3 + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    if (lab) *lab = L;
    if (!caps) return;
    const char *cn = synth_colour_names[L.colour], *bn = synth_colour_names[L.background];
    const char *sn = synth_shape_names[L.shape];
    const char *sz1 = L.size ? ((w[0] & 1) ? "large" : "big") : ((w[0] & 1) ? "small" : "little");
    const char *sz2 = L.size ? ((w[1] & 1) ? "big" : "large") : ((w[1] & 1) ? "little" : "small");
    const char *sz3 = L.size ? "large" : "small";
    snprintf(caps[0], SYNTH_CAPTION_LEN, CAPTION0, sz1, cn, sn, bn);
    snprintf(caps[1], SYNTH_CAPTION_LEN, "a %s picture with a %s %s %s", bn, sz2, cn, sn);
    snprintf(caps[2], SYNTH_CAPTION_LEN, "%s %s, %s, on %s", cn, sn, sz3, bn);
    snprintf(caps[3], SYNTH_CAPTION_LEN, "there is a %s %s %s in the middle of a %s image", sz1, cn, sn, bn);
    snprintf(caps[4], SYNTH_CAPTION_LEN, "a %s %s of %s size against a plain %s backdrop", cn, sn, sz3, bn);
}

static int write_split(const char *dir, int split, int S, long n, uint64_t seed, int shards, const char *encoder,
                       BowCache *cache, Err *e) {
    const char *name = split == SYNTH_TRAIN ? "train" : "test";
    if (n <= 0) return 0;
    int ns = shards < 1 ? 1 : (shards > n ? (int)n : shards);
    DsInfo info = {.image_size = S, .n_captions = SYNTH_K, .embed_dim = BOW_DIM, .label_dim = 4,
                   .label_names = SYNTH_LABEL_NAMES};   // the order of lab[] below
    snprintf(info.split, sizeof(info.split), "%s", name);
    snprintf(info.text_encoder, sizeof(info.text_encoder), "%s", encoder);
    uint8_t *img = malloc((size_t)S * S * 3);
    float *emb = malloc((size_t)SYNTH_K * BOW_DIM * sizeof(float));
    if (!img || !emb) {
        free(img);
        free(emb);
        return err_set(e, "%s: out of memory", dir);
    }
    int rc = 0;
    for (int s = 0; s < ns && !rc; s++) {
        long lo = n * s / ns, hi = n * (s + 1) / ns;  // shard s holds images [lo, hi)
        char path[4096];
        ds_shard_path(path, sizeof(path), dir, name, s, ns);
        DsWriter *w = ds_writer_open(path, &info, hi - lo, e);
        if (!w) { rc = -1; break; }
        for (long i = lo; i < hi && !rc; i++) {
            SynthLabel L;
            char caps[SYNTH_K][SYNTH_CAPTION_LEN];
            const char *cp[SYNTH_K];
            synth_sample(seed, split, i, S, img, &L, caps);
            for (int k = 0; k < SYNTH_K; k++) {
                bow_embed_named(cache, encoder, caps[k], emb + (size_t)k * BOW_DIM);
                cp[k] = caps[k];
            }
            int32_t lab[4] = {L.shape, L.colour, L.background, L.size};
            rc = ds_writer_put(w, i - lo, img, emb, SYNTH_K, cp, lab, e);
        }
        if (rc) ds_writer_abort(w);
        else rc = ds_writer_close(w, e);
    }
    free(img);
    free(emb);
    return rc;
}

int synth_write(const char *dir, int S, long ntrain, long ntest, uint64_t seed, int shards, const char *encoder, Err *e) {
    if (!encoder) encoder = SYNTH_ENCODER;
    if (!bow_order_of(encoder)) return err_set(e, "synth: text encoder '%s' is not built in (bow, ngram)", encoder);
    if (S < 8 || S > 4096) return err_set(e, "synth: --size %d outside 8..4096", S);
    if (ntrain < 0 || ntest < 0 || ntrain + ntest == 0)
        return err_set(e, "synth: --train %ld --test %ld: need at least one image", ntrain, ntest);
    if (fs_mkdir_p(dir, e)) return -1;
    BowCache *cache = bow_cache_new();
    int rc = write_split(dir, SYNTH_TRAIN, S, ntrain, seed, shards, encoder, cache, e);
    if (!rc) rc = write_split(dir, SYNTH_TEST, S, ntest, seed, shards, encoder, cache, e);
    bow_cache_free(cache);
    return rc;
}
