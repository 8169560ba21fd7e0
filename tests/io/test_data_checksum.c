// Checksums on dataset shards (issue 13 item 4): bytes flipped in the middle of a shard's image data
// or of its embedding data are an error naming the shard and the sample, in `ratlip data verify`
// (argv[1] = the ratlip binary), at ds_open / ds_read_* and through the prefetching reader. Shards
// written before checksums (no filter on the datasets) still read, and verify says they have none.
#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "data_fixture.h"
#include "io/reader.h"
#include "testutil.h"

static const char *ratlip;
static char root[64], outbuf[1 << 16];

// Runs `ratlip <args>` with stdout+stderr captured into outbuf; returns the exit status.
static int run(const char *args) { return tu_run_capture(ratlip, args, root, outbuf, sizeof outbuf); }

// File offset and size of the bytes of sample j of dataset name (its chunk, or its row of a
// contiguous dataset, as shards made before checksums have /text_emb).
static int sample_bytes(const char *path, const char *name, long j, haddr_t *off, hsize_t *size) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(d), sp = H5Dget_space(d);
    hsize_t dims[4] = {0};
    int r = H5Sget_simple_extent_dims(sp, dims, NULL);
    int rc = 0;
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t coord[4] = {(hsize_t)j, 0, 0, 0};
        unsigned mask;
        rc = H5Dget_chunk_info_by_coord(d, coord, &mask, off, size) < 0 ? -1 : 0;
    } else {
        hsize_t row = H5Tget_size(H5Dget_type(d));
        for (int k = 1; k < r; k++) row *= dims[k];
        *off = H5Dget_offset(d) + (haddr_t)(j * row);
        *size = row;
    }
    H5Sclose(sp);
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(f);
    return rc;
}

// XORs 5 bytes starting at off with 0x5a (the flip of issue 13's probe).
static void flip5(const char *path, haddr_t off) {
    int fd = open(path, O_RDWR);
    uint8_t b[5];
    TU_CHECK(fd >= 0 && pread(fd, b, 5, (off_t)off) == 5, "read %s", path);
    for (int k = 0; k < 5; k++) b[k] ^= 0x5a;
    TU_CHECK(pwrite(fd, b, 5, (off_t)off) == 5, "write %s", path);
    close(fd);
}

static void flip_sample(const char *path, const char *name, long j) {
    haddr_t off;
    hsize_t size;
    TU_CHECK(sample_bytes(path, name, j, &off, &size) == 0, "%s: no chunk for /%s sample %ld", path, name, j);
    flip5(path, off + size / 2 - 2);
}

// Does msg contain every string of want[] (NULL-terminated)?
static int has_all(const char *msg, const char *const *want) {
    for (int i = 0; want[i]; i++)
        if (!strstr(msg, want[i])) return 0;
    return 1;
}

// Rewrites every numeric dataset of shard path without filters: a shard as ratlip wrote it before
// checksums (images chunked one per chunk, the rest contiguous).
static void strip_checksums(const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    const char *names[4] = {"images", "text_emb", "text_count", "labels"};
    for (int i = 0; i < 4; i++) {
        hid_t d = H5Dopen2(f, names[i], H5P_DEFAULT);
        hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
        size_t bytes = H5Tget_size(t) * (size_t)H5Sget_simple_extent_npoints(sp);
        void *buf = malloc(bytes);
        TU_CHECK(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "%s: read /%s", path, names[i]);
        H5Dclose(d);
        H5Ldelete(f, names[i], H5P_DEFAULT);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (i == 0) {
            hsize_t dims[4], chunk[4];
            H5Sget_simple_extent_dims(sp, dims, NULL);
            for (int k = 0; k < 4; k++) chunk[k] = k ? dims[k] : 1;
            H5Pset_chunk(dcpl, 4, chunk);
        }
        d = H5Dcreate2(f, names[i], t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        TU_CHECK(d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "%s: write /%s", path, names[i]);
        H5Dclose(d);
        H5Pclose(dcpl);
        H5Sclose(sp);
        H5Tclose(t);
        free(buf);
    }
    H5Fclose(f);
}

static int has_fletcher(const char *path, const char *name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(d);
    unsigned flags, cd[4];
    size_t ncd = 4;
    int yes = H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &ncd, cd, 0, NULL, NULL) >= 0;
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(f);
    return yes;
}

enum { S = 8, K = 2, D = 4 };  // the fixtures: S x S images, K captions, D-d embeddings

// A fresh two-shard training split of 10 samples in root/name.
static void fixture(char *dir, size_t size, const char *name) {
    snprintf(dir, size, "%s/%s", root, name);
    mkdir(dir, 0777);
    TU_CHECK(fx_write(dir, "train", 2, 10, S, K, D, "enc") == 0, "fixture %s", name);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: io_data_checksum path/to/ratlip\n"); return 2; }
    ratlip = argv[1];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(root, sizeof(root), "/tmp/ratlip_test_cksumXXXXXX");
    if (!mkdtemp(root)) return 1;
    char dir[256], sh0[4096], sh1[4096], args[4400];
    Err e = {{0}};
    Dataset *ds = NULL;

    // a fresh shard carries Fletcher-32 on every numeric dataset, and verify says so
    fixture(dir, sizeof(dir), "good");
    ds_shard_path(sh0, sizeof(sh0), dir, "train", 0, 2);
    for (const char *n = "images\0text_emb\0text_count\0labels\0"; *n; n += strlen(n) + 1)
        TU_CHECK(has_fletcher(sh0, n), "%s: /%s has no Fletcher-32 filter", sh0, n);
    snprintf(args, sizeof(args), "data verify %s", dir);
    TU_CHECK(run(args) == 0 && strstr(outbuf, "Fletcher-32"), "verify of a good dataset: %s", outbuf);
    printf("verify good      -> %s", outbuf);

    // image data: sample 3 of shard 1 (dataset index 5 + 3 = 8)
    fixture(dir, sizeof(dir), "img");
    ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
    flip_sample(sh1, "images", 3);
    const char *want_img[] = {sh1, "/images", "sample 3", "checksum", NULL};
    snprintf(args, sizeof(args), "data verify %s", dir);
    TU_CHECK(run(args) == 1 && has_all(outbuf, want_img), "verify of flipped image bytes: %s", outbuf);
    printf("verify image     -> %s", outbuf);
    if (ds_open(&ds, dir, "train", &e) == 0) {
        uint8_t px[8 * 8 * 3];
        TU_CHECK(ds_read_image(ds, 7, px, &e) == 0 && px[5] == fx_byte(7, 5), "undamaged sample 7: %s", e.msg);
        e.msg[0] = 0;
        TU_CHECK(ds_read_image(ds, 8, px, &e) == -1 && has_all(e.msg, want_img), "damaged sample 8 read: '%s'",
                 e.msg);
        printf("read image       -> %s\n", e.msg);
        // the reader thread hits it within the first epoch (batch = the whole split) and says so
        ReaderOptions o = {.seed = 1, .rank = 0, .world = 1, .local_batch = 10, .prefetch = 1};
        Reader *r;
        if (reader_open(&r, ds, &o, (ReaderState){0, 0}, &e) == 0) {
            ReaderBatch b;
            reader_batch_alloc(&b, r);
            e.msg[0] = 0;
            TU_CHECK(reader_next(r, &b, &e) == -1 && has_all(e.msg, want_img), "reader: '%s'", e.msg);
            printf("reader image     -> %s\n", e.msg);
            reader_batch_free(&b);
            reader_close(r);
        } else {
            TU_CHECK(0, "reader_open: %s", e.msg);
        }
        ds_close(ds);
    } else {
        TU_CHECK(0, "ds_open with a damaged image (images are checked as read): %s", e.msg);
    }

    // embedding data: sample 2 of shard 0. ds_open scans all embeddings, so opening fails already.
    fixture(dir, sizeof(dir), "emb");
    ds_shard_path(sh0, sizeof(sh0), dir, "train", 0, 2);
    flip_sample(sh0, "text_emb", 2);
    const char *want_emb[] = {sh0, "/text_emb", "sample 2", "checksum", NULL};
    snprintf(args, sizeof(args), "data verify %s", dir);
    TU_CHECK(run(args) == 1 && has_all(outbuf, want_emb), "verify of flipped embedding bytes: %s", outbuf);
    printf("verify emb       -> %s", outbuf);
    e.msg[0] = 0;
    TU_CHECK(ds_open(&ds, dir, "train", &e) == -1 && has_all(e.msg, want_emb), "open, damaged emb: '%s'", e.msg);
    printf("open emb         -> %s\n", e.msg);

    // /text_count (one chunk per shard): the error names the sample range of the chunk
    fixture(dir, sizeof(dir), "count");
    ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
    flip_sample(sh1, "text_count", 0);
    const char *want_cnt[] = {sh1, "/text_count", "samples 0..4", "checksum", NULL};
    e.msg[0] = 0;
    TU_CHECK(ds_open(&ds, dir, "train", &e) == -1 && has_all(e.msg, want_cnt), "open, damaged count: '%s'", e.msg);
    printf("open text_count  -> %s\n", e.msg);

    // the probe of issue 13 as a user meets it: 5 bytes in the middle of a synthetic 64x64 shard
    snprintf(dir, sizeof(dir), "%s/synth", root);
    snprintf(args, sizeof(args), "data synth --out %s --size 64 --train 12 --test 0", dir);
    TU_CHECK(run(args) == 0, "synth: %s", outbuf);
    ds_shard_path(sh0, sizeof(sh0), dir, "train", 0, 1);
    struct stat st;
    TU_CHECK(stat(sh0, &st) == 0, "stat %s", sh0);
    haddr_t mid = (haddr_t)st.st_size / 2;
    long hit = -1;
    for (long j = 0; j < 12; j++) {  // which image holds the middle of the file?
        haddr_t off;
        hsize_t size;
        if (!sample_bytes(sh0, "images", j, &off, &size) && mid >= off && mid + 5 <= off + size) hit = j;
    }
    TU_CHECK(hit >= 0, "the middle of %s is not image data", sh0);
    flip5(sh0, mid);
    char sample[32];
    snprintf(sample, sizeof(sample), "sample %ld", hit);
    snprintf(args, sizeof(args), "data verify %s", dir);
    TU_CHECK(run(args) == 1 && strstr(outbuf, sh0) && strstr(outbuf, sample), "verify, middle of the shard: %s",
             outbuf);
    printf("verify middle    -> %s", outbuf);

    // shards made before checksums: still read, every value intact; verify says there are none
    fixture(dir, sizeof(dir), "old");
    for (int s = 0; s < 2; s++) {
        ds_shard_path(sh0, sizeof(sh0), dir, "train", s, 2);
        strip_checksums(sh0);
        TU_CHECK(!has_fletcher(sh0, "images") && !has_fletcher(sh0, "text_emb"), "strip %s", sh0);
    }
    if (ds_open(&ds, dir, "train", &e) == 0) {
        int bad = 0;
        uint8_t px[8 * 8 * 3];
        float emb[4];
        for (long i = 0; i < 10; i++) {
            bad += ds_read_image(ds, i, px, &e) != 0;
            for (int p = 0; p < S * S * 3; p++) bad += px[p] != fx_byte(i, p);
            bad += ds_read_emb(ds, i, 0, emb, &e) != 0;
            for (int d = 0; d < D; d++) bad += emb[d] != fx_emb(i, 0, d);
            bad += ds_text_count(ds, i) != 1 + (int)(i % K) || ds_labels(ds, i)[0] != i;
        }
        TU_CHECK(bad == 0, "old shards: %d wrong values", bad);
        TU_CHECK(ds_num_checksummed(ds) == 0, "old shards counted as checksummed");
        ds_close(ds);
    } else {
        TU_CHECK(0, "old shards do not open: %s", e.msg);
    }
    snprintf(args, sizeof(args), "data verify %s", dir);
    TU_CHECK(run(args) == 0 && strstr(outbuf, "no checksums (made before"), "verify of old shards: %s", outbuf);
    printf("verify old       -> %s", outbuf);

    fx_rmdir(root);
    return tu_done("io_data_checksum");
}
