// synthetic dataset: determinism, palette, geometry, captions, and the written shards match the drawing.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/bow.h"
#include "io/dataset.h"
#include "io/synth.h"
#include "testutil.h"

static int near(const uint8_t *px, const uint8_t *col) {
    for (int c = 0; c < 3; c++) {
        int d = (int)px[c] - col[c];
        if (d < -SYNTH_NOISE || d > SYNTH_NOISE) return 0;
    }
    return 1;
}

int main(void) {
    const int S = 64;
    uint8_t *a = malloc(S * S * 3), *b = malloc(S * S * 3);
    char ca[SYNTH_K][SYNTH_CAPTION_LEN], cb[SYNTH_K][SYNTH_CAPTION_LEN];
    SynthLabel la, lb;
    int seen_shape[3] = {0}, seen_col[8] = {0}, seen_size[2] = {0};
    for (long i = 0; i < 300; i++) {
        memset(ca, 0, sizeof(ca));  // compare whole buffers below
        memset(cb, 0, sizeof(cb));
        synth_sample(7, SYNTH_TRAIN, i, S, a, &la, ca);
        synth_sample(7, SYNTH_TRAIN, i, S, b, &lb, cb);
        TU_CHECK(!memcmp(a, b, S * S * 3) && !memcmp(&la, &lb, sizeof(la)) && !memcmp(ca, cb, sizeof(ca)),
                 "image %ld not deterministic", i);
        TU_CHECK(la.shape >= 0 && la.shape < 3 && la.colour >= 0 && la.colour < 8 && la.background >= 0 &&
                     la.background < 8 && la.size >= 0 && la.size < 2, "label out of range");
        TU_CHECK(la.colour != la.background, "image %ld: shape colour == background", i);
        seen_shape[la.shape] = seen_col[la.colour] = seen_size[la.size] = 1;
        // every pixel is the shape's or the background's palette colour, up to the noise
        long fg = 0, other = 0;
        for (int p = 0; p < S * S; p++) {
            if (near(a + 3 * p, synth_palette[la.colour])) fg++;
            else if (!near(a + 3 * p, synth_palette[la.background])) other++;
        }
        TU_CHECK(other == 0, "image %ld: %ld pixels off the two palette colours", i, other);
        // the shape's area: side 30% or 60% (+-10%) of S; circle pi/4 s^2, square s^2, triangle s^2/2
        double side = la.size ? 0.6 : 0.3, k = la.shape == 0 ? 0.7853981634 : la.shape == 1 ? 1.0 : 0.5;
        double lo = k * (0.9 * side) * (0.9 * side) * S * S * 0.85, hi = k * (1.1 * side) * (1.1 * side) * S * S * 1.15;
        TU_CHECK(fg >= lo && fg <= hi, "image %ld (%s %s): shape area %ld outside %.0f..%.0f", i,
                 la.size ? "large" : "small", synth_shape_names[la.shape], fg, lo, hi);
        // the background fills the corners (the shape stays inside the centre 86%)
        TU_CHECK(near(a, synth_palette[la.background]) && near(a + 3 * (S * S - 1), synth_palette[la.background]),
                 "image %ld: corner is not background", i);
        for (int c = 0; c < SYNTH_K; c++) {
            TU_CHECK(strstr(ca[c], synth_colour_names[la.colour]) && strstr(ca[c], synth_colour_names[la.background]) &&
                         strstr(ca[c], synth_shape_names[la.shape]),
                     "caption '%s' misses a fact", ca[c]);
            int big = strstr(ca[c], "large") || strstr(ca[c], "big");
            int small = strstr(ca[c], "small") || strstr(ca[c], "little");
            TU_CHECK(la.size ? big && !small : small && !big, "caption '%s' has the wrong size", ca[c]);
            for (int d = 0; d < c; d++) TU_CHECK(strcmp(ca[c], ca[d]), "captions %d and %d are equal", c, d);
        }
    }
    for (int s = 0; s < 3; s++) TU_CHECK(seen_shape[s], "shape %d never drawn in 300 images", s);
    for (int c = 0; c < 8; c++) TU_CHECK(seen_col[c], "colour %d never drawn", c);
    TU_CHECK(seen_size[0] && seen_size[1], "a size never drawn");
    synth_sample(8, SYNTH_TRAIN, 0, S, b, NULL, NULL);
    synth_sample(7, SYNTH_TRAIN, 0, S, a, NULL, NULL);
    TU_CHECK(memcmp(a, b, S * S * 3), "seed does not change the image");
    synth_sample(7, SYNTH_TEST, 0, S, b, NULL, NULL);
    TU_CHECK(memcmp(a, b, S * S * 3), "test image 0 == train image 0");

    // the written dataset holds exactly the drawn images, labels, captions and their bow embeddings
    char dir[] = "/tmp/ratlip_test_synthXXXXXX";
    TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    Err e;
    const int S2 = 32;
    TU_CHECK(synth_write(dir, S2, 20, 7, 3, 3, NULL, &e) == 0, "synth_write: %s", e.msg);
    const char *splits[2] = {"train", "test"};
    long want_n[2] = {20, 7};
    float emb[BOW_DIM], want[BOW_DIM];
    for (int sp = 0; sp < 2; sp++) {
        Dataset *ds;
        if (ds_open(&ds, dir, splits[sp], &e)) { TU_CHECK(0, "ds_open: %s", e.msg); continue; }
        TU_CHECK(ds_size(ds) == want_n[sp] && ds_num_shards(ds) == 3, "%s: %ld images in %d shards", splits[sp],
                 ds_size(ds), ds_num_shards(ds));
        TU_CHECK(ds_info(ds)->n_captions == 5 && ds_info(ds)->embed_dim == BOW_DIM &&
                 !strcmp(ds_info(ds)->text_encoder, SYNTH_ENCODER) && ds_info(ds)->label_dim == 4, "attributes");
        for (long i = 0; i < ds_size(ds); i++) {
            synth_sample(3, sp, i, S2, a, &la, ca);
            TU_CHECK(ds_read_image(ds, i, b, &e) == 0 && !memcmp(a, b, S2 * S2 * 3), "%s image %ld", splits[sp], i);
            const int32_t *l = ds_labels(ds, i);
            TU_CHECK(l && l[0] == la.shape && l[1] == la.colour && l[2] == la.background && l[3] == la.size,
                     "labels of %ld", i);
            TU_CHECK(ds_text_count(ds, i) == 5, "text_count");
            for (int k = 0; k < 5; k++) {
                char cap[256];
                TU_CHECK(ds_read_caption(ds, i, k, cap, sizeof(cap), &e) == 0 && !strcmp(cap, ca[k]), "caption %ld/%d",
                         i, k);
                bow_embed_named(NULL, SYNTH_ENCODER, ca[k], want);
                TU_CHECK(ds_read_emb(ds, i, k, emb, &e) == 0 && !memcmp(emb, want, sizeof(emb)), "emb %ld/%d", i, k);
            }
        }
        ds_close(ds);
    }
    // the order-blind encoder of datasets before 2026-12 on request; anything not built in is refused
    char bowdir[512];
    snprintf(bowdir, sizeof bowdir, "%s/bow", dir);
    TU_CHECK(synth_write(bowdir, 16, 2, 0, 3, 1, BOW_NAME, &e) == 0, "synth_write bow: %s", e.msg);
    Dataset *bds;
    if (ds_open(&bds, bowdir, "train", &e) == 0) {
        synth_sample(3, SYNTH_TRAIN, 1, 16, a, &la, ca);
        bow_embed(NULL, ca[2], want);
        TU_CHECK(!strcmp(ds_info(bds)->text_encoder, BOW_NAME) && ds_read_emb(bds, 1, 2, emb, &e) == 0 &&
                     !memcmp(emb, want, sizeof(emb)),
                 "bow dataset");
        ds_close(bds);
    } else {
        TU_CHECK(0, "ds_open bow: %s", e.msg);
    }
    TU_CHECK(synth_write(bowdir, 16, 2, 0, 3, 1, "clip", &e) == -1 && strstr(e.msg, "clip"), "unknown encoder: %s",
             e.msg);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    TU_CHECK(system(cmd) == 0, "cleanup");
    free(a);
    free(b);
    return tu_done("io_synth");
}
