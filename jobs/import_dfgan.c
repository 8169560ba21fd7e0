// import_dfgan: resolves the DF-GAN/AttnGAN dataset layout into image/caption paths, splits, classes and
// CUB bounding boxes (see import_dfgan.h); jobs/cmd_data.c does the decoding and writing.
#include "jobs/import_dfgan.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/fs.h"
#include "io/pylist.h"

#define CUB_TABLE_MAX_BYTES ((size_t)256 << 20)   // images.txt / bounding_boxes.txt (CUB's: ~0.5 MB)
#define CUB_COORD_MAX 1e7                          // a box coordinate beyond this is refused (no image is that big)

int cub_crop_box(double x, double y, double w, double h, int W, int H, int box[4]) {
    int r = (int)(fmax(w, h) * 0.75);
    int cx = (int)((2 * x + w) / 2), cy = (int)((2 * y + h) / 2);
    box[0] = cx - r > 0 ? cx - r : 0;
    box[1] = cy - r > 0 ? cy - r : 0;
    box[2] = cx + r < W ? cx + r : W;
    box[3] = cy + r < H ? cy + r : H;
    // the box itself must lie on the image (a pixel of slack for rounding at its border) and overlap it:
    // a box of another image (a wrong id) would otherwise crop whatever part of the square is left
    int on = x >= -1 && y >= -1 && x + w <= W + 1.0 && y + h <= H + 1.0 && fmin(x + w, W) > fmax(x, 0) &&
             fmin(y + h, H) > fmax(y, 0);
    return on && box[2] > box[0] && box[3] > box[1] ? 0 : -1;
}

uint8_t *dfgan_crop(const uint8_t *rgb, int W, const int box[4]) {
    size_t cw = (size_t)(box[2] - box[0]), ch = (size_t)(box[3] - box[1]);
    uint8_t *out = malloc(cw * ch * 3);
    if (!out) return NULL;
    for (size_t r = 0; r < ch; r++)
        memcpy(out + r * cw * 3, rgb + (((size_t)box[1] + r) * (size_t)W + (size_t)box[0]) * 3, cw * 3);
    return out;
}

// ---- CUB tables: images.txt "<id> <relpath>", bounding_boxes.txt "<id> <x> <y> <w> <h>" ----

typedef struct {
    const char *rel;   // points into the file's buffer
    long id;
    int line;
} CubImage;

typedef struct {
    long id;
    double b[4];
    int line;
} CubBox;

static int cmp_cub_image(const void *a, const void *b) {
    return strcmp(((const CubImage *)a)->rel, ((const CubImage *)b)->rel);
}
static int cmp_cub_box(const void *a, const void *b) {
    long x = ((const CubBox *)a)->id, y = ((const CubBox *)b)->id;
    return (x > y) - (x < y);
}

// Splits line (modified in place) at spaces/tabs into up to max fields; returns how many there are.
static int split_fields(char *line, char **f, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r') *p++ = 0;
        if (!*p) return n;
        if (n < max) f[n] = p;
        n++;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r') p++;
    }
}

static int parse_id(const char *s, long *id) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 0) return -1;
    *id = v;
    return 0;
}

// Calls row(fields, nfields, line, ctx) for each non-blank line of path (at most 5 fields kept).
static int for_each_line(const char *path, char **buf, int (*row)(char **f, int nf, int line, void *ctx), void *ctx,
                         Err *e) {
    *buf = fs_read_all(path, CUB_TABLE_MAX_BYTES, NULL, e);
    if (!*buf) return -1;
    int line = 0;
    for (char *p = *buf, *nl; p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = 0;
        line++;
        char *f[5];
        int nf = split_fields(p, f, 5);
        if (nf && row(f, nf, line, ctx)) return -1;
    }
    return 0;
}

typedef struct {
    const char *path;
    CubImage *img;
    CubBox *box;
    long n, cap;
    Err *e;
} CubTable;

// arr (t->img or t->box, rows of elem bytes) with room for one more row; NULL (e set) when out of memory.
static void *grow(CubTable *t, void *arr, size_t elem) {
    if (t->n < t->cap) return arr;
    long cap = t->cap ? 2 * t->cap : 1024;
    void *nb = realloc(arr, (size_t)cap * elem);
    if (!nb) {
        err_set(t->e, "%s: out of memory", t->path);
        return NULL;
    }
    t->cap = cap;
    return nb;
}

static int images_row(char **f, int nf, int line, void *ctx) {
    CubTable *t = ctx;
    long id;
    if (nf != 2) return err_set(t->e, "%s:%d: %d fields, want 2: \"<image id> <path>\"", t->path, line, nf);
    if (parse_id(f[0], &id))
        return err_set(t->e, "%s:%d: image id '%s' is not a non-negative integer", t->path, line, f[0]);
    CubImage *ni = grow(t, t->img, sizeof(CubImage));
    if (!ni) return -1;
    t->img = ni;
    t->img[t->n++] = (CubImage){.rel = f[1], .id = id, .line = line};
    return 0;
}

static int boxes_row(char **f, int nf, int line, void *ctx) {
    CubTable *t = ctx;
    CubBox b = {.line = line};
    if (nf != 5) return err_set(t->e, "%s:%d: %d fields, want 5: \"<image id> <x> <y> <width> <height>\"", t->path, line, nf);
    if (parse_id(f[0], &b.id))
        return err_set(t->e, "%s:%d: image id '%s' is not a non-negative integer", t->path, line, f[0]);
    for (int k = 0; k < 4; k++) {
        char *end;
        b.b[k] = strtod(f[k + 1], &end);
        if (*end || end == f[k + 1] || !isfinite(b.b[k]) || fabs(b.b[k]) > CUB_COORD_MAX)
            return err_set(t->e, "%s:%d: %s '%s' is not a number in -1e7..1e7", t->path, line,
                           (const char *[]){"x", "y", "width", "height"}[k], f[k + 1]);
    }
    if (b.b[2] < 0 || b.b[3] < 0)
        return err_set(t->e, "%s:%d: negative box size %g x %g", t->path, line, b.b[2], b.b[3]);
    CubBox *nb = grow(t, t->box, sizeof(CubBox));
    if (!nb) return -1;
    t->box = nb;
    t->box[t->n++] = b;
    return 0;
}

// Fills the box of every birds key from DIR/CUB_200_2011/{images,bounding_boxes}.txt.
static int cub_boxes(const char *dir, DfganList *l, Err *e) {
    char ipath[4200], *ibuf = NULL, *bbuf = NULL;
    snprintf(ipath, sizeof ipath, "%s/CUB_200_2011/images.txt", dir);
    snprintf(l->bbox_file, sizeof l->bbox_file, "%s/CUB_200_2011/bounding_boxes.txt", dir);
    CubTable ti = {.path = ipath, .e = e}, tb = {.path = l->bbox_file, .e = e};
    int rc = for_each_line(ipath, &ibuf, images_row, &ti, e);
    if (!rc) rc = for_each_line(l->bbox_file, &bbuf, boxes_row, &tb, e);
    if (!rc) {
        qsort(ti.img, (size_t)ti.n, sizeof(CubImage), cmp_cub_image);
        for (long i = 1; i < ti.n && !rc; i++)
            if (!strcmp(ti.img[i].rel, ti.img[i - 1].rel))
                rc = err_set(e, "%s:%d: path %s is listed again (first on line %d)", ipath, ti.img[i].line,
                             ti.img[i].rel, ti.img[i - 1].line);
    }
    if (!rc) {
        qsort(tb.box, (size_t)tb.n, sizeof(CubBox), cmp_cub_box);
        for (long i = 1; i < tb.n && !rc; i++)
            if (tb.box[i].id == tb.box[i - 1].id) {
                int a = tb.box[i].line < tb.box[i - 1].line ? tb.box[i].line : tb.box[i - 1].line;
                int b = tb.box[i].line ^ tb.box[i - 1].line ^ a;
                rc = err_set(e, "%s:%d: duplicate image id %ld (also on line %d)", l->bbox_file, b, tb.box[i].id, a);
            }
    }
    for (long k = 0; k < l->n && !rc; k++) {
        DfganKey *dk = &l->keys[k];
        char rel[4200];
        snprintf(rel, sizeof rel, "%s.jpg", dk->key);
        CubImage qi = {.rel = rel}, *fi = bsearch(&qi, ti.img, (size_t)ti.n, sizeof(CubImage), cmp_cub_image);
        if (!fi) {
            rc = err_set(e, "%s: no line for %s (key '%s' of the %s list): cannot find its bounding box", ipath, rel,
                         dk->key, dk->split ? "test" : "train");
            break;
        }
        CubBox qb = {.id = fi->id}, *fb = bsearch(&qb, tb.box, (size_t)tb.n, sizeof(CubBox), cmp_cub_box);
        if (!fb) {
            rc = err_set(e, "%s: no bounding box for image id %ld (%s, %s line %d)", l->bbox_file, fi->id, rel, ipath,
                         fi->line);
            break;
        }
        dk->has_box = 1;
        memcpy(dk->box, fb->b, sizeof dk->box);
        dk->box_line = fb->line;
    }
    free(ti.img);
    free(tb.box);
    free(ibuf);
    free(bbuf);
    return rc;
}

// ---- keys ----

typedef struct {
    const char *key, *list;
} KeyRef;

static int cmp_keyref(const void *a, const void *b) { return strcmp(((const KeyRef *)a)->key, ((const KeyRef *)b)->key); }

void dfgan_free(DfganList *l) {
    for (long i = 0; i < l->n; i++) {
        free(l->keys[i].key);
        free(l->keys[i].image);
        free(l->keys[i].caption);
    }
    free(l->keys);
    memset(l, 0, sizeof *l);
}

static char *path_of(const char *fmt, const char *dir, const char *key, int keylen) {
    int n = snprintf(NULL, 0, fmt, dir, keylen, key);
    char *p = malloc((size_t)n + 1);
    if (p) snprintf(p, (size_t)n + 1, fmt, dir, keylen, key);
    return p;
}

// The class of every key: index of its folder among the sorted distinct folders (or -1 for all).
static int assign_classes(DfganList *l, const char *lists[2], Err *e) {
    long with = 0;
    for (long i = 0; i < l->n; i++) with += keylist_folder_len(l->keys[i].key) > 0;
    if (with == 0) {
        for (long i = 0; i < l->n; i++) l->keys[i].label = -1;
        return 0;
    }
    if (with != l->n) {
        long i = 0;
        while (keylist_folder_len(l->keys[i].key)) i++;
        return err_set(e, "%s: key '%s' has no class folder but other keys do (\"<class>/<name>\"): mixed lists are "
                          "not supported", lists[l->keys[i].split], l->keys[i].key);
    }
    const char **keys = malloc((size_t)l->n * sizeof(char *));
    int *label = malloc((size_t)l->n * sizeof(int));
    for (long i = 0; keys && i < l->n; i++) keys[i] = l->keys[i].key;
    int nc = keys && label ? keylist_classes(keys, l->n, label) : -1;
    for (long i = 0; nc > 0 && i < l->n; i++) l->keys[i].label = label[i];
    free(keys);
    free(label);
    if (nc < 0) return err_set(e, "%s: out of memory", lists[0]);
    l->n_classes = nc;
    return 0;
}

int dfgan_resolve(const char *dir, const char *dataset, const char *train_list, const char *test_list,
                  DfganList *out, Err *e) {
    memset(out, 0, sizeof *out);
    int birds = !strcmp(dataset, "birds"), flower = !strcmp(dataset, "flower"), coco = !strcmp(dataset, "coco");
    if (!birds && !flower && !coco && strcmp(dataset, "faces"))
        return err_set(e, "unknown dataset '%s' (one of birds, flower, faces, coco)", dataset);
    char pick[2][4200];
    const char *lists[2] = {train_list, test_list};
    char **keys[2] = {NULL, NULL};
    long nk[2] = {0, 0};
    int rc = 0;
    for (int s = 0; s < 2 && !rc; s++) {
        if (lists[s]) rc = textlist_read(lists[s], &keys[s], &nk[s], e);
        else {
            snprintf(pick[s], sizeof pick[s], "%s/%s/filenames.pickle", dir, s ? "test" : "train");
            lists[s] = pick[s];
            rc = pylist_read(pick[s], &keys[s], &nk[s], e);
        }
    }
    if (!rc && nk[0] == 0) rc = err_set(e, "%s: the train list holds no keys", lists[0]);
    KeyRef *refs = NULL;
    if (!rc) {   // a key listed twice, in one list or in both
        refs = malloc((size_t)(nk[0] + nk[1]) * sizeof(KeyRef));
        if (!refs) rc = err_set(e, "%s: out of memory", lists[0]);
        for (long i = 0; !rc && i < nk[0] + nk[1]; i++)
            refs[i] = (KeyRef){i < nk[0] ? keys[0][i] : keys[1][i - nk[0]], i < nk[0] ? lists[0] : lists[1]};
        if (!rc) qsort(refs, (size_t)(nk[0] + nk[1]), sizeof(KeyRef), cmp_keyref);
        for (long i = 1; !rc && i < nk[0] + nk[1]; i++)
            if (!strcmp(refs[i].key, refs[i - 1].key))
                rc = refs[i].list == refs[i - 1].list
                         ? err_set(e, "%s: key '%s' is listed twice", refs[i].list, refs[i].key)
                         : err_set(e, "key '%s' is listed in both %s and %s (a test image must not be trained on)",
                                   refs[i].key, lists[0], lists[1]);
    }
    free(refs);
    if (!rc) {
        out->keys = calloc((size_t)(nk[0] + nk[1]), sizeof(DfganKey));
        if (!out->keys) rc = err_set(e, "%s: out of memory", lists[0]);
    }
    for (int s = 0; s < 2 && !rc; s++)
        for (long i = 0; i < nk[s] && !rc; i++) {
            DfganKey *k = &out->keys[out->n];
            k->key = keys[s][i];
            keys[s][i] = NULL;
            k->split = s;
            out->n++;
            const char *key = k->key;
            int klen = (int)strlen(key);
            const char *dot = strrchr(key, '.');
            if (flower) {
                if (!dot || strchr(dot, '/'))
                    rc = err_set(e, "%s: flower key '%s' has no image extension (Oxford-102 keys are "
                                    "\"image_00001.jpg\")", lists[s], key);
                else klen = (int)(dot - key);
            }
            if (rc) break;
            // coco: COCO-2014's train images are the train split, its val images the test split (GALIP's paths)
            const char *coco_fmt = s ? "%s/images/val2014/jpg/%.*s.jpg" : "%s/images/train2014/jpg/%.*s.jpg";
            k->image = birds    ? path_of("%s/CUB_200_2011/images/%.*s.jpg", dir, key, (int)strlen(key))
                       : flower ? path_of("%s/images/%.*s", dir, key, (int)strlen(key))
                       : coco   ? path_of(coco_fmt, dir, key, (int)strlen(key))
                                : path_of("%s/images/%.*s.jpg", dir, key, (int)strlen(key));
            k->caption = path_of("%s/text/%.*s.txt", dir, key, klen);
            if (!k->image || !k->caption) { rc = err_set(e, "%s: out of memory", lists[s]); break; }
            struct stat st;
            if (stat(k->image, &st) || !S_ISREG(st.st_mode))
                rc = err_set(e, "%s: image of key '%s' (listed in %s) is missing", k->image, key, lists[s]);
        }
    for (int s = 0; s < 2; s++) pylist_free(keys[s], nk[s]);
    out->n_train = nk[0];
    if (!rc) rc = assign_classes(out, lists, e);
    if (!rc && birds) rc = cub_boxes(dir, out, e);
    if (rc) dfgan_free(out);
    return rc;
}
