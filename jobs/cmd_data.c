// cmd_data: `ratlip data synth|verify|import|probe` — make, check and import datasets (io/dataset.h format).
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>
#include "io/bow.h"
#include "io/dataset.h"
#include "io/image.h"
#include "io/reader.h"
#include "io/synth.h"
#include "io/textemb.h"
#include "io/fs.h"
#include "io/probe_file.h"
#include "core/kernels.h"
#include "jobs/commands.h"
#include "jobs/import_dfgan.h"
#include "jobs/run.h"

// ------------------------------------------ synth ------------------------------------------

static const char synth_about[] =
    "Writes the built-in synthetic dataset: one shape (circle, square, triangle; small ~30% or large ~60%\n"
    "of the side) of one palette colour on a plain background of another, centre jittered by up to 10%,\n"
    "mild noise; 5 captions per image in different phrasings, embedded with the built-in `ngram` encoder\n"
    "(D=512; --text-encoder bow for the order-blind bag of words of datasets before 2026-12);\n"
    "/labels = (shape, colour, background, size). Deterministic in --seed; each split is written in\n"
    "min(--shards, N) shards DIR/{train,test}-XXXXX-of-YYYYY.h5 (temp file, fsync, rename).\n";

static int data_synth(int argc, char **argv) {
    const char *out = NULL, *encoder = NULL;
    long size, ntrain, ntest, seed, shards;
    const OptSpec opts[] = {
        OPT_PATH("out", 'o', &out, OPT_REQ, "DIR", "dataset directory (created)"),
        OPT_CHOICE("text-encoder", 0, &encoder, 0, "ngram|bow", SYNTH_ENCODER,
                   "caption embeddings: ngram (words + runs of 2-3 words: says which colour is the\n"
                   "shape's) or bow (bag of words: 'red on blue' = 'blue on red')"),
        OPT_LONG("size", 0, &size, 0, 8, 4096, "64", "S", "image side in pixels"),
        OPT_LONG("train", 0, &ntrain, 0, 0, 100000000L, "10000", "N", "training images"),
        OPT_LONG("test", 0, &ntest, 0, 0, 100000000L, "1000", "N", "test images"),
        OPT_LONG("seed", 0, &seed, 0, 0, 2147483647L, "0", "S", "the dataset is a function of the seed"),
        OPT_LONG("shards", 0, &shards, 0, 1, 99999, "1", "N", "shards per split"),
        {0}};
    const OptCommand cmd = {"data synth", NULL, synth_about, NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    jobs_print_banner("data synth");
    Err e;
    double t0 = run_now_s();
    if (synth_write(out, (int)size, ntrain, ntest, (uint64_t)seed, (int)shards, encoder, &e)) {
        fprintf(stderr, "ratlip data synth: %s\n", e.msg);
        return 1;
    }
    double dt = run_now_s() - t0;
    printf("wrote %ld train + %ld test images of %ldx%ld to %s in %.2f s (%.0f images/s), text encoder %s\n", ntrain,
           ntest, size, size, out, dt, (ntrain + ntest) / dt, encoder);
    return 0;
}

// ------------------------------------------ verify ------------------------------------------

static int verify_dir(const char *dir);

static int data_verify(int argc, char **argv) {
    const char *dir = NULL;
    const OptSpec opts[] = {OPT_ARG("DIR", &dir, OPT_REQ, "dataset directory"), {0}};
    const OptCommand cmd = {
        "data verify", NULL,
        "Checks every shard of DIR: attributes present and equal across shards and splits, no shard missing,\n"
        "dtypes and shapes of /images /text_emb /text_count /captions (/labels), text_count in 1..K, no\n"
        "NaN/Inf in /text_emb, every image readable, and the Fletcher-32 checksums of /images, /text_emb,\n"
        "/text_count and /labels (shards made before 2026-12 have none: said in the summary). Prints a\n"
        "summary; exits 1 naming the first problem (a checksum failure names the shard and the sample).\n",
        NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    // libhdf5 1.10 crashes (SIGSEGV inside the library) on some damaged shards instead of returning an
    // error (tests/fuzz found many). The check runs in a child; a shared page says which shard it was
    // reading, so a crash still ends in a message naming it.
    char *where = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    fflush(stdout);
    pid_t pid = where == MAP_FAILED ? -1 : fork();
    if (pid == 0) {
        ds_trace_to(where, 4096);
        int rc = verify_dir(dir);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    if (pid < 0) return verify_dir(dir);   // cannot isolate it: check in this process
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    fprintf(stderr, "ratlip data verify: %s: reading it crashed libhdf5 (signal %d): its HDF5 structure is damaged "
                    "beyond what the library survives (re-create the shard, or restore it from a copy)\n",
            where[0] ? where : dir, WIFSIGNALED(st) ? WTERMSIG(st) : -1);
    return 1;
}

// The checks of `data verify` on dir; 0 ok, 1 (message printed) not.
static int verify_dir(const char *dir) {
    Err e;
    const char *splits[2] = {"train", "test"};
    DsInfo first;
    int have = 0;
    long total[2] = {0, 0};
    int nsh[2] = {0, 0}, nsum = 0;
    for (int s = 0; s < 2; s++) {
        int has = ds_has_split(dir, splits[s], &e);
        if (has < 0) { fprintf(stderr, "ratlip data verify: %s\n", e.msg); return 1; }
        if (!has) continue;
        Dataset *ds;
        if (ds_open(&ds, dir, splits[s], &e) || ds_check_images(ds, &e)) {
            fprintf(stderr, "ratlip data verify: %s\n", e.msg);
            return 1;
        }
        const DsInfo *in = ds_info(ds);
        if (have) {
            const char *what = in->image_size != first.image_size         ? "image_size"
                               : in->embed_dim != first.embed_dim         ? "embed_dim"
                               : in->n_captions != first.n_captions       ? "n_captions"
                               : strcmp(in->text_encoder, first.text_encoder) ? "text_encoder"
                                                                          : NULL;
            if (what) {
                fprintf(stderr, "ratlip data verify: %s: attribute %s of the test shards disagrees with the train shards\n",
                        dir, what);
                ds_close(ds);
                return 1;
            }
        } else {
            first = *in;
            have = 1;
        }
        total[s] = ds_size(ds);
        nsh[s] = ds_num_shards(ds);
        nsum += ds_num_checksummed(ds);
        ds_close(ds);
    }
    if (!have) {
        fprintf(stderr, "ratlip data verify: %s: no train or test shards (train-00000-of-NNNNN.h5)\n", dir);
        return 1;
    }
    char sums[160];
    if (nsum == nsh[0] + nsh[1]) snprintf(sums, sizeof(sums), "Fletcher-32 checksums");
    else
        snprintf(sums, sizeof(sums),
                 "%s (made before ratlip wrote them, 2026-12: re-create with `data synth`/`data import` to add them)",
                 nsum ? "checksums in some shards only, the others have none" : "no checksums");
    printf("%s: ok | train %ld images in %d shards | test %ld images in %d shards | %dx%d RGB | K=%d captions | "
           "D=%d | encoder %s%s | %s\n",
           dir, total[0], nsh[0], total[1], nsh[1], first.image_size, first.image_size, first.n_captions,
           first.embed_dim, first.text_encoder, first.label_dim ? " | labels" : "", sums);
    return 0;
}

// ------------------------------------------ import ------------------------------------------

typedef struct {
    char *name;       // flat: file name in the images dir; dfgan: the key
    char *path;       // the image file
    char *capfile;    // its caption file
    char **captions;  // [count]
    int count;
    long emb_row;     // first row of its captions in the embedding table
    const DfganKey *dk;   // dfgan: its key (class, CUB box); NULL for the flat layout
} ImportItem;

static int cmp_item(const void *a, const void *b) {
    return strcmp(((const ImportItem *)a)->name, ((const ImportItem *)b)->name);
}

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

// Reads the non-blank lines of path (trailing whitespace stripped) into item. The text must be UTF-8
// (a byte-order mark at the start is dropped) without NUL bytes: an error names the file and line.
static int read_captions(const char *path, ImportItem *it, Err *e) {
    FILE *f = fopen(path, "r");
    if (!f) return err_set(e, "%s: caption file missing or unreadable: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int ncap = 0, rc = 0, lineno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        const char *nul = memchr(line, 0, (size_t)len);
        if (nul) {  // C strings would silently drop the rest of the line
            rc = err_set(e, "%s:%d: NUL byte at byte %zu of the line (caption files are UTF-8 text)", path, lineno,
                         (size_t)(nul - line) + 1);
            break;
        }
        if (lineno == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) {
            memmove(line, line + 3, (size_t)len - 2);
            len -= 3;
        }
        size_t ok = ds_utf8_prefix(line, (size_t)len);
        if (ok != (size_t)len) {
            rc = err_set(e, "%s:%d: invalid UTF-8 at byte %zu of the line (0x%02x); caption files must be UTF-8 "
                            "(convert with e.g. `iconv -f LATIN1 -t UTF-8`)",
                         path, lineno, ok + 1, (unsigned char)line[ok]);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = 0;
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) continue;
        if (it->count == ncap) {
            ncap = ncap ? 2 * ncap : 8;
            char **nc = realloc(it->captions, (size_t)ncap * sizeof(char *));
            if (!nc) { rc = err_set(e, "%s: out of memory", path); break; }
            it->captions = nc;
        }
        it->captions[it->count++] = strdup(p);
    }
    free(line);
    fclose(f);
    if (!rc && it->count == 0) rc = err_set(e, "%s: caption file has no captions (only blank lines)", path);
    return rc;
}

// The --text-emb file (io/textemb.h) into *emb [rows, D]; one row per caption, in caption-file order.
static int load_text_emb(const char *file, long rows, float **emb, int *D, char *enc, size_t encn, Err *e) {
    long n = 0;
    if (textemb_read(file, emb, &n, D, enc, encn, e)) return -1;
    if (n == rows) return 0;
    free(*emb);
    *emb = NULL;
    return err_set(e, "%s: dataset /text_emb has %ld rows but the caption files hold %ld captions (one row per "
                      "caption in file order)", file, n, rows);
}

// Images written so far over both splits, for the progress line (at most one every 2 s).
typedef struct {
    long done, total;
    double t0, last;
} ImportProgress;

static void import_progress(ImportProgress *p) {
    p->done++;
    double now = run_now_s();
    if (now - p->last < 2.0 || p->done == p->total) return;
    p->last = now;
    double rate = p->done / (now - p->t0 > 1e-9 ? now - p->t0 : 1e-9);
    long eta = (long)((p->total - p->done) / rate + 0.5);
    printf("import: %ld/%ld images (%.0f%%), %.0f images/s, ETA %ldh%02ldm%02lds\n", p->done, p->total,
           100.0 * p->done / p->total, rate, eta / 3600, eta / 60 % 60, eta % 60);
    fflush(stdout);
}

// The image of it into img [S,S,3]: decoded, cropped to its CUB box when it has one, resized.
static int import_image(const ImportItem *it, int S, long max_pixels, uint8_t *img, Err *e) {
    int w0, h0;
    uint8_t *rgb;
    if (image_load_max(it->path, max_pixels, &w0, &h0, &rgb, e)) return -1;
    if (it->dk && it->dk->has_box) {
        int box[4];
        const double *b = it->dk->box;
        if (cub_crop_box(b[0], b[1], b[2], b[3], w0, h0, box)) {
            free(rgb);
            return err_set(e, "%s: the bounding box (%g %g %g %g) of line %d lies outside this %dx%d image",
                           it->path, b[0], b[1], b[2], b[3], it->dk->box_line, w0, h0);
        }
        uint8_t *c = dfgan_crop(rgb, w0, box);
        free(rgb);
        if (!c) return err_set(e, "%s: out of memory", it->path);
        rgb = c;
        w0 = box[2] - box[0];
        h0 = box[3] - box[1];
    }
    image_resize_crop(rgb, w0, h0, S, img);
    free(rgb);
    return 0;
}

// Writes items[sel[0..n)] as split `name` in min(shards, n) shards; L = 1: /labels "class" from dk.
// *written counts the shards committed (removed by the caller when a later step fails).
static int import_split(const char *out, const char *name, ImportItem *items, const long *sel, long n, int shards,
                        int S, int K, int D, int L, const char *enc, const float *emb, long max_pixels,
                        ImportProgress *prog, int *written, Err *e) {
    *written = 0;
    if (n <= 0) return 0;
    int ns = shards > n ? (int)n : shards;
    DsInfo info = {.image_size = S, .n_captions = K, .embed_dim = D, .label_dim = L};
    snprintf(info.split, sizeof(info.split), "%s", name);
    snprintf(info.text_encoder, sizeof(info.text_encoder), "%s", enc);
    if (L) snprintf(info.label_names, sizeof(info.label_names), "class");
    uint8_t *img = malloc((size_t)S * S * 3);
    if (!img) return err_set(e, "%s: out of memory", out);
    int rc = 0;
    for (int s = 0; s < ns && !rc; s++) {
        long lo = n * s / ns, hi = n * (s + 1) / ns;
        char path[4096];
        ds_shard_path(path, sizeof(path), out, name, s, ns);
        DsWriter *w = ds_writer_open(path, &info, hi - lo, e);
        if (!w) { rc = -1; break; }
        for (long j = lo; j < hi && !rc; j++) {
            ImportItem *it = &items[sel[j]];
            int32_t label = it->dk ? it->dk->label : 0;
            if ((rc = import_image(it, S, max_pixels, img, e))) break;
            rc = ds_writer_put(w, j - lo, img, emb + (size_t)it->emb_row * D, it->count,
                               (const char *const *)it->captions, L ? &label : NULL, e);
            if (!rc) import_progress(prog);
        }
        if (rc) ds_writer_abort(w);
        else if (!(rc = ds_writer_close(w, e))) (*written)++;
    }
    free(img);
    return rc;
}

// Removes the first written[s] of the min(shards, nsel[s]) shards of each split.
static void import_unwrite(const char *out, const long nsel[2], int shards, const int written[2]) {
    const char *names[2] = {"train", "test"};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < written[s]; i++) {
            char path[4096];
            ds_shard_path(path, sizeof(path), out, names[s], i, shards > nsel[s] ? (int)nsel[s] : shards);
            unlink(path);
        }
}

typedef struct {
    const char *out, *embfile, *encoder;
    long shards, size, max_pixels;
} ImportTarget;

// Both layouts' second half: reads every item's caption file, embeds the captions (or takes --text-emb's
// rows), writes the splits sel[0] (train) and sel[1] (test) with L label columns into t->out. On a failure
// nothing it wrote stays (the shards are removed, and t->out when it created it).
static int import_write(const ImportTarget *t, ImportItem *items, long n, long *const sel[2], const long nsel[2],
                        int L, Err *e) {
    int K = 0, D = 0, rc = 0;
    long total = 0;
    for (long i = 0; i < n; i++) {
        if (read_captions(items[i].capfile, &items[i], e)) return -1;
        items[i].emb_row = total;
        total += items[i].count;
        if (items[i].count > K) K = items[i].count;
    }
    char enc[64];
    float *emb = NULL;
    if (t->embfile) {
        if (load_text_emb(t->embfile, total, &emb, &D, enc, sizeof(enc), e)) return -1;
    } else {
        D = BOW_DIM;
        snprintf(enc, sizeof(enc), "%s", t->encoder);
        emb = malloc((size_t)total * D * sizeof(float));
        if (!emb) return err_set(e, "%s: out of memory for %ld caption embeddings", t->out, total);
        BowCache *bc = bow_cache_new();
        for (long i = 0; i < n; i++)
            for (int k = 0; k < items[i].count; k++) {
                if (!bow_embed_named(bc, t->encoder, items[i].captions[k], emb + (size_t)(items[i].emb_row + k) * D))
                    fprintf(stderr, "ratlip data import: warning: %s caption %d has no words (zero embedding)\n",
                            items[i].capfile, k + 1);
            }
        bow_cache_free(bc);
    }
    struct stat st;
    int existed = stat(t->out, &st) == 0;
    if (fs_mkdir_p(t->out, e)) { free(emb); return -1; }
    ImportProgress prog = {.total = nsel[0] + nsel[1], .t0 = run_now_s()};
    prog.last = prog.t0;
    int written[2] = {0, 0};
    rc = import_split(t->out, "train", items, sel[0], nsel[0], (int)t->shards, (int)t->size, K, D, L, enc, emb,
                      t->max_pixels, &prog, &written[0], e);
    if (!rc)
        rc = import_split(t->out, "test", items, sel[1], nsel[1], (int)t->shards, (int)t->size, K, D, L, enc, emb,
                          t->max_pixels, &prog, &written[1], e);
    if (!rc)
        printf("imported %ld images (%ld train, %ld test), %ld captions (K=%d), D=%d encoder %s%s into %s in %.1f s\n",
               nsel[0] + nsel[1], nsel[0], nsel[1], total, K, D, enc, L ? ", /labels class" : "", t->out,
               run_now_s() - prog.t0);
    if (rc) {
        import_unwrite(t->out, nsel, (int)t->shards, written);
        if (!existed) rmdir(t->out);
    }
    free(emb);
    return rc;
}

static void free_items(ImportItem *items, long n) {
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < items[i].count; k++) free(items[i].captions[k]);
        free(items[i].captions);
        free(items[i].name);
        free(items[i].path);
        free(items[i].capfile);
    }
    free(items);
}

static char *join_path(const char *dir, const char *name, int len, const char *ext) {
    int n = snprintf(NULL, 0, "%s/%.*s%s", dir, len, name, ext);
    char *p = malloc((size_t)n + 1);
    if (p) snprintf(p, (size_t)n + 1, "%s/%.*s%s", dir, len, name, ext);
    return p;
}

// --layout flat: every image of imgdir in name order, <stem>.txt in capdir, a seeded test split.
static int import_flat(const ImportTarget *t, const char *imgdir, const char *capdir, double test_fraction, long seed,
                       Err *e) {
    int rc = 0;
    ImportItem *items = NULL;
    long n = 0, cap = 0;
    long *sel[2] = {NULL, NULL};
    DIR *d = opendir(imgdir);
    if (!d) return err_set(e, "%s: cannot open image directory: %s", imgdir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !has_image_ext(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            ImportItem *ni = realloc(items, (size_t)cap * sizeof(ImportItem));
            if (!ni) { rc = err_set(e, "%s: out of memory", imgdir); break; }
            items = ni;
        }
        items[n++] = (ImportItem){.name = strdup(de->d_name)};
    }
    closedir(d);
    if (!rc && n == 0) rc = err_set(e, "%s: no *.png, *.jpg or *.jpeg files", imgdir);
    if (rc) goto done;
    qsort(items, (size_t)n, sizeof(ImportItem), cmp_item);
    for (long i = 0; i < n && !rc; i++) {
        int stem = (int)(strrchr(items[i].name, '.') - items[i].name);
        if (i > 0 && !strncmp(items[i - 1].name, items[i].name, (size_t)stem + 1) &&
            strrchr(items[i - 1].name, '.') == items[i - 1].name + stem) {
            rc = err_set(e, "%s: %s and %s share the caption file %.*s.txt", imgdir, items[i - 1].name, items[i].name,
                         stem, items[i].name);
            break;
        }
        items[i].path = join_path(imgdir, items[i].name, (int)strlen(items[i].name), "");
        items[i].capfile = join_path(capdir, items[i].name, stem, ".txt");
        if (!items[i].path || !items[i].capfile) rc = err_set(e, "%s: out of memory", imgdir);
    }
    if (rc) goto done;
    // split: a seeded permutation picks the test images; both splits keep name order
    long ntest = (long)floor(test_fraction * n + 0.5);
    if (n - ntest < 1) { rc = err_set(e, "%s: --test-fraction %g leaves no training images", imgdir, test_fraction); goto done; }
    sel[0] = malloc((size_t)n * sizeof(long));
    sel[1] = malloc((size_t)n * sizeof(long));
    int64_t *p64 = malloc((size_t)n * sizeof(int64_t));
    char *is_test = calloc((size_t)n, 1);
    reader_permutation((uint64_t)seed, 0, n, p64);
    for (long i = 0; i < ntest; i++) is_test[p64[i]] = 1;
    long nsel[2] = {0, 0};
    for (long i = 0; i < n; i++) {
        int s = is_test[i] ? 1 : 0;
        sel[s][nsel[s]++] = i;
    }
    free(p64);
    free(is_test);
    rc = import_write(t, items, n, sel, nsel, 0, e);
done:
    free_items(items, n);
    free(sel[0]);
    free(sel[1]);
    return rc;
}

// --layout dfgan (jobs/import_dfgan.h): keys from the split lists, classes from the key folders.
static int import_dfgan(const ImportTarget *t, const char *dir, const char *dataset, const char *train_list,
                        const char *test_list, Err *e) {
    DfganList l;
    if (dfgan_resolve(dir, dataset, train_list, test_list, &l, e)) return -1;
    int rc = 0;
    ImportItem *items = calloc((size_t)l.n, sizeof(ImportItem));
    long *order = malloc((size_t)l.n * sizeof(long));
    if (!items || !order) rc = err_set(e, "%s: out of memory", dir);
    for (long i = 0; i < l.n && !rc; i++) {
        DfganKey *k = &l.keys[i];
        items[i] = (ImportItem){.name = strdup(k->key), .path = strdup(k->image), .capfile = strdup(k->caption), .dk = k};
        order[i] = i;
        if (!items[i].name || !items[i].path || !items[i].capfile) rc = err_set(e, "%s: out of memory", dir);
    }
    if (!rc) {
        long *sel[2] = {order, order + l.n_train};
        long nsel[2] = {l.n_train, l.n - l.n_train};
        if (l.n_classes) printf("%s: %d classes (key folders), /labels column \"class\"\n", dir, l.n_classes);
        rc = import_write(t, items, l.n, sel, nsel, l.n_classes ? 1 : 0, e);
    }
    if (items) free_items(items, l.n);
    free(order);
    dfgan_free(&l);
    return rc;
}

static const char import_about[] =
    "Imports images with captions into the ratlip dataset format. Two layouts:\n"
    "  flat   --images DIR --captions DIR: every PNG/JPEG with <name>.txt, a seeded train/test split\n"
    "  dfgan  --data-dir DIR --dataset birds|flower|faces|coco: the DF-GAN/AttnGAN/GALIP/RATLIP layout,\n"
    "         DIR/{train,test}/filenames.pickle (or --train-list/--test-list), DIR/text/<key>.txt, images\n"
    "         under DIR/CUB_200_2011/images (birds, cropped to AttnGAN's box around bounding_boxes.txt)\n"
    "         or DIR/images; /labels \"class\" = the key's class folder (birds), none for flat keys.\n"
    "Everything named is checked before OUT is written; a failure leaves nothing there.\n";

static int data_import(int argc, char **argv) {
    const char *imgdir = NULL, *capdir = NULL, *out = NULL, *embfile = NULL, *encoder = NULL, *layout = NULL;
    const char *datadir = NULL, *dataset = NULL, *train_list = NULL, *test_list = NULL;
    long shards, size, seed, max_pixels;
    double test_fraction;
    const OptSpec opts[] = {
        OPT_CHOICE("layout", 0, &layout, 0, "flat|dfgan", "flat", "how the source is laid out (see above)"),
        OPT_PATH("images", 0, &imgdir, 0, "DIR",
                 "flat: PNG or JPEG files (*.png, *.jpg, *.jpeg; other names are ignored), taken in byte order\n"
                 "of their names. A file with such a name that is not a decodable image is an error."),
        OPT_PATH("captions", 0, &capdir, 0, "DIR",
                 "flat: <image name without extension>.txt per image: one caption per line, blank lines\n"
                 "ignored; a file without captions is an error. K = the largest caption count; images\n"
                 "with fewer captions are padded (text_count says how many are real)."),
        OPT_PATH("data-dir", 0, &datadir, 0, "DIR", "dfgan: the dataset directory (as DF-GAN's data/birds)"),
        OPT_CHOICE("dataset", 0, &dataset, 0, DFGAN_DATASETS, NULL, "dfgan: which dataset's file names DIR follows"),
        OPT_PATH("train-list", 0, &train_list, 0, "FILE",
                 "dfgan: train keys, one per line (io/pylist.h), instead of DIR/train/filenames.pickle"),
        OPT_PATH("test-list", 0, &test_list, 0, "FILE", "dfgan: test keys instead of DIR/test/filenames.pickle"),
        OPT_PATH("out", 'o', &out, OPT_REQ, "DIR", "dataset directory (created)"),
        OPT_LONG("shards", 0, &shards, OPT_REQ, 1, 99999, NULL, "N", "each split is written in min(N, images) shards"),
        OPT_LONG("size", 0, &size, OPT_REQ, 8, 4096, NULL, "S",
                 "shorter side resized to S and centre-cropped to SxS: implemented as a centre crop to\n"
                 "the largest square, then area resampling (average over each output pixel's footprint)"),
        OPT_DOUBLE("test-fraction", 0, &test_fraction, OPT_HI_OPEN, 0, 1, "0.1", "F",
                   "flat: share of images (chosen by --seed) in the test split; the rest are train"),
        OPT_LONG("seed", 0, &seed, 0, 0, 2147483647L, "0", "S", "flat: seed of the train/test split"),
        OPT_LONG("max-pixels", 0, &max_pixels, 0, 1, IMAGE_MAX_PIXELS_CAP, "64000000", "N",
                 "an image with more pixels (width x height, from its header) is refused before it is\n"
                 "decoded: a small file can hold a huge image (20000x20000 = 1.2 GB decoded)"),
        OPT_PATH("text-emb", 0, &embfile, 0, "FILE.h5",
                 "precomputed caption embeddings (e.g. CLIP, io/tools/clip_text_embed.py): dataset\n"
                 "/text_emb float32 [total_captions, D], one row per caption in file order: images in\n"
                 "name order (flat) or train then test keys in list order (dfgan), and within an image\n"
                 "its non-blank lines in order. The encoder name is taken from the file's root\n"
                 "attribute text_encoder (else \"precomputed\")."),
        OPT_CHOICE("text-encoder", 0, &encoder, 0, "ngram|bow", NGRAM_NAME,
                   "without --text-emb: embed the captions with a built-in encoder, ngram (words and runs\n"
                   "of 2-3 words: word order counts) or bow (bag of words, the default before 2026-12)"),
        {0}};
    const OptCommand cmd = {"data import", NULL, import_about, NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    int dfgan = !strcmp(layout, "dfgan");
    const char *need = dfgan ? (!datadir ? "--data-dir DIR" : !dataset ? "--dataset " DFGAN_DATASETS : NULL)
                             : (!imgdir ? "--images DIR" : !capdir ? "--captions DIR" : NULL);
    const char *extra = dfgan ? (imgdir ? "--images" : capdir ? "--captions" : NULL)
                              : (datadir ? "--data-dir" : dataset ? "--dataset" : train_list ? "--train-list"
                                                                    : test_list ? "--test-list" : NULL);
    if (need) {
        fprintf(stderr, "ratlip data import: %s is required with --layout %s ('ratlip data import --help')\n", need, layout);
        return OPT_EXIT_USAGE;
    }
    if (extra) {
        fprintf(stderr, "ratlip data import: %s is not an option of --layout %s ('ratlip data import --help')\n",
                extra, layout);
        return OPT_EXIT_USAGE;
    }
    jobs_print_banner("data import");
    if (dfgan && !embfile)   // the paper's datasets with the built-in encoder: usable, but not the paper's setup
        fprintf(stderr, "ratlip data import: warning: captions embedded with the built-in %s encoder, not the CLIP "
                        "text encoder RATLIP uses (for that: io/tools/clip_text_embed.py --layout dfgan --data-dir %s "
                        "--dataset %s --out emb.h5, then --text-emb emb.h5)\n",
                encoder ? encoder : SYNTH_ENCODER, datadir, dataset);
    const ImportTarget t = {.out = out, .embfile = embfile, .encoder = encoder, .shards = shards, .size = size,
                            .max_pixels = max_pixels};
    Err e;
    int rc = dfgan ? import_dfgan(&t, datadir, dataset, train_list, test_list, &e)
                   : import_flat(&t, imgdir, capdir, test_fraction, seed, &e);
    if (rc) fprintf(stderr, "ratlip data import: %s\n", e.msg);
    return rc ? 1 : 0;
}

// ------------------------------------------ probe ------------------------------------------

static const char probe_about[] =
    "Fits the attribute probe of a labelled dataset (core/probe.h: 3 strided convs, one softmax head per\n"
    "/labels column) on its real train images, measures it on the real test images and caches it in\n"
    "DIR/probe-<side>.h5 (io/probe_file.h), where evaluation code loads it to classify generated images.\n"
    "The test accuracies it prints are the ceiling for generated images' accuracies. A cache fitted on\n"
    "the same data with the same options is reused (and says so); a changed dataset is refitted.\n";

static int data_probe(int argc, char **argv) {
    const char *dir = NULL;
    long side, epochs, max_images, threads, seed, shift;
    int force = 0;
    const OptSpec opts[] = {
        OPT_ARG("DIR", &dir, OPT_REQ, "dataset directory with /labels (e.g. from `ratlip data synth`)"),
        OPT_LONG("side", 0, &side, 0, PROBE_MIN_SIDE, PROBE_MAX_SIDE, "32", "P", "images are resized to PxP"),
        OPT_LONG("epochs", 0, &epochs, 0, 1, 1000, "12", "N", "passes over the training images"),
        OPT_LONG("max-images", 0, &max_images, 0, 1, 10000000L, "4000", "N",
                 "train on at most N train images (a seeded random subset; 12 KiB each at P=32)"),
        OPT_LONG("shift", 0, &shift, 0, 0, PROBE_MAX_SIDE / 2 - 1, "2", "N",
                 "augmentation: training images moved by up to +-N pixels (at PxP); 0 = none"),
        OPT_LONG("seed", 0, &seed, 0, 0, 2147483647L, "0", "S", "init, subset and order"),
        OPT_LONG("threads", 't', &threads, 0, 1, 1024, NULL, "T", "BLAS threads"),
        OPT_FLAG("force", 0, &force, "refit even when the cache is current"),
        {0}};
    const OptCommand cmd = {"data probe", NULL, probe_about, NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    if (threads > 0) kern_set_threads((int)threads);
    jobs_print_banner("data probe");
    ProbeFitOptions o;
    probe_fit_defaults(&o);
    o.side = (int)side;
    o.epochs = (int)epochs;
    o.max_images = max_images;
    o.seed = (uint64_t)seed;
    o.shift = (int)shift;
    o.log = stdout;
    Probe p;
    ProbeReport r;
    Err e;
    char path[4200], why[1100] = "";
    int reused = 0;
    if (probe_fit_cached(dir, &o, force, &p, &r, &reused, path, sizeof path, why, sizeof why, &e)) {
        fprintf(stderr, "ratlip data probe: %s\n", e.msg);
        return 1;
    }
    if (reused) printf("probe: reusing %s (current: same dataset fingerprint %s and options; --force refits)\n", path,
                       r.fingerprint);
    else printf("probe: fitted (%s) in %.1f s on %ld train images\n", why, r.fit_seconds, r.n_train);
    printf("probe test accuracy on %ld real test images (chance = most frequent class):\n", r.n_test);
    for (int a = 0; a < r.n_attrs; a++)
        printf("  %-16s %.4f  (chance %.4f, %d classes)\n", r.names[a], r.test_accuracy[a], r.chance_accuracy[a],
               p.n_classes[a]);
    printf("  %-16s %.4f  (every attribute right)\n", "all", r.test_all);
    printf("probe cached in %s\n", path);
    probe_free(&p);
    return 0;
}

int cmd_data(int argc, char **argv) {
    static const Command subs[] = {
        {"synth", data_synth, "write the built-in synthetic shapes dataset"},
        {"verify", data_verify, "check every shard of a dataset directory and print a summary"},
        {"import", data_import, "convert PNG/JPEG images with caption files (flat or DF-GAN layout) into shards"},
        {"stats", cmd_data_stats, "Inception (FID) reference statistics of a split (jobs/cmd_eval.c)"},
        {"probe", data_probe, "fit (or reuse) the attribute probe of a labelled dataset, cached in DIR"},
    };
    return opt_dispatch("data", "Make, check, import datasets of HDF5 shards (io/dataset.h) and their FID statistics.",
                        subs, (int)(sizeof subs / sizeof subs[0]), argc, argv);
}
