#include "io/dataset.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/fs.h"
#include "io/h5util.h"

void ds_shard_path(char *out, size_t n, const char *dir, const char *split, int index, int count) {
    snprintf(out, n, "%s/%s-%05d-of-%05d.h5", dir, split, index, count);
}

// HDF5 prints its error stack by default; ours go through Err. Per thread in thread-safe builds.
// ds_trace_to's page (see dataset.h); NULL: no tracing.
static char *g_trace;
static size_t g_trace_n;
void ds_trace_to(char *buf, size_t n) {
    g_trace = buf;
    g_trace_n = n;
}

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// Names in a label_names attribute ("a,b,c": 3), or -1 when one is empty ("a,,c", "a,").
static int label_names_count(const char *s) {
    if (!*s) return 0;
    int n = 1;
    const char *start = s;
    for (const char *c = s;; c++)
        if (*c == ',' || !*c) {
            if (c == start) return -1;
            if (!*c) break;
            n++;
            start = c + 1;
        }
    return n;
}

void ds_label_name(const DsInfo *info, int j, char *out, size_t n) {
    const char *c = info->label_names;
    for (int k = 0; k < j && *c; k++) {
        c = strchr(c, ',');
        c = c ? c + 1 : "";
    }
    size_t len = strcspn(c, ",");
    if (!*c || !len) snprintf(out, n, "label%d", j);
    else snprintf(out, n, "%.*s", (int)len, c);
}

// ======================================= writer =======================================

struct DsWriter {
    char path[4096], tmp[4200];
    DsInfo info;
    long n;
    hid_t file, images, emb;
    int32_t *count;     // [n], 0 = not yet written
    int32_t *labels;    // [n,L]
    char **captions;    // [n,K] owned strings
};

static int attr_int(hid_t obj, const char *name, int v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, H5T_NATIVE_INT, &v) < 0) ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static int attr_str(hid_t obj, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, t, v) < 0) ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static hid_t vlen_utf8(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

// Chunked layout with HDF5's Fletcher-32 filter: every chunk carries a checksum that H5Dread verifies, so a
// flipped byte fails the read of its chunk (here, h5py and h5dump alike) instead of feeding damaged data to
// training. One sample per chunk for /images and /text_emb names the damaged sample. Caller closes.
static hid_t dcpl_checked(int rank, const hsize_t *chunk) {
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(p, rank, chunk);
    H5Pset_fletcher32(p);
    return p;
}

static void writer_free(DsWriter *w) {
    if (!w) return;
    if (w->captions)
        for (long i = 0; i < w->n * w->info.n_captions; i++) free(w->captions[i]);
    free(w->captions);
    free(w->count);
    free(w->labels);
    free(w);
}

DsWriter *ds_writer_open(const char *path, const DsInfo *info, long n, Err *e) {
    quiet_hdf5();
    const int S = info->image_size, K = info->n_captions, D = info->embed_dim, L = info->label_dim;
    if (n < 1 || S < 1 || K < 1 || D < 1 || L < 0 || L > DS_MAX_LABELS) {
        err_set(e, "%s: bad shard geometry n=%ld S=%d K=%d D=%d L=%d (all must be positive)", path, n, S, K, D, L);
        return NULL;
    }
    if (info->label_names[0] && label_names_count(info->label_names) != L) {
        err_set(e, "%s: label_names '%s' must name the %d /labels columns, comma separated, none empty", path,
                info->label_names, L);
        return NULL;
    }
    DsWriter *w = calloc(1, sizeof(*w));
    if (!w) { err_set(e, "%s: out of memory", path); return NULL; }
    snprintf(w->path, sizeof(w->path), "%s", path);
    snprintf(w->tmp, sizeof(w->tmp), "%s.tmp", path);
    w->info = *info;
    w->n = n;
    w->count = calloc((size_t)n, sizeof(int32_t));
    w->labels = calloc((size_t)n * (size_t)(L ? L : 1), sizeof(int32_t));
    w->captions = calloc((size_t)n * (size_t)K, sizeof(char *));
    if (!w->count || !w->labels || !w->captions) {
        writer_free(w);
        err_set(e, "%s: out of memory for %ld samples", path, n);
        return NULL;
    }
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        err_set(e, "%s: cannot create (does the directory exist and is it writable?)", w->tmp);
        writer_free(w);
        return NULL;
    }
    int bad = 0;
    bad |= attr_int(w->file, "format_version", DS_FORMAT_VERSION);
    bad |= attr_int(w->file, "image_size", S);
    bad |= attr_int(w->file, "embed_dim", D);
    bad |= attr_int(w->file, "n_captions", K);
    bad |= attr_str(w->file, "text_encoder", info->text_encoder);
    bad |= attr_str(w->file, "split", info->split);
    if (info->label_names[0]) bad |= attr_str(w->file, "label_names", info->label_names);
    // images: one image per chunk, so a random read is one chunk read; no compression (photos barely
    // compress losslessly and gzip costs 5x at read time, spec/metrics-and-io.md 4.1)
    hsize_t idims[4] = {(hsize_t)n, (hsize_t)S, (hsize_t)S, 3}, chunk[4] = {1, (hsize_t)S, (hsize_t)S, 3};
    hid_t sp = H5Screate_simple(4, idims, NULL);
    hid_t dcpl = dcpl_checked(4, chunk);
    w->images = H5Dcreate2(w->file, "images", H5T_STD_U8LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    hsize_t edims[3] = {(hsize_t)n, (hsize_t)K, (hsize_t)D}, echunk[3] = {1, (hsize_t)K, (hsize_t)D};
    sp = H5Screate_simple(3, edims, NULL);
    dcpl = dcpl_checked(3, echunk);
    w->emb = H5Dcreate2(w->file, "text_emb", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (bad || w->images < 0 || w->emb < 0) {
        err_set(e, "%s: cannot create attributes or datasets (disk full?)", w->tmp);
        ds_writer_abort(w);
        return NULL;
    }
    return w;
}

// Writes rows [i, i+1) of a dataset whose first dimension is the sample, from buf of memtype.
static int write_row(hid_t d, long i, hid_t memtype, const void *buf) {
    hid_t fs = H5Dget_space(d);
    hsize_t dims[4], start[4] = {0}, cnt[4];
    int r = H5Sget_simple_extent_dims(fs, dims, NULL);
    for (int j = 0; j < r; j++) cnt[j] = dims[j];
    start[0] = (hsize_t)i;
    cnt[0] = 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(r, cnt, NULL);
    herr_t rc = H5Dwrite(d, memtype, ms, fs, H5P_DEFAULT, buf);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0 ? -1 : 0;
}

size_t ds_utf8_prefix(const char *str, size_t n) {
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        uint8_t lo = 0x80, hi = 0xBF;  // the second byte's range (narrower where overlongs/surrogates start)
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else return i;
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return n;
}

int ds_writer_put(DsWriter *w, long i, const uint8_t *image, const float *emb, int count,
                  const char *const *captions, const int32_t *labels, Err *e) {
    const int K = w->info.n_captions, D = w->info.embed_dim, L = w->info.label_dim;
    if (i < 0 || i >= w->n) return err_set(e, "%s: sample %ld outside the shard's 0..%ld", w->path, i, w->n - 1);
    if (count < 1 || count > K)
        return err_set(e, "%s: sample %ld has %d captions (must be 1..%d)", w->path, i, count, K);
    for (int k = 0; k < count && captions; k++) {  // /captions is declared UTF-8: h5py's .asstr() trusts it
        size_t n = captions[k] ? strlen(captions[k]) : 0, ok = n ? ds_utf8_prefix(captions[k], n) : 0;
        if (ok != n)
            return err_set(e, "%s: sample %ld caption %d is not valid UTF-8 (byte %zu)", w->path, i, k, ok);
    }
    float *row = calloc((size_t)K * D, sizeof(float));
    if (!row) return err_set(e, "%s: out of memory", w->path);
    memcpy(row, emb, (size_t)count * D * sizeof(float));
    int bad = write_row(w->images, i, H5T_NATIVE_UINT8, image) || write_row(w->emb, i, H5T_NATIVE_FLOAT, row);
    free(row);
    if (bad) return err_set(e, "%s: writing sample %ld failed (disk full?)", w->tmp, i);
    for (int k = 0; k < K; k++) {
        char **slot = &w->captions[i * K + k];
        free(*slot);
        *slot = strdup(k < count && captions && captions[k] ? captions[k] : "");
        if (!*slot) return err_set(e, "%s: out of memory", w->path);
    }
    w->count[i] = count;
    if (L) memcpy(w->labels + i * L, labels, (size_t)L * sizeof(int32_t));
    return 0;
}

// checked: one chunk (the whole dataset) with Fletcher-32; else contiguous (the variable-length
// /captions, whose strings live in the file's heap where the filter does not reach).
static int write_whole(hid_t file, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                       const void *buf, int checked) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = checked ? dcpl_checked(rank, dims) : H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = H5Dcreate2(file, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = (d < 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) ? -1 : 0;
    if (d >= 0) H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return rc;
}

int ds_writer_close(DsWriter *w, Err *e) {
    const int K = w->info.n_captions, L = w->info.label_dim;
    for (long i = 0; i < w->n; i++)
        if (!w->count[i]) {
            err_set(e, "%s: sample %ld was never written (shard incomplete)", w->path, i);
            ds_writer_abort(w);
            return -1;
        }
    hsize_t n1[1] = {(hsize_t)w->n}, nk[2] = {(hsize_t)w->n, (hsize_t)K}, nl[2] = {(hsize_t)w->n, (hsize_t)L};
    hid_t vs = vlen_utf8();
    int bad = write_whole(w->file, "text_count", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, n1, w->count, 1);
    bad |= write_whole(w->file, "captions", vs, vs, 2, nk, w->captions, 0);
    if (L) bad |= write_whole(w->file, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, nl, w->labels, 1);
    H5Tclose(vs);
    bad |= H5Dclose(w->images) < 0;
    bad |= H5Dclose(w->emb) < 0;
    bad |= H5Fclose(w->file) < 0;
    if (bad) {
        err_set(e, "%s: writing the shard failed (disk full?)", w->tmp);
        unlink(w->tmp);
        writer_free(w);
        return -1;
    }
    int rc = fs_commit(w->tmp, w->path, e);
    writer_free(w);
    return rc;
}

void ds_writer_abort(DsWriter *w) {
    if (!w) return;
    if (w->images >= 0) H5Dclose(w->images);
    if (w->emb >= 0) H5Dclose(w->emb);
    if (w->file >= 0) H5Fclose(w->file);
    unlink(w->tmp);
    writer_free(w);
}

// ======================================= reader =======================================

typedef struct {
    char path[4096];
    hid_t file, images, emb, captions;
    long n, first;   // samples, index of the first one in the dataset
    int checked;     // /images and /text_emb carry Fletcher-32 (shards made before 2026-12 do not)
} Shard;

struct Dataset {
    DsInfo info;
    Shard *shards;
    int nshards;
    long n;
    int32_t *count;   // [n]
    int32_t *labels;  // [n,L] or NULL
    hid_t img_mem;    // memory space [1,S,S,3]
};

int ds_parse_shard_name(const char *name, const char *split, int *index, int *count) {
    size_t ls = strlen(split);
    if (strncmp(name, split, ls) || strlen(name) != ls + 1 + 5 + 4 + 5 + 3) return 0;
    const char *p = name + ls;
    if (p[0] != '-' || strncmp(p + 6, "-of-", 4) || strcmp(p + 15, ".h5")) return 0;
    for (int j = 0; j < 5; j++)
        if (p[1 + j] < '0' || p[1 + j] > '9' || p[10 + j] < '0' || p[10 + j] > '9') return 0;
    *index = atoi(p + 1);
    *count = atoi(p + 10);
    return 1;
}

int ds_has_split(const char *dir, const char *split, Err *e) {
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot open dataset directory: %s", dir, strerror(errno));
    struct dirent *de;
    int found = 0, a, b;
    while ((de = readdir(d)))
        if (ds_parse_shard_name(de->d_name, split, &a, &b)) found = 1;
    closedir(d);
    return found;
}

int ds_check_sides(const char *dir, const DsInfo *train, const DsInfo *test, Err *e) {
    if (train->image_size >= test->image_size) return 0;
    return err_set(e, "%s: the train images are %dx%d, smaller than the test images %dx%d (the train split may be "
                      "stored larger, for the random crop, never smaller: re-import)", dir, train->image_size,
                   train->image_size, test->image_size, test->image_size);
}

int ds_check_embed_dim(const char *dir, const DsInfo *info, int embed_dim, const char *dim_key, Err *e) {
    if (info->embed_dim == embed_dim) return 0;
    return err_set(e, "%s: caption embeddings have dimension %d, %s is %d (hint: embed the captions at that size, or set "
                      "%s)", dir, info->embed_dim, dim_key, embed_dim, dim_key);
}

int ds_check_test_split(const char *dir, const DsInfo *test, int image_size, const char *size_key, int embed_dim,
                        const char *dim_key, Err *e) {
    if (test->image_size != image_size)
        return err_set(e, "%s: the test images are %dx%d but %s is %d: evaluation compares the model's images with "
                          "them (hint: import the dataset with --size %d, or use a config whose %s is %d)", dir,
                       test->image_size, test->image_size, size_key, image_size, image_size, size_key, test->image_size);
    return ds_check_embed_dim(dir, test, embed_dim, dim_key, e);
}

static int read_attr_int(hid_t f, const char *path, const char *name, int *v, Err *e) {
    if (H5Aexists(f, name) <= 0) return err_set(e, "%s: attribute %s missing (not a ratlip shard?)", path, name);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    int ok = a >= 0 && H5Tget_class(t) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_INT, v) >= 0;
    H5Tclose(t);
    H5Aclose(a);
    return ok ? 0 : err_set(e, "%s: attribute %s is not an integer", path, name);
}

// Fixed-length or variable-length string attribute into out[n].
static int read_attr_str(hid_t f, const char *path, const char *name, char *out, size_t n, Err *e) {
    if (H5Aexists(f, name) <= 0) return err_set(e, "%s: attribute %s missing (not a ratlip shard?)", path, name);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    int ok = 0;
    if (H5Tget_class(t) == H5T_STRING) {
        // the memory type must carry the file's character set: HDF5 does not convert ASCII <-> UTF-8
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = vlen_utf8();
            H5Tset_cset(mt, H5Tget_cset(t));
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(out, n, "%s", s);
                H5free_memory(s);
                ok = 1;
            }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(t);
            char *buf = calloc(sz + 1, 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, sz + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (buf && H5Aread(a, mt, buf) >= 0) {
                snprintf(out, n, "%s", buf);
                ok = 1;
            }
            H5Tclose(mt);
            free(buf);
        }
    }
    H5Tclose(t);
    H5Aclose(a);
    return ok ? 0 : err_set(e, "%s: attribute %s is not a string", path, name);
}

typedef enum { K_U8, K_F32, K_I32, K_VSTR } Kind;
static const char *kind_name[] = {"uint8", "float32", "int32", "variable-length string"};

static int type_is(hid_t t, Kind k) {
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    switch (k) {
    case K_U8: return c == H5T_INTEGER && sz == 1 && H5Tget_sign(t) == H5T_SGN_NONE;
    case K_F32: return c == H5T_FLOAT && sz == 4;
    case K_I32: return c == H5T_INTEGER && sz == 4 && H5Tget_sign(t) == H5T_SGN_2;
    case K_VSTR: return c == H5T_STRING && H5Tis_variable_str(t) > 0;
    }
    return 0;
}

// Opens dataset `name`, checks its element kind and shape (want[j] < 0: any). Returns the id or -1.
static hid_t open_checked(hid_t f, const char *path, const char *name, Kind kind, int rank, const long *want,
                          Err *e) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        err_set(e, "%s: dataset /%s missing", path, name);
        return -1;
    }
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) {
        err_set(e, "%s: dataset /%s cannot be opened (file damaged?)", path, name);
        return -1;
    }
    hid_t t = H5Dget_type(d);
    int ok_type = type_is(t, kind);
    H5Tclose(t);
    if (!ok_type) {
        err_set(e, "%s: dataset /%s has the wrong dtype (want %s)", path, name, kind_name[kind]);
        H5Dclose(d);
        return -1;
    }
    hid_t sp = H5Dget_space(d);
    hsize_t dims[8];
    int r = H5Sget_simple_extent_ndims(sp);
    int ok = r == rank && H5Sget_simple_extent_dims(sp, dims, NULL) == rank;
    for (int j = 0; ok && j < rank; j++)
        if (want[j] >= 0 && (long)dims[j] != want[j]) ok = 0;
    H5Sclose(sp);
    if (!ok) {
        char ws[128] = "[", *p = ws + 1;
        for (int j = 0; j < rank; j++)
            p += snprintf(p, (size_t)(ws + sizeof(ws) - p), want[j] < 0 ? "%s*" : "%s%ld", j ? "," : "", want[j]);
        snprintf(p, (size_t)(ws + sizeof(ws) - p), "]");
        err_set(e, "%s: dataset /%s has the wrong shape (want %s)", path, name, ws);
        H5Dclose(d);
        return -1;
    }
    return d;
}

static int has_fletcher(hid_t d) {
    hid_t p = H5Dget_create_plist(d);
    unsigned flags;
    size_t ncd = 0;
    int yes = H5Pget_filter_by_id2(p, H5Z_FILTER_FLETCHER32, &flags, &ncd, NULL, 0, NULL, NULL) >= 0;
    H5Pclose(p);
    return yes;
}

static herr_t find_fletcher(unsigned n, const H5E_error2_t *err, void *found) {
    (void)n;
    if (err->desc && strstr(err->desc, "Fletcher32")) *(int *)found = 1;
    return 0;
}

// After a failed H5Dread: did the Fletcher-32 filter find a chunk damaged (rather than the file being
// truncated)? Call it before any other HDF5 call: the next one clears the error stack it reads.
static int checksum_failed(void) {
    int found = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_fletcher, &found);
    return found;
}

#define DAMAGED_HINT \
    "the shard is damaged: re-create it (`ratlip data synth` / `ratlip data import`) or restore it from a copy"

static long first_dim(hid_t d) {
    hid_t sp = H5Dget_space(d);
    hsize_t dims[8];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    return (long)dims[0];
}

static void shard_close(Shard *s) {
    if (s->captions > 0) H5Dclose(s->captions);
    if (s->emb > 0) H5Dclose(s->emb);
    if (s->images > 0) H5Dclose(s->images);
    if (s->file > 0) H5Fclose(s->file);
    s->captions = s->emb = s->images = s->file = -1;
}

void ds_close(Dataset *ds) {
    if (!ds) return;
    for (int i = 0; i < ds->nshards; i++) shard_close(&ds->shards[i]);
    if (ds->img_mem > 0) H5Sclose(ds->img_mem);
    free(ds->shards);
    free(ds->count);
    free(ds->labels);
    free(ds);
}

// Scans /text_emb of a shard for NaN/Inf, a block of samples at a time.
static int check_finite(Shard *s, const DsInfo *info, Err *e) {
    const long row = (long)info->n_captions * info->embed_dim;
    if (row > (1L << 28))   // 1 GiB of floats per sample is no embedding; block * row below must not overflow
        return err_set(e, "%s: attributes n_captions x embed_dim = %ld floats per sample: too large (file damaged?)",
                       s->path, row);
    const long block = 256;
    float *buf = malloc((size_t)(block * row) * sizeof(float));
    if (!buf) return err_set(e, "%s: out of memory", s->path);
    hid_t fs = H5Dget_space(s->emb);
    int rc = 0;
    for (long i0 = 0; i0 < s->n && !rc; i0 += block) {
        long nb = s->n - i0 < block ? s->n - i0 : block;
        hsize_t start[3] = {(hsize_t)i0, 0, 0}, cnt[3] = {(hsize_t)nb, (hsize_t)info->n_captions, (hsize_t)info->embed_dim};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
        hid_t ms = H5Screate_simple(3, cnt, NULL);
        if (H5Dread(s->emb, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, buf) < 0) {
            long bad = i0;
            if (checksum_failed()) {  // one sample per chunk: re-read the block a sample at a time to name it
                hsize_t one[3] = {1, cnt[1], cnt[2]};
                hid_t m1 = H5Screate_simple(3, one, NULL);
                for (bad = i0; bad < i0 + nb; bad++) {
                    hsize_t at[3] = {(hsize_t)bad, 0, 0};
                    H5Sselect_hyperslab(fs, H5S_SELECT_SET, at, NULL, one, NULL);
                    if (H5Dread(s->emb, H5T_NATIVE_FLOAT, m1, fs, H5P_DEFAULT, buf) < 0) break;
                }
                H5Sclose(m1);
                rc = err_set(e, "%s: dataset /text_emb: sample %ld fails its Fletcher-32 checksum: " DAMAGED_HINT,
                             s->path, bad < i0 + nb ? bad : i0);
            } else {
                rc = err_set(e, "%s: dataset /text_emb: read failed at sample %ld (truncated file?)", s->path, i0);
            }
        }
        H5Sclose(ms);
        for (long j = 0; !rc && j < nb * row; j++)
            if (!isfinite(buf[j]))
                rc = err_set(e, "%s: dataset /text_emb: non-finite value %g at sample %ld caption %ld", s->path,
                             (double)buf[j], i0 + j / row, (j % row) / info->embed_dim);
    }
    H5Sclose(fs);
    free(buf);
    return rc;
}

// Opens one shard, reads its attributes into *info (checked by the caller), its datasets' ids.
static int shard_open(Shard *s, DsInfo *info, int *version, Err *e) {
    if (g_trace) snprintf(g_trace, g_trace_n, "%s", s->path);
    s->file = H5Fopen(s->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (s->file < 0) return err_set(e, "%s: cannot open as HDF5 (truncated, or not an HDF5 file)", s->path);
    memset(info, 0, sizeof(*info));
    if (read_attr_int(s->file, s->path, "format_version", version, e) ||
        read_attr_int(s->file, s->path, "image_size", &info->image_size, e) ||
        read_attr_int(s->file, s->path, "embed_dim", &info->embed_dim, e) ||
        read_attr_int(s->file, s->path, "n_captions", &info->n_captions, e) ||
        read_attr_str(s->file, s->path, "text_encoder", info->text_encoder, sizeof(info->text_encoder), e) ||
        read_attr_str(s->file, s->path, "split", info->split, sizeof(info->split), e))
        return -1;
    if (*version != DS_FORMAT_VERSION)
        return err_set(e, "%s: attribute format_version is %d; this ratlip reads version %d", s->path, *version,
                       DS_FORMAT_VERSION);
    const long S = info->image_size, K = info->n_captions, D = info->embed_dim;
    if (S < 1 || K < 1 || D < 1)
        return err_set(e, "%s: attributes image_size=%ld n_captions=%ld embed_dim=%ld must be positive", s->path, S,
                       K, D);
    long wi[4] = {-1, S, S, 3};
    if ((s->images = open_checked(s->file, s->path, "images", K_U8, 4, wi, e)) < 0) return -1;
    s->n = first_dim(s->images);
    long we[3] = {s->n, K, D}, wc[1] = {s->n}, ws[2] = {s->n, K};
    if ((s->emb = open_checked(s->file, s->path, "text_emb", K_F32, 3, we, e)) < 0) return -1;
    s->checked = has_fletcher(s->images) && has_fletcher(s->emb);
    // the samples claimed must be in the file: a damaged shape would otherwise make verify and the reader
    // take fill values (gigabytes of them, for a file of kilobytes) for images and embeddings
    if (!h5u_stored_in_full(s->images) || !h5u_stored_in_full(s->emb))
        return err_set(e, "%s: /images or /text_emb stores less than its shape (%ld samples) says: " DAMAGED_HINT,
                       s->path, s->n);
    if ((s->captions = open_checked(s->file, s->path, "captions", K_VSTR, 2, ws, e)) < 0) return -1;
    hid_t c = open_checked(s->file, s->path, "text_count", K_I32, 1, wc, e);
    if (c < 0) return -1;
    H5Dclose(c);
    if (H5Lexists(s->file, "labels", H5P_DEFAULT) > 0) {
        long wl[2] = {s->n, -1};
        hid_t l = open_checked(s->file, s->path, "labels", K_I32, 2, wl, e);
        if (l < 0) return -1;
        hid_t sp = H5Dget_space(l);
        hsize_t dims[2];
        H5Sget_simple_extent_dims(sp, dims, NULL);
        H5Sclose(sp);
        int stored = h5u_stored_in_full(l);
        H5Dclose(l);
        if (dims[1] > DS_MAX_LABELS)   // before the cast: 2^51 + 2 columns must not pass as 2
            return err_set(e, "%s: dataset /labels has %llu columns (at most %d)", s->path,
                           (unsigned long long)dims[1], DS_MAX_LABELS);
        if (!stored) return err_set(e, "%s: dataset /labels stores less than its shape says: " DAMAGED_HINT, s->path);
        info->label_dim = (int)dims[1];
    }
    if (H5Aexists(s->file, "label_names") > 0) {   // optional (older datasets have none)
        if (read_attr_str(s->file, s->path, "label_names", info->label_names, sizeof(info->label_names), e))
            return -1;
        if (label_names_count(info->label_names) != info->label_dim)
            return err_set(e, "%s: attribute label_names '%s' does not name the %d /labels columns (comma separated, "
                              "none empty): " DAMAGED_HINT, s->path, info->label_names, info->label_dim);
    }
    return 0;
}

static int read_int_rows(Shard *s, const char *name, int32_t *out, Err *e) {
    hid_t d = H5Dopen2(s->file, name, H5P_DEFAULT);
    int rc = (d < 0 || H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) ? -1 : 0;
    int sum = rc && checksum_failed();
    if (d >= 0) H5Dclose(d);
    if (sum)  // one chunk holds every sample of the shard
        return err_set(e, "%s: dataset /%s (samples 0..%ld) fails its Fletcher-32 checksum: " DAMAGED_HINT, s->path,
                       name, s->n - 1);
    return rc ? err_set(e, "%s: dataset /%s: read failed (truncated file?)", s->path, name) : 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ds_open(Dataset **out, const char *dir, const char *split, Err *e) {
    quiet_hdf5();
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot open dataset directory: %s", dir, strerror(errno));
    char **names = NULL;
    int nn = 0, cap = 0, idx, cnt, count0 = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!ds_parse_shard_name(de->d_name, split, &idx, &cnt)) continue;
        if (nn == cap) {
            cap = cap ? 2 * cap : 16;
            char **nnames = realloc(names, (size_t)cap * sizeof(char *));
            if (!nnames) break;
            names = nnames;
        }
        names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    int rc = 0;
    Dataset *ds = NULL;
    if (!nn) {
        rc = err_set(e, "%s: no %s shards (%s-00000-of-NNNNN.h5); make one with `ratlip data synth` or `ratlip data import`",
                     dir, split, split);
        goto done;
    }
    qsort(names, (size_t)nn, sizeof(char *), cmp_str);
    for (int i = 0; i < nn && !rc; i++) {
        ds_parse_shard_name(names[i], split, &idx, &cnt);
        if (count0 < 0) count0 = cnt;
        if (cnt != count0)
            rc = err_set(e, "%s/%s: shard count %d disagrees with %d of %s/%s (stale shards from another run?)", dir,
                         names[i], cnt, count0, dir, names[0]);
        else if (idx != i)
            rc = err_set(e, "%s: shard %s-%05d-of-%05d.h5 missing", dir, split, i, count0);
    }
    if (!rc && nn != count0) rc = err_set(e, "%s: shard %s-%05d-of-%05d.h5 missing", dir, split, nn, count0);
    if (rc) goto done;
    ds = calloc(1, sizeof(*ds));
    ds->shards = calloc((size_t)nn, sizeof(Shard));
    ds->nshards = nn;
    for (int i = 0; i < nn; i++) {
        Shard *s = &ds->shards[i];
        s->file = s->images = s->emb = s->captions = -1;
        snprintf(s->path, sizeof(s->path), "%s/%s", dir, names[i]);
    }
    for (int i = 0; i < nn && !rc; i++) {
        Shard *s = &ds->shards[i];
        DsInfo info;
        int version;
        if ((rc = shard_open(s, &info, &version, e))) break;
        if (strcmp(info.split, split)) {
            rc = err_set(e, "%s: attribute split is '%s' but the file name says '%s'", s->path, info.split, split);
            break;
        }
        if (i == 0) {
            ds->info = info;
        } else {
            const DsInfo *a = &ds->info;
            const char *what = a->image_size != info.image_size             ? "image_size"
                               : a->embed_dim != info.embed_dim               ? "embed_dim"
                               : a->n_captions != info.n_captions             ? "n_captions"
                               : strcmp(a->text_encoder, info.text_encoder)   ? "text_encoder"
                               : a->label_dim != info.label_dim               ? "labels (present/columns)"
                               : strcmp(a->label_names, info.label_names)     ? "label_names"
                                                                              : NULL;
            if (what) {
                rc = err_set(e, "%s: %s disagrees with %s (shards from different datasets?)", s->path, what,
                             ds->shards[0].path);
                break;
            }
        }
        s->first = ds->n;
        ds->n += s->n;
    }
    if (rc) goto done;
    const int K = ds->info.n_captions, L = ds->info.label_dim;
    ds->count = malloc((size_t)ds->n * sizeof(int32_t));
    ds->labels = L ? malloc((size_t)ds->n * L * sizeof(int32_t)) : NULL;
    for (int i = 0; i < nn && !rc; i++) {
        Shard *s = &ds->shards[i];
        if ((rc = read_int_rows(s, "text_count", ds->count + s->first, e))) break;
        if (L && (rc = read_int_rows(s, "labels", ds->labels + s->first * L, e))) break;
        for (long j = 0; j < s->n && !rc; j++) {
            int c = ds->count[s->first + j];
            if (c < 1 || c > K)
                rc = err_set(e, "%s: dataset /text_count: sample %ld has %d captions (must be 1..%d)", s->path, j, c, K);
        }
        if (!rc) rc = check_finite(s, &ds->info, e);
    }
    if (rc) goto done;
    hsize_t mdims[4] = {1, (hsize_t)ds->info.image_size, (hsize_t)ds->info.image_size, 3};
    ds->img_mem = H5Screate_simple(4, mdims, NULL);
done:
    for (int i = 0; i < nn; i++) free(names[i]);
    free(names);
    if (rc) {
        ds_close(ds);
        return -1;
    }
    *out = ds;
    return 0;
}

const DsInfo *ds_info(const Dataset *ds) { return &ds->info; }
long ds_size(const Dataset *ds) { return ds->n; }
int ds_num_shards(const Dataset *ds) { return ds->nshards; }
int ds_num_checksummed(const Dataset *ds) {
    int n = 0;
    for (int i = 0; i < ds->nshards; i++) n += ds->shards[i].checked;
    return n;
}
int ds_text_count(const Dataset *ds, long i) { return ds->count[i]; }
const int32_t *ds_labels(const Dataset *ds, long i) {
    return ds->labels ? ds->labels + i * ds->info.label_dim : NULL;
}

// Shard holding sample i (binary search over first indices).
static Shard *find_shard(Dataset *ds, long i, long *local) {
    int lo = 0, hi = ds->nshards - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (ds->shards[mid].first <= i) lo = mid;
        else hi = mid - 1;
    }
    *local = i - ds->shards[lo].first;
    return &ds->shards[lo];
}

// out [S,S,3] = rows y0..y0+S, columns x0..x0+S of sample i's stored image: one H5Dread of a hyperslab of
// its chunk (the whole chunk is read and its checksum verified whatever the window). The caller checks
// the window lies inside the image.
static int read_window(Dataset *ds, long i, int x0, int y0, int S, uint8_t *out, Err *e) {
    if (i < 0 || i >= ds->n) return err_set(e, "dataset: image index %ld outside 0..%ld", i, ds->n - 1);
    long j;
    Shard *s = find_shard(ds, i, &j);
    if (g_trace) snprintf(g_trace, g_trace_n, "%s, sample %ld", s->path, j);
    const int whole = S == ds->info.image_size;
    hsize_t start[4] = {(hsize_t)j, (hsize_t)y0, (hsize_t)x0, 0}, cnt[4] = {1, (hsize_t)S, (hsize_t)S, 3};
    hid_t fs = H5Dget_space(s->images), ms = whole ? ds->img_mem : H5Screate_simple(4, cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    herr_t rc = H5Dread(s->images, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, out);
    int sum = rc < 0 && checksum_failed();
    if (!whole) H5Sclose(ms);
    H5Sclose(fs);
    if (sum)
        return err_set(e, "%s: dataset /images: sample %ld (dataset index %ld) fails its Fletcher-32 checksum: "
                          DAMAGED_HINT, s->path, j, i);
    return rc < 0 ? err_set(e, "%s: dataset /images: sample %ld unreadable (truncated file?)", s->path, j) : 0;
}

int ds_read_image(Dataset *ds, long i, uint8_t *out, Err *e) {
    return read_window(ds, i, 0, 0, ds->info.image_size, out, e);
}

int ds_read_centre(Dataset *ds, long i, int S, uint8_t *out, Err *e) {
    const int T = ds->info.image_size;
    if (S < 1 || S > T)
        return err_set(e, "%s: a %dx%d centre crop of the %s images, stored at %dx%d, is not possible (the split is "
                          "smaller than the model's images: re-import with --size %d)", ds->shards[0].path, S, S,
                       ds->info.split, T, T, S);
    return read_window(ds, i, (T - S) / 2, (T - S) / 2, S, out, e);
}

int ds_read_emb(Dataset *ds, long i, int k, real *out, Err *e) {
    if (i < 0 || i >= ds->n || k < 0 || k >= ds->info.n_captions)
        return err_set(e, "dataset: embedding (%ld, %d) out of range", i, k);
    long j;
    Shard *s = find_shard(ds, i, &j);
    const int D = ds->info.embed_dim;
    hsize_t start[3] = {(hsize_t)j, (hsize_t)k, 0}, cnt[3] = {1, 1, (hsize_t)D};
    hid_t fs = H5Dget_space(s->emb);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(3, cnt, NULL);
    herr_t rc = H5Dread(s->emb, sizeof(real) == sizeof(double) ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, ms, fs,
                        H5P_DEFAULT, out);   // HDF5 converts the file's float32 to core's scalar
    int sum = rc < 0 && checksum_failed();
    H5Sclose(ms);
    H5Sclose(fs);
    if (sum)
        return err_set(e, "%s: dataset /text_emb: sample %ld (dataset index %ld) fails its Fletcher-32 checksum: "
                          DAMAGED_HINT, s->path, j, i);
    if (rc < 0) return err_set(e, "%s: dataset /text_emb: sample %ld unreadable (truncated file?)", s->path, j);
    for (int d = 0; d < D; d++)
        if (!isfinite(out[d]))
            return err_set(e, "%s: dataset /text_emb: non-finite value at sample %ld caption %d", s->path, j, k);
    return 0;
}

int ds_read_caption(Dataset *ds, long i, int k, char *out, size_t n, Err *e) {
    if (i < 0 || i >= ds->n || k < 0 || k >= ds->info.n_captions)
        return err_set(e, "dataset: caption (%ld, %d) out of range", i, k);
    long j;
    Shard *s = find_shard(ds, i, &j);
    hsize_t start[2] = {(hsize_t)j, (hsize_t)k}, cnt[2] = {1, 1};
    hid_t fs = H5Dget_space(s->captions);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(2, cnt, NULL);
    hid_t mt = vlen_utf8();
    char *str = NULL;
    herr_t rc = H5Dread(s->captions, mt, ms, fs, H5P_DEFAULT, &str);
    if (rc >= 0) {
        snprintf(out, n, "%s", str ? str : "");
        H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, &str);
    }
    H5Tclose(mt);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0 ? err_set(e, "%s: dataset /captions: sample %ld unreadable", s->path, j) : 0;
}

int ds_check_images(Dataset *ds, Err *e) {
    const size_t S = (size_t)ds->info.image_size;
    uint8_t *buf = malloc(S * S * 3);
    if (!buf) return err_set(e, "dataset: out of memory");
    int rc = 0;
    for (long i = 0; i < ds->n && !rc; i++) rc = ds_read_image(ds, i, buf, e);
    free(buf);
    return rc;
}
