// data_fixture: a small dataset with known content for the data tests (header-only helpers).
// Sample i (global over shards): pixel bytes fx_byte(i, p), embedding values fx_emb(i, k, d),
// text_count 1 + i % K, caption "caption k of image i", labels {i, -i}.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>  // after stdio.h and stdlib.h: it needs FILE and size_t
#include "io/dataset.h"

static inline uint32_t fx_hash(uint32_t x) {
    x ^= x >> 16; x *= 0x7feb352dU; x ^= x >> 15; x *= 0x846ca68bU; x ^= x >> 16;
    return x;
}
static inline uint8_t fx_byte(long i, long p) { return (uint8_t)fx_hash((uint32_t)(i * 1000003 + p)); }
static inline float fx_emb(long i, int k, int d) {
    return (float)((int)(fx_hash((uint32_t)(i * 7919 + k * 131 + d + 17)) % 2001) - 1000) / 250.0f;
}

// Writes split as nshards shards of n samples in total into dir; returns 0 or -1 (message printed).
static inline int fx_write(const char *dir, const char *split, int nshards, long n, int S, int K, int D,
                           const char *encoder) {
    DsInfo info = {.image_size = S, .n_captions = K, .embed_dim = D, .label_dim = 2};
    snprintf(info.split, sizeof(info.split), "%s", split);
    snprintf(info.text_encoder, sizeof(info.text_encoder), "%s", encoder);
    uint8_t *img = malloc((size_t)S * S * 3);
    float *emb = malloc((size_t)K * D * sizeof(float));
    char caps[16][64];
    const char *cp[16];
    Err e;
    int rc = 0;
    for (int s = 0; s < nshards && !rc; s++) {
        long lo = n * s / nshards, hi = n * (s + 1) / nshards;
        char path[4096];
        ds_shard_path(path, sizeof(path), dir, split, s, nshards);
        DsWriter *w = ds_writer_open(path, &info, hi - lo, &e);
        if (!w) { rc = -1; break; }
        for (long i = lo; i < hi && !rc; i++) {
            for (long p = 0; p < (long)S * S * 3; p++) img[p] = fx_byte(i, p);
            int count = 1 + (int)(i % K);
            for (int k = 0; k < count; k++) {
                for (int d = 0; d < D; d++) emb[k * D + d] = fx_emb(i, k, d);
                snprintf(caps[k], sizeof(caps[k]), "caption %d of image %ld", k, i);
                cp[k] = caps[k];
            }
            int32_t lab[2] = {(int32_t)i, (int32_t)-i};
            rc = ds_writer_put(w, i - lo, img, emb, count, cp, lab, &e);
        }
        if (rc) ds_writer_abort(w);
        else rc = ds_writer_close(w, &e);
    }
    if (rc) fprintf(stderr, "fx_write: %s\n", e.msg);
    free(img);
    free(emb);
    return rc;
}

static inline void fx_rmdir(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", dir);
}

// A JPEG of w x h, row y made by fill(row, w, y, ctx): nc components in colour space in_cs, stored as
// jpeg_cs; adobe: whether to write the Adobe marker (libjpeg writes one for CMYK/YCCK by default).
static inline void fx_write_jpeg(const char *path, int w, int h, int nc, J_COLOR_SPACE in_cs, J_COLOR_SPACE jpeg_cs,
                                 int adobe, int quality, void (*fill)(uint8_t *row, int w, int y, void *ctx),
                                 void *ctx) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = nc;
    c.in_color_space = in_cs;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, jpeg_cs);
    c.write_Adobe_marker = adobe ? TRUE : FALSE;
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t *row = calloc((size_t)w * nc, 1);
    while (c.next_scanline < c.image_height) {
        fill(row, w, (int)c.next_scanline, ctx);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}
