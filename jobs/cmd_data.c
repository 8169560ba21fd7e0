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
    char *name;       // file name in the images dir
    char **captions;  // [count]
    int count;
    long emb_row;     // first row of its captions in the embedding table
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

// Writes items[sel[0..n)] as split `name` in min(shards, n) shards.
static int import_split(const char *out, const char *name, const char *imgdir, ImportItem *items, const long *sel,
                        long n, int shards, int S, int K, int D, const char *enc, const float *emb, long max_pixels,
                        Err *e) {
    if (n <= 0) return 0;
    int ns = shards > n ? (int)n : shards;
    DsInfo info = {.image_size = S, .n_captions = K, .embed_dim = D, .label_dim = 0};
    snprintf(info.split, sizeof(info.split), "%s", name);
    snprintf(info.text_encoder, sizeof(info.text_encoder), "%s", enc);
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
            char ipath[4096];
            snprintf(ipath, sizeof(ipath), "%s/%s", imgdir, it->name);
            int w0, h0;
            uint8_t *rgb;
            if ((rc = image_load_max(ipath, max_pixels, &w0, &h0, &rgb, e))) break;
            image_resize_crop(rgb, w0, h0, S, img);
            free(rgb);
            rc = ds_writer_put(w, j - lo, img, emb + (size_t)it->emb_row * D, it->count,
                               (const char *const *)it->captions, NULL, e);
        }
        if (rc) ds_writer_abort(w);
        else rc = ds_writer_close(w, e);
    }
    free(img);
    return rc;
}

static int data_import(int argc, char **argv) {
    const char *imgdir = NULL, *capdir = NULL, *out = NULL, *embfile = NULL, *encoder = NULL;
    long shards, size, seed, max_pixels;
    double test_fraction;
    const OptSpec opts[] = {
        OPT_PATH("images", 0, &imgdir, OPT_REQ, "DIR",
                 "PNG or JPEG files (*.png, *.jpg, *.jpeg; other names are ignored), taken in byte order\n"
                 "of their names. A file with such a name that is not a decodable image is an error."),
        OPT_PATH("captions", 0, &capdir, OPT_REQ, "DIR",
                 "<image name without extension>.txt per image: one caption per line, blank lines\n"
                 "ignored; a file without captions is an error. K = the largest caption count; images\n"
                 "with fewer captions are padded (text_count says how many are real)."),
        OPT_PATH("out", 'o', &out, OPT_REQ, "DIR", "dataset directory (created)"),
        OPT_LONG("shards", 0, &shards, OPT_REQ, 1, 99999, NULL, "N", "each split is written in min(N, images) shards"),
        OPT_LONG("size", 0, &size, OPT_REQ, 8, 4096, NULL, "S",
                 "shorter side resized to S and centre-cropped to SxS: implemented as a centre crop to\n"
                 "the largest square, then area resampling (average over each output pixel's footprint)"),
        OPT_DOUBLE("test-fraction", 0, &test_fraction, OPT_HI_OPEN, 0, 1, "0.1", "F",
                   "share of images (chosen by --seed) in the test split; the rest are train"),
        OPT_LONG("seed", 0, &seed, 0, 0, 2147483647L, "0", "S", "seed of the train/test split"),
        OPT_LONG("max-pixels", 0, &max_pixels, 0, 1, IMAGE_MAX_PIXELS_CAP, "64000000", "N",
                 "an image with more pixels (width x height, from its header) is refused before it is\n"
                 "decoded: a small file can hold a huge image (20000x20000 = 1.2 GB decoded)"),
        OPT_PATH("text-emb", 0, &embfile, 0, "FILE.h5",
                 "precomputed caption embeddings (e.g. CLIP, io/tools/clip_text_embed.py): dataset\n"
                 "/text_emb float32 [total_captions, D], one row per caption in file order: images in\n"
                 "the order above, and within an image its non-blank lines in order. The encoder name\n"
                 "is taken from the file's root attribute text_encoder (else \"precomputed\")."),
        OPT_CHOICE("text-encoder", 0, &encoder, 0, "ngram|bow", NGRAM_NAME,
                   "without --text-emb: embed the captions with a built-in encoder, ngram (words and runs\n"
                   "of 2-3 words: word order counts) or bow (bag of words, the default before 2026-12)"),
        {0}};
    const OptCommand cmd = {"data import", NULL, "Imports images with captions into the ratlip dataset format.\n", NULL,
                            opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    jobs_print_banner("data import");
    Err e;
    int rc = 0;
    ImportItem *items = NULL;
    long n = 0, cap = 0, total = 0;
    float *emb = NULL;
    long *test_sel = NULL, *train_sel = NULL;
    DIR *d = opendir(imgdir);
    if (!d) { fprintf(stderr, "ratlip data import: %s: cannot open image directory: %s\n", imgdir, strerror(errno)); return 1; }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !has_image_ext(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            ImportItem *ni = realloc(items, (size_t)cap * sizeof(ImportItem));
            if (!ni) { rc = err_set(&e, "%s: out of memory", imgdir); break; }
            items = ni;
        }
        items[n++] = (ImportItem){.name = strdup(de->d_name)};
    }
    closedir(d);
    if (!rc && n == 0) rc = err_set(&e, "%s: no *.png, *.jpg or *.jpeg files", imgdir);
    if (rc) goto done;
    qsort(items, (size_t)n, sizeof(ImportItem), cmp_item);
    int K = 0;
    for (long i = 0; i < n && !rc; i++) {
        char stem[1024], path[4096];
        snprintf(stem, sizeof(stem), "%s", items[i].name);
        *strrchr(stem, '.') = 0;
        if (i > 0) {
            char prev[1024];
            snprintf(prev, sizeof(prev), "%s", items[i - 1].name);
            *strrchr(prev, '.') = 0;
            if (!strcmp(prev, stem)) {
                rc = err_set(&e, "%s: %s and %s share the caption file %s.txt", imgdir, items[i - 1].name,
                             items[i].name, stem);
                break;
            }
        }
        snprintf(path, sizeof(path), "%s/%s.txt", capdir, stem);
        if ((rc = read_captions(path, &items[i], &e))) break;
        items[i].emb_row = total;
        total += items[i].count;
        if (items[i].count > K) K = items[i].count;
    }
    if (rc) goto done;
    int D = 0;
    char enc[64];
    if (embfile) {
        if ((rc = load_text_emb(embfile, total, &emb, &D, enc, sizeof(enc), &e))) goto done;
    } else {
        D = BOW_DIM;
        snprintf(enc, sizeof(enc), "%s", encoder);
        emb = malloc((size_t)total * D * sizeof(float));
        BowCache *bc = bow_cache_new();
        for (long i = 0; i < n; i++)
            for (int k = 0; k < items[i].count; k++) {
                if (!bow_embed_named(bc, encoder, items[i].captions[k], emb + (size_t)(items[i].emb_row + k) * D))
                    fprintf(stderr, "ratlip data import: warning: %s/%.*s.txt caption %d has no words (zero embedding)\n",
                            capdir, (int)(strrchr(items[i].name, '.') - items[i].name), items[i].name, k + 1);
            }
        bow_cache_free(bc);
    }
    // split: a seeded permutation picks the test images; both splits keep name order
    long ntest = (long)floor(test_fraction * n + 0.5);
    if (n - ntest < 1) { rc = err_set(&e, "%s: --test-fraction %g leaves no training images", imgdir, test_fraction); goto done; }
    test_sel = malloc((size_t)n * sizeof(long));
    train_sel = malloc((size_t)n * sizeof(long));
    int64_t *p64 = malloc((size_t)n * sizeof(int64_t));
    char *is_test = calloc((size_t)n, 1);
    reader_permutation((uint64_t)seed, 0, n, p64);
    for (long i = 0; i < ntest; i++) is_test[p64[i]] = 1;
    long a = 0, b = 0;
    for (long i = 0; i < n; i++) {
        if (is_test[i]) test_sel[b++] = i;
        else train_sel[a++] = i;
    }
    free(p64);
    free(is_test);
    if (fs_mkdir_p(out, &e)) { rc = -1; goto done; }
    double t0 = run_now_s();
    rc = import_split(out, "train", imgdir, items, train_sel, a, (int)shards, (int)size, K, D, enc, emb, max_pixels,
                      &e);
    if (!rc)
        rc = import_split(out, "test", imgdir, items, test_sel, b, (int)shards, (int)size, K, D, enc, emb, max_pixels,
                          &e);
    if (!rc)
        printf("imported %ld images (%ld train, %ld test), %ld captions (K=%d), D=%d encoder %s into %s in %.1f s\n", n, a,
               b, total, K, D, enc, out, run_now_s() - t0);
done:
    if (rc) fprintf(stderr, "ratlip data import: %s\n", e.msg);
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < items[i].count; k++) free(items[i].captions[k]);
        free(items[i].captions);
        free(items[i].name);
    }
    free(items);
    free(emb);
    free(test_sel);
    free(train_sel);
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
        {"import", data_import, "convert PNG/JPEG images with caption files into shards"},
        {"stats", cmd_data_stats, "Inception (FID) reference statistics of a split (jobs/cmd_eval.c)"},
        {"probe", data_probe, "fit (or reuse) the attribute probe of a labelled dataset, cached in DIR"},
    };
    return opt_dispatch("data", "Make, check, import datasets of HDF5 shards (io/dataset.h) and their FID statistics.",
                        subs, (int)(sizeof subs / sizeof subs[0]), argc, argv);
}
