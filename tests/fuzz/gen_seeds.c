// gen_seeds: writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/) with the
// program's own writers (ds_writer_*, ckpt_save, config_to_json) and libpng / libjpeg-turbo, so the
// seeds are the files ratlip really makes: a few small valid ones per target and near-valid ones (cut
// short, a flipped byte). Run by hand when a format changes:
//   build-fuzz/gen_seeds tests/fuzz/corpus
// The corpus is checked in. Reproducers of what the fuzzers found are written here as small crafted
// files (regress-*) where the API can make them; where it cannot, the fuzzer's input itself is kept
// beside the seeds (ckpt/regress-scalar-chunked.h5, shard/regress-labels-columns.h5). Every run
// replays them all.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jpeglib.h>
#include <png.h>
#include "fuzz_util.h"
#include "io/ckpt.h"
#include "io/config.h"
#include "io/dataset.h"
#include "io/fs.h"
#include "io/h5util.h"

static const char *root;

static void die(const char *what, const char *msg) {
    fprintf(stderr, "gen_seeds: %s: %s\n", what, msg);
    exit(1);
}

static void out_path(char *p, size_t n, const char *target, const char *name) {
    snprintf(p, n, "%s/%s/%s", root, target, name);
}

static void put(const char *target, const char *name, const void *data, size_t n) {
    char p[4096];
    out_path(p, sizeof p, target, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f)) die(p, "cannot write");
}

static unsigned char *slurp(const char *p, size_t *n) {
    Err e;
    unsigned char *b = (unsigned char *)fs_read_all(p, 0, n, &e);
    if (!b) die(p, e.msg);
    return b;
}

// Near-valid variants of a seed: a cut-off copy (the first half, at most 4 KiB: the corpus stays small)
// and, with flip, one byte flipped at 60%.
static void variants(const char *target, const char *name, int flip) {
    char p[4096], v[300];
    out_path(p, sizeof p, target, name);
    size_t n;
    unsigned char *b = slurp(p, &n);
    snprintf(v, sizeof v, "cut-%s", name);
    put(target, v, b, n / 2 < 4096 ? n / 2 : 4096);
    if (flip) {
        b[n * 6 / 10] ^= 0x5a;
        snprintf(v, sizeof v, "flip-%s", name);
        put(target, v, b, n);
    }
    free(b);
}

// ---- config ----

static void config_seeds(void) {
    Config c;
    config_defaults(&c);
    char *j = config_to_json(&c);
    put("config", "tiny.json", j, strlen(j));
    free(j);
    static const struct { const char *name, *text; } s[] = {
        {"small.json", "{\"name\": \"x\", \"model\": {\"g_channels\": [8, 8, 4], \"g_sizes\": [8, 16]},\n"
                       " \"train\": {\"lr_g\": 1e-4, \"steps\": 10, \"seed\": -1}, \"data\": {\"dir\": \"d\"}}\n"},
        {"unknown-key.json", "{\"train\": {\"batch_per_rnk\": 3}, \"modle\": {}}"},
        {"types.json", "{\"model\": {\"sync_bn\": 1, \"rat_mode\": 5}, \"dist\": {\"timeout_s\": \"1\"}}"},
        {"huge.json", "{\"train\": {\"steps\": 9.0e15, \"lr_d\": 1e308, \"batch_per_rank\": 2147483648},"
                      " \"eval\": {\"n_samples\": -0.0}}"},
        {"deep.json", "{\"model\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"},
        {"cut.json", "{\"model\": {\"image_size\": 6"},
        {"trailing.json", "{} {}"},
        {"sets.txt", "train.steps=5\nmodel.g_channels=[8,8]\nmodel.g_sizes=[8]\nname=\"q\"\ndata.random_flip=false\n"},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) put("config", s[i].name, s[i].text, strlen(s[i].text));
}

// ---- images ----

static void pixels(uint8_t *p, int w, int h, int c) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) p[(y * w + x) * c + k] = (uint8_t)(x * 37 + y * 11 + k * 80);
}

static void png_seed(const char *name, int w, int h, png_uint_32 format) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = format;
    uint8_t cmap[256 * 3];
    if (format & PNG_FORMAT_FLAG_COLORMAP) {
        im.colormap_entries = 4;
        pixels(cmap, 4, 1, 3);
    }
    size_t n = PNG_IMAGE_SIZE(im);
    uint8_t *buf = malloc(n);
    if (format & PNG_FORMAT_FLAG_COLORMAP)
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(i % 4);
    else pixels(buf, (int)(n / (size_t)h), h, 1);
    char p[4096];
    out_path(p, sizeof p, "image", name);
    if (!png_image_write_to_file(&im, p, 0, buf, 0, (format & PNG_FORMAT_FLAG_COLORMAP) ? cmap : NULL))
        die(p, im.message);
    free(buf);
}

static void jpeg_seed(const char *name, int w, int h, J_COLOR_SPACE cs, int comps, int progressive) {
    char p[4096];
    out_path(p, sizeof p, "image", name);
    FILE *f = fopen(p, "wb");
    if (!f) die(p, "cannot create");
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 80, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t *row = malloc((size_t)w * comps);
    while (c.next_scanline < c.image_height) {
        pixels(row, w, 1, comps);
        row[0] = (uint8_t)c.next_scanline;
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    fclose(f);
}

static void image_seeds(void) {
    png_seed("rgb.png", 7, 5, PNG_FORMAT_RGB);
    png_seed("grey.png", 3, 9, PNG_FORMAT_GRAY);
    png_seed("rgba.png", 4, 4, PNG_FORMAT_RGBA);
    png_seed("grey16-alpha.png", 5, 3, PNG_FORMAT_LINEAR_Y_ALPHA);
    png_seed("palette.png", 6, 2, PNG_FORMAT_RGB_COLORMAP);
    jpeg_seed("rgb.jpg", 17, 9, JCS_RGB, 3, 0);
    jpeg_seed("grey.jpg", 8, 8, JCS_GRAYSCALE, 1, 0);
    jpeg_seed("progressive.jpg", 10, 12, JCS_RGB, 3, 1);
    jpeg_seed("cmyk.jpg", 8, 8, JCS_CMYK, 4, 0);
    variants("image", "rgb.png", 1);
    variants("image", "rgb.jpg", 1);
}

// ---- dataset shards ----

static void shard_seed(const char *name, long n, int S, int K, int D, int L) {
    char p[4096];
    out_path(p, sizeof p, "shard", name);
    DsInfo info = {.image_size = S, .n_captions = K, .embed_dim = D, .label_dim = L};
    snprintf(info.split, sizeof info.split, "train");
    snprintf(info.text_encoder, sizeof info.text_encoder, "bow");
    Err e;
    DsWriter *w = ds_writer_open(p, &info, n, &e);
    if (!w) die(p, e.msg);
    uint8_t *img = malloc((size_t)S * S * 3);
    float *emb = malloc((size_t)K * D * sizeof(float));
    for (long i = 0; i < n; i++) {
        pixels(img, S, S, 3);
        img[0] = (uint8_t)i;
        for (int j = 0; j < K * D; j++) emb[j] = 0.25f * (float)j - (float)i;
        const char *caps[4] = {"a red square", "on grey \xc3\xa9t\xc3\xa9", "", "x"};
        int32_t labels[DS_MAX_LABELS] = {(int32_t)i, 2, 3};
        int count = (int)(i % K) + 1;
        if (ds_writer_put(w, i, img, emb, count, caps, labels, &e)) die(p, e.msg);
    }
    if (ds_writer_close(w, &e)) die(p, e.msg);
    free(img);
    free(emb);
}

// One dataset of a crafted shard: contiguous, or chunked one sample per chunk; never written, so reads
// give the fill value (fill != NULL: that int32 value, stored in the file).
static void craft_dataset(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims, int chunked,
                          const int32_t *fill) {
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) {
        hsize_t chunk[4] = {1, dims[1], rank > 2 ? dims[2] : 1, rank > 3 ? dims[3] : 1};
        H5Pset_chunk(dcpl, rank, chunk);
    }
    if (fill) H5Pset_fill_value(dcpl, H5T_NATIVE_INT32, fill);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0) die(name, "cannot create the dataset");
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
}

// A shard whose attributes and shapes agree but whose data was never stored: n samples of S x S
// images, K captions of D floats each; /text_count reads 1 everywhere (its fill value).
static void shard_craft(const char *name, hsize_t n, int S, int K, int D) {
    char p[4096];
    out_path(p, sizeof p, "shard", name);
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) die(p, "cannot create");
    h5u_attr_write_i64(f, "format_version", DS_FORMAT_VERSION);
    h5u_attr_write_i64(f, "image_size", S);
    h5u_attr_write_i64(f, "embed_dim", D);
    h5u_attr_write_i64(f, "n_captions", K);
    h5u_attr_write_str(f, "text_encoder", "bow");
    h5u_attr_write_str(f, "split", "train");
    hid_t vs = H5Tcopy(H5T_C_S1);
    H5Tset_size(vs, H5T_VARIABLE);
    H5Tset_cset(vs, H5T_CSET_UTF8);
    const int32_t one = 1;
    craft_dataset(f, "images", H5T_STD_U8LE, 4, (hsize_t[]){n, (hsize_t)S, (hsize_t)S, 3}, n > 0, NULL);
    craft_dataset(f, "text_emb", H5T_IEEE_F32LE, 3, (hsize_t[]){n, (hsize_t)K, (hsize_t)D}, 0, NULL);
    craft_dataset(f, "captions", vs, 2, (hsize_t[]){n, (hsize_t)K}, 0, NULL);
    craft_dataset(f, "text_count", H5T_STD_I32LE, 1, (hsize_t[]){n}, 0, &one);
    H5Tclose(vs);
    if (H5Fclose(f) < 0) die(p, "cannot close");
}

static void shard_seeds(void) {
    shard_seed("labels.h5", 2, 4, 2, 3, 2);
    shard_seed("plain.h5", 1, 2, 1, 2, 0);
    variants("shard", "plain.h5", 0);   // no flipped copy: regress-labels-columns.h5 is one
    // regressions: a 7 KB shard claiming 2^26 samples (verify read fill values for minutes), and an
    // empty one whose K x D per sample overflowed the reader's block size (signed overflow)
    shard_craft("regress-huge-unstored.h5", (hsize_t)1 << 26, 1, 1, 1);
    shard_craft("regress-emb-overflow.h5", 0, 1, 2147483647, 1 << 29);
}

// ---- checkpoints ----

// A minimal checkpoint (the root attributes a reader checks first) holding one float32 tensor
// /netG/<tensor> of the given shape, chunked, written in full or not at all, with attribute ndim = 0
// when ndim0 is set (what ckpt_save puts on a 0-d tensor).
static void ckpt_craft(const char *name, const char *tensor, int rank, const hsize_t *dims, int write, int ndim0) {
    char p[4096];
    out_path(p, sizeof p, "ckpt", name);
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) die(p, "cannot create");
    h5u_attr_write_i64(f, "format_version", CKPT_FORMAT_VERSION);
    h5u_attr_write_i64(f, "complete", 1);
    hid_t g = H5Gcreate2(f, "netG", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t chunk[16], n = 1;
    for (int i = 0; i < rank; i++) {
        chunk[i] = i == rank - 1 && dims[i] > 1024 ? 1024 : (i == rank - 1 ? dims[i] : 1);
        n *= dims[i];
    }
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunk);
    H5Pset_fletcher32(dcpl);
    hid_t d = H5Dcreate2(g, tensor, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0) die(p, "cannot create the tensor");
    if (write) {
        float *v = calloc(n, sizeof(float));
        for (hsize_t i = 0; i < n; i++) v[i] = (float)i;
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
    }
    if (ndim0) h5u_attr_write_i64(d, "ndim", 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Gclose(g);
    if (H5Fclose(f) < 0) die(p, "cannot close");
}

static void ckpt_seeds(void) {
    ParamSet g, ema;
    fuzz_declare_net(&g);
    fuzz_declare_net(&ema);
    for (size_t i = 0; i < g.total; i++) g.data[i] = ema.data[i] = (real)i * 0.5f;
    for (size_t i = 0; i < g.n_trainable; i++) g.adam_m[i] = g.adam_v[i] = (real)i;
    g.adam_step = 3;
    CkptNet nets[2] = {{"netG", &g, 0}, {"netG_ema", &ema, 1}};
    CkptMeta m;
    memset(&m, 0, sizeof m);
    m.step = 1;
    m.seed = 100;
    m.world_size = 2;
    m.unix_time = 1700000000;
    snprintf(m.ratlip_version, sizeof m.ratlip_version, "0.1.0");
    snprintf(m.git_rev, sizeof m.git_rev, "fuzzseed");
    m.config_json = "{\"name\": \"fz\", \"train\": {\"steps\": 3}}";
    ckpt_meta_set_double(&m, "loss_g", 1.5);
    ckpt_meta_set_int(&m, "netG.num_batches_tracked", 4);
    char p[4096];
    Err e;
    out_path(p, sizeof p, "ckpt", "ckpt.h5");
    if (ckpt_save(p, nets, 2, &m, &e)) die(p, e.msg);
    variants("ckpt", "ckpt.h5", 0);   // no flipped copy (35 KB): the fuzzer flips bytes itself
    // regressions: what the fuzzers found (or review did), as small readable files
    hsize_t scalar256[1] = {256}, huge[2] = {2, 16121859}, rank9[9] = {2, 1, 1, 1, 1, 1, 1, 1, 1};
    ckpt_craft("regress-ndim0-256values.h5", "bn.num_batches_tracked", 1, scalar256, 1, 1);
    ckpt_craft("regress-huge-unstored.h5", "fc.weight", 2, huge, 0, 0);
    ckpt_craft("regress-rank9.h5", "fc.weight", 9, rank9, 1, 0);
    params_free(&g);
    params_free(&ema);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds CORPUS_DIR   (writes CORPUS_DIR/{config,image,shard,ckpt}/)\n");
        return 2;
    }
    root = argv[1];
    const char *t[] = {"config", "image", "shard", "ckpt"};
    for (int i = 0; i < 4; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", root, t[i]);
        Err e;
        if (fs_mkdir_p(p, &e)) die(p, e.msg);
    }
    config_seeds();
    image_seeds();
    shard_seeds();
    ckpt_seeds();
    printf("gen_seeds: wrote %s/{config,image,shard,ckpt}\n", root);
    return 0;
}
