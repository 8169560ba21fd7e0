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
#include "io/fault.h"
#include "io/probe_file.h"
#include "core/kernels.h"
#include "dist/agree.h"
#include "dist/rank.h"
#include "dist/tally.h"
#include "dist/watch.h"
#include "jobs/commands.h"
#include "jobs/import_dfgan.h"
#include "jobs/import_flat.h"
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
    int nsh[2] = {0, 0}, nsum = 0, side[2] = {0, 0};
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
        side[s] = in->image_size;
        if (have && ds_check_sides(dir, &first, in, &e)) {
            fprintf(stderr, "ratlip data verify: %s\n", e.msg);
            ds_close(ds);
            return 1;
        }
        if (have) {
            const char *what = in->embed_dim != first.embed_dim           ? "embed_dim"
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
    char sides[96];   // "64x64", or "304x304 train, 256x256 test" (train stored larger for the random crop)
    if (side[0] && side[1] && side[0] != side[1])
        snprintf(sides, sizeof sides, "%dx%d train, %dx%d test", side[0], side[0], side[1], side[1]);
    else snprintf(sides, sizeof sides, "%dx%d", first.image_size, first.image_size);
    printf("%s: ok | train %ld images in %d shards | test %ld images in %d shards | %s RGB | K=%d captions | "
           "D=%d | encoder %s%s | %s\n",
           dir, total[0], nsh[0], total[1], nsh[1], sides, first.n_captions,
           first.embed_dim, first.text_encoder, first.label_dim ? " | labels" : "", sums);
    return 0;
}

// ------------------------------------------ import ------------------------------------------

typedef struct {
    char *name;       // the key (flat: the image's path under IMAGES without its extension)
    char *path;       // the image file
    char *capfile;    // its caption file
    char **captions;  // [count]
    int count;
    long emb_row;     // first row of its captions in the embedding table
    const DfganKey *dk;   // dfgan: its key (class, CUB box); NULL for the flat layout
    int label;        // flat --recursive: its class (/labels "class")
} ImportItem;

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

// The writing of both splits on this rank: its slice (shard s of each split is written by rank s % nranks),
// and the images written so far over every rank (dist/tally.h), for rank 0's progress line (at most one
// every 2 s).
typedef struct {
    long done, total;
    double t0, last;
    int rank, nranks;
    DpTally *tally;
    int stopped;   // another rank failed: this one stopped (its own message is not the cause)
} ImportProgress;

// Counts one image written; returns 1 when another rank has failed and this one should stop.
static int import_progress(ImportProgress *p) {
    long all = dp_tally_add(p->tally, 1);
    if (all < 0) return p->stopped = 1;
    p->done = all;
    double now = run_now_s();
    if (p->rank != 0 || now - p->last < 2.0 || p->done == p->total) return 0;
    p->last = now;
    double rate = p->done / (now - p->t0 > 1e-9 ? now - p->t0 : 1e-9);
    long eta = (long)((p->total - p->done) / rate + 0.5);
    printf("import: %ld/%ld images (%.0f%%), %.0f images/s%s, ETA %ldh%02ldm%02lds\n", p->done, p->total,
           100.0 * p->done / p->total, rate, p->nranks > 1 ? " over all ranks" : "", eta / 3600, eta / 60 % 60,
           eta % 60);
    fflush(stdout);
    return 0;
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
            return err_set(e, "%s: its box (x %g, y %g, w %g, h %g) of CUB_200_2011/bounding_boxes.txt:%d is more "
                              "than a pixel outside this %dx%d image or does not overlap it (wrong id in the line, or "
                              "in images.txt?)", it->path, b[0], b[1], b[2], b[3], it->dk->box_line, w0, h0);
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

// The name a shard is written under until every rank has written its own: OUT/<shard name>.staged (not a
// shard name, so a reader never takes it for one). import_write renames them once all ranks agree.
static void import_staged_path(char *path, size_t n, const char *out, const char *split, int s, int ns) {
    char final[4096];
    ds_shard_path(final, sizeof final, out, split, s, ns);
    snprintf(path, n, "%s.staged", final);
}

// Writes this rank's shards of items[sel[0..n)] (split `name`, min(shards, n) shards; shard s when
// s % prog->nranks == prog->rank) under their staged names; L = 1: /labels "class" from dk (dfgan) or the
// item's label (flat). *written counts the shards this rank staged.
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
        if (s % prog->nranks != prog->rank) continue;
        long lo = n * s / ns, hi = n * (s + 1) / ns;
        char path[4200];
        import_staged_path(path, sizeof(path), out, name, s, ns);
        DsWriter *w = ds_writer_open(path, &info, hi - lo, e);
        if (!w) { rc = -1; break; }
        for (long j = lo; j < hi && !rc; j++) {
            ImportItem *it = &items[sel[j]];
            int32_t label = it->dk ? it->dk->label : it->label;
            if ((rc = import_image(it, S, max_pixels, img, e))) break;
            rc = ds_writer_put(w, j - lo, img, emb + (size_t)it->emb_row * D, it->count,
                               (const char *const *)it->captions, L ? &label : NULL, e);
            if (!rc) fault_point("import-image");
            if (!rc && import_progress(prog)) rc = err_set(e, "stopped: another rank failed");
        }
        if (rc) ds_writer_abort(w);
        else if (!(rc = ds_writer_close(w, e))) (*written)++;
    }
    free(img);
    return rc;
}

typedef struct {
    const char *out, *embfile, *encoder;
    long shards, size, max_pixels;
    long train_size;   // side of the train split's images (>= size: room for the reader's random crop)
    int force;         // OUT may hold shards: replaced (removed once the new ones are written)
    int rank, nranks;  // this process of `mpirun -np N ratlip data import` (0 of 1 alone)
} ImportTarget;

// Removes this rank's shards of both splits (import_split's slice): their staged names, and their shard
// names too when renamed (a failure after import_commit: by then every old shard is gone).
static void import_unwrite(const char *out, const long nsel[2], int shards, int rank, int nranks, int renamed) {
    const char *names[2] = {"train", "test"};
    for (int sp = 0; sp < 2; sp++) {
        int ns = shards > nsel[sp] ? (int)nsel[sp] : shards;
        for (int s = rank; s < ns; s += nranks) {
            char path[4200];
            import_staged_path(path, sizeof(path), out, names[sp], s, ns);
            unlink(path);
            ds_shard_path(path, sizeof(path), out, names[sp], s, ns);
            if (renamed) unlink(path);
        }
    }
}

// Gives this rank's staged shards their shard names (fsync, rename, fsync of the directory: io/fs.h).
static int import_commit(const char *out, const long nsel[2], int shards, int rank, int nranks, Err *e) {
    const char *names[2] = {"train", "test"};
    for (int sp = 0; sp < 2; sp++) {
        int ns = shards > nsel[sp] ? (int)nsel[sp] : shards;
        for (int s = rank; s < ns; s += nranks) {
            char staged[4200], path[4096];
            import_staged_path(staged, sizeof(staged), out, names[sp], s, ns);
            ds_shard_path(path, sizeof(path), out, names[sp], s, ns);
            if (fs_commit(staged, path, e)) return -1;
        }
    }
    return 0;
}

// Is name a shard's ("train-00000-of-00008.h5", "test-...")?
static int is_shard_name(const char *name) {
    int i, n;
    return ds_parse_shard_name(name, "train", &i, &n) || ds_parse_shard_name(name, "test", &i, &n);
}

// Is name a staged shard or its temporary ("train-00000-of-00002.h5.staged", "...h5.staged.tmp")?
static int is_staged_name(const char *name) {
    const char *p = strstr(name, ".h5.staged");
    if (!p || (strcmp(p, ".h5.staged") && strcmp(p, ".h5.staged.tmp")) || p - name > 40) return 0;
    char shard[64];
    snprintf(shard, sizeof shard, "%.*s.h5", (int)(p - name), name);
    return is_shard_name(shard);
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// The names in dir that match (is_shard_name, is_staged_name), sorted, into *names (free each and the
// array); -1 with e set when dir cannot be listed.
static int import_list(const char *dir, int (*match)(const char *), char ***names, long *n, Err *e) {
    *names = NULL, *n = 0;
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot list: %s", dir, strerror(errno));
    long cap = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!match(de->d_name)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(*names, (size_t)cap * sizeof(char *));
            if (!nn) { rc = err_set(e, "%s: out of memory", dir); break; }
            *names = nn;
        }
        if (!((*names)[*n] = strdup(de->d_name))) rc = err_set(e, "%s: out of memory", dir);
        else (*n)++;
    }
    closedir(d);
    if (*n) qsort(*names, (size_t)*n, sizeof(char *), cmp_name);
    return rc;
}

static void free_names(char **names, long n) {
    for (long i = 0; i < n; i++) free(names[i]);
    free(names);
}

// OUT must not hold shards already (the new ones would mix with them): refused unless --force, which
// removes them once the new shards are written (import_remove_old). OUT may be missing or empty.
static int import_check_out(const ImportTarget *t, Err *e) {
    struct stat st;
    if (stat(t->out, &st)) return errno == ENOENT ? 0 : err_set(e, "%s: %s", t->out, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return err_set(e, "%s: exists and is not a directory (--out names the dataset directory)", t->out);
    char **names;
    long n;
    if (import_list(t->out, is_shard_name, &names, &n, e)) return -1;
    int rc = 0;
    if (n && !t->force)
        rc = err_set(e, "%s: already holds %ld shard%s (%s%s): the new ones would mix with them. Choose another --out, "
                        "or add --force to replace them (removed once the new shards are written)",
                     t->out, n, n == 1 ? "" : "s", names[0], n > 1 ? ", ..." : "");
    free_names(names, n);
    return rc;
}

// --force, on rank 0 once every new shard is written (still under its staged name): removes the old shards
// of OUT and says so; other .h5 files there (FID statistics, probe cache) were made from the old shards:
// named, left alone.
static int import_remove_old(const char *out, Err *e) {
    char **names;
    long n;
    if (import_list(out, is_shard_name, &names, &n, e)) return -1;
    int rc = 0;
    for (long i = 0; i < n && !rc; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", out, names[i]);
        if (unlink(path) && errno != ENOENT) rc = err_set(e, "%s: cannot remove it (--force): %s", path, strerror(errno));
    }
    if (!rc && n) printf("--force: removed the %ld old shard%s of %s (%s%s)\n", n, n == 1 ? "" : "s", out, names[0],
                         n > 1 ? ", ..." : "");
    free_names(names, n);
    DIR *d = rc ? NULL : opendir(out);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len > 3 && !strcmp(de->d_name + len - 3, ".h5") && !is_shard_name(de->d_name))
            printf("--force: note: %s/%s was made from the old shards (remake it, e.g. `ratlip data stats`)\n", out,
                   de->d_name);
    }
    if (d) closedir(d);
    fflush(stdout);
    return rc;
}

// Removes the staged shards in out: a killed import's (at the start; no import of ours is writing there),
// or this job's when a rank stalled (the dp_on_stall hook, before the job ends).
static void import_remove_staged(void *out, const char *msg) {
    (void)msg;
    char **names;
    long n;
    Err e;
    if (import_list(out, is_staged_name, &names, &n, &e)) return;
    for (long i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", (const char *)out, names[i]);
        unlink(path);
    }
    free_names(names, n);
}

// 1 for the items in this rank's shards (import_split's slice): the captions this rank embeds.
static unsigned char *import_mine(const ImportTarget *t, long n, long *const sel[2], const long nsel[2]) {
    unsigned char *m = calloc((size_t)(n > 0 ? n : 1), 1);
    for (int sp = 0; sp < 2 && m; sp++) {
        int ns = t->shards > nsel[sp] ? (int)nsel[sp] : (int)t->shards;
        for (int s = t->rank; s < ns; s += t->nranks)
            for (long j = nsel[sp] * s / ns; j < nsel[sp] * (s + 1) / ns; j++) m[sel[sp][j]] = 1;
    }
    return m;
}

// The inputs are checked on every rank, so they fail on every rank the same way: only the lowest failing
// rank prints (e->msg is emptied on the others). 0 when no rank failed.
static int import_agree_inputs(const ImportTarget *t, int rc, Err *e) {
    if (t->nranks == 1) return rc;
    int first = dp_first_rank(rc != 0, dp_get_timeout(), "data import: agreement on the inputs");
    if (first < 0) return 0;
    if (first != t->rank) e->msg[0] = 0;
    return -1;
}

// Every rank passes its status; -1 on all when any failed, e->msg emptied on the ranks that did not fail
// themselves (the failed one prints its message).
static int import_agree(const ImportTarget *t, int rc, Err *e) {
    if (t->nranks == 1) return rc;
    if (!dp_agree(rc, dp_get_timeout(), e)) return 0;
    if (!rc) e->msg[0] = 0;
    return -1;
}

// Both layouts' second half: reads every item's caption file, embeds the captions (or takes --text-emb's
// rows), writes the splits sel[0] (train) and sel[1] (test) with L label columns into t->out. rc is the
// layout's status so far: every rank calls this once, failed or not, and all agree on the inputs before
// anything is written. Each rank writes its slice of the shards under staged names; once every rank has
// written its own (dist/tally.h), --force's old shards go and the staged ones take their names. On a
// failure anywhere nothing written stays (the shards are removed, and t->out when it created it).
// Returns 0, or -1 with e set (empty on the ranks whose failure another rank reported).
static int import_write(const ImportTarget *t, ImportItem *items, long n, long *const sel[2], const long nsel[2],
                        int L, int rc, Err *e) {
    int K = 0, D = 0;
    long total = 0;
    if (!rc) rc = import_check_out(t, e);
    for (long i = 0; i < n && !rc; i++) {
        if ((rc = read_captions(items[i].capfile, &items[i], e))) break;
        items[i].emb_row = total;
        total += items[i].count;
        if (items[i].count > K) K = items[i].count;
    }
    char enc[64] = "";
    float *emb = NULL;
    if (!rc && t->embfile) {
        rc = load_text_emb(t->embfile, total, &emb, &D, enc, sizeof(enc), e);
    } else if (!rc) {   // the captions of this rank's shards (rows of the others' stay untouched)
        D = BOW_DIM;
        snprintf(enc, sizeof(enc), "%s", t->encoder);
        emb = malloc((size_t)total * D * sizeof(float));
        unsigned char *mine = import_mine(t, n, sel, nsel);
        if (!emb || !mine) rc = err_set(e, "%s: out of memory for %ld caption embeddings", t->out, total);
        BowCache *bc = bow_cache_new();
        for (long i = 0; i < n && !rc; i++)
            for (int k = 0; k < items[i].count && mine[i]; k++) {
                if (!bow_embed_named(bc, t->encoder, items[i].captions[k], emb + (size_t)(items[i].emb_row + k) * D))
                    fprintf(stderr, "ratlip data import: warning: %s caption %d has no words (zero embedding)\n",
                            items[i].capfile, k + 1);
            }
        bow_cache_free(bc);
        free(mine);
    }
    if (import_agree_inputs(t, rc, e)) {
        free(emb);
        return -1;
    }
    struct stat st;
    int existed = stat(t->out, &st) == 0;   // rank 0's view counts: it creates OUT, and removes it on a failure
    int made = t->rank == 0 ? fs_mkdir_p(t->out, e) : 0;
    if (t->rank == 0 && !made) import_remove_staged((void *)t->out, NULL);   // a killed import's leftovers
    if (import_agree(t, made, e)) {
        free(emb);
        return -1;
    }
    dp_on_stall(import_remove_staged, (void *)t->out);   // a stalled rank ends the job: no staged shard stays
    ImportProgress prog = {.total = nsel[0] + nsel[1], .t0 = run_now_s(), .rank = t->rank, .nranks = t->nranks,
                           .tally = dp_tally_open(dp_get_timeout())};
    prog.last = prog.t0;
    int written[2] = {0, 0};
    rc = import_split(t->out, "train", items, sel[0], nsel[0], (int)t->shards, (int)t->train_size, K, D, L, enc,
                      emb, t->max_pixels, &prog, &written[0], e);
    if (!rc)
        rc = import_split(t->out, "test", items, sel[1], nsel[1], (int)t->shards, (int)t->size, K, D, L, enc, emb,
                          t->max_pixels, &prog, &written[1], e);
    int failed = dp_tally_finish(prog.tally, rc != 0 && !prog.stopped);   // every rank has written its shards
    dp_on_stall(NULL, NULL);
    int renamed = 0;
    if (failed >= 0) {
        if (!rc || prog.stopped) e->msg[0] = 0;   // not this rank's failure: that rank prints it
        if (t->rank == 0 && !e->msg[0]) err_set(e, "rank %d failed while writing (see its message); no shard is kept", failed);
        rc = -1;
    } else {   // --force's old shards go (rank 0), then every rank's staged shards take their names
        rc = import_agree(t, t->force && t->rank == 0 ? import_remove_old(t->out, e) : 0, e);
        if (!rc) {
            renamed = 1;
            rc = import_agree(t, import_commit(t->out, nsel, (int)t->shards, t->rank, t->nranks, e), e);
        }
    }
    if (rc) {   // nothing written stays: every rank removes its shards, then rank 0 the OUT it created
        import_unwrite(t->out, nsel, (int)t->shards, t->rank, t->nranks, renamed);
        Err ignore;
        import_agree(t, 0, &ignore);
        if (t->rank == 0 && !existed) rmdir(t->out);
    }
    if (!rc && t->rank == 0)
        printf("imported %ld images (%ld train at %ldx%ld, %ld test at %ldx%ld), %ld captions (K=%d), D=%d "
               "encoder %s%s into %s in %.1f s\n", nsel[0] + nsel[1], nsel[0], t->train_size, t->train_size, nsel[1],
               t->size, t->size, total, K, D, enc, L ? ", /labels class" : "", t->out, run_now_s() - prog.t0);
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

// --layout flat (jobs/import_flat.h): the images in a split, in path order; classes from the class folders.
static int import_flat(const ImportTarget *t, const FlatOptions *o, Err *e) {
    FlatList l;
    int rc = flat_resolve(o, &l, e);
    long n = 0, nsel[2] = {0, 0}, *sel[2] = {NULL, NULL};
    ImportItem *items = NULL;
    if (!rc) {
        items = calloc((size_t)(l.n_split[0] + l.n_split[1]), sizeof(ImportItem));
        sel[0] = malloc((size_t)(l.n_split[0] + 1) * sizeof(long));
        sel[1] = malloc((size_t)(l.n_split[1] + 1) * sizeof(long));
        if (!items || !sel[0] || !sel[1]) rc = err_set(e, "%s: out of memory", o->images);
    }
    for (long i = 0; i < l.n && !rc; i++) {
        FlatItem *f = &l.items[i];
        if (f->split < 0) continue;
        items[n] = (ImportItem){.name = f->key, .path = f->image, .capfile = f->caption, .label = f->label};
        f->key = f->image = f->caption = NULL;   // the item owns them now
        sel[f->split][nsel[f->split]++] = n++;
    }
    if (!rc && t->rank == 0 && l.n_subdirs)
        printf("%s: note: %ld subfolder%s not read (--recursive reads class subfolders)\n", o->images, l.n_subdirs,
               l.n_subdirs == 1 ? "" : "s");
    if (!rc && t->rank == 0 && l.n_classes)
        printf("%s: %d classes (subfolders), /labels column \"class\"\n", o->images, l.n_classes);
    if (!rc && t->rank == 0 && o->train_list)
        printf("%s: %ld train images (%s), %ld test images (%s), %ld in neither list left out\n", o->images, nsel[0],
               o->train_list, nsel[1], o->test_list, l.n_unlisted);
    rc = import_write(t, items, n, sel, nsel, l.n_classes ? 1 : 0, rc, e);
    free_items(items, n);
    free(sel[0]);
    free(sel[1]);
    flat_free(&l);
    return rc;
}

// --layout dfgan (jobs/import_dfgan.h): keys from the split lists, classes from the key folders.
static int import_dfgan(const ImportTarget *t, const char *dir, const char *dataset, const char *train_list,
                        const char *test_list, Err *e) {
    DfganList l;
    int rc = dfgan_resolve(dir, dataset, train_list, test_list, &l, e);   // on failure l is empty
    ImportItem *items = calloc((size_t)l.n + 1, sizeof(ImportItem));
    long *order = malloc(((size_t)l.n + 1) * sizeof(long));
    if (!rc && (!items || !order)) rc = err_set(e, "%s: out of memory", dir);
    for (long i = 0; i < l.n && !rc; i++) {
        DfganKey *k = &l.keys[i];
        items[i] = (ImportItem){.name = strdup(k->key), .path = strdup(k->image), .capfile = strdup(k->caption), .dk = k};
        order[i] = i;
        if (!items[i].name || !items[i].path || !items[i].capfile) rc = err_set(e, "%s: out of memory", dir);
    }
    long *sel[2] = {order, order && !rc ? order + l.n_train : NULL};
    long nsel[2] = {rc ? 0 : l.n_train, rc ? 0 : l.n - l.n_train};
    if (!rc && l.n_classes && t->rank == 0)
        printf("%s: %d classes (key folders), /labels column \"class\"\n", dir, l.n_classes);
    rc = import_write(t, items, rc ? 0 : l.n, sel, nsel, l.n_classes ? 1 : 0, rc, e);   // every rank, failed or not
    if (items) free_items(items, l.n);
    free(order);
    dfgan_free(&l);
    return rc;
}

// Was --name on the command line (--name VALUE or --name=VALUE, before any "--")?
static int arg_given(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, n) && (!argv[i][n + 2] || argv[i][n + 2] == '='))
            return 1;
    return 0;
}

static const char import_about[] =
    "Imports images with captions into the ratlip dataset format. Two layouts:\n"
    "  flat   --images DIR --captions DIR: every PNG/JPEG with <name>.txt (--recursive: in class subfolders\n"
    "         mirrored under both, /labels \"class\" = the subfolder), a seeded train/test split or the keys\n"
    "         of --train-list/--test-list (jobs/import_flat.h)\n"
    "  dfgan  --data-dir DIR --dataset birds|flower|faces|coco: the DF-GAN/AttnGAN/GALIP/RATLIP layout,\n"
    "         DIR/{train,test}/filenames.pickle (or --train-list/--test-list), DIR/text/<key>.txt, images\n"
    "         under DIR/CUB_200_2011/images (birds, cropped to AttnGAN's box around bounding_boxes.txt)\n"
    "         or DIR/images; /labels \"class\" = the key's class folder (birds), none for flat keys.\n"
    "The test split is stored at --size S (the model's model.image_size), the train split at --train-size T\n"
    "(dfgan default S*76/64: training takes a random SxS crop + flip of it each step, as upstream does).\n"
    "Everything named is checked before OUT is written; a failure leaves nothing there. An OUT that holds\n"
    "shards already is refused (--force replaces them). Under `mpirun -np N` (or srun) every rank checks the\n"
    "inputs and writes shard s of each split when s % N is its rank: the same dataset as one rank writes.\n";

static int data_import(int argc, char **argv) {
    const char *imgdir = NULL, *capdir = NULL, *out = NULL, *embfile = NULL, *encoder = NULL, *layout = NULL;
    const char *datadir = NULL, *dataset = NULL, *train_list = NULL, *test_list = NULL;
    int recursive = 0, force = 0;
    long shards, size, train_size, seed, max_pixels;
    double test_fraction, timeout;
    const OptSpec opts[] = {
        OPT_CHOICE("layout", 0, &layout, 0, "flat|dfgan", "flat", "how the source is laid out (see above)"),
        OPT_PATH("images", 0, &imgdir, 0, "DIR",
                 "flat: PNG or JPEG files (*.png, *.jpg, *.jpeg; other names are ignored), taken in byte order\n"
                 "of their paths under DIR. A file with such a name that is not a decodable image is an error."),
        OPT_PATH("captions", 0, &capdir, 0, "DIR",
                 "flat: <image path under --images without extension>.txt per image: one caption per line,\n"
                 "blank lines ignored; a file without captions is an error. K = the largest caption count;\n"
                 "images with fewer captions are padded (text_count says how many are real)."),
        OPT_FLAG("recursive", 0, &recursive,
                 "flat: images in class subfolders, --images DIR/<class>/<name>.jpg with --captions\n"
                 "DIR/<class>/<name>.txt; class = the subfolder's index among the sorted ones (/labels\n"
                 "\"class\"). Trees deeper than 32 folders and symlink loops are refused."),
        OPT_PATH("data-dir", 0, &datadir, 0, "DIR", "dfgan: the dataset directory (as DF-GAN's data/birds)"),
        OPT_CHOICE("dataset", 0, &dataset, 0, DFGAN_DATASETS, NULL, "dfgan: which dataset's file names DIR follows"),
        OPT_PATH("train-list", 0, &train_list, 0, "FILE",
                 "train keys, one per line (io/pylist.h; FILE.pickle or .pkl: a pickled list). dfgan: instead\n"
                 "of DIR/train/filenames.pickle. flat: with --test-list instead of --test-fraction; a key is\n"
                 "the image's path under --images without extension; images in neither list are left out"),
        OPT_PATH("test-list", 0, &test_list, 0, "FILE", "test keys (as --train-list; dfgan: DIR/test/filenames.pickle)"),
        OPT_PATH("out", 'o', &out, OPT_REQ, "DIR", "dataset directory (created)"),
        OPT_FLAG("force", 0, &force, "OUT may hold shards: they are replaced (removed once the new ones are written)"),
        OPT_LONG("shards", 0, &shards, OPT_REQ, 1, 99999, NULL, "N", "each split is written in min(N, images) shards"),
        OPT_LONG("size", 0, &size, OPT_REQ, 8, 4096, NULL, "S",
                 "shorter side resized to S and centre-cropped to SxS: implemented as a centre crop to\n"
                 "the largest square, then area resampling (average over each output pixel's footprint)"),
        OPT_LONG("train-size", 0, &train_size, 0, 8, 8192, NULL, "T",
                 "the train split's side, T >= S, made the same way (test images stay at S). Training\n"
                 "takes a random SxS crop of it each step (+ flip: data.random_flip), upstream's augmentation.\n"
                 "Default: S for flat; int(S*76/64) for dfgan (304 for S=256, 266 for 224, 76 for 64), as\n"
                 "AttnGAN/DF-GAN/GALIP's Resize(int(S*76/64)) + RandomCrop(S). Deviation: upstream keeps the\n"
                 "resized image's aspect ratio and crops anywhere in it; here its longer side is centre-cropped\n"
                 "to T first (CUB's bounding-box crops are square but where the image edge clips them)"),
        OPT_DOUBLE("test-fraction", 0, &test_fraction, OPT_HI_OPEN, 0, 1, "0.1", "F",
                   "flat without lists: share of images (chosen by --seed) in the test split; the rest are train"),
        OPT_LONG("seed", 0, &seed, 0, 0, 2147483647L, "0", "S", "flat: seed of the train/test split"),
        OPT_DOUBLE("timeout", 0, &timeout, 0, 0, 1e7, "300", "S",
                   "under mpirun/srun: a rank silent for S s (stopped, stuck in I/O) ends the job with exit\n"
                   "status 4 naming it, instead of a hang; 0 waits forever"),
        OPT_LONG("max-pixels", 0, &max_pixels, 0, 1, IMAGE_MAX_PIXELS_CAP, "64000000", "N",
                 "an image with more pixels (width x height, from its header) is refused before it is\n"
                 "decoded: a small file can hold a huge image (20000x20000 = 1.2 GB decoded)"),
        OPT_PATH("text-emb", 0, &embfile, 0, "FILE.h5",
                 "precomputed caption embeddings (e.g. CLIP, io/tools/clip_text_embed.py): dataset\n"
                 "/text_emb float32 [total_captions, D], one row per caption in file order: the imported\n"
                 "images in path order (flat) or train then test keys in list order (dfgan), within an image\n"
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
    const char *extra = dfgan ? (imgdir ? "--images" : capdir ? "--captions" : recursive ? "--recursive" : NULL)
                              : (datadir ? "--data-dir" : dataset ? "--dataset" : NULL);
    if (!dfgan && !need && !train_list != !test_list) need = train_list ? "--test-list FILE (with --train-list)"
                                                                        : "--train-list FILE (with --test-list)";
    if (need) {
        fprintf(stderr, "ratlip data import: %s is required with --layout %s ('ratlip data import --help')\n", need, layout);
        return OPT_EXIT_USAGE;
    }
    if (extra) {
        fprintf(stderr, "ratlip data import: %s is not an option of --layout %s ('ratlip data import --help')\n",
                extra, layout);
        return OPT_EXIT_USAGE;
    }
    const char *random_split = arg_given(argc, argv, "test-fraction") ? "--test-fraction"
                               : arg_given(argc, argv, "seed")        ? "--seed" : NULL;
    if (!dfgan && train_list && random_split) {
        fprintf(stderr, "ratlip data import: %s chooses a random split: not with --train-list/--test-list, which "
                        "name the split ('ratlip data import --help')\n", random_split);
        return OPT_EXIT_USAGE;
    }
    if (!train_size) train_size = dfgan ? size * 76 / 64 : size;   // upstream: int(imsize * 76 / 64)
    if (train_size < size) {
        fprintf(stderr, "ratlip data import: --train-size %ld is smaller than --size %ld: the train images must hold "
                        "the model's %ldx%ld crop (T >= S)\n", train_size, size, size, size);
        return OPT_EXIT_VALUE;
    }
    // MPI only under a launcher (mpirun, srun, or another's PMI/PMIx rank variable): N ranks writing a slice
    // of the shards each. Alone it is not started (a singleton MPI_Init costs ~0.6 s and needs a working MPI
    // where one may not be set up, e.g. on a login node).
    DpInfo dp = {.rank = 0, .size = 1};
    Err e = {{0}};
    int expected = 0;
    int launched = dp_detect_launcher(&expected) != DP_LAUNCH_SINGLETON || getenv("PMIX_RANK") || getenv("PMI_RANK");
    if (launched && dp_init(&argc, &argv, 1, &dp, &e)) {
        fprintf(stderr, "ratlip data import: %s\n", e.msg);
        dp_finalize(&dp);
        return 1;
    }
    dp_set_timeout(timeout);
    if (dp.rank == 0) jobs_print_banner("data import");
    if (dp.rank == 0 && dp.size > 1)
        printf("data import: %d ranks (%s): shard s of each split is written by rank s %% %d\n", dp.size,
               dp_launcher_name(dp.launcher), dp.size);
    if (dfgan && !embfile && dp.rank == 0)   // the paper's datasets with the built-in encoder: not the paper's setup
        fprintf(stderr, "ratlip data import: warning: captions embedded with the built-in %s encoder, not the CLIP "
                        "text encoder RATLIP uses (for that: io/tools/clip_text_embed.py --layout dfgan --data-dir %s "
                        "--dataset %s --out emb.h5, then --text-emb emb.h5)\n",
                encoder ? encoder : SYNTH_ENCODER, datadir, dataset);
    const ImportTarget t = {.out = out, .embfile = embfile, .encoder = encoder, .shards = shards, .size = size,
                            .max_pixels = max_pixels, .train_size = train_size,
                            .force = force, .rank = dp.rank, .nranks = dp.size};
    const FlatOptions fo = {.images = imgdir, .captions = capdir, .recursive = recursive, .train_list = train_list,
                            .test_list = test_list, .test_fraction = test_fraction, .seed = seed};
    int rc = dfgan ? import_dfgan(&t, datadir, dataset, train_list, test_list, &e) : import_flat(&t, &fo, &e);
    if (rc && e.msg[0] && dp.size > 1) fprintf(stderr, "ratlip data import: rank %d: %s\n", dp.rank, e.msg);
    else if (rc && e.msg[0]) fprintf(stderr, "ratlip data import: %s\n", e.msg);
    fflush(stdout);
    dp_finalize(&dp);
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
