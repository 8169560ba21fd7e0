// `ratlip data import --images DIR --captions DIR` grown up (jobs/import_flat.h; argv[1] = the ratlip binary),
// on a class-subfolder tree this test writes (folders "a", "a.b", "c", one nested "a/sub": path order and
// class order differ, since '.' < '/'):
//   - without --recursive the command is refused with the hint (subfolders, --recursive);
//   - --recursive imports every image in path order with its mirrored caption file, /labels "class" = the
//     first folder's index among the sorted ones, each stored image from its own source;
//   - refused naming the file: a missing caption file, an image next to class folders, a symlink loop and a
//     tree deeper than 32 folders (in bounded time);
//   - --train-list/--test-list (text with comments, and pickles from python3): the listed images only, the
//     others counted; a key without an image, twice in a list, in both lists, with its extension (file:line,
//     or entry for a pickle); --seed with lists and one list alone are usage errors;
//   - an OUT holding shards is refused naming it and --force; --force replaces them (and says so), and a
//     failed --force import keeps the old ones;
//   - io/tools/clip_text_embed.py --print-order lists the images in the order the import reads --text-emb's
//     rows (--recursive, and with the lists).
#include "data_fixture.h"
#include <sys/stat.h>
#include <unistd.h>
#include "testutil.h"

#define FX_DEEP 34   // folders nested under images/c: more than FLAT_MAX_DEPTH (32)

#ifndef RATLIP_PYTHON
#define RATLIP_PYTHON "/usr/bin/python3"
#endif

static const char *ratlip;
static char root[64], outbuf[1 << 16], img[256], cap[256];

static int run(const char *args) { return tu_run_capture(ratlip, args, root, outbuf, sizeof outbuf); }

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    TU_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

static void sh(const char *cmd) { TU_CHECK(system(cmd) == 0, "failed: %s", cmd); }

// a flat colour: blue = 20 + 30 * seed says which source a stored image came from
static void fill_flat(uint8_t *row, int w, int y, void *ctx) {
    (void)y;
    int seed = *(int *)ctx;
    for (int x = 0; x < w; x++) row[3 * x] = 200, row[3 * x + 1] = 60, row[3 * x + 2] = (uint8_t)(20 + 30 * seed);
}

// The tree: images/<rel>.jpg and text/<rel>.txt for each key, image i of colour seed i.
static const char *keys[] = {"a/0", "a/1", "a/sub/2", "a.b/3", "a.b/4", "c/5"};
#define NKEYS 6
// path order of the images ("a.b/..." < "a/..." < "c/...") and each one's class (a = 0, a.b = 1, c = 2)
static const int path_order[NKEYS] = {3, 4, 0, 1, 2, 5};
static const int class_of[NKEYS] = {0, 0, 0, 1, 1, 2};

static void make_tree(void) {
    char cmd[4096], p[512], text[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s && mkdir -p %s/a/sub %s/a.b %s/c %s/a/sub %s/a.b %s/c", img, cap, img, img,
             img, cap, cap, cap);
    sh(cmd);
    for (int i = 0; i < NKEYS; i++) {
        snprintf(p, sizeof p, "%s/%s.jpg", img, keys[i]);
        fx_write_jpeg(p, 24 + 2 * i, 20, 3, JCS_RGB, JCS_YCbCr, 0, 95, fill_flat, &i);
        snprintf(p, sizeof p, "%s/%s.txt", cap, keys[i]);
        snprintf(text, sizeof text, "caption of %s\n\nsecond caption of %s\n", keys[i], keys[i]);
        write_text(p, text);
    }
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

// The import must fail (exit want_rc), name want1 and want2, and leave no OUT behind.
static void refused(const char *args, const char *out, int want_rc, const char *what, const char *want1,
                    const char *want2) {
    int rc = run(args);
    TU_CHECK(rc == want_rc && strstr(outbuf, want1) && (!want2 || strstr(outbuf, want2)) && (!out || !exists(out)),
             "%s: exit %d (want %d), OUT %s: %s", what, rc, want_rc, out && exists(out) ? "left behind" : "absent",
             outbuf);
    const char *line = strstr(outbuf, "ratlip data import: ");
    printf("%-22s -> %.*s\n", what, line ? (int)strcspn(line, "\n") : 0, line ? line : "");
}

// clip_text_embed.py --print-order (extra: its options after --images/--captions) lists want[0..n) in order.
static void check_tool_order(const char *extra, const char *const *want, int n) {
    char cmd[4096], path[512], line[1024];
    snprintf(path, sizeof path, "%s/order.txt", root);
    snprintf(cmd, sizeof cmd, RATLIP_PYTHON " " RATLIP_SOURCE_DIR "/io/tools/clip_text_embed.py --images %s --captions %s "
             "%s --print-order > %s", img, cap, extra, path);
    sh(cmd);
    FILE *f = fopen(path, "r");
    int i = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\t")] = 0;
        TU_CHECK(i < n && !strcmp(line, want[i]), "clip_text_embed.py %s: row %d is %s, the import reads %s", extra, i,
                 line, i < n ? want[i] : "nothing more");
        i++;
    }
    if (f) fclose(f);
    TU_CHECK(i == n, "clip_text_embed.py %s: %d rows, want %d", extra, i, n);
    printf("clip_text_embed.py %s: the import's order (%d images)\n", extra, n);
}

static void check_recursive(void) {
    char out[256], args[4096];
    snprintf(out, sizeof out, "%s/out", root);
    // the command: a class-subfolder tree without --recursive
    snprintf(args, sizeof args, "data import --images %s --captions %s --out %s --shards 1 --size 64", img, cap, out);
    refused(args, out, 1, "subfolders, flat", img, "--recursive");
    TU_CHECK(strstr(outbuf, "subfolder") != NULL, "the refusal says there are subfolders: %s", outbuf);

    snprintf(args, sizeof args, "data import --images %s --captions %s --out %s --shards 2 --size 16 --recursive "
             "--test-fraction 0", img, cap, out);
    int rc = run(args);
    TU_CHECK(rc == 0 && strstr(outbuf, "3 classes"), "--recursive import: exit %d: %s", rc, outbuf);
    snprintf(args, sizeof args, "data verify %s", out);
    rc = run(args);
    TU_CHECK(rc == 0 && strstr(outbuf, "train 6 images in 2 shards") && strstr(outbuf, "labels") &&
                 strstr(outbuf, "K=2"), "verify: exit %d: %s", rc, outbuf);
    Dataset *ds;
    Err e;
    if (ds_open(&ds, out, "train", &e)) {
        TU_CHECK(0, "%s", e.msg);
        return;
    }
    TU_CHECK(ds_size(ds) == NKEYS && ds_info(ds)->label_dim == 1 && !strcmp(ds_info(ds)->label_names, "class"),
             "size %ld, L %d, label names '%s'", ds_size(ds), ds_info(ds)->label_dim, ds_info(ds)->label_names);
    int S = ds_info(ds)->image_size;
    uint8_t *px = malloc((size_t)S * S * 3);
    for (long i = 0; i < ds_size(ds) && i < NKEYS && px; i++) {
        int k = path_order[i];
        char got[256], want[256];
        snprintf(want, sizeof want, "second caption of %s", keys[k]);
        TU_CHECK(!ds_read_caption(ds, i, 1, got, sizeof got, &e) && !strcmp(got, want), "sample %ld: caption '%s', "
                 "want '%s' (path order)", i, got, want);
        const int32_t *lab = ds_labels(ds, i);
        TU_CHECK(lab && lab[0] == class_of[k], "sample %ld (%s): class %d, want %d", i, keys[k], lab ? lab[0] : -9,
                 class_of[k]);
        int blue = ds_read_image(ds, i, px, &e) ? -1 : px[((S / 2) * S + S / 2) * 3 + 2];
        TU_CHECK(abs(blue - (20 + 30 * k)) <= 3, "sample %ld (%s): blue %d, its source has %d", i, keys[k], blue,
                 20 + 30 * k);
    }
    free(px);
    ds_close(ds);
    printf("--recursive: 6 images in path order, classes a=0 a.b=1 c=2, captions mirrored\n");
    fx_rmdir(out);
    char names[NKEYS][64];
    const char *want[NKEYS];
    for (int i = 0; i < NKEYS; i++) snprintf(names[i], sizeof names[i], "%s.jpg", keys[path_order[i]]), want[i] = names[i];
    check_tool_order("--recursive", want, NKEYS);

    // refusals, each naming the file and leaving no OUT
    char p[512], p2[512];
    snprintf(args, sizeof args, "data import --images %s --captions %s --out %s --shards 1 --size 16 --recursive", img,
             cap, out);
    snprintf(p, sizeof p, "%s/a/sub/2.txt", cap);
    snprintf(p2, sizeof p2, "%s/a/sub/2.moved", cap);
    TU_CHECK(rename(p, p2) == 0, "rename %s", p);
    refused(args, out, 1, "missing caption file", p, "missing");
    TU_CHECK(rename(p2, p) == 0, "rename %s", p2);

    snprintf(p, sizeof p, "%s/top.jpg", img);
    int seed = 0;
    fx_write_jpeg(p, 20, 20, 3, JCS_RGB, JCS_YCbCr, 0, 95, fill_flat, &seed);
    refused(args, out, 1, "image next to classes", p, "class folder");
    unlink(p);

    snprintf(p, sizeof p, "%s/a/loop", img);
    TU_CHECK(symlink("..", p) == 0, "symlink %s", p);
    refused(args, out, 1, "symlink loop", p, "symlink loop");
    unlink(p);

    char deep[4096];
    int k = snprintf(deep, sizeof deep, "mkdir -p %s/c", img);
    for (int d = 0; d < FX_DEEP; d++) k += snprintf(deep + k, sizeof deep - (size_t)k, "/d%d", d);
    sh(deep);
    refused(args, out, 1, "too deep", "more than 32 folder levels", img);
    snprintf(deep, sizeof deep, "rm -rf %s/c/d0", img);
    sh(deep);
}

static void write_pickle(const char *path, const char *keys_) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             RATLIP_PYTHON " -c 'import pickle,sys; pickle.dump(sys.argv[2:], open(sys.argv[1], \"wb\"), protocol=2)' %s %s",
             path, keys_);
    sh(cmd);
}

static void check_lists(void) {
    char out[256], args[4096], tr[256], te[256];
    snprintf(out, sizeof out, "%s/out_lists", root);
    snprintf(tr, sizeof tr, "%s/train.txt", root);
    snprintf(te, sizeof te, "%s/test.txt", root);
    write_text(tr, "# train keys\na/0\na.b/3\n\n  c/5  \n");
    write_text(te, "a/1\n");
    snprintf(args, sizeof args, "data import --images %s --captions %s --out %s --shards 1 --size 16 --recursive "
             "--train-list %s --test-list %s", img, cap, out, tr, te);
    int rc = run(args);
    TU_CHECK(rc == 0 && strstr(outbuf, "3 train images") && strstr(outbuf, "1 test images") &&
                 strstr(outbuf, "2 in neither list"), "lists: exit %d: %s", rc, outbuf);
    Dataset *ds;
    Err e;
    const char *want[2][3] = {{"a.b/3", "a/0", "c/5"}, {"a/1", NULL, NULL}};
    const int want_class[2][3] = {{1, 0, 2}, {0}};
    for (int sp = 0; sp < 2 && rc == 0; sp++) {
        if (ds_open(&ds, out, sp ? "test" : "train", &e)) { TU_CHECK(0, "%s", e.msg); continue; }
        TU_CHECK(ds_size(ds) == (sp ? 1 : 3), "lists: %s holds %ld images", sp ? "test" : "train", ds_size(ds));
        for (long i = 0; i < ds_size(ds) && i < 3; i++) {
            char got[256], w[256];
            snprintf(w, sizeof w, "caption of %s", want[sp][i]);
            TU_CHECK(!ds_read_caption(ds, i, 0, got, sizeof got, &e) && !strcmp(got, w), "lists %d/%ld: '%s' want '%s'",
                     sp, i, got, w);
            TU_CHECK(ds_labels(ds, i) && ds_labels(ds, i)[0] == want_class[sp][i], "lists %d/%ld: class", sp, i);
        }
        ds_close(ds);
    }
    printf("lists: train a.b/3 a/0 c/5, test a/1 (path order), 2 images left out\n");
    fx_rmdir(out);
    char extra[600];
    snprintf(extra, sizeof extra, "--recursive --train-list %s --test-list %s", tr, te);
    const char *listed[] = {"a.b/3.jpg", "a/0.jpg", "a/1.jpg", "c/5.jpg"};   // path order over both splits
    check_tool_order(extra, listed, 4);

    // pickles (DF-GAN's format) work the same
    char trp[256], tep[256];
    snprintf(trp, sizeof trp, "%s/train.pickle", root);
    snprintf(tep, sizeof tep, "%s/test.pickle", root);
    write_pickle(trp, "a/0 a.b/3 c/5");
    write_pickle(tep, "a/1 a/sub/2");
    snprintf(args, sizeof args, "data import --images %s --captions %s --out %s --shards 1 --size 16 --recursive "
             "--train-list %s --test-list %s", img, cap, out, trp, tep);
    rc = run(args);
    TU_CHECK(rc == 0 && strstr(outbuf, "3 train images") && strstr(outbuf, "2 test images"), "pickle lists: exit %d: %s",
             rc, outbuf);
    fx_rmdir(out);

    // refusals: file and line (entry for a pickle)
    char where[300], where2[300];
    const char *base = "data import --images %s --captions %s --out %s --shards 1 --size 16 --recursive "
                       "--train-list %s --test-list %s";
    snprintf(args, sizeof args, base, img, cap, out, tr, te);
    write_text(tr, "a/0\n# a comment\na/9\n");
    snprintf(where, sizeof where, "%s:3", tr);
    refused(args, out, 1, "key without image", where, "a/9");
    write_text(tr, "a/0\nc/5\n\na/0\n");
    snprintf(where, sizeof where, "%s:4", tr);
    snprintf(where2, sizeof where2, "first at %s:1", tr);
    refused(args, out, 1, "key listed twice", where, where2);
    write_text(tr, "c/5\na/1\n");
    snprintf(where, sizeof where, "%s:2", tr);
    snprintf(where2, sizeof where2, "%s:1", te);
    refused(args, out, 1, "key in both lists", where, where2);
    write_text(tr, "a/0.jpg\n");
    refused(args, out, 1, "key with extension", "without its extension", tr);
    write_pickle(trp, "a/0 a/7");
    snprintf(args, sizeof args, base, img, cap, out, trp, tep);
    snprintf(where, sizeof where, "%s (entry 2)", trp);
    refused(args, out, 1, "pickle key missing", where, "a/7");
    // usage: --seed chooses a random split, a list alone
    snprintf(args, sizeof args, "data import --images %s --captions %s --out %s --shards 1 --size 16 --train-list %s "
             "--test-list %s --seed 3", img, cap, out, tr, te);
    refused(args, out, 2, "--seed with lists", "--seed", "--train-list");
    snprintf(args, sizeof args, "data import --images %s --captions %s --out %s --shards 1 --size 16 --train-list %s",
             img, cap, out, tr);
    refused(args, out, 2, "one list", "--test-list", NULL);
}

static void check_existing_out(void) {
    char out[256], args[4096], p[512];
    snprintf(out, sizeof out, "%s/out_force", root);
    const char *base = "data import --images %s --captions %s --out %s --shards %d --size 16 --recursive%s";
    snprintf(args, sizeof args, base, img, cap, out, 3, "");
    int rc = run(args);
    TU_CHECK(rc == 0, "first import: %s", outbuf);
    snprintf(p, sizeof p, "%s/fid-stats-test-x.h5", out);   // made from these shards
    write_text(p, "");
    snprintf(args, sizeof args, base, img, cap, out, 1, "");
    rc = run(args);
    TU_CHECK(rc == 1 && strstr(outbuf, out) && strstr(outbuf, "already holds") && strstr(outbuf, "--force"),
             "existing OUT: exit %d: %s", rc, outbuf);
    printf("existing OUT -> %.*s\n", (int)strcspn(strstr(outbuf, "ratlip data import") ? strstr(outbuf, "ratlip data import") : outbuf, "\n"),
           strstr(outbuf, "ratlip data import") ? strstr(outbuf, "ratlip data import") : outbuf);
    // a failed --force import keeps the old shards
    char c[512], c2[512];
    snprintf(c, sizeof c, "%s/c/5.txt", cap);
    snprintf(c2, sizeof c2, "%s/c/5.moved", cap);
    TU_CHECK(rename(c, c2) == 0, "rename %s", c);
    snprintf(args, sizeof args, base, img, cap, out, 1, " --force");
    rc = run(args);
    TU_CHECK(rc == 1 && strstr(outbuf, c), "failed --force import: exit %d: %s", rc, outbuf);
    TU_CHECK(rename(c2, c) == 0, "rename %s", c2);
    snprintf(args, sizeof args, "data verify %s", out);
    rc = run(args);
    TU_CHECK(rc == 0 && strstr(outbuf, "in 3 shards"), "old shards after a failed --force import: %s", outbuf);
    // --force: the old shards go (said), the new ones are the only ones; the stale statistics are named
    snprintf(args, sizeof args, base, img, cap, out, 1, " --force");
    rc = run(args);
    TU_CHECK(rc == 0 && strstr(outbuf, "--force: removed the 4 old shards") && strstr(outbuf, "fid-stats-test-x.h5"),
             "--force: exit %d: %s", rc, outbuf);
    snprintf(args, sizeof args, "data verify %s", out);
    rc = run(args);
    TU_CHECK(rc == 0 && strstr(outbuf, "train 5 images in 1 shards") && strstr(outbuf, "test 1 images in 1 shards"),
             "after --force: %s", outbuf);
    snprintf(p, sizeof p, "%s/train-00000-of-00003.h5", out);
    TU_CHECK(!exists(p), "old shard %s left", p);
    printf("--force: 4 old shards replaced by 2, the stale FID statistics named\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: io_import_flat path/to/ratlip\n");
        return 2;
    }
    ratlip = argv[1];
    snprintf(root, sizeof root, "/tmp/ratlip_flatXXXXXX");
    if (!mkdtemp(root)) return 1;
    snprintf(img, sizeof img, "%s/images", root);
    snprintf(cap, sizeof cap, "%s/text", root);
    make_tree();
    check_recursive();
    check_lists();
    check_existing_out();
    fx_rmdir(root);
    return tu_done("io_import_flat");
}
