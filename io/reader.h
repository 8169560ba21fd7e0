// reader: the training batch stream over a Dataset. For (seed, epoch) it builds one global permutation of
// the dataset (Philox keyed by (seed, RNG_DATA_ORDER), counter (epoch, i)): it does not depend on the
// number of ranks. Global batch = local_batch x world; rank r takes permutation positions
// [cursor + r*B, cursor + (r+1)*B) of each global batch; an epoch ends when fewer than a global batch of
// samples remain (drop_last). For each sample (dataset index i) it picks one caption
// k = Philox(seed, RNG_CAPTION)(epoch, i) mod text_count[i] and, when asked, a crop offset and a flip from
// Philox(seed, RNG_AUGMENT)(epoch, i) = o[0..3]: offsets o[0], o[1] mod (range + 1), flip = o[2] >> 31. So
// sample i gets the same caption and augmentation in an epoch whichever rank reads it.
// Upstream's augmentation (AttnGAN/DF-GAN/GALIP/RATLIP): the train split stored at T > S (e.g. 304 for a
// 256 model, `data import --train-size`) and each sample a random SxS window of it, offsets in [0, T-S],
// then the flip. A split stored at S keeps the edge-padded jitter (data.random_crop) and the flip.
// A background pthread keeps the next `prefetch` batches ready, reading one image per H5Dread.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/real.h"
#include "io/dataset.h"

// Position in the stream: the next batch starts at permutation position `cursor` of `epoch`.
// Saved in checkpoints; reopening a reader at a saved state continues with the identical batches.
typedef struct {
    int64_t epoch;
    int64_t cursor;
} ReaderState;

typedef struct {
    uint64_t seed;
    int rank, world;       // 0 <= rank < world
    int local_batch;       // B, samples per rank per step
    int prefetch;          // batches kept ready by the thread (>= 1)
    int out_size;          // S, the side of the batch images (model.image_size); 0 = the stored side T.
                           // T > S: each sample is a random SxS window of the stored TxT image
    int crop_pad;          // random crop when T == S: the image is edge-padded by crop_pad pixels on each
                           // side and an SxS window taken at a random offset (0 = no crop; T > S: must be 0)
    int flip;              // random horizontal flip with probability 1/2
} ReaderOptions;

typedef struct {
    int B, S, D;
    real *images;          // [B,3,S,S], pixel/127.5 - 1 in [-1,1]
    real *text;            // [B,D] embedding of the chosen caption
    int64_t *index;        // [B] dataset sample indices
    int32_t *caption;      // [B] chosen caption of each sample
    ReaderState state;     // where this batch started
} ReaderBatch;

typedef struct Reader Reader;

// ds must stay open while the reader lives; the reader (its thread) is then ds's only user.
int reader_open(Reader **out, Dataset *ds, const ReaderOptions *o, ReaderState start, Err *e);
// Blocks until the next batch is ready and copies it into b (allocated by reader_batch_alloc).
// An error of the thread (unreadable image, NaN embedding) is returned here, naming file and dataset.
int reader_next(Reader *r, ReaderBatch *b, Err *e);
// The state to save: where the batch after the last one returned by reader_next starts.
ReaderState reader_state(const Reader *r);
int64_t reader_steps_per_epoch(const Reader *r);
// The augmentation in words, for the start-up line: "random 256x256 crop of 304x304 stored images + flip".
void reader_describe(const Reader *r, char *out, size_t n);
void reader_close(Reader *r);

int reader_batch_alloc(ReaderBatch *b, const Reader *r);
void reader_batch_free(ReaderBatch *b);

// The pure pieces, for tests and tools.
void reader_permutation(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm);
int reader_pick_caption(uint64_t seed, int64_t epoch, int64_t index, int count);
