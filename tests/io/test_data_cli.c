// `ratlip data import|verify|synth` and `ratlip text-embed` end to end (argv[1] = the ratlip binary):
// PNG and JPEG import (pixels = image_resize_crop of the decoded file, captions and bow embeddings in
// order, K = max count with padding), --text-emb rows in file order, and the bad inputs (file that is
// not an image, caption file without lines, missing caption file, wrong --text-emb row count, a broken
// shard under verify) each exit non-zero with a message naming the file.
#include "data_fixture.h"
#include <hdf5.h>
#include <math.h>
#include <png.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "io/bow.h"
#include "io/image.h"
#include "io/textemb.h"
#include "testutil.h"

static const char *ratlip;
static char root[64], outbuf[1 << 16];

// Runs `ratlip <args>` with stdout+stderr captured into outbuf; returns the exit status.
static int run(const char *args) { return tu_run_capture(ratlip, args, root, outbuf, sizeof outbuf); }

static void pattern(uint8_t *rgb, int w, int h, int seed) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = (uint8_t)(x * 7 + y * 3 + c * 50 + seed * 40);
}

static void write_png(const char *path, int w, int h, int seed) {
    uint8_t *rgb = malloc((size_t)w * h * 3);
    pattern(rgb, w, h, seed);
    png_image im;
    memset(&im, 0, sizeof(im));
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = PNG_FORMAT_RGB;
    TU_CHECK(png_image_write_to_file(&im, path, 0, rgb, 0, NULL), "write %s", path);
    free(rgb);
}

// rows of an RGB image held in ctx
static void fill_rgb_rows(uint8_t *row, int w, int y, void *ctx) { memcpy(row, (uint8_t *)ctx + (size_t)y * w * 3, (size_t)w * 3); }

static void write_jpeg(const char *path, int w, int h, int seed) {
    uint8_t *rgb = malloc((size_t)w * h * 3);
    pattern(rgb, w, h, seed);
    fx_write_jpeg(path, w, h, 3, JCS_RGB, JCS_YCbCr, 0, 95, fill_rgb_rows, rgb);
    free(rgb);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

// The test fixture: 8 images a0..a7 (6 PNG, 2 JPEG, mixed aspect), 1..3 captions each with blank lines.
static const char *caps_of[8] = {
    "a red bird\n\nsitting on a branch\n", "one caption only\n", "first\nsecond\n\n\nthird\n", "  padded line  \n",
    "jpeg one\njpeg two\n", "x\ny\n", "\n\nlate caption\n", "last image\nits second caption\n"};

static int find_caption(Dataset *ds, const char *want, long *idx) {
    char cap[256];
    Err e;
    for (long i = 0; i < ds_size(ds); i++)
        if (!ds_read_caption(ds, i, 0, cap, sizeof(cap), &e) && !strcmp(cap, want)) { *idx = i; return 1; }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: io_data_cli path/to/ratlip\n"); return 2; }
    ratlip = argv[1];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(root, sizeof(root), "/tmp/ratlip_test_cliXXXXXX");
    if (!mkdtemp(root)) return 1;
    char img[256], cap[256], out[256], p[512], args[4096];
    snprintf(img, sizeof(img), "%s/images", root);
    snprintf(cap, sizeof(cap), "%s/text", root);
    snprintf(out, sizeof(out), "%s/out", root);
    mkdir(img, 0777);
    mkdir(cap, 0777);
    int sizes[8][2] = {{40, 30}, {30, 50}, {32, 32}, {17, 23}, {48, 36}, {20, 20}, {64, 40}, {16, 40}};
    for (int i = 0; i < 8; i++) {
        snprintf(p, sizeof(p), "%s/a%d.%s", img, i, i == 4 || i == 5 ? "jpg" : "png");
        if (i == 4 || i == 5) write_jpeg(p, sizes[i][0], sizes[i][1], i);
        else write_png(p, sizes[i][0], sizes[i][1], i);
        snprintf(p, sizeof(p), "%s/a%d.txt", cap, i);
        write_text(p, caps_of[i]);
    }
    snprintf(p, sizeof(p), "%s/README", img);  // not *.png/*.jpg: ignored
    write_text(p, "not an image, and not named like one\n");

    for (const char *h = "data synth\0data verify\0data import\0text-embed\0data\0"; *h; h += strlen(h) + 1) {
        snprintf(args, sizeof(args), "%s --help", h);
        TU_CHECK(run(args) == 0 && strstr(outbuf, "usage"), "'%s --help' did not print usage", h);
    }

    snprintf(args, sizeof(args), "data import --images %s --captions %s --out %s --shards 2 --size 16 --test-fraction 0.25 --seed 1",
             img, cap, out);
    TU_CHECK(run(args) == 0, "import failed: %s", outbuf);
    snprintf(args, sizeof(args), "data verify %s", out);
    TU_CHECK(run(args) == 0 && strstr(outbuf, "train 6 images in 2 shards") && strstr(outbuf, "test 2 images") &&
                 strstr(outbuf, "K=3") && strstr(outbuf, "encoder ngram"), "verify after import: %s", outbuf);
    printf("verify: %s", outbuf);
    // every image: pixels = image_resize_crop(decoded file); captions in order, blank lines dropped; ngram rows
    // (the default encoder)
    Err e;
    int found = 0;
    for (int sp = 0; sp < 2; sp++) {
        Dataset *ds;
        if (ds_open(&ds, out, sp ? "test" : "train", &e)) { TU_CHECK(0, "%s", e.msg); continue; }
        for (int i = 0; i < 8; i++) {
            char want[3][64];
            int n = 0;
            const char *s = caps_of[i];
            while (*s) {  // the expected non-blank, trimmed lines
                const char *nl = strchr(s, '\n');
                const char *a = s, *b = nl;
                while (a < b && *a == ' ') a++;
                while (b > a && b[-1] == ' ') b--;
                if (b > a) snprintf(want[n++], 64, "%.*s", (int)(b - a), a);
                s = nl + 1;
            }
            long idx;
            if (!find_caption(ds, want[0], &idx)) continue;
            found++;
            TU_CHECK(ds_text_count(ds, idx) == n, "a%d: text_count %d want %d", i, ds_text_count(ds, idx), n);
            for (int k = 0; k < 3; k++) {
                char got[256];
                float emb[BOW_DIM], ref[BOW_DIM] = {0};
                ds_read_caption(ds, idx, k, got, sizeof(got), &e);
                TU_CHECK(!strcmp(got, k < n ? want[k] : ""), "a%d caption %d: '%s'", i, k, got);
                if (k < n) bow_embed_named(NULL, NGRAM_NAME, want[k], ref);
                TU_CHECK(ds_read_emb(ds, idx, k, emb, &e) == 0 && !memcmp(emb, ref, sizeof(emb)), "a%d emb %d", i, k);
            }
            snprintf(p, sizeof(p), "%s/a%d.%s", img, i, i == 4 || i == 5 ? "jpg" : "png");
            int w, h;
            uint8_t *rgb, want_px[16 * 16 * 3], got_px[16 * 16 * 3];
            TU_CHECK(image_load(p, &w, &h, &rgb, &e) == 0 && w == sizes[i][0] && h == sizes[i][1], "decode a%d", i);
            if (i != 4 && i != 5) {  // PNG is lossless: the decoded pixels are the pattern written
                uint8_t *pat = malloc((size_t)w * h * 3);
                pattern(pat, w, h, i);
                TU_CHECK(!memcmp(pat, rgb, (size_t)w * h * 3), "a%d: PNG decode differs from what was written", i);
                free(pat);
            }
            image_resize_crop(rgb, w, h, 16, want_px);
            free(rgb);
            ds_read_image(ds, idx, got_px, &e);
            TU_CHECK(!memcmp(want_px, got_px, sizeof(got_px)), "a%d: stored pixels differ", i);
        }
        ds_close(ds);
    }
    TU_CHECK(found == 8, "found %d of 8 images by caption", found);

    // area resize: after the centre crop, a 2x downscale averages 2x2 blocks
    {
        uint8_t src[4 * 6 * 3], dst[2 * 2 * 3];
        for (int j = 0; j < 4 * 6 * 3; j++) src[j] = (uint8_t)((j / 3) % 6 < 1 ? 0 : 100 + 4 * ((j / 3) / 6) + 2 * ((j / 3) % 6));
        image_resize_crop(src, 6, 4, 2, dst);  // crop columns 1..4, then 2x2 blocks
        // output (0,0) = mean of source rows 0-1, columns 1-2: (102 + 104 + 106 + 108) / 4
        int want00 = (102 + 104 + 106 + 108) / 4;
        TU_CHECK(abs((int)dst[0] - want00) <= 1, "area resize: got %d want %d", dst[0], want00);
    }

    // --text-emb: rows in file order (a0 lines, a1 lines, ...), encoder name from the file
    {
        int total = 2 + 1 + 3 + 1 + 2 + 2 + 1 + 2;
        float *rows = malloc(sizeof(float) * total * 6);
        for (int j = 0; j < total * 6; j++) rows[j] = (float)j;
        snprintf(p, sizeof(p), "%s/emb.h5", root);
        hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims[2] = {(hsize_t)total, 6};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(f, "text_emb", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
        H5Dclose(d);
        H5Sclose(sp);
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, 10);
        sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "text_encoder", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, t, "clip-b32\0\0");
        H5Aclose(a);
        H5Sclose(sp);
        H5Tclose(t);
        H5Fclose(f);
        char out2[300];
        snprintf(out2, sizeof(out2), "%s/out2", root);
        snprintf(args, sizeof(args), "data import --images %s --captions %s --out %s --shards 1 --size 8 --test-fraction 0 --text-emb %s",
                 img, cap, out2, p);
        TU_CHECK(run(args) == 0, "import --text-emb: %s", outbuf);
        Dataset *ds;
        if (ds_open(&ds, out2, "train", &e) == 0) {
            TU_CHECK(ds_size(ds) == 8 && ds_info(ds)->embed_dim == 6 && !strcmp(ds_info(ds)->text_encoder, "clip-b32"),
                     "text-emb dataset info");
            // image i (name order) has its rows starting at the running caption count; its k-th row
            int row = 0, bad = 0;
            for (int i = 0; i < 8; i++) {
                float emb[6];
                for (int k = 0; k < ds_text_count(ds, i); k++, row++) {
                    ds_read_emb(ds, i, k, emb, &e);
                    for (int j = 0; j < 6; j++) bad += emb[j] != rows[row * 6 + j];
                }
            }
            TU_CHECK(bad == 0 && row == total, "text-emb rows: %d wrong values, %d rows", bad, row);
            ds_close(ds);
        } else {
            TU_CHECK(0, "%s", e.msg);
        }
        // one row short: error naming the file and the counts
        f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
        H5Ldelete(f, "text_emb", H5P_DEFAULT);
        dims[0] = (hsize_t)total - 1;
        sp = H5Screate_simple(2, dims, NULL);
        d = H5Dcreate2(f, "text_emb", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
        H5Dclose(d);
        H5Sclose(sp);
        H5Fclose(f);
        snprintf(out2, sizeof(out2), "%s/out3", root);
        snprintf(args, sizeof(args), "data import --images %s --captions %s --out %s --shards 1 --size 8 --text-emb %s",
                 img, cap, out2, p);
        TU_CHECK(run(args) == 1 && strstr(outbuf, p) && strstr(outbuf, "/text_emb") && strstr(outbuf, "rows"),
                 "short --text-emb: %s", outbuf);
        printf("short --text-emb -> %s", outbuf);
        free(rows);
    }

    // caption file without lines
    snprintf(p, sizeof(p), "%s/a3.txt", cap);
    write_text(p, "\n  \n\n");
    snprintf(args, sizeof(args), "data import --images %s --captions %s --out %s/bad1 --shards 1 --size 8", img, cap, root);
    TU_CHECK(run(args) == 1 && strstr(outbuf, p) && strstr(outbuf, "no captions"), "blank caption file: %s", outbuf);
    printf("blank captions   -> %s", outbuf);
    unlink(p);
    TU_CHECK(run(args) == 1 && strstr(outbuf, p) && strstr(outbuf, "missing"), "missing caption file: %s", outbuf);
    printf("missing captions -> %s", outbuf);
    write_text(p, caps_of[3]);
    // an image file that is not an image
    snprintf(p, sizeof(p), "%s/a2.png", img);
    write_text(p, "GIF89a... not really\n");
    TU_CHECK(run(args) == 1 && strstr(outbuf, p) && strstr(outbuf, "not an image"), "not an image: %s", outbuf);
    printf("not an image     -> %s", outbuf);

    // verify names a broken shard; synth + verify through the CLI
    char sdir[300], shard[4096];
    snprintf(sdir, sizeof(sdir), "%s/synth", root);
    snprintf(args, sizeof(args), "data synth --out %s --size 16 --train 12 --test 4 --shards 2 --seed 5", sdir);
    TU_CHECK(run(args) == 0, "synth: %s", outbuf);
    snprintf(args, sizeof(args), "data verify %s", sdir);
    TU_CHECK(run(args) == 0 && strstr(outbuf, "train 12 images in 2 shards") && strstr(outbuf, "test 4 images"),
             "verify synth: %s", outbuf);
    ds_shard_path(shard, sizeof(shard), sdir, "test", 1, 2);
    TU_CHECK(truncate(shard, 1000) == 0, "truncate");
    TU_CHECK(run(args) == 1 && strstr(outbuf, shard), "verify of a truncated shard: %s", outbuf);
    printf("verify truncated -> %s", outbuf);
    snprintf(args, sizeof(args), "data verify %s/nowhere", root);
    TU_CHECK(run(args) == 1 && strstr(outbuf, "nowhere"), "verify missing dir: %s", outbuf);

    // text-embed prints the bow vector; --out writes [n,512]
    TU_CHECK(run("text-embed 'A red circle!'") == 0, "text-embed: %s", outbuf);
    {
        float ref[BOW_DIM];
        bow_embed_named(NULL, NGRAM_NAME, "a red circle", ref);
        char *s = outbuf;
        int bad = 0, n = 0;
        for (; n < BOW_DIM; n++) {
            char *end;
            double v = strtod(s, &end);
            if (end == s) break;
            bad += fabs(v - ref[n]) > 1e-6 * (1 + fabs(ref[n]));  // printed with %.7g: 5e-7 relative
            s = end;
        }
        TU_CHECK(n == BOW_DIM && bad == 0, "text-embed printed %d values, %d wrong", n, bad);
    }
    snprintf(p, sizeof(p), "%s/te.h5", root);
    snprintf(args, sizeof(args), "text-embed 'one caption' 'two captions' --out %s", p);
    TU_CHECK(run(args) == 0, "text-embed --out: %s", outbuf);
    {
        size_t n;
        float *v = tu_read_f32(p, "text_emb", &n);
        float ref[BOW_DIM];
        bow_embed_named(NULL, NGRAM_NAME, "two captions", ref);
        TU_CHECK(n == 2 * BOW_DIM && !memcmp(v + BOW_DIM, ref, sizeof(ref)), "text-embed file content");
        free(v);
    }
    // the order-blind encoder on request, and its name in the file
    snprintf(args, sizeof(args), "text-embed 'one caption' 'two captions' --text-encoder bow --out %s", p);
    TU_CHECK(run(args) == 0 && strstr(outbuf, "(bow,"), "text-embed --text-encoder bow: %s", outbuf);
    {
        size_t n;
        float *v = tu_read_f32(p, "text_emb", &n);
        float ref[BOW_DIM];
        bow_embed(NULL, "two captions", ref);
        TU_CHECK(n == 2 * BOW_DIM && !memcmp(v + BOW_DIM, ref, sizeof(ref)), "text-embed bow file content");
        free(v);
        float *emb = NULL;
        long rows;
        int D;
        char enc[64];
        Err te;
        TU_CHECK(textemb_read(p, &emb, &rows, &D, enc, sizeof enc, &te) == 0 && !strcmp(enc, BOW_NAME),
                 "text_encoder attribute '%s'", enc);
        free(emb);
    }
    TU_CHECK(run("text-embed '...'") == 1, "caption without words accepted");
    fx_rmdir(root);
    return tu_done("io_data_cli");
}
