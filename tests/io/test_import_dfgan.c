// `ratlip data import --layout dfgan` (jobs/import_dfgan.h) on miniature replicas this test writes
// (argv[1] = the ratlip binary): birds (2 classes x 3 images, pickles from python3, CUB images.txt and
// bounding_boxes.txt, 10-line caption files), flower (keys with .jpg, caption files without), faces
// (text lists given with --train-list/--test-list win over the pickles) and coco (GALIP's COCO-2014 paths:
// train keys under images/train2014/jpg/, test keys under images/val2014/jpg/, 5 captions each). Each
// imports in one command,
// passes `data verify`, holds the captions, classes and counts written, and trains 2 steps. The CUB crop:
// cub_crop_box against python3 running AttnGAN's formula on 400 random boxes (edges included), and one
// imported image whose stored pixels are its source's crop. Broken replicas are refused naming the file
// (and line), exit non-zero, and leave no OUT.
#include "data_fixture.h"
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>
#include "jobs/import_dfgan.h"
#include "testutil.h"

#ifndef RATLIP_PYTHON
#define RATLIP_PYTHON "/usr/bin/python3"
#endif

static const char *ratlip;
static char root[64], outbuf[1 << 16];

static int run(const char *args) { return tu_run_capture(ratlip, args, root, outbuf, sizeof outbuf); }

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    TU_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

static void sh(const char *fmt, const char *a, const char *b) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    TU_CHECK(system(cmd) == 0, "failed: %s", cmd);
}

// The source images: a smooth gradient R = 2x, G = 3y (B = 40 + 50 * seed), which JPEG keeps to within a
// few levels, so a stored pixel says which source pixel it came from.
static void fill_gradient(uint8_t *row, int w, int y, void *ctx) {
    int seed = *(int *)ctx;
    for (int x = 0; x < w; x++) {
        row[3 * x] = (uint8_t)(2 * x);
        row[3 * x + 1] = (uint8_t)(3 * y);
        row[3 * x + 2] = (uint8_t)(40 + 50 * seed);
    }
}

static void write_image(const char *path, int w, int h, int seed) {
    fx_write_jpeg(path, w, h, 3, JCS_RGB, JCS_YCbCr, 0, 100, fill_gradient, &seed);
}

// A pickled list (protocol 2, as DF-GAN's) of the space-separated keys.
static void write_pickle(const char *path, const char *keys) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             RATLIP_PYTHON " -c 'import pickle,sys; pickle.dump(sys.argv[2:], open(sys.argv[1], \"wb\"), protocol=2)' %s %s",
             path, keys);
    TU_CHECK(system(cmd) == 0, "failed: %s", cmd);
}

static void write_captions(const char *dir, const char *stem, int n) {
    char path[1024], text[2048] = "";
    snprintf(path, sizeof path, "%s/text/%s.txt", dir, stem);
    size_t k = 0;
    for (int i = 0; i < n; i++) k += (size_t)snprintf(text + k, sizeof text - k, "%s caption %d\n%s", stem, i, i == 3 ? "\n" : "");
    write_text(path, text);
}

// birds: keys a/bK in train (Beta first: classes follow the sorted folders, not list order), one of each
// class in test. 001.Alpha/a_0 is 100x80 with a box whose AttnGAN crop is (19, 3)-(83, 67): 64x64.
static const char *birds_train[] = {"002.Beta/b_0", "001.Alpha/a_0", "001.Alpha/a_1", "002.Beta/b_1"};
static const char *birds_test[] = {"001.Alpha/a_2", "002.Beta/b_2"};

static void make_birds(const char *dir) {
    sh("rm -rf %s%s", dir, "");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/text/001.Alpha %s/text/002.Beta %s/train %s/test %s/CUB_200_2011/images/001.Alpha "
             "%s/CUB_200_2011/images/002.Beta", dir, dir, dir, dir, dir, dir);
    TU_CHECK(system(cmd) == 0, "failed: %s", cmd);
    char p[1024], imgs[2048] = "", boxes[2048] = "";
    size_t ki = 0, kb = 0;
    for (int i = 0; i < 6; i++) {
        const char *key = i < 4 ? birds_train[i] : birds_test[i - 4];
        snprintf(p, sizeof p, "%s/CUB_200_2011/images/%s.jpg", dir, key);
        int first = !strcmp(key, "001.Alpha/a_0");
        write_image(p, first ? 100 : 60 + 4 * i, first ? 80 : 50, i);
        write_captions(dir, key, 10);
        ki += (size_t)snprintf(imgs + ki, sizeof imgs - ki, "%d %s.jpg\n", 10 + i, key);
        if (first) kb += (size_t)snprintf(boxes + kb, sizeof boxes - kb, "%d 30.0 20.0 42.7 30.0\n", 10 + i);
        else kb += (size_t)snprintf(boxes + kb, sizeof boxes - kb, "%d %d.5 4.0 30.25 %d.0\n", 10 + i, 3 * i, 20 + i);
    }
    snprintf(p, sizeof p, "%s/CUB_200_2011/images.txt", dir);
    write_text(p, imgs);
    snprintf(p, sizeof p, "%s/CUB_200_2011/bounding_boxes.txt", dir);
    write_text(p, boxes);
    snprintf(p, sizeof p, "%s/train/filenames.pickle", dir);
    write_pickle(p, "002.Beta/b_0 001.Alpha/a_0 001.Alpha/a_1 002.Beta/b_1");
    snprintf(p, sizeof p, "%s/test/filenames.pickle", dir);
    write_pickle(p, "001.Alpha/a_2 002.Beta/b_2");
}

// flower (keys "image_0000N.jpg", caption files without the extension) or faces (keys "N", images N.jpg).
static void make_flat(const char *dir, int flower) {
    sh("rm -rf %s && mkdir -p %s", dir, dir);
    char cmd[2048], p[1024], stem[32], key[64];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/images %s/text %s/train %s/test", dir, dir, dir, dir);
    TU_CHECK(system(cmd) == 0, "failed: %s", cmd);
    for (int i = 0; i < 5; i++) {
        snprintf(stem, sizeof stem, flower ? "image_%05d" : "%d", i + 1);
        snprintf(key, sizeof key, flower ? "%s.jpg" : "%s", stem);
        snprintf(p, sizeof p, flower ? "%s/images/%s" : "%s/images/%s.jpg", dir, key);
        write_image(p, 40 + 8 * i, 48, i);
        write_captions(dir, stem, 1 + i % 3);
    }
    snprintf(p, sizeof p, "%s/train/filenames.pickle", dir);
    write_pickle(p, flower ? "image_00001.jpg image_00002.jpg image_00003.jpg" : "1 2 3 does_not_exist");
    snprintf(p, sizeof p, "%s/test/filenames.pickle", dir);
    write_pickle(p, flower ? "image_00004.jpg image_00005.jpg" : "4 5");
}

// coco: COCO-2014 keys, train images under images/train2014/jpg/, test images under images/val2014/jpg/ (as
// DF-GAN/GALIP/RATLIP's datasets.py), captions text/<key>.txt with COCO's 5 per image.
static const char *coco_train[] = {"COCO_train2014_000000000009", "COCO_train2014_000000000025",
                                   "COCO_train2014_000000000030"};
static const char *coco_test[] = {"COCO_val2014_000000000042", "COCO_val2014_000000000073"};

static void make_coco(const char *dir) {
    sh("rm -rf %s && mkdir -p %s/images/train2014/jpg", dir, dir);
    sh("mkdir -p %s/images/val2014/jpg %s/text", dir, dir);
    sh("mkdir -p %s/train %s/test", dir, dir);
    char p[1024];
    for (int i = 0; i < 5; i++) {
        const char *key = i < 3 ? coco_train[i] : coco_test[i - 3];
        snprintf(p, sizeof p, "%s/images/%s/jpg/%s.jpg", dir, i < 3 ? "train2014" : "val2014", key);
        write_image(p, 48 + 4 * i, 40, i);
        write_captions(dir, key, 5);
    }
    snprintf(p, sizeof p, "%s/train/filenames.pickle", dir);
    write_pickle(p, "COCO_train2014_000000000009 COCO_train2014_000000000025 COCO_train2014_000000000030");
    snprintf(p, sizeof p, "%s/test/filenames.pickle", dir);
    write_pickle(p, "COCO_val2014_000000000042 COCO_val2014_000000000073");
}

// cub_crop_box against AttnGAN's formula in Python on random boxes, many over or touching the edges, and
// its refusal of a box that lies more than a pixel outside its image or does not overlap it (AttnGAN would
// crop what is left of the square around it, or nothing).
static void check_crop_formula(void) {
    char in[256], outp[256];
    snprintf(in, sizeof in, "%s/boxes.txt", root);
    snprintf(outp, sizeof outp, "%s/boxes_py.txt", root);
    enum { N = 400 };
    double b[N][4];
    int wh[N][2];
    FILE *f = fopen(in, "w");
    for (int i = 0; i < N; i++) {
        uint32_t h = fx_hash((uint32_t)i * 4u + 1u);
        wh[i][0] = 1 + (int)(h % 500);
        wh[i][1] = 1 + (int)(fx_hash(h) % 500);
        for (int k = 0; k < 4; k++) {
            double u = (fx_hash(h + 7u * (uint32_t)k + 3u) % 100000) / 100000.0;
            b[i][k] = k < 2 ? -20 + u * (wh[i][k] + 40) : u * (i % 2 ? 400 : wh[i][k - 2] / 3);
        }
        if (i % 10 == 0) b[i][0] = 0, b[i][1] = 0;                                             // at the corner
        if (i % 10 == 1) b[i][2] = wh[i][0] - b[i][0], b[i][3] = wh[i][1] - b[i][1];          // to the edge
        if (i % 10 == 2) b[i][0] = (int)b[i][0], b[i][2] = 2 * (int)(b[i][2] / 2) + 1;         // halves
        fprintf(f, "%.17g %.17g %.17g %.17g %d %d\n", b[i][0], b[i][1], b[i][2], b[i][3], wh[i][0], wh[i][1]);
    }
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             RATLIP_PYTHON " -c '\nimport sys\nout = open(sys.argv[2], \"w\")\nfor line in open(sys.argv[1]):\n"
             "    x, y, w, h, W, H = line.split()\n    x, y, w, h, W, H = float(x), float(y), float(w), float(h), int(W), int(H)\n"
             "    r = int(max(w, h) * 0.75)\n    cx = int((2 * x + w) / 2)\n    cy = int((2 * y + h) / 2)\n"
             "    b = (max(0, cx - r), max(0, cy - r), min(W, cx + r), min(H, cy + r))\n"
             "    on = x >= -1 and y >= -1 and x + w <= W + 1 and y + h <= H + 1 and min(x + w, W) > max(x, 0) and "
             "min(y + h, H) > max(y, 0)\n"
             "    print(*b, int(on and b[2] > b[0] and b[3] > b[1]), file=out)\n' %s %s",
             in, outp);
    TU_CHECK(system(cmd) == 0, "python3 crop reference failed");
    f = fopen(outp, "r");
    int bad = 0, edge = 0, kept = 0;
    for (int i = 0; f && i < N; i++) {
        int want[4], got[4], ok;
        if (fscanf(f, "%d %d %d %d %d", &want[0], &want[1], &want[2], &want[3], &ok) != 5) { bad = -1; break; }
        int rc = cub_crop_box(b[i][0], b[i][1], b[i][2], b[i][3], wh[i][0], wh[i][1], got);
        edge += ok && (want[0] == 0 || want[1] == 0 || want[2] == wh[i][0] || want[3] == wh[i][1]);
        kept += ok;
        if (memcmp(want, got, sizeof want) || (rc == 0) != ok) {
            if (bad++ < 5)
                fprintf(stderr, "box %d (%g %g %g %g in %dx%d): got %d %d %d %d %s, python %d %d %d %d %s\n", i, b[i][0],
                        b[i][1], b[i][2], b[i][3], wh[i][0], wh[i][1], got[0], got[1], got[2], got[3],
                        rc ? "refused" : "kept", want[0], want[1], want[2], want[3], ok ? "kept" : "refused");
        }
    }
    if (f) fclose(f);
    TU_CHECK(bad == 0, "cub_crop_box differs from AttnGAN's formula on %d of %d boxes", bad, N);
    TU_CHECK(edge > N / 8 && kept < N - N / 8, "only %d kept boxes reach an edge, %d of %d refused", edge, N - kept, N);
    printf("cub_crop_box = python on %d boxes (%d kept, %d of them clipped at an edge; %d refused)\n", N, kept, edge,
           N - kept);
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

// `ratlip train` 2 steps of a micro model on the imported data.
static void check_trains(const char *data, const char *name) {
    char args[4096];
    snprintf(args, sizeof args,
             "train --config %s/jobs/configs/tiny.json --data %s --run-dir %s/run_%s --steps 2 --threads 1 "
             "--set train.batch_per_rank=2 --set train.sample_every=0 --set train.eval_every=0 "
             "--set model.g_channels=[64,64,32,32,16] --set model.clip_width=64 --set model.clip_heads=2 "
             "--set model.d_out_ch=64 --set model.mblock_mid=16 --set model.rat_hidden=32 --set model.netc_mid=32",
             RATLIP_SOURCE_DIR, data, root, name);
    int rc = run(args);
    TU_CHECK(rc == 0 && strstr(outbuf, "done: 2 steps"), "%s: train 2 steps exit %d: %s", name, rc, outbuf);
    printf("%s: trained 2 steps\n", name);
}

// Imports and verifies; 0 when both passed.
static int import_ok(const char *args, const char *out, const char *name) {
    char cmd[4096];
    int rc = run(args);
    TU_CHECK(rc == 0, "%s: import exit %d: %s", name, rc, outbuf);
    if (rc) return -1;
    snprintf(cmd, sizeof cmd, "data verify %s", out);
    rc = run(cmd);
    TU_CHECK(rc == 0, "%s: verify exit %d: %s", name, rc, outbuf);
    printf("%s: %s", name, outbuf);
    return rc;
}

static void check_birds(void) {
    char dir[256], out[256], args[4096];
    snprintf(dir, sizeof dir, "%s/birds", root);
    snprintf(out, sizeof out, "%s/birds_out", root);
    make_birds(dir);
    // --train-size 64: the train split at the test side, so a_0's stored pixels map 1:1 onto its crop (flower
    // and faces train on the default 76x76 train split; io_import_trainsize checks it)
    snprintf(args, sizeof args, "data import --layout dfgan --data-dir %s --dataset birds --out %s --shards 2 --size 64 "
             "--train-size 64", dir, out);
    if (import_ok(args, out, "birds")) return;
    TU_CHECK(strstr(outbuf, "train 4 images in 2 shards") && strstr(outbuf, "test 2 images in 2 shards") &&
                 strstr(outbuf, "K=10") && strstr(outbuf, "labels"), "birds verify summary: %s", outbuf);
    Err e;
    for (int sp = 0; sp < 2; sp++) {
        Dataset *ds;
        if (ds_open(&ds, out, sp ? "test" : "train", &e)) { TU_CHECK(0, "%s", e.msg); continue; }
        const char **keys = sp ? birds_test : birds_train;
        TU_CHECK(ds_size(ds) == (sp ? 2 : 4) && ds_info(ds)->label_dim == 1 &&
                     !strcmp(ds_info(ds)->label_names, "class"), "birds %s: size %ld, L %d", sp ? "test" : "train",
                 ds_size(ds), ds_info(ds)->label_dim);
        for (long i = 0; i < ds_size(ds); i++) {
            char got[256], want[256];
            int cls = keys[i][2] == '1' ? 0 : 1;
            const int32_t *lab = ds_labels(ds, i);
            TU_CHECK(lab && lab[0] == cls, "%s: label %d, want %d", keys[i], lab ? lab[0] : -9, cls);
            TU_CHECK(ds_text_count(ds, i) == 10, "%s: %d captions", keys[i], ds_text_count(ds, i));
            for (int k = 0; k < 10; k += 9) {
                snprintf(want, sizeof want, "%s caption %d", keys[i], k);
                TU_CHECK(!ds_read_caption(ds, i, k, got, sizeof got, &e) && !strcmp(got, want), "%s caption %d: '%s'",
                         keys[i], k, got);
            }
            if (strcmp(keys[i], "001.Alpha/a_0")) continue;
            // the crop (19, 3)-(83, 67) at 64x64: stored (u, v) = source (19 + u, 3 + v), R = 2x, G = 3y
            uint8_t img[64 * 64 * 3];
            TU_CHECK(!ds_read_image(ds, i, img, &e), "%s", e.msg);
            int worst = 0;
            for (int v = 0; v < 64; v += 3)
                for (int u = 0; u < 64; u += 3) {
                    int dr = abs(img[(v * 64 + u) * 3] - 2 * (19 + u)), dg = abs(img[(v * 64 + u) * 3 + 1] - 3 * (3 + v));
                    if (dr > worst) worst = dr;
                    if (dg > worst) worst = dg;
                }
            TU_CHECK(worst <= 3, "a_0: stored pixels differ from the source's AttnGAN crop by up to %d levels", worst);
            printf("birds a_0: stored image = the source crop (19,3)-(83,67) within %d levels\n", worst);
        }
        ds_close(ds);
    }
    check_trains(out, "birds");
}

static void check_flat(int flower) {
    const char *name = flower ? "flower" : "faces";
    char dir[256], out[256], args[4096], tl[300], vl[300];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    snprintf(out, sizeof out, "%s/%s_out", root, name);
    make_flat(dir, flower);
    if (flower)
        snprintf(args, sizeof args, "data import --layout dfgan --data-dir %s --dataset flower --out %s --shards 1 --size 64",
                 dir, out);
    else {   // the text lists win over the pickle (whose train list names a missing image)
        snprintf(tl, sizeof tl, "%s/train.txt", dir);
        snprintf(vl, sizeof vl, "%s/test.txt", dir);
        write_text(tl, "# faces train keys\n1\n2\n\n3\n");
        write_text(vl, "4\r\n5\r\n");
        snprintf(args, sizeof args, "data import --layout dfgan --data-dir %s --dataset faces --out %s --shards 1 --size 64 "
                 "--train-list %s --test-list %s", dir, out, tl, vl);
    }
    if (import_ok(args, out, name)) return;
    TU_CHECK(strstr(outbuf, "train 3 images") && strstr(outbuf, "test 2 images") && strstr(outbuf, "K=3") &&
                 !strstr(outbuf, "labels"), "%s verify summary: %s", name, outbuf);
    Err e;
    for (int sp = 0; sp < 2; sp++) {
        Dataset *ds;
        if (ds_open(&ds, out, sp ? "test" : "train", &e)) { TU_CHECK(0, "%s", e.msg); continue; }
        TU_CHECK(ds_info(ds)->label_dim == 0 && ds_labels(ds, 0) == NULL, "%s: flat keys have no /labels", name);
        for (long i = 0; i < ds_size(ds); i++) {
            int n = (int)(sp ? 3 + i : i);
            char want[64], got[256];
            snprintf(want, sizeof want, flower ? "image_%05d caption 0" : "%d caption 0", n + 1);
            TU_CHECK(!ds_read_caption(ds, i, 0, got, sizeof got, &e) && !strcmp(got, want), "%s %ld: '%s' want '%s'",
                     name, i, got, want);
            TU_CHECK(ds_text_count(ds, i) == 1 + n % 3, "%s %ld: %d captions", name, i, ds_text_count(ds, i));
        }
        ds_close(ds);
    }
    check_trains(out, name);
}

static void check_coco(void) {
    char dir[256], out[256], args[4096];
    snprintf(dir, sizeof dir, "%s/coco", root);
    snprintf(out, sizeof out, "%s/coco_out", root);
    make_coco(dir);
    snprintf(args, sizeof args, "data import --layout dfgan --data-dir %s --dataset coco --out %s --shards 1 --size 64",
             dir, out);
    if (import_ok(args, out, "coco")) return;
    TU_CHECK(strstr(outbuf, "train 3 images") && strstr(outbuf, "test 2 images") && strstr(outbuf, "K=5") &&
                 !strstr(outbuf, "labels"), "coco verify summary: %s", outbuf);
    Err e;
    for (int sp = 0; sp < 2; sp++) {
        Dataset *ds;
        if (ds_open(&ds, out, sp ? "test" : "train", &e)) { TU_CHECK(0, "%s", e.msg); continue; }
        const char **keys = sp ? coco_test : coco_train;
        TU_CHECK(ds_size(ds) == (sp ? 2 : 3) && ds_info(ds)->label_dim == 0, "coco %s: size %ld, L %d",
                 sp ? "test" : "train", ds_size(ds), ds_info(ds)->label_dim);
        for (long i = 0; i < ds_size(ds); i++) {
            char got[256], want[256];
            TU_CHECK(ds_text_count(ds, i) == 5, "%s: %d captions, COCO has 5", keys[i], ds_text_count(ds, i));
            snprintf(want, sizeof want, "%s caption 4", keys[i]);
            TU_CHECK(!ds_read_caption(ds, i, 4, got, sizeof got, &e) && !strcmp(got, want), "%s caption 4: '%s'",
                     keys[i], got);
            // the stored image is the one of its own folder: B = 40 + 50 * (its index among the five)
            int S = ds_info(ds)->image_size, seed = sp ? 3 + (int)i : (int)i;
            uint8_t *img = malloc((size_t)S * S * 3);
            TU_CHECK(img && !ds_read_image(ds, i, img, &e), "%s: %s", keys[i], e.msg);
            int blue = img ? img[((S / 2) * S + S / 2) * 3 + 2] : -1;
            TU_CHECK(abs(blue - (40 + 50 * seed)) <= 4, "%s: blue %d, its source image has %d", keys[i], blue,
                     40 + 50 * seed);
            free(img);
        }
        ds_close(ds);
    }
    check_trains(out, "coco");
    // a test key whose image is only in train2014 is missing where GALIP reads it
    char p[1024], p2[1024];
    snprintf(p, sizeof p, "%s/images/val2014/jpg/%s.jpg", dir, coco_test[1]);
    snprintf(p2, sizeof p2, "%s/images/train2014/jpg/%s.jpg", dir, coco_test[1]);
    TU_CHECK(rename(p, p2) == 0, "cannot move %s", p);
    snprintf(args, sizeof args, "data import --layout dfgan --data-dir %s --dataset coco --out %s_bad --shards 1 "
             "--size 64", dir, out);
    int rc = run(args);
    TU_CHECK(rc != 0 && strstr(outbuf, p) && strstr(outbuf, "is missing"), "coco: a test image under train2014: exit "
             "%d: %s", rc, outbuf);
    printf("coco: a test key's image under train2014 only -> exit %d, names %s\n", rc, p);
}

// A broken replica: exit non-zero, the message holds want1 and want2, OUT not created.
static void refused(const char *args, const char *out, const char *what, const char *want1, const char *want2) {
    int rc = run(args);
    TU_CHECK(rc != 0 && strstr(outbuf, want1) && (!want2 || strstr(outbuf, want2)),
             "%s: exit %d, want '%s' '%s' in: %s", what, rc, want1, want2 ? want2 : "", outbuf);
    TU_CHECK(!exists(out), "%s: %s was left behind", what, out);
    const char *msg = strstr(outbuf, "ratlip data import");
    printf("%-26s -> exit %d: %s", what, rc, msg ? msg : outbuf);
}

static void check_refusals(void) {
    char dir[256], out[256], base[1024], p[1024], p2[1024];
    snprintf(dir, sizeof dir, "%s/bad", root);
    snprintf(out, sizeof out, "%s/bad_out", root);
    snprintf(base, sizeof base, "data import --layout dfgan --data-dir %s --dataset birds --out %s --shards 1 --size 16",
             dir, out);

    make_birds(dir);
    snprintf(p, sizeof p, "%s/CUB_200_2011/images/002.Beta/b_1.jpg", dir);
    unlink(p);
    refused(base, out, "image missing", p, "002.Beta/b_1");

    make_birds(dir);
    snprintf(p, sizeof p, "%s/text/001.Alpha/a_1.txt", dir);
    unlink(p);
    refused(base, out, "caption file missing", p, NULL);
    write_text(p, "\n  \n\n");
    refused(base, out, "caption file blank", p, "no captions");

    const struct {
        const char *what, *line3, *want;
    } bad[] = {
        {"bbox: 4 fields", "12 1 2 3\n", "bounding_boxes.txt:3: 4 fields"},
        {"bbox: not a number", "12 1 2 3 4x\n", "bounding_boxes.txt:3: height '4x'"},
        {"bbox: negative size", "12 1 2 -3 4\n", "bounding_boxes.txt:3: negative"},
        {"bbox: duplicate id", "11 1 2 3 4\n", "bounding_boxes.txt:3: duplicate image id 11"},
        {"bbox: key without box", "99 1 2 3 4\n", "no bounding box for image id 12"},
        // id 12 is 001.Alpha/a_1, 68x50: a box a million pixels to the right, and one a pixel and a half over its
        // left edge (AttnGAN crops what is left of the square around either)
        {"bbox: far outside", "12 1e6 2 3 4\n", "bounding_boxes.txt:3"},
        {"bbox: 1.5 px outside", "12 -1.5 2 30 20\n", "bounding_boxes.txt:3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_birds(dir);
        snprintf(p, sizeof p, "%s/CUB_200_2011/bounding_boxes.txt", dir);
        char text[512];
        // lines 1, 2, 4-6 as make_birds writes them (ids 10-15 are b_0, a_0, a_1, b_1, a_2, b_2)
        snprintf(text, sizeof text, "10 0.5 4.0 30.25 20.0\n11 30.0 20.0 42.7 30.0\n%s13 9.5 4.0 30.25 23.0\n"
                 "14 12.5 4.0 30.25 24.0\n15 15.5 4.0 30.25 25.0\n", bad[i].line3);
        write_text(p, text);
        refused(base, out, bad[i].what, bad[i].want, NULL);
    }
    make_birds(dir);
    snprintf(p, sizeof p, "%s/CUB_200_2011/images.txt", dir);
    write_text(p, "10 002.Beta/b_0.jpg\n11 001.Alpha/a_0.jpg extra\n");
    refused(base, out, "images.txt: 3 fields", "images.txt:2: 3 fields", NULL);

    make_birds(dir);
    snprintf(p, sizeof p, "%s/test/filenames.pickle", dir);
    snprintf(p2, sizeof p2, "%s/train/filenames.pickle", dir);
    write_pickle(p, "001.Alpha/a_2 002.Beta/b_2 001.Alpha/a_1");
    refused(base, out, "key in train and test", p2, p);

    // a failure while writing (an image that does not decode) removes the shards already written
    make_birds(dir);
    snprintf(p, sizeof p, "%s/CUB_200_2011/images/002.Beta/b_2.jpg", dir);
    write_text(p, "not a jpeg");
    refused(base, out, "image does not decode", p, NULL);

    char args[1024];
    snprintf(args, sizeof args, "data import --layout dfgan --dataset birds --out %s --shards 1 --size 16", out);
    refused(args, out, "no --data-dir", "--data-dir", NULL);
    snprintf(args, sizeof args, "data import --layout dfgan --data-dir %s --out %s --shards 1 --size 16", dir, out);
    refused(args, out, "no --dataset", "--dataset", NULL);
    snprintf(args, sizeof args, "data import --layout dfgan --data-dir %s --dataset bird --out %s --shards 1 --size 16",
             dir, out);
    refused(args, out, "unknown --dataset", "birds, flower, faces, coco", "did you mean 'birds'?");
    snprintf(args, sizeof args, "data import --images %s --captions %s --dataset birds --out %s --shards 1 --size 16", dir,
             dir, out);
    refused(args, out, "--dataset with flat", "--dataset", NULL);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: io_import_dfgan path/to/ratlip\n"); return 2; }
    ratlip = argv[1];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(root, sizeof root, "/tmp/ratlip_dfganXXXXXX");
    if (!mkdtemp(root)) return 1;
    check_crop_formula();
    check_birds();
    check_flat(1);
    check_flat(0);
    check_coco();
    check_refusals();
    if (!tu_failures) fx_rmdir(root);
    else fprintf(stderr, "kept %s\n", root);
    return tu_done("io_import_dfgan");
}
