// import_flat: lists the generic folder layout (flat or --recursive class folders), reads the split lists
// and checks both (see import_flat.h); jobs/cmd_data.c does the caption reading, decoding and writing.
#include "jobs/import_flat.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "io/pylist.h"
#include "io/reader.h"

// a + b + c + d, malloc'd (NULL when out of memory)
static char *cat4(const char *a, const char *b, const char *c, const char *d) {
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c), ld = strlen(d);
    char *p = malloc(la + lb + lc + ld + 1);
    if (p) memcpy(p, a, la), memcpy(p + la, b, lb), memcpy(p + la + lb, c, lc), memcpy(p + la + lb + lc, d, ld + 1);
    return p;
}

// Length of name without its image extension (.png, .jpg, .jpeg in any case), 0 when it has none.
static size_t image_stem(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ? (size_t)(dot - name) : 0;
}

void flat_free(FlatList *l) {
    for (long i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].image);
        free(l->items[i].caption);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

// ---- the walk over IMAGES ----

typedef struct {
    dev_t dev;
    ino_t ino;
    char *path;
} SeenDir;

typedef struct {
    const FlatOptions *o;
    FlatList *l;
    long cap;
    SeenDir *seen;   // every folder entered (a folder met again is a loop or a second link)
    long n_seen, cap_seen;
    long subdirs;          // without --recursive: the subfolders of IMAGES
    char subdir[256];      // the first of them in byte order (for the hint)
    Err *e;
} Walk;

static int add_image(Walk *w, const char *rel) {
    FlatList *l = w->l;
    if (l->n == w->cap) {
        long cap = w->cap ? 2 * w->cap : 256;
        FlatItem *ni = realloc(l->items, (size_t)cap * sizeof *ni);
        if (!ni) return err_set(w->e, "%s: out of memory after %ld images", w->o->images, l->n);
        l->items = ni, w->cap = cap;
    }
    FlatItem *it = &l->items[l->n++];
    *it = (FlatItem){.key = strndup(rel, image_stem(rel)), .image = cat4(w->o->images, "/", rel, ""), .label = -1};
    if (it->key) it->caption = cat4(w->o->captions, "/", it->key, ".txt");
    if (!it->key || !it->image || !it->caption) return err_set(w->e, "%s: out of memory", w->o->images);
    return 0;
}

// Adds the images in IMAGES/rel (rel "" for IMAGES itself), a folder depth levels below IMAGES.
static int walk(Walk *w, const char *rel, int depth) {
    const char *root = w->o->images;
    char *dir = rel[0] ? cat4(root, "/", rel, "") : strdup(root);
    if (!dir) return err_set(w->e, "%s: out of memory", root);
    int rc = 0;
    struct stat st;
    if (stat(dir, &st)) rc = err_set(w->e, "%s: cannot open image directory: %s", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode)) rc = err_set(w->e, "%s: not a directory", dir);
    for (long i = 0; i < w->n_seen && !rc; i++)
        if (w->seen[i].dev == st.st_dev && w->seen[i].ino == st.st_ino)
            rc = err_set(w->e, "%s: the same folder as %s (a symlink loop, or two links to one folder): refused; "
                               "remove the link", dir, w->seen[i].path);
    if (!rc && depth > FLAT_MAX_DEPTH)
        rc = err_set(w->e, "%s: more than %d folder levels below %s: refused (a symlink loop? --recursive wants "
                           "IMAGES/<class>/<image>, a few levels at most)", dir, FLAT_MAX_DEPTH, root);
    if (!rc && w->n_seen == w->cap_seen) {
        long cap = w->cap_seen ? 2 * w->cap_seen : 64;
        SeenDir *ns = realloc(w->seen, (size_t)cap * sizeof *ns);
        if (!ns) rc = err_set(w->e, "%s: out of memory", root);
        else w->seen = ns, w->cap_seen = cap;
    }
    if (rc) {
        free(dir);
        return rc;
    }
    w->seen[w->n_seen++] = (SeenDir){st.st_dev, st.st_ino, dir};   // the list owns dir now
    DIR *d = opendir(dir);
    if (!d) return err_set(w->e, "%s: cannot open image directory: %s", dir, strerror(errno));
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *child = rel[0] ? cat4(rel, "/", de->d_name, "") : strdup(de->d_name);
        if (!child) { rc = err_set(w->e, "%s: out of memory", root); break; }
        int is_dir = de->d_type == DT_DIR, is_reg = de->d_type == DT_REG;
        if (de->d_type != DT_DIR && de->d_type != DT_REG) {   // a symlink, or a file system without d_type
            char *full = cat4(dir, "/", de->d_name, "");
            struct stat cs;
            if (full && !stat(full, &cs)) is_dir = S_ISDIR(cs.st_mode), is_reg = S_ISREG(cs.st_mode);
            free(full);
        }
        if (is_dir && w->o->recursive) rc = walk(w, child, depth + 1);
        else if (is_dir) {
            if (!w->subdirs++ || strcmp(de->d_name, w->subdir) < 0) snprintf(w->subdir, sizeof w->subdir, "%s", de->d_name);
        } else if (is_reg && image_stem(de->d_name)) rc = add_image(w, child);
        free(child);
    }
    closedir(d);
    return rc;
}

// ---- order, keys, classes ----

static int cmp_image(const void *a, const void *b) { return strcmp(((const FlatItem *)a)->image, ((const FlatItem *)b)->image); }
static int cmp_key_ptr(const void *a, const void *b) {
    return strcmp((*(FlatItem *const *)a)->key, (*(FlatItem *const *)b)->key);
}

// The items sorted by key in *byk; two images with one key (a.png and a.jpg) are refused.
static int index_keys(const FlatList *l, FlatItem ***byk, Err *e) {
    *byk = malloc((size_t)l->n * sizeof(FlatItem *));
    if (!*byk) return err_set(e, "out of memory for %ld images", l->n);
    for (long i = 0; i < l->n; i++) (*byk)[i] = &l->items[i];
    qsort(*byk, (size_t)l->n, sizeof(FlatItem *), cmp_key_ptr);
    for (long i = 1; i < l->n; i++) {
        const FlatItem *a = (*byk)[i - 1], *b = (*byk)[i];
        if (!strcmp(a->key, b->key))
            return err_set(e, "%s and %s share the caption file %s: rename one of them", a->image, b->image, a->caption);
    }
    return 0;
}

// The class of every imported image: its first folder's index among the sorted distinct first folders.
static int assign_classes(FlatList *l, const char *images, Err *e) {
    long with = 0, without = -1, imported = 0;
    for (long i = 0; i < l->n; i++) {
        if (l->items[i].split < 0) continue;
        imported++;
        if (keylist_folder_len(l->items[i].key)) with++;
        else if (without < 0) without = i;
    }
    if (with == 0) return 0;
    if (without >= 0)
        return err_set(e, "%s: image directly in %s next to class folders: with --recursive every image is in a class "
                          "folder (IMAGES/<class>/<image>); move it into one", l->items[without].image, images);
    const char **keys = malloc((size_t)imported * sizeof(char *));
    int *label = malloc((size_t)imported * sizeof(int));
    long k = 0;
    for (long i = 0; keys && i < l->n; i++)
        if (l->items[i].split >= 0) keys[k++] = l->items[i].key;
    int nc = keys && label ? keylist_classes(keys, imported, label) : -1;
    k = 0;
    for (long i = 0; nc > 0 && i < l->n; i++)
        if (l->items[i].split >= 0) l->items[i].label = label[k++];
    free(keys);
    free(label);
    if (nc < 0) return err_set(e, "%s: out of memory", images);
    l->n_classes = nc;
    return 0;
}

// ---- the split ----

typedef struct {
    const char *key;
    int list;    // 0 train, 1 test
    long line;   // text line, or the entry's position in a pickle (1-based)
} ListRef;

static int cmp_ref(const void *a, const void *b) {
    const ListRef *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : x->list != y->list ? x->list - y->list : (x->line > y->line) - (x->line < y->line);
}

static int is_pickle(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot && (!strcmp(dot, ".pickle") || !strcmp(dot, ".pkl"));
}

// "FILE:LINE" for a text list, "FILE (entry N)" for a pickle
static const char *where(char *buf, size_t n, const char *file, long line) {
    if (is_pickle(file)) snprintf(buf, n, "%s (entry %ld)", file, line);
    else snprintf(buf, n, "%s:%ld", file, line);
    return buf;
}

static int split_by_lists(const FlatOptions *o, FlatList *l, FlatItem *const *byk, Err *e) {
    const char *files[2] = {o->train_list, o->test_list};
    char **keys[2] = {NULL, NULL};
    long nk[2] = {0, 0}, *lines[2] = {NULL, NULL};
    int rc = 0;
    for (int s = 0; s < 2 && !rc; s++)
        rc = is_pickle(files[s]) ? pylist_read(files[s], &keys[s], &nk[s], e)
                                 : textlist_read_lines(files[s], &keys[s], &nk[s], &lines[s], e);
    if (!rc && nk[0] == 0) rc = err_set(e, "%s: the train list holds no keys", files[0]);
    ListRef *refs = rc ? NULL : malloc((size_t)(nk[0] + nk[1] + 1) * sizeof *refs);
    if (!rc && !refs) rc = err_set(e, "%s: out of memory", files[0]);
    long nr = 0;
    for (int s = 0; s < 2 && !rc; s++)
        for (long i = 0; i < nk[s]; i++) refs[nr++] = (ListRef){keys[s][i], s, lines[s] ? lines[s][i] : i + 1};
    if (!rc) qsort(refs, (size_t)nr, sizeof *refs, cmp_ref);
    char w1[4200], w2[4200];
    for (long i = 1; i < nr && !rc; i++) {   // a key listed twice, in one list or in both
        const ListRef *a = &refs[i - 1], *b = &refs[i];
        if (strcmp(a->key, b->key)) continue;
        if (a->list == b->list)
            rc = err_set(e, "%s: key '%s' is listed twice (first at %s)", where(w1, sizeof w1, files[b->list], b->line),
                         b->key, where(w2, sizeof w2, files[a->list], a->line));
        else
            rc = err_set(e, "key '%s' is in both %s and %s: a test image must not be trained on", b->key,
                         where(w1, sizeof w1, files[a->list], a->line), where(w2, sizeof w2, files[b->list], b->line));
    }
    for (int s = 0; s < 2 && !rc; s++)
        for (long i = 0; i < nk[s] && !rc; i++) {   // every key has its image
            long lo = 0, hi = l->n;
            while (lo < hi) {
                long mid = (lo + hi) / 2;
                if (strcmp(byk[mid]->key, keys[s][i]) < 0) lo = mid + 1;
                else hi = mid;
            }
            if (lo < l->n && !strcmp(byk[lo]->key, keys[s][i])) {
                byk[lo]->split = s;
                continue;
            }
            const char *hint = image_stem(keys[s][i]) ? " (a key is the image's path under IMAGES without its extension)"
                               : !o->recursive && strchr(keys[s][i], '/') ? " (a key with a folder needs --recursive)"
                                                                          : "";
            rc = err_set(e, "%s: key '%s' has no image %s/%s.png, .jpg or .jpeg%s",
                         where(w1, sizeof w1, files[s], lines[s] ? lines[s][i] : i + 1), keys[s][i], o->images,
                         keys[s][i], hint);
        }
    free(refs);
    for (int s = 0; s < 2; s++) {
        pylist_free(keys[s], nk[s]);
        free(lines[s]);
    }
    return rc;
}

static int split_random(const FlatOptions *o, FlatList *l, Err *e) {
    long n = l->n, ntest = (long)floor(o->test_fraction * n + 0.5);
    if (n - ntest < 1) return err_set(e, "%s: --test-fraction %g leaves no training images", o->images, o->test_fraction);
    int64_t *p = malloc((size_t)n * sizeof *p);
    if (!p) return err_set(e, "%s: out of memory", o->images);
    reader_permutation((uint64_t)o->seed, 0, n, p);
    for (long i = 0; i < n; i++) l->items[i].split = 0;
    for (long i = 0; i < ntest; i++) l->items[p[i]].split = 1;
    free(p);
    return 0;
}

int flat_resolve(const FlatOptions *o, FlatList *out, Err *e) {
    memset(out, 0, sizeof *out);
    Walk w = {.o = o, .l = out, .e = e};
    int rc = walk(&w, "", 0);
    out->n_subdirs = w.subdirs;
    for (long i = 0; i < w.n_seen; i++) free(w.seen[i].path);
    free(w.seen);
    if (!rc && out->n == 0) {
        if (w.subdirs)
            rc = err_set(e, "%s: no *.png, *.jpg or *.jpeg files, but %ld subfolder%s (%s%s): for images in class "
                            "subfolders mirrored under --captions add --recursive", o->images, w.subdirs,
                         w.subdirs == 1 ? "" : "s", w.subdir, w.subdirs > 1 ? ", ..." : "");
        else rc = err_set(e, "%s: no *.png, *.jpg or *.jpeg files%s", o->images, o->recursive ? " in it or its subfolders" : "");
    }
    FlatItem **byk = NULL;
    if (!rc) {
        qsort(out->items, (size_t)out->n, sizeof(FlatItem), cmp_image);
        rc = index_keys(out, &byk, e);
    }
    if (!rc && o->train_list) {
        for (long i = 0; i < out->n; i++) out->items[i].split = -1;
        rc = split_by_lists(o, out, byk, e);
    } else if (!rc) rc = split_random(o, out, e);
    free(byk);
    if (!rc) rc = assign_classes(out, o->images, e);
    for (long i = 0; i < out->n && !rc; i++) {
        if (out->items[i].split >= 0) out->n_split[out->items[i].split]++;
        else out->n_unlisted++;
    }
    if (rc) flat_free(out);
    return rc;
}
