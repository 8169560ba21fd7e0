// The attribute probe end to end (core/probe.h, io/probe_file.h, `ratlip data probe`), on synthetic sets
// made here with synth_write. Usage: test_probe RATLIP CASE, CASE one of
//   accuracy  fit with the defaults on 1000 of 1200 train images (64x64, seed 3), measured on 400 test
//             images: colour, background, size ≥ 0.95 and shape ≥ 0.45 (see ACC_* below)
//   determinism  two fits with one seed give identical weights, another seed other weights
//   cache     save/load round trip (same weights, same predictions, same report; by file and by
//             directory); probe_cache_current: current, then stale after other options and after the
//             dataset is re-made; label_names in the dataset (synth writes them, old sets read label0..)
//   errors    no /labels, a negative label, truncated cache, wrong-shape weights, wrong-length
//             /n_classes, label_names that do not match /labels: each fails naming the file
//   cli       `ratlip data probe`: fit, reuse, --force, other options, changed dataset, truncated cache
//             (refit, says why), unlabelled dataset (exit 1 naming DIR)
//   demo      (label slow) the demo-sized fit through the CLI: 64x64, 4000 train, 256 test, seed 1:
//             every attribute ≥ 0.97 (measured: shape 0.996, the others 1.000)
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/kernels.h"
#include "io/dataset.h"
#include "io/h5util.h"
#include "io/probe_file.h"
#include "io/synth.h"
#include "testutil.h"

// Thresholds of the accuracy case (seeds fixed, so the fit is deterministic on a given kernel setup).
// Measured (Xeon @ 2.80GHz, 2 threads, oneDNN avx512_core_vnni): shape 0.5625, colour 1.000, background
// 1.000, size 0.980 on the 400 test images (on another set, seed 3 with 2000/500 images: shape 0.584,
// size 0.992). Shape needs more images than this fast test affords (4000 train: 0.99+, the demo case);
// 0.45 is well above chance (0.33) and leaves ~0.11 for other kernels' rounding and order. Colour and
// background are learnt within two epochs; size is the tightest of the three (0.98: 8 of 400 wrong,
// 0.95 allows 20).
#define ACC_EASY 0.95
#define ACC_SHAPE 0.45
#define ACC_DEMO 0.97

static const char *ratlip;
static char root[64], outbuf[1 << 16];

static int run(const char *args) { return tu_run_capture(ratlip, args, root, outbuf, sizeof outbuf); }

static void synth(const char *dir, int S, long ntrain, long ntest, uint64_t seed) {
    Err e;
    if (synth_write(dir, S, ntrain, ntest, seed, 1, NULL, &e)) {
        printf("FAIL synth_write: %s\n", e.msg);
        exit(1);
    }
}

static ProbeFitOptions quick(void) {   // a tiny fit for the cases that check plumbing, not accuracy
    ProbeFitOptions o;
    probe_fit_defaults(&o);
    o.epochs = 1;
    o.max_images = 96;
    return o;
}

static void fit_or_die(const char *dir, const ProbeFitOptions *o, Probe *p, ProbeReport *r) {
    Err e;
    if (probe_fit(dir, o, p, r, &e)) {
        printf("FAIL probe_fit %s: %s\n", dir, e.msg);
        exit(1);
    }
}

// test images of dir as [n,3,S,S] in [-1,1] (first n)
static real *test_images(const char *dir, long *n, int *S) {
    Dataset *ds;
    Err e;
    if (ds_open(&ds, dir, "test", &e)) printf("FAIL %s\n", e.msg), exit(1);
    *S = ds_info(ds)->image_size;
    *n = ds_size(ds);
    size_t plane = (size_t)*S * *S;
    real *x = malloc((size_t)*n * 3 * plane * sizeof(real));
    uint8_t *hwc = malloc(plane * 3);
    for (long i = 0; i < *n; i++) {
        if (ds_read_image(ds, i, hwc, &e)) printf("FAIL %s\n", e.msg), exit(1);
        for (size_t q = 0; q < plane; q++)
            for (int c = 0; c < 3; c++) x[((size_t)i * 3 + c) * plane + q] = (real)(hwc[q * 3 + c] / 127.5f - 1.0f);
    }
    free(hwc);
    ds_close(ds);
    return x;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

// ---------------------------------------------------------------- accuracy

static void case_accuracy(void) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/acc", root);
    synth(dir, 64, 1200, 400, 3);
    ProbeFitOptions o;
    probe_fit_defaults(&o);
    o.max_images = 1000;   // a seeded subset: exercises the subset path too
    Probe p;
    ProbeReport r;
    fit_or_die(dir, &o, &p, &r);
    printf("accuracy: %ld train, %ld test, %.1f s:", r.n_train, r.n_test, r.fit_seconds);
    for (int a = 0; a < r.n_attrs; a++) printf(" %s %.4f", r.names[a], r.test_accuracy[a]);
    printf(" all %.4f\n", r.test_all);
    TU_CHECK(r.n_attrs == 4 && r.n_train == 1000 && r.n_test == 400, "n_attrs %d n_train %ld n_test %ld", r.n_attrs,
             r.n_train, r.n_test);
    const char *names[4] = {"shape", "colour", "background", "size"};
    const int ncls[4] = {3, 8, 8, 2};
    for (int a = 0; a < 4; a++) {
        TU_CHECK(!strcmp(r.names[a], names[a]), "attribute %d named '%s', want '%s'", a, r.names[a], names[a]);
        TU_CHECK(p.n_classes[a] == ncls[a], "attribute %s: %d classes, want %d", names[a], p.n_classes[a], ncls[a]);
        double want = a == 0 ? ACC_SHAPE : ACC_EASY;
        TU_CHECK(r.test_accuracy[a] >= want, "%s test accuracy %.4f < %.2f", names[a], r.test_accuracy[a], want);
        TU_CHECK(r.chance_accuracy[a] < 0.7, "%s chance %.4f", names[a], r.chance_accuracy[a]);
    }
    TU_CHECK(r.test_all <= r.test_accuracy[0] + 1e-12, "all %.4f above shape %.4f", r.test_all, r.test_accuracy[0]);
    // probe_predict on the test images at their own size agrees with the report, and the result does not
    // depend on how many images one call takes (max_batch chunks vs one at a time)
    long n;
    int S;
    real *x = test_images(dir, &n, &S);
    int32_t *pa = malloc((size_t)n * 4 * sizeof(int32_t)), *pb = malloc((size_t)n * 4 * sizeof(int32_t));
    Err e;
    TU_CHECK(probe_predict(&p, x, (int)n, S, pa, &e) == 0, "predict: %s", e.msg);
    for (long i = 0; i < n; i++) probe_predict(&p, x + (size_t)i * 3 * S * S, 1, S, pb + i * 4, &e);
    TU_CHECK(!memcmp(pa, pb, (size_t)n * 4 * sizeof(int32_t)), "predictions depend on the call's batch");
    free(pa);
    free(pb);
    free(x);
    probe_free(&p);
}

// ---------------------------------------------------------------- determinism

static void case_determinism(void) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/det", root);
    synth(dir, 48, 160, 40, 5);   // 48 → 32: avg pool 1x1 is a copy, so bilinear: the other resize path
    ProbeFitOptions o = quick();
    o.max_images = 120;           // a subset, shuffled, shifted: every random draw of the fit
    Probe a, b, c;
    ProbeReport ra, rb, rc;
    fit_or_die(dir, &o, &a, &ra);
    fit_or_die(dir, &o, &b, &rb);
    o.seed = 1;
    fit_or_die(dir, &o, &c, &rc);
    TU_CHECK(a.ps.total == b.ps.total && !memcmp(a.ps.data, b.ps.data, a.ps.total * sizeof(real)),
             "two fits with seed 0 differ");
    TU_CHECK(!memcmp(ra.test_accuracy, rb.test_accuracy, sizeof ra.test_accuracy), "reports differ");
    TU_CHECK(memcmp(a.ps.data, c.ps.data, a.ps.total * sizeof(real)) != 0, "seeds 0 and 1 gave the same weights");
    printf("determinism: checksum %016llx twice, seed 1 %016llx\n", (unsigned long long)params_checksum(&a.ps),
           (unsigned long long)params_checksum(&c.ps));
    probe_free(&a);
    probe_free(&b);
    probe_free(&c);
}

// ---------------------------------------------------------------- cache

static void case_cache(void) {
    char dir[128], path[256], why[1200];
    snprintf(dir, sizeof dir, "%s/cache", root);
    synth(dir, 32, 100, 50, 7);
    ProbeFitOptions o = quick();
    Probe p, q, q2;
    ProbeReport r, rl, rl2;
    Err e;
    fit_or_die(dir, &o, &p, &r);
    probe_default_path(path, sizeof path, dir, o.side);
    TU_CHECK(contains(path, "/probe-32.h5"), "default path %s", path);
    TU_CHECK(probe_cache_current(path, dir, &o, why, sizeof why, &e) == 0 && contains(why, "no cache"),
             "no cache yet: %s", why);
    TU_CHECK(probe_save(path, &p, &r, &o, &e) == 0, "save: %s", e.msg);
    TU_CHECK(probe_load(path, &q, &rl, &e) == 0, "load: %s", e.msg);
    TU_CHECK(probe_load(dir, &q2, &rl2, &e) == 0, "load by directory: %s", e.msg);
    TU_CHECK(q.ps.total == p.ps.total && !memcmp(q.ps.data, p.ps.data, p.ps.total * sizeof(real)),
             "loaded weights differ from the saved ones");
    TU_CHECK(q2.ps.total == p.ps.total && !memcmp(q2.ps.data, p.ps.data, p.ps.total * sizeof(real)),
             "weights loaded by directory differ");
    TU_CHECK(rl.n_attrs == 4 && !memcmp(rl.test_accuracy, r.test_accuracy, sizeof r.test_accuracy) &&
                 !memcmp(rl.chance_accuracy, r.chance_accuracy, sizeof r.chance_accuracy) && rl.test_all == r.test_all &&
                 rl.n_train == r.n_train && rl.n_test == r.n_test && !strcmp(rl.fingerprint, r.fingerprint) &&
                 !strcmp(rl.source, dir),
             "loaded report differs");
    for (int a = 0; a < 4; a++) TU_CHECK(!strcmp(rl.names[a], r.names[a]), "name %d: %s vs %s", a, rl.names[a], r.names[a]);
    long n;
    int S;
    real *x = test_images(dir, &n, &S);
    int32_t *pa = malloc((size_t)n * 4 * sizeof(int32_t)), *pb = malloc((size_t)n * 4 * sizeof(int32_t));
    real *qa = malloc((size_t)n * p.n_logits * sizeof(real)), *qb = malloc((size_t)n * p.n_logits * sizeof(real));
    probe_predict_probs(&p, x, (int)n, S, pa, qa, &e);
    probe_predict_probs(&q, x, (int)n, S, pb, qb, &e);
    TU_CHECK(!memcmp(pa, pb, (size_t)n * 4 * sizeof(int32_t)), "loaded probe predicts differently");
    TU_CHECK(!memcmp(qa, qb, (size_t)n * p.n_logits * sizeof(real)), "loaded probe's probabilities differ");
    // a generated image need not have the dataset's side: 64 (area), 100 (avg pool 3, then bilinear 33 → 32),
    // 40 and 20 (bilinear) also work; 1 does not
    real *big = malloc((size_t)2 * 3 * 100 * 100 * sizeof(real));
    for (size_t i = 0; i < (size_t)2 * 3 * 100 * 100; i++) big[i] = (real)((i * 7919 % 200) / 100.0 - 1);
    const int sides[4] = {64, 100, 40, 20};
    for (int k = 0; k < 4; k++) {
        int32_t pr[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
        TU_CHECK(probe_predict(&q, big, 2, sides[k], pr, &e) == 0, "S %d: %s", sides[k], e.msg);
        for (int j = 0; j < 8; j++)
            TU_CHECK(pr[j] >= 0 && pr[j] < q.n_classes[j % 4], "S %d: prediction %d out of range", sides[k], pr[j]);
    }
    TU_CHECK(probe_predict(&q, big, 2, 1, pa, &e) != 0 && contains(e.msg, "side 1"), "S 1: '%s'", e.msg);
    free(big);
    free(pa), free(pb), free(qa), free(qb), free(x);
    // current; then stale after other options; then stale after the dataset is re-made
    TU_CHECK(probe_cache_current(path, dir, &o, why, sizeof why, &e) == 1, "fresh cache not current: %s", why);
    ProbeFitOptions o2 = o;
    o2.epochs = 2;
    TU_CHECK(probe_cache_current(path, dir, &o2, why, sizeof why, &e) == 0 && contains(why, "--epochs 1, now 2"),
             "other epochs: %s", why);
    o2 = o;
    o2.shift = 0;
    TU_CHECK(probe_cache_current(path, dir, &o2, why, sizeof why, &e) == 0 && contains(why, "--shift"), "shift: %s", why);
    synth(dir, 32, 100, 50, 8);   // same sizes, other seed
    TU_CHECK(probe_cache_current(path, dir, &o, why, sizeof why, &e) == 0 && contains(why, "dataset changed"),
             "re-made dataset: %s", why);
    char fp[17];
    TU_CHECK(probe_data_fingerprint(dir, fp, &e) == 0 && strcmp(fp, r.fingerprint), "fingerprint %s unchanged", fp);
    synth(dir, 32, 101, 50, 7);   // the first seed, one image more
    TU_CHECK(probe_data_fingerprint(dir, fp, &e) == 0 && strcmp(fp, r.fingerprint), "one more image: same fingerprint");
    synth(dir, 32, 100, 50, 7);   // the original again: current again
    TU_CHECK(probe_cache_current(path, dir, &o, why, sizeof why, &e) == 1, "re-made identically: %s", why);
    // label names: synth writes them; DsInfo round trip; the helper's fallback
    Dataset *ds;
    TU_CHECK(ds_open(&ds, dir, "train", &e) == 0, "%s", e.msg);
    TU_CHECK(!strcmp(ds_info(ds)->label_names, "shape,colour,background,size"), "label_names '%s'",
             ds_info(ds)->label_names);
    char nm[32];
    ds_label_name(ds_info(ds), 3, nm, sizeof nm);
    TU_CHECK(!strcmp(nm, "size"), "name 3 '%s'", nm);
    ds_close(ds);
    DsInfo none = {.label_dim = 2};
    ds_label_name(&none, 1, nm, sizeof nm);
    TU_CHECK(!strcmp(nm, "label1"), "fallback name '%s'", nm);
    probe_free(&p);
    probe_free(&q);
    probe_free(&q2);
}

// ---------------------------------------------------------------- errors

// One shard of n images of side S with L label columns (values from lab(i, j)), label_names names.
static int write_set(const char *dir, const char *split, long n, int S, int L, const char *names, int neg, Err *e) {
    mkdir(dir, 0777);
    DsInfo info = {.image_size = S, .n_captions = 1, .embed_dim = 4, .label_dim = L};
    snprintf(info.split, sizeof info.split, "%s", split);
    snprintf(info.text_encoder, sizeof info.text_encoder, "test");
    if (names) snprintf(info.label_names, sizeof info.label_names, "%s", names);
    char path[512];
    ds_shard_path(path, sizeof path, dir, split, 0, 1);
    DsWriter *w = ds_writer_open(path, &info, n, e);
    if (!w) return -1;
    uint8_t *img = calloc((size_t)S * S * 3, 1);
    float emb[4] = {1, 0, 0, 0};
    const char *cap[1] = {"x"};
    int rc = 0;
    for (long i = 0; i < n && !rc; i++) {
        int32_t lab[4] = {(int32_t)(i % 2), (int32_t)(i % 3), neg && i == n - 1 ? -1 : 0, 1};
        memset(img, (int)(i * 37 % 256), (size_t)S * S * 3);
        rc = ds_writer_put(w, i, img, emb, 1, cap, lab, e);
    }
    free(img);
    if (rc) {
        ds_writer_abort(w);
        return -1;
    }
    return ds_writer_close(w, e);
}

// Replaces dataset name of the file at path by an int32/float [n0, n1] (n1 = 0: 1-D) of zeros.
static void replace_dataset(const char *path, const char *name, hsize_t n0, hsize_t n1, int isfloat) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    TU_CHECK(f >= 0, "open %s", path);
    H5Ldelete(f, name, H5P_DEFAULT);
    hsize_t dims[2] = {n0, n1};
    hid_t sp = H5Screate_simple(n1 ? 2 : 1, dims, NULL);
    hid_t d = H5Dcreate2(f, name, isfloat ? H5T_IEEE_F32LE : H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    size_t n = (size_t)n0 * (n1 ? n1 : 1);
    void *z = calloc(n, 4);
    H5Dwrite(d, isfloat ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
    free(z);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
}

static void copy_file(const char *from, const char *to, long keep) {   // keep < 0: all
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[4096];
    size_t k;
    long done = 0;
    while (a && b && (k = fread(buf, 1, sizeof buf, a)) > 0) {
        if (keep >= 0 && done + (long)k > keep) k = (size_t)(keep - done);
        fwrite(buf, 1, k, b);
        done += (long)k;
        if (keep >= 0 && done >= keep) break;
    }
    if (a) fclose(a);
    if (b) fclose(b);
}

static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) ? -1 : (long)st.st_size;
}

static void case_errors(void) {
    char dir[128], path[256], bad[300];
    Err e;
    Probe p;
    ProbeReport r;
    ProbeFitOptions o = quick();
    // no /labels
    snprintf(dir, sizeof dir, "%s/nolabels", root);
    TU_CHECK(write_set(dir, "train", 8, 16, 0, NULL, 0, &e) == 0 && write_set(dir, "test", 4, 16, 0, NULL, 0, &e) == 0,
             "%s", e.msg);
    TU_CHECK(probe_fit(dir, &o, &p, &r, &e) != 0 && contains(e.msg, dir) && contains(e.msg, "no /labels") &&
                 contains(e.msg, "needs a labelled dataset"),
             "no labels: '%s'", e.msg);
    // no test split
    snprintf(dir, sizeof dir, "%s/notest", root);
    TU_CHECK(write_set(dir, "train", 8, 16, 2, "a,b", 0, &e) == 0, "%s", e.msg);
    TU_CHECK(probe_fit(dir, &o, &p, &r, &e) != 0 && contains(e.msg, dir) && contains(e.msg, "no test shards"),
             "no test: '%s'", e.msg);
    // a negative label names the split, image, column and its name
    snprintf(dir, sizeof dir, "%s/neg", root);
    TU_CHECK(write_set(dir, "train", 8, 16, 4, "a,b,c,d", 1, &e) == 0 && write_set(dir, "test", 4, 16, 4, "a,b,c,d", 0, &e) == 0,
             "%s", e.msg);
    TU_CHECK(probe_fit(dir, &o, &p, &r, &e) != 0 && contains(e.msg, dir) && contains(e.msg, "image 7") &&
                 contains(e.msg, "column 2 (c) is -1"),
             "negative label: '%s'", e.msg);
    // old-style set (no label_names): fits, heads named label0..; one-class columns get 2 classes
    snprintf(dir, sizeof dir, "%s/old", root);
    TU_CHECK(write_set(dir, "train", 8, 16, 4, NULL, 0, &e) == 0 && write_set(dir, "test", 6, 16, 4, NULL, 0, &e) == 0,
             "%s", e.msg);
    if (probe_fit(dir, &o, &p, &r, &e) == 0) {
        TU_CHECK(!strcmp(r.names[0], "label0") && !strcmp(r.names[3], "label3"), "names %s %s", r.names[0], r.names[3]);
        TU_CHECK(p.n_classes[0] == 2 && p.n_classes[1] == 3 && p.n_classes[2] == 2 && p.n_classes[3] == 2,
                 "classes %d %d %d %d", p.n_classes[0], p.n_classes[1], p.n_classes[2], p.n_classes[3]);
        probe_default_path(path, sizeof path, dir, o.side);
        TU_CHECK(probe_save(path, &p, &r, &o, &e) == 0, "%s", e.msg);
        probe_free(&p);
    } else {
        TU_CHECK(0, "fit without label_names: %s", e.msg);
    }
    // label_names that do not match /labels: refused by the writer, and by the reader
    snprintf(dir, sizeof dir, "%s/badnames", root);
    TU_CHECK(write_set(dir, "train", 4, 16, 4, "a,b,c", 0, &e) != 0 && contains(e.msg, "label_names"),
             "writer took 3 names for 4 columns: '%s'", e.msg);
    TU_CHECK(write_set(dir, "train", 4, 16, 4, "a,,c,d", 0, &e) != 0, "writer took an empty name");
    TU_CHECK(write_set(dir, "train", 4, 16, 4, "a,b,c,d", 0, &e) == 0, "%s", e.msg);
    char shard[512];
    ds_shard_path(shard, sizeof shard, dir, "train", 0, 1);
    hid_t f = H5Fopen(shard, H5F_ACC_RDWR, H5P_DEFAULT);
    h5u_attr_write_str(f, "label_names", "a,b");
    H5Fclose(f);
    Dataset *ds;
    TU_CHECK(ds_open(&ds, dir, "train", &e) != 0 && contains(e.msg, shard) && contains(e.msg, "label_names"),
             "reader took 2 names for 4 columns: '%s'", e.msg);
    // the cache of "old" (4 heads: 2,3,2,2 classes): truncated, wrong-shape weights, wrong-length /n_classes
    snprintf(dir, sizeof dir, "%s/old", root);
    probe_default_path(path, sizeof path, dir, o.side);
    snprintf(bad, sizeof bad, "%s/trunc.h5", root);
    copy_file(path, bad, file_size(path) / 2);
    TU_CHECK(probe_load(bad, &p, &r, &e) != 0 && contains(e.msg, bad), "truncated: '%s'", e.msg);
    snprintf(bad, sizeof bad, "%s/shape.h5", root);
    copy_file(path, bad, -1);
    replace_dataset(bad, "/weights/head.weight", 10, 128, 1);   // T = 2+3+2+2 = 9 rows
    TU_CHECK(probe_load(bad, &p, &r, &e) != 0 && contains(e.msg, bad) && contains(e.msg, "/weights/head.weight") &&
                 contains(e.msg, "[10,128]") && contains(e.msg, "[9,128]"),
             "wrong shape: '%s'", e.msg);
    snprintf(bad, sizeof bad, "%s/ncls.h5", root);
    copy_file(path, bad, -1);
    replace_dataset(bad, "n_classes", 3, 0, 0);
    TU_CHECK(probe_load(bad, &p, &r, &e) != 0 && contains(e.msg, bad) && contains(e.msg, "/n_classes"),
             "n_classes of 3 for 4 heads: '%s'", e.msg);
    snprintf(bad, sizeof bad, "%s/missing.h5", root);
    TU_CHECK(probe_load(bad, &p, &r, &e) != 0 && contains(e.msg, bad), "missing: '%s'", e.msg);
    snprintf(bad, sizeof bad, "%s/nolabels", root);
    TU_CHECK(probe_load(bad, &p, &r, &e) != 0 && contains(e.msg, bad) && contains(e.msg, "ratlip data probe"),
             "directory without a probe: '%s'", e.msg);
    // core: a label outside its head, a batch too large
    int nc[2] = {2, 3};
    TU_CHECK(probe_build(&p, 2, nc, 8, 2, &e) == 0, "%s", e.msg);
    probe_init(&p, 0);
    real img[3 * 3 * 8 * 8] = {0};
    int32_t lab[6] = {0, 0, 1, 3, 0, 0};
    double loss;
    TU_CHECK(probe_train_step(&p, img, lab, 2, 8, 1e-3, &loss, &e) != 0 && contains(e.msg, "attribute 1 has label 3"),
             "label 3 of a 3-class head: '%s'", e.msg);
    TU_CHECK(probe_train_step(&p, img, lab, 3, 8, 1e-3, &loss, &e) != 0 && contains(e.msg, "1..2"), "batch 3: '%s'", e.msg);
    probe_free(&p);
    nc[1] = 1;
    TU_CHECK(probe_build(&p, 2, nc, 8, 2, &e) != 0 && contains(e.msg, "attribute 1 has 1 classes"), "one class: '%s'", e.msg);
}

// ---------------------------------------------------------------- cli

static void case_cli(void) {
    char dir[128], args[1024], path[256];
    snprintf(dir, sizeof dir, "%s/cli", root);
    synth(dir, 32, 100, 40, 11);
    const char *small = "--epochs 1 --max-images 64 --threads 1";
    snprintf(args, sizeof args, "data probe %s %s", dir, small);
    int rc = run(args);
    TU_CHECK(rc == 0 && contains(outbuf, "fitted (no cache") && contains(outbuf, "shape") &&
                 contains(outbuf, "background") && contains(outbuf, "  all ") && contains(outbuf, "probe cached in") &&
                 contains(outbuf, "probe epoch 1/1"),
             "first fit (rc %d):\n%s", rc, outbuf);
    rc = run(args);
    TU_CHECK(rc == 0 && contains(outbuf, "reusing") && !contains(outbuf, "probe epoch"), "reuse (rc %d):\n%s", rc, outbuf);
    snprintf(args, sizeof args, "data probe %s %s --force", dir, small);
    rc = run(args);
    TU_CHECK(rc == 0 && contains(outbuf, "fitted (--force)"), "--force (rc %d):\n%s", rc, outbuf);
    snprintf(args, sizeof args, "data probe %s --epochs 2 --max-images 64 --threads 1", dir);
    rc = run(args);
    TU_CHECK(rc == 0 && contains(outbuf, "fitted with --epochs 1, now 2"), "other epochs (rc %d):\n%s", rc, outbuf);
    synth(dir, 32, 100, 40, 12);
    rc = run(args);
    TU_CHECK(rc == 0 && contains(outbuf, "dataset changed"), "changed dataset (rc %d):\n%s", rc, outbuf);
    probe_default_path(path, sizeof path, dir, 32);
    TU_CHECK(truncate(path, file_size(path) / 2) == 0, "truncate %s", path);
    rc = run(args);
    TU_CHECK(rc == 0 && contains(outbuf, "unreadable") && contains(outbuf, "probe cached in"), "truncated cache (rc %d):\n%s",
             rc, outbuf);
    Probe p;
    ProbeReport r;
    Err e;
    if (probe_load(path, &p, &r, &e) == 0) probe_free(&p);
    else TU_CHECK(0, "refitted cache: %s", e.msg);
    snprintf(args, sizeof args, "data probe %s/nolab", root);
    Err we;
    char nolab[128];
    snprintf(nolab, sizeof nolab, "%s/nolab", root);
    write_set(nolab, "train", 4, 16, 0, NULL, 0, &we);
    write_set(nolab, "test", 4, 16, 0, NULL, 0, &we);
    rc = run(args);
    TU_CHECK(rc == 1 && contains(outbuf, nolab) && contains(outbuf, "no /labels"), "unlabelled (rc %d):\n%s", rc, outbuf);
    rc = run("data probe --help");
    TU_CHECK(rc == 0 && contains(outbuf, "--max-images") && contains(outbuf, "--force"), "help:\n%s", outbuf);
    snprintf(args, sizeof args, "data probe %s --side 4", dir);
    rc = run(args);
    TU_CHECK(rc == 1 && contains(outbuf, "--side"), "--side 4 (rc %d):\n%s", rc, outbuf);
}

// ---------------------------------------------------------------- demo (slow)

static double acc_of(const char *name) {
    char key[64];
    snprintf(key, sizeof key, "\n  %s ", name);
    const char *s = strstr(outbuf, key);
    return s ? atof(s + strlen(key)) : -1;
}

static void case_demo(void) {
    char dir[128], args[512];
    snprintf(dir, sizeof dir, "%s/demo", root);
    synth(dir, 64, 4000, 256, 1);
    snprintf(args, sizeof args, "data probe %s", dir);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = run(args);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%s\ndemo fit: %.1f s wall\n", outbuf, dt);
    TU_CHECK(rc == 0, "rc %d", rc);
    const char *names[5] = {"shape", "colour", "background", "size", "all"};
    for (int a = 0; a < 5; a++)
        TU_CHECK(acc_of(names[a]) >= ACC_DEMO, "%s test accuracy %.4f < %.2f", names[a], acc_of(names[a]), ACC_DEMO);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_probe path/to/ratlip accuracy|determinism|cache|errors|cli|demo\n");
        return 2;
    }
    ratlip = argv[1];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(root, sizeof root, "/tmp/ratlip_test_probeXXXXXX");
    if (!mkdtemp(root)) return 1;
    const char *c = argv[2];
    if (!strcmp(c, "accuracy")) case_accuracy();
    else if (!strcmp(c, "determinism")) case_determinism();
    else if (!strcmp(c, "cache")) case_cache();
    else if (!strcmp(c, "errors")) case_errors();
    else if (!strcmp(c, "cli")) case_cli();
    else if (!strcmp(c, "demo")) case_demo();
    else {
        fprintf(stderr, "test_probe: unknown case '%s'\n", c);
        return 2;
    }
    if (!tu_failures) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd)) {
        }
    } else {
        printf("(files kept in %s)\n", root);
    }
    return tu_done(c);
}
