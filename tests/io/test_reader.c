// reader: rank slicing (W = 1, 2, 3 together read exactly W=1's global batches: same samples, captions,
// pixels, embeddings), epoch permutations, resume from a saved state, pixel conversion, crop and flip.
#include <math.h>
#include <unistd.h>
#include "data_fixture.h"
#include "io/reader.h"
#include "testutil.h"

enum { S = 8, K = 3, D = 4, N = 20, G = 6, STEPS = 8 };

// One global batch as the concatenation of the rank slices.
typedef struct {
    float images[G * 3 * S * S], text[G * D];
    int64_t index[G];
    int32_t caption[G];
    ReaderState state;
} Global;

static int read_world(Dataset *ds, int W, int crop, int flip, Global *out) {
    Err e;
    int B = G / W;
    for (int r = 0; r < W; r++) {
        ReaderOptions o = {.seed = 42, .rank = r, .world = W, .local_batch = B, .prefetch = 2, .crop_pad = crop, .flip = flip};
        Reader *rd;
        if (reader_open(&rd, ds, &o, (ReaderState){0, 0}, &e)) { TU_CHECK(0, "reader_open: %s", e.msg); return -1; }
        ReaderBatch b;
        reader_batch_alloc(&b, rd);
        for (int t = 0; t < STEPS; t++) {
            if (reader_next(rd, &b, &e)) { TU_CHECK(0, "reader_next: %s", e.msg); break; }
            Global *g = &out[t];
            memcpy(g->images + (size_t)r * B * 3 * S * S, b.images, sizeof(float) * B * 3 * S * S);
            memcpy(g->text + (size_t)r * B * D, b.text, sizeof(float) * B * D);
            memcpy(g->index + r * B, b.index, sizeof(int64_t) * B);
            memcpy(g->caption + r * B, b.caption, sizeof(int32_t) * B);
            g->state = b.state;
        }
        reader_batch_free(&b);
        reader_close(rd);
    }
    return 0;
}

static float px(long i, int c, int y, int x) { return fx_byte(i, ((long)y * S + x) * 3 + c) / 127.5f - 1.0f; }

int main(void) {
    char dir[] = "/tmp/ratlip_test_readerXXXXXX";
    if (!mkdtemp(dir)) return 1;
    TU_CHECK(fx_write(dir, "train", 2, N, S, K, D, "enc") == 0, "fixture");
    Dataset *ds;
    Err e;
    if (ds_open(&ds, dir, "train", &e)) { TU_CHECK(0, "%s", e.msg); return tu_done("io_reader"); }

    static Global w1[STEPS], wn[STEPS];
    read_world(ds, 1, 2, 1, w1);
    for (int t = 0; t < STEPS; t++) {
        TU_CHECK(w1[t].state.epoch == t / 3 && w1[t].state.cursor == (t % 3) * G, "step %d state (%lld,%lld)", t,
                 (long long)w1[t].state.epoch, (long long)w1[t].state.cursor);
        for (int j = 0; j < G; j++) {
            int64_t i = w1[t].index[j];
            TU_CHECK(i >= 0 && i < N, "index %lld", (long long)i);
            TU_CHECK(w1[t].caption[j] == reader_pick_caption(42, t / 3, i, 1 + (int)(i % K)) &&
                         w1[t].caption[j] < 1 + i % K, "caption choice of sample %lld", (long long)i);
            for (int d = 0; d < D; d++)
                TU_CHECK(w1[t].text[j * D + d] == fx_emb(i, w1[t].caption[j], d), "embedding of %lld", (long long)i);
        }
    }
    // an epoch visits 18 distinct samples (drop_last: 20 - 18 left out); epochs differ in order
    for (int ep = 0; ep < 2; ep++) {
        int seen[N] = {0}, dup = 0;
        for (int t = 3 * ep; t < 3 * ep + 3; t++)
            for (int j = 0; j < G; j++) dup += seen[w1[t].index[j]]++ > 0;
        TU_CHECK(dup == 0, "epoch %d repeats %d samples", ep, dup);
    }
    TU_CHECK(memcmp(w1[0].index, w1[3].index, sizeof(w1[0].index)), "epochs 0 and 1 start alike");

    for (int W = 2; W <= 3; W++) {
        memset(wn, 0, sizeof(wn));
        read_world(ds, W, 2, 1, wn);
        int diff = 0;
        for (int t = 0; t < STEPS; t++)
            diff += memcmp(w1[t].index, wn[t].index, sizeof(wn[t].index)) != 0 ||
                    memcmp(w1[t].caption, wn[t].caption, sizeof(wn[t].caption)) != 0 ||
                    memcmp(w1[t].images, wn[t].images, sizeof(wn[t].images)) != 0 ||
                    memcmp(w1[t].text, wn[t].text, sizeof(wn[t].text)) != 0;
        TU_CHECK(diff == 0, "W=%d: %d of %d global batches differ from W=1", W, diff, STEPS);
        printf("W=%d: %d of %d global batches (samples, captions, pixels, embeddings) differ from W=1\n", W, diff, STEPS);
    }

    // resume: state saved after 2 batches, a new reader from it gives batches 2.. again (rank 1 of 2)
    {
        ReaderOptions o = {.seed = 42, .rank = 1, .world = 2, .local_batch = 3, .prefetch = 3, .crop_pad = 2, .flip = 1};
        Reader *rd;
        ReaderBatch b, c;
        TU_CHECK(reader_open(&rd, ds, &o, (ReaderState){0, 0}, &e) == 0, "%s", e.msg);
        reader_batch_alloc(&b, rd);
        reader_batch_alloc(&c, rd);
        reader_next(rd, &b, &e);
        reader_next(rd, &b, &e);
        ReaderState saved = reader_state(rd);
        TU_CHECK(saved.epoch == 0 && saved.cursor == 2 * G, "saved state (%lld,%lld)", (long long)saved.epoch,
                 (long long)saved.cursor);
        static float imgs[4][3 * 3 * S * S];
        static int64_t idx[4][3];
        for (int t = 0; t < 4; t++) {
            reader_next(rd, &b, &e);
            memcpy(imgs[t], b.images, sizeof(imgs[t]));
            memcpy(idx[t], b.index, sizeof(idx[t]));
        }
        reader_close(rd);
        TU_CHECK(reader_open(&rd, ds, &o, saved, &e) == 0, "%s", e.msg);
        int diff = 0;
        for (int t = 0; t < 4; t++) {
            reader_next(rd, &c, &e);
            diff += memcmp(imgs[t], c.images, sizeof(imgs[t])) != 0 || memcmp(idx[t], c.index, sizeof(idx[t])) != 0;
        }
        TU_CHECK(diff == 0, "resume: %d of 4 batches differ", diff);
        printf("resume from (epoch 0, cursor 12): %d of 4 batches differ\n", diff);
        reader_close(rd);
        reader_batch_free(&b);
        reader_batch_free(&c);
    }

    // pixels without augmentation are byte/127.5 - 1 in NCHW; flip mirrors x; crop shifts with edge clamp
    for (int mode = 0; mode < 3; mode++) {
        int crop = mode == 2 ? 2 : 0, flip = mode == 1;
        read_world(ds, 1, crop, flip, wn);
        int bad = 0, flipped = 0, shifted = 0;
        for (int j = 0; j < G; j++) {
            const float *im = wn[0].images + (size_t)j * 3 * S * S;
            long i = (long)wn[0].index[j];
            int found = 0;
            for (int f = 0; f <= flip && !found; f++)
                for (int oy = 0; oy <= 2 * crop && !found; oy++)
                    for (int ox = 0; ox <= 2 * crop && !found; ox++) {
                        int ok = 1;
                        for (int c = 0; c < 3 && ok; c++)
                            for (int y = 0; y < S && ok; y++)
                                for (int x = 0; x < S && ok; x++) {
                                    int sx = (f ? S - 1 - x : x) + ox - crop, sy = y + oy - crop;
                                    sx = sx < 0 ? 0 : sx >= S ? S - 1 : sx;
                                    sy = sy < 0 ? 0 : sy >= S ? S - 1 : sy;
                                    // uint8 -> [-1, 1]: ours and px() may round the scale differently: a few
                                    // u = 6e-8 on values <= 1
                                    ok = fabsf(im[((size_t)c * S + y) * S + x] - px(i, c, sy, sx)) < 1e-6f;
                                }
                        if (ok) {
                            found = 1;
                            flipped += f;
                            shifted += ox != crop || oy != crop;
                        }
                    }
            bad += !found;
        }
        TU_CHECK(bad == 0, "mode %d: %d images are no flip/crop of their source", mode, bad);
        if (mode == 1) TU_CHECK(flipped > 0 && flipped < G, "flip: %d of %d flipped", flipped, G);
        if (mode == 2) TU_CHECK(shifted > 0, "crop: no image shifted");
    }

    // bad options
    ReaderOptions o = {.seed = 1, .rank = 0, .world = 4, .local_batch = 6, .prefetch = 1};
    Reader *rd;
    TU_CHECK(reader_open(&rd, ds, &o, (ReaderState){0, 0}, &e) == -1 && strstr(e.msg, "exceeds"),
             "global batch > N accepted");
    o.world = 1;
    o.rank = 1;
    TU_CHECK(reader_open(&rd, ds, &o, (ReaderState){0, 0}, &e) == -1, "rank >= world accepted");
    ds_close(ds);
    fx_rmdir(dir);
    return tu_done("io_reader");
}
