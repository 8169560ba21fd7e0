// reader: upstream's training augmentation (issue 17) on a train split stored larger (T) than the batches
// (S = ReaderOptions.out_size): every sample is the stored image's SxS window at (ox, oy), mirrored when
// flipped, with ox, oy, flip re-implemented here from Philox(seed, RNG_AUGMENT)(epoch, index):
// ox = o[0] mod (T-S+1), oy = o[1] mod (T-S+1), flip = o[2] >> 31. Checked pixel-exactly (the byte behind
// every batch value), the offsets cover 0..T-S and both flips, W = 1 and 2 ranks read the same global
// batches, a reader reopened at a saved state continues with the same ones; ds_read_centre is the centre
// window. T == S: out_size = S is the reader of before (edge-padded crop, flip) bit for bit. Refusals:
// S > T, data.random_crop with T > S.
#include <math.h>
#include "core/rng.h"
#include "data_fixture.h"
#include "io/reader.h"
#include "testutil.h"

enum { T = 12, S = 8, K = 3, D = 4, N = 20, G = 6, STEPS = 15 };

typedef struct {
    float images[G * 3 * S * S];
    int64_t index[G];
    ReaderState state;
} Global;

// STEPS global batches read by W ranks (rank slices concatenated), starting at `start`.
static int read_world(Dataset *ds, int W, int out, int crop, int flip, ReaderState start, Global *g) {
    Err e;
    const int B = G / W, Sb = out ? out : ds_info(ds)->image_size;
    for (int r = 0; r < W; r++) {
        ReaderOptions o = {.seed = 42, .rank = r, .world = W, .local_batch = B, .prefetch = 2, .out_size = out,
                           .crop_pad = crop, .flip = flip};
        Reader *rd;
        if (reader_open(&rd, ds, &o, start, &e)) { TU_CHECK(0, "reader_open: %s", e.msg); return -1; }
        ReaderBatch b;
        reader_batch_alloc(&b, rd);
        TU_CHECK(b.S == Sb, "batch side %d, want %d", b.S, Sb);
        for (int t = 0; t < STEPS; t++) {
            if (reader_next(rd, &b, &e)) { TU_CHECK(0, "reader_next: %s", e.msg); break; }
            memcpy(g[t].images + (size_t)r * B * 3 * Sb * Sb, b.images, sizeof(float) * B * 3 * Sb * Sb);
            memcpy(g[t].index + r * B, b.index, sizeof(int64_t) * B);
            g[t].state = b.state;
        }
        reader_batch_free(&b);
        reader_close(rd);
    }
    return 0;
}

int main(void) {
    char dir[] = "/tmp/ratlip_test_reader_cropXXXXXX", same[] = "/tmp/ratlip_test_reader_cropSXXXXXX";
    if (!mkdtemp(dir) || !mkdtemp(same)) return 1;
    TU_CHECK(fx_write(dir, "train", 2, N, T, K, D, "enc") == 0, "fixture T");
    TU_CHECK(fx_write(same, "train", 2, N, S, K, D, "enc") == 0, "fixture S");
    Dataset *ds, *dss;
    Err e;
    if (ds_open(&ds, dir, "train", &e) || ds_open(&dss, same, "train", &e)) {
        TU_CHECK(0, "%s", e.msg);
        return tu_done("io_reader_crop");
    }

    // 1 rank against the re-implementation, pixel by pixel
    static Global w1[STEPS], w2[STEPS], again[STEPS];
    read_world(ds, 1, S, 0, 1, (ReaderState){0, 0}, w1);
    const RngKey key = rng_key(42, RNG_AUGMENT);
    int seen_x[T - S + 1] = {0}, seen_y[T - S + 1] = {0}, flips = 0, bad = 0;
    uint8_t src[T * T * 3];
    for (int t = 0; t < STEPS; t++)
        for (int j = 0; j < G; j++) {
            int64_t i = w1[t].index[j];
            uint32_t o[4];
            rng_block(key, (uint64_t)w1[t].state.epoch, (uint64_t)i, o);
            int ox = (int)(o[0] % (T - S + 1)), oy = (int)(o[1] % (T - S + 1)), f = (int)(o[2] >> 31);
            seen_x[ox]++, seen_y[oy]++, flips += f;
            TU_CHECK(ds_read_image(ds, (long)i, src, &e) == 0, "%s", e.msg);
            const float *im = w1[t].images + (size_t)j * 3 * S * S;
            int wrong = 0;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < S; y++)
                    for (int x = 0; x < S; x++) {
                        float v = im[((size_t)c * S + y) * S + x];
                        int byte = (int)lrintf((v + 1.0f) * 127.5f), sx = ox + (f ? S - 1 - x : x), sy = oy + y;
                        wrong += byte != src[((size_t)sy * T + sx) * 3 + c];
                    }
            if (wrong && bad++ < 3)
                fprintf(stderr, "step %d sample %lld: %d of %d values are not the window (%d,%d)%s\n", t,
                        (long long)i, wrong, 3 * S * S, ox, oy, f ? " flipped" : "");
        }
    TU_CHECK(bad == 0, "%d of %d batch images are not their stored image's window", bad, STEPS * G);
    int missing = 0;
    for (int v = 0; v <= T - S; v++) missing += !seen_x[v] + !seen_y[v];
    TU_CHECK(missing == 0 && flips > 0 && flips < STEPS * G, "offsets miss %d of the values 0..%d; %d of %d flipped",
             missing, T - S, flips, STEPS * G);
    printf("%d samples: every image is its stored %dx%d image's %dx%d window at the re-implemented offsets "
           "(ox, oy each cover 0..%d), %d flipped\n", STEPS * G, T, T, S, S, T - S, flips);

    // 2 ranks: the same global batches, bit for bit
    read_world(ds, 2, S, 0, 1, (ReaderState){0, 0}, w2);
    int diff = 0;
    for (int t = 0; t < STEPS; t++)
        diff += memcmp(w1[t].images, w2[t].images, sizeof w1[t].images) ||
                memcmp(w1[t].index, w2[t].index, sizeof w1[t].index);
    TU_CHECK(diff == 0, "W=2: %d of %d global batches differ from W=1", diff, STEPS);
    printf("W=2: %d of %d global batches differ from W=1\n", diff, STEPS);

    // resume at step 4's state (epoch 1): steps 4.. again, also on 2 ranks
    for (int W = 1; W <= 2; W++) {
        read_world(ds, W, S, 0, 1, w1[4].state, again);
        diff = 0;
        for (int t = 0; t + 4 < STEPS; t++)
            diff += memcmp(w1[t + 4].images, again[t].images, sizeof again[t].images) != 0;
        TU_CHECK(diff == 0, "resume on %d rank(s): %d batches differ", W, diff);
        printf("resume at (epoch %lld, cursor %lld) on %d rank(s): %d of %d batches differ\n",
               (long long)w1[4].state.epoch, (long long)w1[4].state.cursor, W, diff, STEPS - 4);
    }

    // T == S: out_size S and 0 (the stored side, the reader before out_size) give the same batches
    for (int mode = 0; mode < 2; mode++) {
        int crop = mode ? 2 : 0;
        read_world(dss, 1, 0, crop, 1, (ReaderState){0, 0}, w1);
        read_world(dss, 1, S, crop, 1, (ReaderState){0, 0}, w2);
        diff = 0;
        for (int t = 0; t < STEPS; t++) diff += memcmp(w1[t].images, w2[t].images, sizeof w1[t].images) != 0;
        TU_CHECK(diff == 0, "T == S, data.random_crop %d: out_size %d differs from 0 in %d batches", crop, S, diff);
    }

    // ds_read_centre: the window at ((T-S)/2, (T-S)/2), for the consumers that want the deterministic view
    {
        uint8_t win[S * S * 3], whole[T * T * 3];
        int wrong = 0, c0 = (T - S) / 2;
        for (long i = 0; i < N; i++) {
            TU_CHECK(!ds_read_centre(ds, i, S, win, &e) && !ds_read_image(ds, i, src, &e), "%s", e.msg);
            for (int y = 0; y < S; y++)
                wrong += memcmp(win + (size_t)y * S * 3, src + ((size_t)(y + c0) * T + c0) * 3, S * 3) != 0;
            TU_CHECK(!ds_read_centre(ds, i, T, whole, &e) && !memcmp(whole, src, sizeof whole), "centre %dx%d != image",
                     T, T);
        }
        TU_CHECK(wrong == 0, "ds_read_centre: %d rows are not the centre window's", wrong);
        TU_CHECK(ds_read_centre(ds, 0, T + 1, whole, &e) == -1 && strstr(e.msg, "13x13"), "centre > T: '%s'", e.msg);
    }

    // the start-up line, and the refusals
    char line[256];
    Reader *rd;
    ReaderOptions o = {.seed = 1, .world = 1, .local_batch = 2, .prefetch = 1, .out_size = S, .flip = 1};
    TU_CHECK(reader_open(&rd, ds, &o, (ReaderState){0, 0}, &e) == 0, "%s", e.msg);
    reader_describe(rd, line, sizeof line);
    TU_CHECK(!strcmp(line, "random 8x8 crop of 12x12 stored images + flip"), "describe: '%s'", line);
    printf("augment: %s\n", line);
    reader_close(rd);
    o.flip = 0;
    TU_CHECK(reader_open(&rd, ds, &o, (ReaderState){0, 0}, &e) == 0, "%s", e.msg);
    reader_describe(rd, line, sizeof line);
    TU_CHECK(!strcmp(line, "random 8x8 crop of 12x12 stored images"), "describe: '%s'", line);
    reader_close(rd);
    o.crop_pad = 2;
    TU_CHECK(reader_open(&rd, dss, &o, (ReaderState){0, 0}, &e) == 0, "%s", e.msg);
    reader_describe(rd, line, sizeof line);
    TU_CHECK(strstr(line, "edge-padded by 2") && strstr(line, "data.random_crop"), "describe: '%s'", line);
    reader_close(rd);
    TU_CHECK(reader_open(&rd, ds, &o, (ReaderState){0, 0}, &e) == -1 && strstr(e.msg, "data.random_crop") &&
                 strstr(e.msg, "12x12"), "data.random_crop with T > S: '%s'", e.msg);
    printf("refused: %s\n", e.msg);
    o.crop_pad = 0;
    o.out_size = 16;
    TU_CHECK(reader_open(&rd, ds, &o, (ReaderState){0, 0}, &e) == -1 && strstr(e.msg, "12x12") &&
                 strstr(e.msg, "16x16"), "S > T: '%s'", e.msg);
    printf("refused: %s\n", e.msg);
    ds_close(ds);
    ds_close(dss);
    fx_rmdir(dir);
    fx_rmdir(same);
    return tu_done("io_reader_crop");
}
