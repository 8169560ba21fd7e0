// bad dataset input: each case returns an error naming the file and the dataset/attribute, no crash.
// Cases: missing directory, no shards, missing shard, missing dataset, wrong dtype, wrong shape, shards
// that disagree, truncated file, NaN in embeddings, file that is
// not an image, damaged PNG.
#include <hdf5.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include "data_fixture.h"
#include "io/image.h"
#include "io/reader.h"
#include "testutil.h"

static char root[64];

// A fresh dir with a good 2-shard train split; returns its path in out.
static void fresh(const char *name, char *out, size_t n) {
    snprintf(out, n, "%s/%s", root, name);
    mkdir(out, 0777);
    if (fx_write(out, "train", 2, 10, 8, 2, 4, "enc")) exit(1);
}

// ds_open must fail with a message containing every string in want[] (NULL-terminated).
static void expect_open_error(const char *what, const char *dir, const char *const *want) {
    Dataset *ds = NULL;
    Err e = {{0}};
    int rc = ds_open(&ds, dir, "train", &e);
    TU_CHECK(rc == -1 && ds == NULL, "%s: ds_open succeeded", what);
    for (int i = 0; want[i]; i++) TU_CHECK(strstr(e.msg, want[i]) != NULL, "%s: '%s' not in: %s", what, want[i], e.msg);
    printf("%-18s -> %s\n", what, e.msg);
    if (!rc) ds_close(ds);
}

static hid_t open_rw(const char *dir, int shard) {
    char p[4096];
    ds_shard_path(p, sizeof(p), dir, "train", shard, 2);
    return H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
}

// Replaces dataset name of shard 1 by one of dtype t and shape dims.
static void replace_dataset(const char *dir, const char *name, hid_t t, int rank, const hsize_t *dims) {
    hid_t f = open_rw(dir, 1);
    H5Ldelete(f, name, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(root, sizeof(root), "/tmp/ratlip_test_faultsXXXXXX");
    if (!mkdtemp(root)) return 1;
    char dir[256], sh1[4096];

    snprintf(dir, sizeof(dir), "%s/nonexistent", root);
    expect_open_error("missing directory", dir, (const char *[]){dir, "cannot open dataset directory", NULL});
    snprintf(dir, sizeof(dir), "%s/empty", root);
    mkdir(dir, 0777);
    expect_open_error("no shards", dir, (const char *[]){dir, "no train shards", NULL});

    fresh("missing_shard", dir, sizeof(dir));
    ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
    unlink(sh1);
    expect_open_error("missing shard", dir, (const char *[]){"train-00001-of-00002.h5", "missing", NULL});

    fresh("missing_dataset", dir, sizeof(dir));
    hid_t f = open_rw(dir, 1);
    H5Ldelete(f, "text_emb", H5P_DEFAULT);
    H5Fclose(f);
    ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
    expect_open_error("missing dataset", dir, (const char *[]){sh1, "/text_emb", "missing", NULL});

    fresh("wrong_dtype", dir, sizeof(dir));
    replace_dataset(dir, "images", H5T_IEEE_F32LE, 4, (hsize_t[]){5, 8, 8, 3});
    ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
    expect_open_error("wrong dtype", dir, (const char *[]){sh1, "/images", "dtype", "uint8", NULL});

    fresh("wrong_shape", dir, sizeof(dir));
    replace_dataset(dir, "text_emb", H5T_IEEE_F32LE, 3, (hsize_t[]){5, 2, 3});
    ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
    expect_open_error("wrong shape", dir, (const char *[]){sh1, "/text_emb", "shape", "[5,2,4]", NULL});

    fresh("wrong_count_dtype", dir, sizeof(dir));
    replace_dataset(dir, "text_count", H5T_STD_I64LE, 1, (hsize_t[]){5});
    ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
    expect_open_error("wrong dtype (i64)", dir, (const char *[]){sh1, "/text_count", "int32", NULL});

    // shards that disagree: shard 1 rewritten from a dataset with another image size
    fresh("disagree", dir, sizeof(dir));
    {
        char other[256];
        snprintf(other, sizeof(other), "%s/other", root);
        mkdir(other, 0777);
        fx_write(other, "train", 2, 10, 16, 2, 4, "enc");
        char src[4096];
        ds_shard_path(src, sizeof(src), other, "train", 1, 2);
        ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
        TU_CHECK(rename(src, sh1) == 0, "rename");
    }
    expect_open_error("shards disagree", dir, (const char *[]){sh1, "image_size", "disagrees", NULL});
    fresh("disagree_enc", dir, sizeof(dir));
    {
        hid_t g = open_rw(dir, 1);
        H5Adelete(g, "text_encoder");
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, 5);
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(g, "text_encoder", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, t, "clip");
        H5Aclose(a);
        H5Sclose(sp);
        H5Tclose(t);
        H5Fclose(g);
    }
    ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
    expect_open_error("encoders disagree", dir, (const char *[]){sh1, "text_encoder", "disagrees", NULL});

    fresh("truncated", dir, sizeof(dir));
    ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
    {
        struct stat st;
        stat(sh1, &st);
        TU_CHECK(truncate(sh1, st.st_size / 2) == 0, "truncate");
    }
    expect_open_error("truncated file", dir, (const char *[]){sh1, "cannot open as HDF5", NULL});

    fresh("nan", dir, sizeof(dir));
    {
        hid_t g = open_rw(dir, 1);
        hid_t d = H5Dopen2(g, "text_emb", H5P_DEFAULT);
        hid_t fs = H5Dget_space(d);
        hsize_t start[3] = {3, 1, 2}, cnt[3] = {1, 1, 1};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
        hid_t ms = H5Screate_simple(1, cnt, NULL);
        float nan = NAN;
        H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &nan);
        H5Sclose(ms);
        H5Sclose(fs);
        H5Dclose(d);
        H5Fclose(g);
    }
    ds_shard_path(sh1, sizeof(sh1), dir, "train", 1, 2);
    expect_open_error("NaN embedding", dir, (const char *[]){sh1, "/text_emb", "non-finite", "sample 3", NULL});

    // not an image / damaged image
    {
        char p[512];
        snprintf(p, sizeof(p), "%s/notimage.png", root);
        FILE *t = fopen(p, "w");
        fputs("this is text, not a picture\n", t);
        fclose(t);
        int w, h;
        uint8_t *rgb = NULL;
        Err e;
        TU_CHECK(image_load(p, &w, &h, &rgb, &e) == -1 && strstr(e.msg, p) && strstr(e.msg, "not an image") && !rgb,
                 "text file accepted as image: %s", e.msg);
        printf("%-18s -> %s\n", "not an image", e.msg);
        snprintf(p, sizeof(p), "%s/damaged.png", root);
        t = fopen(p, "wb");
        fwrite("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 1, 16, t);  // a PNG signature, then the file ends
        fclose(t);
        TU_CHECK(image_load(p, &w, &h, &rgb, &e) == -1 && strstr(e.msg, p) && !rgb, "damaged PNG accepted");
        printf("%-18s -> %s\n", "damaged PNG", e.msg);
        snprintf(p, sizeof(p), "%s/damaged.jpg", root);
        t = fopen(p, "wb");
        fwrite("\xff\xd8\xff\xe0\0\x10JFIF\0", 1, 11, t);
        fclose(t);
        TU_CHECK(image_load(p, &w, &h, &rgb, &e) == -1 && strstr(e.msg, p) && !rgb, "damaged JPEG accepted");
        printf("%-18s -> %s\n", "damaged JPEG", e.msg);
    }
    fx_rmdir(root);
    return tu_done("io_data_faults");
}
