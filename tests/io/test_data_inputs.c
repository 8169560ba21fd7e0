// Bad inputs to `ratlip data import` (issue 13 item 6; argv[1] = the ratlip binary):
//  - a valid 20000x20000 PNG and JPEG (a few kB on disk, 1.2 GB decoded) are refused before decoding,
//    naming the file, its size and --max-pixels; --max-pixels is configurable;
//  - caption files must be UTF-8 without NUL bytes: an error names the file and the line;
//  - CMYK and YCCK JPEGs (Adobe inverted and plain) decode to the right RGB, not "damaged";
//  - numeric options of `ratlip data ...` are parsed strictly; every --help prints a clean usage.
#include "data_fixture.h"
#include <hdf5.h>
#include <png.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "io/image.h"
#include "testutil.h"

static const char *ratlip;
static char root[64], outbuf[1 << 16];

// Runs `ratlip <args>` with stdout+stderr captured into outbuf; returns the exit status.
static int run(const char *args) { return tu_run_capture(ratlip, args, root, outbuf, sizeof outbuf); }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    TU_CHECK(f && fwrite(data, 1, n, f) == n, "write %s", path);
    if (f) fclose(f);
}

// A w x h 1-bit grey PNG, all black: w*h/8 bytes of raw rows, deflated to almost nothing.
static void write_big_png(const char *path, int w, int h) {
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) { TU_CHECK(0, "libpng failed writing %s", path); return; }
    png_init_io(p, f);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(p, 1);
    png_write_info(p, info);
    png_bytep row = calloc((size_t)(w + 7) / 8, 1);
    for (int y = 0; y < h; y++) png_write_row(p, row);
    png_write_end(p, info);
    png_destroy_write_struct(&p, &info);
    free(row);
    fclose(f);
}

static void fill_grey(uint8_t *row, int w, int y, void *ctx) { (void)y, (void)ctx; memset(row, 128, (size_t)w); }
static void fill_two(uint8_t *row, int w, int y, void *ctx) { (void)y, (void)ctx; memset(row, 99, (size_t)w * 2); }

// The colours the CMYK files encode: smooth, so JPEG keeps them within a few levels.
static uint8_t want_rgb(int x, int y, int c) { return (uint8_t)(40 + x * 2 + y + c * 40); }  // <= 245
// Adobe (Photoshop) CMYK is stored inverted: C' = 255 - C. With no black ink (K' = 255) and C = 255 - R,
// the stored C' is R itself.
static void fill_cmyk_adobe(uint8_t *row, int w, int y, void *ctx) {
    (void)ctx;
    for (int x = 0; x < w; x++) {
        for (int c = 0; c < 3; c++) row[x * 4 + c] = want_rgb(x, y, c);
        row[x * 4 + 3] = 255;
    }
}
// plain CMYK: C = 255 - R, K = 0
static void fill_cmyk_plain(uint8_t *row, int w, int y, void *ctx) {
    (void)ctx;
    for (int x = 0; x < w; x++) {
        for (int c = 0; c < 3; c++) row[x * 4 + c] = (uint8_t)(255 - want_rgb(x, y, c));
        row[x * 4 + 3] = 0;
    }
}

// Decodes path and compares with want_rgb: max |diff| over all values.
static int cmyk_error(const char *path, const char *what) {
    int w = 0, h = 0, worst = 999;
    uint8_t *rgb = NULL;
    Err e = {{0}};
    if (image_load(path, &w, &h, &rgb, &e)) {
        TU_CHECK(0, "%s: %s", what, e.msg);
        printf("%-18s -> %s\n", what, e.msg);
        return worst;
    }
    TU_CHECK(w == 48 && h == 32, "%s: %dx%d", what, w, h);
    worst = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int d = abs((int)rgb[(y * w + x) * 3 + c] - want_rgb(x, y, c));
                if (d > worst) worst = d;
            }
    free(rgb);
    printf("%-18s -> decoded, max |RGB - want| = %d\n", what, worst);
    return worst;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: io_data_inputs path/to/ratlip\n"); return 2; }
    ratlip = argv[1];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(root, sizeof(root), "/tmp/ratlip_test_inputsXXXXXX");
    if (!mkdtemp(root)) return 1;
    char img[256], cap[256], p[512], q[512], args[4096];
    Err e = {{0}};
    int w, h;
    uint8_t *rgb = NULL;

    // ---- pixel limit, before decoding ----
    snprintf(img, sizeof(img), "%s/big", root);
    snprintf(cap, sizeof(cap), "%s/bigtext", root);
    mkdir(img, 0777);
    mkdir(cap, 0777);
    snprintf(p, sizeof(p), "%s/huge.png", img);
    double t0 = now_s();
    write_big_png(p, 20000, 20000);
    struct stat st;
    stat(p, &st);
    printf("20000x20000 PNG: %ld bytes, written in %.2f s\n", (long)st.st_size, now_s() - t0);
    t0 = now_s();
    int rc = image_load(p, &w, &h, &rgb, &e);
    double dt = now_s() - t0;
    TU_CHECK(rc == -1 && !rgb && strstr(e.msg, p) && strstr(e.msg, "20000x20000") && strstr(e.msg, "--max-pixels"),
             "20000x20000 PNG: rc %d: %s", rc, e.msg);
    TU_CHECK(dt < 1.0, "20000x20000 PNG refused after %.2f s: decoded first?", dt);
    printf("huge PNG           -> %s (%.3f s)\n", e.msg, dt);
    free(rgb);
    rgb = NULL;
    snprintf(q, sizeof(q), "%s/huge.txt", cap);
    write_file(q, "a black square\n", 15);
    snprintf(args, sizeof(args), "data import --images %s --captions %s --out %s/bigout --shards 1 --size 8 "
             "--test-fraction 0", img, cap, root);
    t0 = now_s();
    rc = run(args);
    dt = now_s() - t0;
    TU_CHECK(rc == 1 && strstr(outbuf, p) && strstr(outbuf, "20000x20000") && strstr(outbuf, "--max-pixels"),
             "import of a 20000x20000 PNG: exit %d: %s", rc, outbuf);
    TU_CHECK(dt < 5.0, "import of a 20000x20000 PNG took %.1f s to refuse", dt);
    printf("import huge PNG    -> exit %d in %.2f s: %s", rc, dt, outbuf);
    unlink(p);

    snprintf(p, sizeof(p), "%s/huge.jpg", img);
    t0 = now_s();
    fx_write_jpeg(p, 20000, 20000, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 0, 10, fill_grey, NULL);
    stat(p, &st);
    printf("20000x20000 JPEG: %ld bytes, written in %.2f s\n", (long)st.st_size, now_s() - t0);
    t0 = now_s();
    rc = image_load(p, &w, &h, &rgb, &e);
    dt = now_s() - t0;
    TU_CHECK(rc == -1 && !rgb && strstr(e.msg, p) && strstr(e.msg, "20000x20000") && strstr(e.msg, "--max-pixels"),
             "20000x20000 JPEG: rc %d: %s", rc, e.msg);
    TU_CHECK(dt < 1.0, "20000x20000 JPEG refused after %.2f s: decoded first?", dt);
    printf("huge JPEG          -> %s (%.3f s)\n", e.msg, dt);
    free(rgb);
    rgb = NULL;
    rc = run(args);
    TU_CHECK(rc == 1 && strstr(outbuf, p) && strstr(outbuf, "20000x20000") && strstr(outbuf, "--max-pixels"),
             "import of a 20000x20000 JPEG: exit %d: %s", rc, outbuf);
    unlink(p);

    // the limit is an option: a 40x30 image passes the default, is refused under --max-pixels 1000
    snprintf(p, sizeof(p), "%s/small.jpg", img);
    fx_write_jpeg(p, 40, 30, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 0, 90, fill_grey, NULL);
    snprintf(q, sizeof(q), "%s/small.txt", cap);
    write_file(q, "grey\n", 5);
    TU_CHECK(image_load(p, &w, &h, &rgb, &e) == 0 && w == 40 && h == 30, "40x30 JPEG: %s", e.msg);
    free(rgb);
    rgb = NULL;
    TU_CHECK(image_load_max(p, 1199, &w, &h, &rgb, &e) == -1 && strstr(e.msg, "40x30") && !rgb,
             "40x30 JPEG under a limit of 1199 pixels: %s", e.msg);
    TU_CHECK(image_load_max(p, 1200, &w, &h, &rgb, &e) == 0, "40x30 JPEG under a limit of 1200 pixels: %s", e.msg);
    free(rgb);
    rgb = NULL;
    snprintf(args, sizeof(args), "data import --images %s --captions %s --out %s/smallout --shards 1 --size 8 "
             "--test-fraction 0 --max-pixels 1000", img, cap, root);
    rc = run(args);
    TU_CHECK(rc == 1 && strstr(outbuf, p) && strstr(outbuf, "40x30") && strstr(outbuf, "--max-pixels"),
             "--max-pixels 1000: exit %d: %s", rc, outbuf);
    snprintf(args, sizeof(args), "data import --images %s --captions %s --out %s/smallout --shards 1 --size 8 "
             "--test-fraction 0 --max-pixels 1200", img, cap, root);
    TU_CHECK(run(args) == 0, "--max-pixels 1200: %s", outbuf);

    // ---- CMYK / YCCK JPEGs ----
    snprintf(p, sizeof(p), "%s/cmyk_adobe.jpg", root);
    fx_write_jpeg(p, 48, 32, 4, JCS_CMYK, JCS_CMYK, 1, 95, fill_cmyk_adobe, NULL);
    TU_CHECK(cmyk_error(p, "CMYK (Adobe)") <= 12, "CMYK (Adobe inverted) decoded to the wrong colours");
    snprintf(p, sizeof(p), "%s/ycck_adobe.jpg", root);
    fx_write_jpeg(p, 48, 32, 4, JCS_CMYK, JCS_YCCK, 1, 95, fill_cmyk_adobe, NULL);
    TU_CHECK(cmyk_error(p, "YCCK (Adobe)") <= 12, "YCCK (Adobe inverted) decoded to the wrong colours");
    snprintf(p, sizeof(p), "%s/cmyk_plain.jpg", root);
    fx_write_jpeg(p, 48, 32, 4, JCS_CMYK, JCS_CMYK, 0, 95, fill_cmyk_plain, NULL);
    TU_CHECK(cmyk_error(p, "CMYK (no Adobe)") <= 12, "plain CMYK decoded to the wrong colours");

    // a colour space libjpeg cannot name (2 channels): "unsupported", not "damaged"
    snprintf(p, sizeof(p), "%s/two.jpg", root);
    fx_write_jpeg(p, 16, 16, 2, JCS_UNKNOWN, JCS_UNKNOWN, 0, 90, fill_two, NULL);
    TU_CHECK(image_load(p, &w, &h, &rgb, &e) == -1 && !rgb && strstr(e.msg, p) &&
                 strstr(e.msg, "unsupported JPEG colour space") && !strstr(e.msg, "damaged"),
             "2-channel JPEG: %s", e.msg);
    printf("2-channel JPEG     -> %s\n", e.msg);

    // ---- captions: UTF-8, no NUL ----
    {
        // unit: ds_utf8_prefix against RFC 3629
        struct { const char *s; size_t n, ok; } u[] = {
            {"plain ascii", 11, 11}, {"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x8e\xa8", 14, 14},
            {"a\xc3\x28", 3, 1},       // bad continuation
            {"\xc0\xaf", 2, 0},        // overlong '/'
            {"x\xe0\x80\xaf", 4, 1},   // overlong, 3 bytes
            {"\xed\xa0\x80", 3, 0},    // surrogate U+D800
            {"\xf4\x90\x80\x80", 4, 0},  // above U+10FFFF
            {"ab\xe2\x9c", 4, 2},      // truncated sequence
            {"\xff", 1, 0}, {"\x80", 1, 0}};
        for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
            TU_CHECK(ds_utf8_prefix(u[i].s, u[i].n) == u[i].ok, "utf8 case %zu: %zu want %zu", i,
                     ds_utf8_prefix(u[i].s, u[i].n), u[i].ok);
        // the writer refuses a caption that is not UTF-8 (/captions declares UTF-8)
        char sp[512];
        snprintf(sp, sizeof(sp), "%s/w.h5", root);
        DsInfo info = {.image_size = 8, .n_captions = 1, .embed_dim = 2, .split = "train", .text_encoder = "x"};
        DsWriter *wr = ds_writer_open(sp, &info, 1, &e);
        uint8_t px[8 * 8 * 3] = {0};
        float emb[2] = {0};
        const char *bad[1] = {"caf\xe9"};
        TU_CHECK(wr && ds_writer_put(wr, 0, px, emb, 1, bad, NULL, &e) == -1 && strstr(e.msg, "UTF-8") &&
                     strstr(e.msg, "sample 0"), "writer accepted Latin-1: %s", e.msg);
        ds_writer_abort(wr);
    }
    snprintf(img, sizeof(img), "%s/capimg", root);
    snprintf(cap, sizeof(cap), "%s/captext", root);
    mkdir(img, 0777);
    mkdir(cap, 0777);
    snprintf(p, sizeof(p), "%s/a.jpg", img);
    fx_write_jpeg(p, 16, 16, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 0, 90, fill_grey, NULL);
    snprintf(q, sizeof(q), "%s/a.txt", cap);
    char out[300];
    snprintf(out, sizeof(out), "%s/capout", root);
    snprintf(args, sizeof(args), "data import --images %s --captions %s --out %s --shards 1 --size 8 --test-fraction 0",
             img, cap, out);
    struct { const char *what; const char *text; size_t n; const char *want; } bad[] = {
        {"Latin-1 caption", "first line\n\ncaf\xe9 au lait\n", 0, ":3: invalid UTF-8 at byte 4"},
        {"overlong UTF-8", "\xc0\xaf" "etc\n", 0, ":1: invalid UTF-8 at byte 1"},
        {"NUL byte", "good\nab\0cd\n", 11, ":2: NUL byte"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(q, bad[i].text, bad[i].n ? bad[i].n : strlen(bad[i].text));
        rc = run(args);
        char want[600];
        snprintf(want, sizeof(want), "%s%s", q, bad[i].want);
        TU_CHECK(rc == 1 && strstr(outbuf, want), "%s: exit %d, want '%s' in: %s", bad[i].what, rc, want, outbuf);
        printf("%-18s -> exit %d: %s", bad[i].what, rc, outbuf);
    }
    // valid UTF-8 (a byte-order mark dropped) is stored byte for byte
    const char *good = "\xef\xbb\xbf" "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x8e\xa8\nzweite Zeile \xc3\xbc\n";
    write_file(q, good, strlen(good));
    TU_CHECK(run(args) == 0, "valid UTF-8 captions: %s", outbuf);
    Dataset *ds;
    if (ds_open(&ds, out, "train", &e) == 0) {
        char c0[128] = "", c1[128] = "";
        ds_read_caption(ds, 0, 0, c0, sizeof(c0), &e);
        ds_read_caption(ds, 0, 1, c1, sizeof(c1), &e);
        TU_CHECK(!strcmp(c0, "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x8e\xa8") && !strcmp(c1, "zweite Zeile \xc3\xbc"),
                 "UTF-8 captions stored as '%s' / '%s'", c0, c1);
        ds_close(ds);
    } else {
        TU_CHECK(0, "%s", e.msg);
    }

    // ---- every --help; strict numbers ----
    for (const char *s = "data\0data synth\0data verify\0data import\0data stats\0"; *s; s += strlen(s) + 1) {
        snprintf(args, sizeof(args), "%s --help", s);
        rc = run(args);
        TU_CHECK(rc == 0 && strstr(outbuf, "usage: ratlip") && !strstr(outbuf, "%%"), "'%s': exit %d: %s", args, rc,
                 outbuf);
    }
    struct { const char *args, *opt; } num[] = {
        {"data synth --out X --size abc", "--size"}, {"data synth --out X --size 64x", "--size"},
        {"data synth --out X --size 0", "--size"}, {"data synth --out X --train -5", "--train"},
        {"data synth --out X --test 1e3", "--test"}, {"data synth --out X --seed 0x10", "--seed"},
        {"data synth --out X --shards 0", "--shards"}, {"data synth --out X --size ''", "--size"},
        {"data import --images a --captions b --out X --shards 1 --size 8 --max-pixels 0", "--max-pixels"},
        {"data import --images a --captions b --out X --shards 1 --size 8 --max-pixels 64MP", "--max-pixels"},
        {"data import --images a --captions b --out X --shards 1 --size 8 --max-pixels 99999999999", "--max-pixels"},
        {"data import --images a --captions b --out X --shards 1 --size 8 --test-fraction 1", "--test-fraction"},
        {"data import --images a --captions b --out X --shards 1 --size 8 --test-fraction nan", "--test-fraction"},
        {"data import --images a --captions b --out X --shards 2.5 --size 8", "--shards"},
        {"data import --images a --captions b --out X --shards 1 --size 8 --seed -1", "--seed"},
    };
    for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++) {
        rc = run(num[i].args);
        TU_CHECK(rc == 1 && strstr(outbuf, num[i].opt) && strstr(outbuf, "wants"), "'%s': exit %d: %s", num[i].args,
                 rc, outbuf);
    }
    fx_rmdir(root);
    return tu_done("io_data_inputs");
}
