// fuzz_shard: an HDF5 file's bytes -> a dataset, the way `ratlip data verify` and the training reader
// see a shard (io/dataset.h): the bytes become <scratch>/train-00000-of-00001.h5, then ds_open (every
// attribute, dtype, shape, text_count and finiteness check), ds_check_images (verify), and one
// sample read in full: image, every caption's embedding and text, labels. Checks: a refused shard
// has an error naming the file; an opened one has a sane geometry; nothing is left open in HDF5,
// whichever way it went.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("train-00000-of-00001.h5", data, size);
    char shard[4400];
    snprintf(shard, sizeof shard, "%s", path);
    Dataset *ds = NULL;
    Err e = {{0}};
    if (ds_open(&ds, fuzz_dir(), "train", &e)) {
        FUZZ_CHECK(ds == NULL, "ds_open failed but returned a dataset");
        fuzz_check_err(&e, shard);
        fuzz_check_h5_closed("a failed ds_open");
        return 0;
    }
    const DsInfo *info = ds_info(ds);
    const long n = ds_size(ds);
    const int S = info->image_size, K = info->n_captions, D = info->embed_dim;
    FUZZ_CHECK(S > 0 && K > 0 && D > 0 && n >= 0 && info->label_dim >= 0 && info->label_dim <= DS_MAX_LABELS,
               "opened with S=%d K=%d D=%d n=%ld L=%d", S, K, D, n, info->label_dim);
    FUZZ_CHECK(!strcmp(info->split, "train"), "split '%s' accepted for a train shard", info->split);
    if (ds_check_images(ds, &e)) fuzz_check_err(&e, shard);
    if (n > 0) {
        long i = n - 1;   // the last sample: the edge of every dataset
        uint8_t *img = malloc((size_t)S * S * 3);
        real *emb = malloc((size_t)D * sizeof(real));
        char cap[1024];
        FUZZ_CHECK(img && emb, "out of memory for S=%d D=%d", S, D);
        if (ds_read_image(ds, i, img, &e)) fuzz_check_err(&e, shard);
        int count = ds_text_count(ds, i);
        FUZZ_CHECK(count >= 1 && count <= K, "text_count %d outside 1..%d passed ds_open", count, K);
        for (int k = 0; k < K; k++) {
            if (ds_read_emb(ds, i, k, emb, &e)) fuzz_check_err(&e, shard);
            if (ds_read_caption(ds, i, k, cap, sizeof cap, &e)) fuzz_check_err(&e, shard);
            else FUZZ_CHECK(memchr(cap, 0, sizeof cap) != NULL, "caption not terminated");
        }
        const int32_t *lab = ds_labels(ds, i);
        FUZZ_CHECK((lab != NULL) == (info->label_dim > 0), "labels %p with label_dim %d", (const void *)lab,
                   info->label_dim);
        for (int j = 0; j < info->label_dim; j++) fuzz_sink += (unsigned)lab[j];
        free(img);
        free(emb);
    }
    ds_close(ds);
    fuzz_check_h5_closed("ds_close");
    return 0;
}
