// dataset shards: write -> read round trip gives identical bytes of images, embeddings, captions,
// counts and labels; a killed writer leaves only a .tmp that the reader ignores.
#include <unistd.h>
#include "data_fixture.h"
#include "testutil.h"

int main(void) {
    char dir[] = "/tmp/ratlip_test_dsXXXXXX";
    if (!mkdtemp(dir)) return 1;
    const int S = 16, K = 3, D = 8;
    const long N = 23;
    TU_CHECK(fx_write(dir, "train", 3, N, S, K, D, "enc-x") == 0, "write train");
    TU_CHECK(fx_write(dir, "test", 1, 5, S, K, D, "enc-x") == 0, "write test");
    // an unfinished shard (writer killed before close) is a .tmp file: not picked up
    DsInfo info = {.split = "train", .image_size = S, .n_captions = K, .embed_dim = D, .text_encoder = "enc-x"};
    char path[4096];
    Err e;
    ds_shard_path(path, sizeof(path), dir, "train", 0, 1);
    DsWriter *w = ds_writer_open(path, &info, 4, &e);
    TU_CHECK(w != NULL, "open extra writer: %s", e.msg);

    Dataset *ds;
    if (ds_open(&ds, dir, "train", &e)) {
        TU_CHECK(0, "ds_open: %s", e.msg);
        return tu_done("io_dataset");
    }
    TU_CHECK(ds_size(ds) == N && ds_num_shards(ds) == 3, "size %ld shards %d", ds_size(ds), ds_num_shards(ds));
    const DsInfo *in = ds_info(ds);
    TU_CHECK(in->image_size == S && in->n_captions == K && in->embed_dim == D && in->label_dim == 2 &&
                 !strcmp(in->text_encoder, "enc-x") && !strcmp(in->split, "train"), "info");
    uint8_t img[16 * 16 * 3];
    float emb[8];
    long bad_img = 0, bad_emb = 0, bad_cap = 0, bad_meta = 0;
    for (long i = 0; i < N; i++) {
        if (ds_read_image(ds, i, img, &e)) { TU_CHECK(0, "%s", e.msg); break; }
        for (long p = 0; p < S * S * 3; p++) bad_img += img[p] != fx_byte(i, p);
        int count = 1 + (int)(i % K);
        bad_meta += ds_text_count(ds, i) != count;
        bad_meta += ds_labels(ds, i)[0] != i || ds_labels(ds, i)[1] != -i;
        for (int k = 0; k < K; k++) {
            if (ds_read_emb(ds, i, k, emb, &e)) { TU_CHECK(0, "%s", e.msg); break; }
            for (int d = 0; d < D; d++) bad_emb += memcmp(&emb[d], &(float){k < count ? fx_emb(i, k, d) : 0.0f}, 4) != 0;
            char cap[64], want[64] = "";
            if (k < count) snprintf(want, sizeof(want), "caption %d of image %ld", k, i);
            TU_CHECK(ds_read_caption(ds, i, k, cap, sizeof(cap), &e) == 0, "caption read");
            bad_cap += strcmp(cap, want) != 0;
        }
    }
    TU_CHECK(bad_img == 0, "%ld image bytes differ", bad_img);
    TU_CHECK(bad_emb == 0, "%ld embedding values differ (or padding rows not zero)", bad_emb);
    TU_CHECK(bad_cap == 0, "%ld captions differ", bad_cap);
    TU_CHECK(bad_meta == 0, "%ld counts/labels differ", bad_meta);
    printf("round trip of %ld samples in 3 shards: %ld image bytes, %ld embedding values differ\n", N, bad_img, bad_emb);
    TU_CHECK(ds_check_images(ds, &e) == 0, "check images: %s", e.msg);
    TU_CHECK(ds_read_image(ds, N, img, &e) == -1, "index N must fail");
    ds_close(ds);
    ds_writer_abort(w);
    snprintf(path, sizeof(path), "%s/train-00000-of-00001.h5.tmp", dir);
    TU_CHECK(access(path, F_OK) != 0, "abort left the .tmp behind");
    if (ds_open(&ds, dir, "test", &e) == 0) {
        TU_CHECK(ds_size(ds) == 5, "test split size %ld", ds_size(ds));
        ds_close(ds);
    } else {
        TU_CHECK(0, "open test: %s", e.msg);
    }
    fx_rmdir(dir);
    return tu_done("io_dataset");
}
