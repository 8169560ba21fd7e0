#include "io/reader.h"
#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"

void reader_permutation(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm) {
    RngKey key = rng_key(seed, RNG_DATA_ORDER);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    // Fisher-Yates from the back; draw i uses counter (epoch, i). 64-bit draws make the modulo bias
    // (n / 2^64) negligible.
    for (int64_t i = n - 1; i > 0; i--) {
        uint32_t o[4];
        rng_block(key, (uint64_t)epoch, (uint64_t)i, o);
        uint64_t u = ((uint64_t)o[0] << 32) | o[1];
        int64_t j = (int64_t)(u % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

int reader_pick_caption(uint64_t seed, int64_t epoch, int64_t index, int count) {
    return (int)(rng_u32(rng_key(seed, RNG_CAPTION), (uint64_t)epoch, (uint64_t)index) % (uint32_t)count);
}

typedef struct {
    ReaderBatch b;
    int rc;
    Err err;
} Slot;

struct Reader {
    Dataset *ds;
    ReaderOptions o;
    int64_t n, global;       // dataset size, global batch
    ReaderState taken;       // start of the next batch reader_next returns
    ReaderState filling;     // start of the next batch the thread fills
    int64_t *perm, perm_epoch;
    int T, S;                // stored side, batch side (S <= T)
    uint8_t *pixels;         // [T,T,3] scratch of the thread
    Slot *slots;
    int head, count;         // ring: slots[head] is the oldest ready batch; count ready
    int stop, failed;
    pthread_mutex_t mu;
    pthread_cond_t ready, space;
    pthread_t thread;
};

static ReaderState advance(const Reader *r, ReaderState s) {
    s.cursor += r->global;
    if (s.cursor + r->global > r->n) {
        s.epoch++;
        s.cursor = 0;
    }
    return s;
}

// in [T,T,3] uint8 HWC -> out [3,S,S] real CHW in [-1,1], through an SxS window at (ox,oy) of the image
// edge-padded by p (T == S: jitter, (ox,oy) in [0,2p]; T > S: p = 0, (ox,oy) in [0,T-S]) and an optional
// horizontal flip: output (y,x) reads source (clamp(y+oy-p), clamp(x'+ox-p)), x' = flipped x, clamp to [0,T).
static void to_chw(real *out, const uint8_t *in, int T, int S, int p, int ox, int oy, int flip) {
    for (int y = 0; y < S; y++) {
        int sy = y + oy - p;
        sy = sy < 0 ? 0 : sy >= T ? T - 1 : sy;
        for (int x = 0; x < S; x++) {
            int xf = flip ? S - 1 - x : x;
            int sx = xf + ox - p;
            sx = sx < 0 ? 0 : sx >= T ? T - 1 : sx;
            const uint8_t *px = in + ((size_t)sy * T + sx) * 3;
            for (int c = 0; c < 3; c++) out[((size_t)c * S + y) * S + x] = (real)(px[c] * (1.0f / 127.5f) - 1.0f);
        }
    }
}

// Fills b with this rank's slice of the global batch starting at s. Runs on the reader thread.
static int fill(Reader *r, ReaderState s, ReaderBatch *b, Err *e) {
    if (r->perm_epoch != s.epoch) {
        reader_permutation(r->o.seed, s.epoch, r->n, r->perm);
        r->perm_epoch = s.epoch;
    }
    const int S = b->S, D = b->D, p = r->T > S ? 0 : r->o.crop_pad;
    const int range = r->T > S ? r->T - S : 2 * p;   // window offsets 0..range
    RngKey aug = rng_key(r->o.seed, RNG_AUGMENT);
    b->state = s;
    for (int k = 0; k < b->B; k++) {
        int64_t idx = r->perm[s.cursor + (int64_t)r->o.rank * b->B + k];
        int cap = reader_pick_caption(r->o.seed, s.epoch, idx, ds_text_count(r->ds, idx));
        b->index[k] = idx;
        b->caption[k] = cap;
        if (ds_read_image(r->ds, idx, r->pixels, e) || ds_read_emb(r->ds, idx, cap, b->text + (size_t)k * D, e))
            return -1;
        uint32_t o[4];
        rng_block(aug, (uint64_t)s.epoch, (uint64_t)idx, o);
        int ox = range ? (int)(o[0] % (uint32_t)(range + 1)) : 0, oy = range ? (int)(o[1] % (uint32_t)(range + 1)) : 0;
        int flip = r->o.flip ? (int)(o[2] >> 31) : 0;
        to_chw(b->images + (size_t)k * 3 * S * S, r->pixels, r->T, S, p, ox, oy, flip);
    }
    return 0;
}

static void *reader_main(void *arg) {
    Reader *r = arg;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);  // the error stack setting is per thread in thread-safe HDF5
    const int P = r->o.prefetch;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->stop && r->count == P) pthread_cond_wait(&r->space, &r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        Slot *slot = &r->slots[(r->head + r->count) % P];  // free slot: only this thread touches it now
        ReaderState s = r->filling;
        pthread_mutex_unlock(&r->mu);

        slot->rc = fill(r, s, &slot->b, &slot->err);

        pthread_mutex_lock(&r->mu);
        r->count++;
        r->filling = advance(r, s);
        if (slot->rc) r->failed = 1;
        pthread_cond_signal(&r->ready);
        int done = r->failed;
        pthread_mutex_unlock(&r->mu);
        if (done) return NULL;  // the consumer reports the error when it reaches this batch
    }
}

int reader_batch_alloc(ReaderBatch *b, const Reader *r) {
    const DsInfo *in = ds_info(r->ds);
    memset(b, 0, sizeof(*b));
    b->B = r->o.local_batch;
    b->S = r->S;
    b->D = in->embed_dim;
    b->images = malloc((size_t)b->B * 3 * b->S * b->S * sizeof(real));
    b->text = malloc((size_t)b->B * b->D * sizeof(real));
    b->index = malloc((size_t)b->B * sizeof(int64_t));
    b->caption = malloc((size_t)b->B * sizeof(int32_t));
    if (!b->images || !b->text || !b->index || !b->caption) {
        reader_batch_free(b);
        return -1;
    }
    return 0;
}

void reader_batch_free(ReaderBatch *b) {
    free(b->images);
    free(b->text);
    free(b->index);
    free(b->caption);
    memset(b, 0, sizeof(*b));
}

static void copy_batch(ReaderBatch *dst, const ReaderBatch *src) {
    memcpy(dst->images, src->images, (size_t)src->B * 3 * src->S * src->S * sizeof(real));
    memcpy(dst->text, src->text, (size_t)src->B * src->D * sizeof(real));
    memcpy(dst->index, src->index, (size_t)src->B * sizeof(int64_t));
    memcpy(dst->caption, src->caption, (size_t)src->B * sizeof(int32_t));
    dst->state = src->state;
}

static void reader_free(Reader *r) {
    if (r->slots)
        for (int i = 0; i < r->o.prefetch; i++) reader_batch_free(&r->slots[i].b);
    free(r->slots);
    free(r->perm);
    free(r->pixels);
    free(r);
}

int reader_open(Reader **out, Dataset *ds, const ReaderOptions *o, ReaderState start, Err *e) {
    *out = NULL;
    const DsInfo *in = ds_info(ds);
    if (o->world < 1 || o->rank < 0 || o->rank >= o->world)
        return err_set(e, "reader: rank %d of world %d is not a valid rank", o->rank, o->world);
    if (o->local_batch < 1) return err_set(e, "reader: local batch %d must be >= 1", o->local_batch);
    const int T = in->image_size, S = o->out_size ? o->out_size : T;
    if (S < 1 || S > T)
        return err_set(e, "reader: the %s images are stored at %dx%d, smaller than the %dx%d batches asked for "
                          "(model.image_size; hint: import with --size %d)", in->split, T, T, S, S, S);
    if (o->crop_pad < 0 || o->crop_pad > S)
        return err_set(e, "reader: crop padding %d outside 0..%d (data.random_crop)", o->crop_pad, S);
    if (o->crop_pad && T > S)
        return err_set(e, "reader: data.random_crop is %d, but the %s images are stored at %dx%d for a random "
                          "%dx%d crop already (upstream's augmentation): set data.random_crop=0", o->crop_pad,
                       in->split, T, T, S, S);
    int64_t global = (int64_t)o->local_batch * o->world;
    if (global > ds_size(ds))
        return err_set(e, "reader: global batch %lld (%d per rank x %d ranks) exceeds the %ld samples of split %s",
                       (long long)global, o->local_batch, o->world, ds_size(ds), in->split);
    if (start.epoch < 0 || start.cursor < 0)
        return err_set(e, "reader: saved state (epoch %lld, cursor %lld) is negative", (long long)start.epoch,
                       (long long)start.cursor);
    Reader *r = calloc(1, sizeof(*r));
    if (!r) return err_set(e, "reader: out of memory");
    r->ds = ds;
    r->o = *o;
    if (r->o.prefetch < 1) r->o.prefetch = 1;
    r->n = ds_size(ds);
    r->global = global;
    // A cursor saved with another world size may not fit a whole global batch any more: next epoch then.
    if (start.cursor + global > r->n) start = (ReaderState){start.epoch + 1, 0};
    r->taken = r->filling = start;
    r->perm_epoch = -1;
    r->T = T, r->S = S;
    r->perm = malloc((size_t)r->n * sizeof(int64_t));
    r->pixels = malloc((size_t)T * T * 3);
    r->slots = calloc((size_t)r->o.prefetch, sizeof(Slot));
    int bad = !r->perm || !r->pixels || !r->slots;
    for (int i = 0; !bad && i < r->o.prefetch; i++) bad = reader_batch_alloc(&r->slots[i].b, r);
    if (bad) {
        reader_free(r);
        return err_set(e, "reader: out of memory for %d prefetched batches", o->prefetch);
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->ready, NULL);
    pthread_cond_init(&r->space, NULL);
    if (pthread_create(&r->thread, NULL, reader_main, r)) {
        reader_free(r);
        return err_set(e, "reader: cannot start the prefetch thread");
    }
    *out = r;
    return 0;
}

int reader_next(Reader *r, ReaderBatch *b, Err *e) {
    pthread_mutex_lock(&r->mu);
    while (r->count == 0) pthread_cond_wait(&r->ready, &r->mu);
    Slot *slot = &r->slots[r->head];
    pthread_mutex_unlock(&r->mu);
    if (slot->rc) {  // the thread has stopped; keep the slot so later calls report the same error
        if (e) *e = slot->err;
        return -1;
    }
    copy_batch(b, &slot->b);
    pthread_mutex_lock(&r->mu);
    r->taken = advance(r, slot->b.state);
    r->head = (r->head + 1) % r->o.prefetch;
    r->count--;
    pthread_cond_signal(&r->space);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

ReaderState reader_state(const Reader *r) { return r->taken; }
int64_t reader_steps_per_epoch(const Reader *r) { return r->n / r->global; }

void reader_describe(const Reader *r, char *out, size_t n) {
    const char *flip = r->o.flip ? " + flip" : "";
    if (r->T > r->S)
        snprintf(out, n, "random %dx%d crop of %dx%d stored images%s", r->S, r->S, r->T, r->T, flip);
    else if (r->o.crop_pad)
        snprintf(out, n, "random %dx%d crop of the images edge-padded by %d px (data.random_crop)%s", r->S, r->S,
                 r->o.crop_pad, flip);
    else
        snprintf(out, n, "%s", r->o.flip ? "flip" : "none");
}

void reader_close(Reader *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->space);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->ready);
    pthread_cond_destroy(&r->space);
    reader_free(r);
}
