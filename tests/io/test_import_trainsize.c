// Upstream's training augmentation end to end (issue 17): `data import --train-size` / the dfgan default
// T = int(S*76/64) stores the train split at TxT and the test split at SxS, and `ratlip train` takes a
// random SxS crop of the stored train images (io/reader.h). argv: the ratlip binary, the case, mpirun.
//   import  (unit) a miniature faces replica (--train-list/--test-list, no Python): the default stores
//           train at 19x19 and test at 16x16 for --size 16, each image the source resized shorter side to
//           T (S) and centre-cropped, pixel for pixel; --train-size 16 stores what the import stored before
//           (train = test side) and the same test split; the flat layout keeps S for both unless
//           --train-size; `data verify` names both sides. At --size 64 (train 76) the micro model trains 2
//           steps and says `augment: random 64x64 crop of 76x76 stored images + flip`; `data stats --split
//           train` takes the centre 64x64; `data probe` fits on a labelled set stored 20/16. Refused, naming
//           the option or key, the dataset and both sides: --train-size < --size; model.image_size != the
//           test side; train images smaller than model.image_size (also by `data verify`);
//           data.random_crop > 0 with a larger train split.
//   resume  (mpi) 2 ranks on the 76/64 set: 4 steps straight == 2 steps, stop, --resume auto, 2 more
//           (`ckpt diff --fail-if-different`): the crop offsets continue bit-exactly.
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>
#include "data_fixture.h"
#include "io/image.h"
#include "testutil.h"

static const char *ratlip, *mpirun;
static char root[64], outbuf[1 << 16];

static int run(const char *args) { return tu_run_capture(ratlip, args, root, outbuf, sizeof outbuf); }

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    TU_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

// R = 3x, G = 5y, B = 30 * seed: smooth enough for JPEG, different in every image
static void fill(uint8_t *row, int w, int y, void *ctx) {
    int seed = *(int *)ctx;
    for (int x = 0; x < w; x++) {
        row[3 * x] = (uint8_t)(3 * x + seed);
        row[3 * x + 1] = (uint8_t)(5 * y);
        row[3 * x + 2] = (uint8_t)(30 * seed);
    }
}

// faces: images/<k>.jpg (non-square, k = 1..n), text/<k>.txt, keys 1..ntrain in train.txt, the rest in test.txt
static void make_faces(const char *dir, int n, int ntrain) {
    char cmd[1024], p[1024], text[256], list[2][512] = {"", ""};
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s/images %s/text", dir, dir, dir);
    TU_CHECK(system(cmd) == 0, "failed: %s", cmd);
    for (int k = 1; k <= n; k++) {
        snprintf(p, sizeof p, "%s/images/%d.jpg", dir, k);
        fx_write_jpeg(p, 40 + 6 * k, 30 + 4 * (k % 3), 3, JCS_RGB, JCS_YCbCr, 0, 95, fill, &k);
        snprintf(p, sizeof p, "%s/text/%d.txt", dir, k);
        snprintf(text, sizeof text, "a face number %d\nthe %d face\n", k, k);
        write_text(p, text);
        char *l = list[k > ntrain];
        snprintf(l + strlen(l), 512 - strlen(l), "%d\n", k);
    }
    snprintf(p, sizeof p, "%s/train.txt", dir);
    write_text(p, list[0]);
    snprintf(p, sizeof p, "%s/test.txt", dir);
    write_text(p, list[1]);
}

static void import_faces(const char *dir, const char *out, int size, const char *extra) {
    char args[2048];
    snprintf(args, sizeof args, "data import --layout dfgan --data-dir %s --dataset faces --train-list %s/train.txt "
             "--test-list %s/test.txt --out %s --shards 2 --size %d %s", dir, dir, dir, out, size, extra);
    int rc = run(args);
    TU_CHECK(rc == 0, "import %s: exit %d: %s", extra, rc, outbuf);
}

// Every image of split sp of out = its source (images/<first + i>.jpg) resized to side x side; the side is
// the split's image_size. Returns the side (0 on failure).
static int check_pixels(const char *out, const char *dir, const char *split, int first, int side) {
    Dataset *ds;
    Err e;
    if (ds_open(&ds, out, split, &e)) { TU_CHECK(0, "%s", e.msg); return 0; }
    int got = ds_info(ds)->image_size, bad = 0;
    TU_CHECK(got == side, "%s/%s: stored at %d, want %d", out, split, got, side);
    uint8_t *want = malloc((size_t)side * side * 3), *have = malloc((size_t)got * got * 3);
    for (long i = 0; i < ds_size(ds) && got == side; i++) {
        char p[1024];
        int w, h;
        uint8_t *rgb;
        snprintf(p, sizeof p, "%s/images/%ld.jpg", dir, first + i);
        if (image_load(p, &w, &h, &rgb, &e)) { TU_CHECK(0, "%s", e.msg); break; }
        image_resize_crop(rgb, w, h, side, want);
        free(rgb);
        TU_CHECK(!ds_read_image(ds, i, have, &e), "%s", e.msg);
        bad += memcmp(want, have, (size_t)side * side * 3) != 0;
    }
    TU_CHECK(bad == 0, "%s/%s: %d images are not their source resized to %dx%d", out, split, bad, side, side);
    free(want), free(have);
    ds_close(ds);
    return got;
}

// The micro model of io_import_dfgan at 64x64: 2 steps in a few seconds.
#define MICRO                                                                                                      \
    "--threads 1 --set train.batch_per_rank=2 --set train.sample_every=0 --set train.eval_every=0 "               \
    "--set model.g_channels=[64,64,32,32,16] --set model.clip_width=64 --set model.clip_heads=2 "               \
    "--set model.d_out_ch=64 --set model.mblock_mid=16 --set model.rat_hidden=32 --set model.netc_mid=32"

static int train(const char *data, const char *run_dir, int steps, const char *extra) {
    char args[4096];
    snprintf(args, sizeof args, "train --config %s/jobs/configs/tiny.json --data %s --run-dir %s/%s --steps %d " MICRO
             " %s", RATLIP_SOURCE_DIR, data, root, run_dir, steps, extra);
    return run(args);
}

// A labelled set: train n at T, test m at S (labels in {0, 1}; D = 512 as the tiny model's text_dim).
static void write_labelled(const char *dir, const char *split, long n, int side, int D) {
    DsInfo info = {.image_size = side, .n_captions = 1, .embed_dim = D, .label_dim = 1};
    snprintf(info.split, sizeof info.split, "%s", split);
    snprintf(info.text_encoder, sizeof info.text_encoder, "enc");
    snprintf(info.label_names, sizeof info.label_names, "bright");
    char path[1024];
    Err e;
    ds_shard_path(path, sizeof path, dir, split, 0, 1);
    DsWriter *w = ds_writer_open(path, &info, n, &e);
    uint8_t *img = malloc((size_t)side * side * 3);
    float *emb = calloc((size_t)D, sizeof(float));
    const char *cap[1] = {"a square"};
    for (long i = 0; w && i < n; i++) {
        int32_t lab = (int32_t)(i % 2);
        memset(img, lab ? 220 : 30, (size_t)side * side * 3);
        emb[i % D] = 1;
        TU_CHECK(!ds_writer_put(w, i, img, emb, 1, cap, &lab, &e), "%s", e.msg);
    }
    TU_CHECK(w && !ds_writer_close(w, &e), "%s: %s", path, e.msg);
    free(img), free(emb);
}

static void case_import(void) {
    char dir[256], out[256], out2[256], flat[256], args[4096];
    snprintf(dir, sizeof dir, "%s/faces", root);
    make_faces(dir, 6, 4);

    // the dfgan default: train at int(16*76/64) = 19, test at 16
    snprintf(out, sizeof out, "%s/o19", root);
    import_faces(dir, out, 16, "");
    TU_CHECK(strstr(outbuf, "4 train at 19x19") && strstr(outbuf, "2 test at 16x16"), "import summary: %s", outbuf);
    check_pixels(out, dir, "train", 1, 19);
    check_pixels(out, dir, "test", 5, 16);
    snprintf(args, sizeof args, "data verify %s", out);
    TU_CHECK(run(args) == 0 && strstr(outbuf, "19x19 train, 16x16 test RGB"), "verify: %s", outbuf);
    printf("dfgan --size 16: %s", outbuf);

    // --train-size S: the import of before (both splits at S); the test split is the same either way
    snprintf(out2, sizeof out2, "%s/o16", root);
    import_faces(dir, out2, 16, "--train-size 16");
    check_pixels(out2, dir, "train", 1, 16);
    check_pixels(out2, dir, "test", 5, 16);
    snprintf(args, sizeof args, "data verify %s", out2);
    TU_CHECK(run(args) == 0 && strstr(outbuf, "| 16x16 RGB |"), "verify T == S: %s", outbuf);
    // (both test splits are their sources at 16x16, checked above: the same pixels)

    // flat: both at S by default; --train-size makes train larger
    snprintf(flat, sizeof flat, "%s/flat", root);
    snprintf(args, sizeof args, "data import --images %s/images --captions %s/text --out %s --shards 1 --size 16 "
             "--test-fraction 0.34", dir, dir, flat);
    TU_CHECK(run(args) == 0 && strstr(outbuf, "train at 16x16") && strstr(outbuf, "test at 16x16"), "flat: %s", outbuf);
    snprintf(args, sizeof args, "data import --images %s/images --captions %s/text --out %s2 --shards 1 --size 16 "
             "--test-fraction 0.34 --train-size 20", dir, dir, flat);
    TU_CHECK(run(args) == 0 && strstr(outbuf, "train at 20x20") && strstr(outbuf, "test at 16x16"), "flat 20: %s",
             outbuf);

    // refused: --train-size < --size (nothing written)
    snprintf(args, sizeof args, "data import --layout dfgan --data-dir %s --dataset faces --train-list %s/train.txt "
             "--test-list %s/test.txt --out %s/never --shards 1 --size 16 --train-size 12", dir, dir, dir, root);
    int rc = run(args);
    TU_CHECK(rc == 1 && strstr(outbuf, "--train-size 12") && strstr(outbuf, "--size 16"), "T < S: exit %d: %s", rc,
             outbuf);
    snprintf(args, sizeof args, "%s/never", root);
    TU_CHECK(!exists(args), "T < S: %s written", args);
    printf("refused: %s", outbuf);

    // training at 64 on train 76 / test 64
    char d64[256];
    snprintf(d64, sizeof d64, "%s/o76", root);
    import_faces(dir, d64, 64, "");
    rc = train(d64, "run64", 2, "");
    TU_CHECK(rc == 0 && strstr(outbuf, "augment: random 64x64 crop of 76x76 stored images + flip") &&
                 strstr(outbuf, "done: 2 steps"), "train on 76/64: exit %d: %s", rc, outbuf);
    const char *aug = strstr(outbuf, "augment:");
    printf("train 2 steps: %.*s\n", aug ? (int)strcspn(aug, "\n") : 0, aug ? aug : "");

    // the refusals of train: each names the dataset, the key and both sides
    struct {
        const char *what, *data, *extra, *want1, *want2;
    } bad[] = {
        {"test side != model.image_size", d64,
         "--set model.image_size=32 --set model.clip_image_size=32 --set model.clip_patch=4 "
         "--set model.g_sizes=[8,16,32] --set model.g_channels=[64,64,32,16]",
         "the test images are 64x64 but model.image_size is 32", NULL},
        {"data.random_crop with T > S", d64, "--set data.random_crop=4", "data.random_crop is 4", "76x76"},
        {"train side < model.image_size", NULL, "", "the train images are 48x48, smaller than model.image_size 64",
         NULL},
    };
    char small[256];
    snprintf(small, sizeof small, "%s/small", root);
    TU_CHECK(mkdir(small, 0755) == 0, "mkdir %s", small);
    write_labelled(small, "train", 4, 48, 512);
    write_labelled(small, "test", 2, 64, 512);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *data = bad[i].data ? bad[i].data : small;
        rc = train(data, "never", 1, bad[i].extra);
        TU_CHECK(rc == 1 && strstr(outbuf, data) && strstr(outbuf, bad[i].want1) &&
                     (!bad[i].want2 || strstr(outbuf, bad[i].want2)), "%s: exit %d: %s", bad[i].what, rc, outbuf);
        const char *msg = strstr(outbuf, "ratlip train:");
        printf("refused (%s): %.*s\n", bad[i].what, msg ? (int)strcspn(msg, "\n") : 0, msg ? msg : "");
    }
    snprintf(args, sizeof args, "data verify %s", small);
    rc = run(args);
    TU_CHECK(rc == 1 && strstr(outbuf, "the train images are 48x48, smaller than the test images 64x64"),
             "verify of a train split smaller than the test split: exit %d: %s", rc, outbuf);
    snprintf(args, sizeof args, "data probe %s --side 16 --epochs 1", small);   // the same check (ds_check_sides)
    rc = run(args);
    TU_CHECK(rc == 1 && strstr(outbuf, "the train images are 48x48, smaller than the test images 64x64"),
             "probe of a train split smaller than the test split: exit %d: %s", rc, outbuf);

    // data stats --split train: the centre 64x64 of the 76x76 train images
    snprintf(args, sizeof args, "data stats %s --split train --out %s/stats.h5", d64, root);
    rc = run(args);
    TU_CHECK(rc == 0 && strstr(outbuf, "their centre 64x64"), "data stats --split train: exit %d: %s", rc, outbuf);

    // data probe on a labelled set stored train 20 / test 16: fits on the train images' centre 16x16
    char lab[256];
    snprintf(lab, sizeof lab, "%s/labelled", root);
    TU_CHECK(mkdir(lab, 0755) == 0, "mkdir %s", lab);
    write_labelled(lab, "train", 8, 20, 8);
    write_labelled(lab, "test", 4, 16, 8);
    snprintf(args, sizeof args, "data probe %s --side 16 --epochs 2 --shift 0", lab);
    rc = run(args);
    TU_CHECK(rc == 0 && strstr(outbuf, "(from 16x16, the centre of 20x20)"), "data probe: exit %d: %s", rc, outbuf);
}

static void case_resume(void) {
    char dir[256], data[256], args[4096], a[300], b[300];
    snprintf(dir, sizeof dir, "%s/faces", root);
    snprintf(data, sizeof data, "%s/o76", root);
    make_faces(dir, 10, 8);
    import_faces(dir, data, 64, "");
    const char *steps[3][2] = {{"a", "4"}, {"b", "2"}, {"b", "4 --resume auto"}};
    for (int k = 0; k < 3; k++) {
        snprintf(args, sizeof args, "--oversubscribe --allow-run-as-root --bind-to none -np 2 %s train --config "
                 "%s/jobs/configs/tiny.json --data %s --run-dir %s/run_%s --steps %s " MICRO, ratlip,
                 RATLIP_SOURCE_DIR, data, root, steps[k][0], steps[k][1]);
        int rc = tu_run_capture(mpirun, args, root, outbuf, sizeof outbuf);
        TU_CHECK(rc == 0 && strstr(outbuf, "augment: random 64x64 crop of 76x76 stored images + flip"),
                 "2 ranks, run_%s --steps %s: exit %d: %s", steps[k][0], steps[k][1], rc, outbuf);
        if (k == 2) TU_CHECK(strstr(outbuf, "resume: ") != NULL, "no resume: %s", outbuf);
    }
    snprintf(a, sizeof a, "%s/run_a/ckpt-00000004.h5", root);
    snprintf(b, sizeof b, "%s/run_b/ckpt-00000004.h5", root);
    snprintf(args, sizeof args, "ckpt diff --fail-if-different %s %s", a, b);
    int rc = run(args);
    TU_CHECK(rc == 0, "4 steps straight differ from 2 + resume + 2 on 2 ranks: exit %d: %s", rc, outbuf);
    printf("2 ranks, random 64x64 crops of 76x76: 4 steps straight == 2 + resume + 2 (ckpt diff exit %d)\n", rc);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: io_import_trainsize path/to/ratlip import|resume [mpirun]\n");
        return 2;
    }
    ratlip = argv[1];
    mpirun = argc > 3 ? argv[3] : "mpirun";
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    snprintf(root, sizeof root, "/tmp/ratlip_trainsizeXXXXXX");
    if (!mkdtemp(root)) return 1;
    if (!strcmp(argv[2], "import")) case_import();
    else if (!strcmp(argv[2], "resume")) case_resume();
    else return fprintf(stderr, "unknown case %s\n", argv[2]), 2;
    if (!tu_failures) fx_rmdir(root);
    else fprintf(stderr, "kept %s\n", root);
    return tu_done(!strcmp(argv[2], "import") ? "io_import_trainsize" : "io_import_trainsize_resume");
}
