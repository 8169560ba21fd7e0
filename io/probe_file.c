// probe_file: fit, measure, cache and load the attribute probe. See probe_file.h.
#include "io/probe_file.h"
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/rng.h"
#include "io/dataset.h"
#include "io/fs.h"
#include "io/h5util.h"
#include "io/weights.h"

#define LOAD_BATCH 64
// counters (c_hi) of the fit's random draws under key (seed, RNG_PROBE); the init uses 0..7 (tensor index)
#define TAG_SUBSET 0x5355425345540000ULL   // "SUBSET"
#define TAG_EPOCH 0x45504F4348000000ULL    // "EPOCH" + epoch
#define TAG_AUG 0x4155470000000000ULL      // "AUG" + step

void probe_fit_defaults(ProbeFitOptions *o) {
    *o = (ProbeFitOptions){.side = PROBE_DEFAULT_SIDE, .epochs = 12, .max_images = 4000, .batch = 32, .lr = 5e-3,
                           .shift = 2, .seed = 0, .log = NULL};
}

void probe_default_path(char *out, size_t n, const char *dir, int side) {
    snprintf(out, n, "%s/probe-%d.h5", dir, side);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// ------------------------------------------------------------------ the dataset

// HWC uint8 [S,S,3] → CHW real [3,S,S] in [-1,1] (the reader's convention: pixel/127.5 − 1)
static void to_chw(real *out, const uint8_t *hwc, int S) {
    const size_t plane = (size_t)S * S;
    for (size_t q = 0; q < plane; q++)
        for (int c = 0; c < 3; c++) out[c * plane + q] = (real)(hwc[q * 3 + c] * (1.0f / 127.5f) - 1.0f);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

// Both splits open (test may be NULL when absent).
typedef struct {
    Dataset *split[2];   // train, test
} Data;

static void data_close(Data *d) {
    for (int s = 0; s < 2; s++)
        if (d->split[s]) ds_close(d->split[s]);
    memset(d, 0, sizeof(*d));
}

static const char *SPLIT[2] = {"train", "test"};

// Opens train and test; both must exist and carry the same labels; the train images at least as large as
// the test images (a train split stored larger for the random crop is centre-cropped to the test side).
static int data_open(Data *d, const char *dir, Err *e) {
    memset(d, 0, sizeof(*d));
    for (int s = 0; s < 2; s++) {
        int has = ds_has_split(dir, SPLIT[s], e);
        if (has < 0) return data_close(d), -1;
        if (!has) {
            data_close(d);
            return err_set(e, "%s: no %s shards: the attribute probe trains on the train split and measures its "
                              "accuracy on the test split", dir, SPLIT[s]);
        }
        if (ds_open(&d->split[s], dir, SPLIT[s], e)) return data_close(d), -1;
        const DsInfo *in = ds_info(d->split[s]);
        if (in->label_dim == 0) {
            data_close(d);
            return err_set(e, "%s: no /labels (split %s): the attribute probe needs a labelled dataset (e.g. `ratlip "
                              "data synth`)", dir, SPLIT[s]);
        }
        if (in->label_dim > PROBE_MAX_ATTRS) {
            data_close(d);
            return err_set(e, "%s: /labels has %d columns; the probe has at most %d heads", dir, in->label_dim,
                           PROBE_MAX_ATTRS);
        }
    }
    const DsInfo *a = ds_info(d->split[0]), *b = ds_info(d->split[1]);
    const char *what = a->label_dim != b->label_dim ? "/labels columns"
                       : strcmp(a->label_names, b->label_names) ? "attribute label_names" : NULL;
    if (what) {
        data_close(d);
        return err_set(e, "%s: the test split's %s differs from the train split's (shards of different datasets?)",
                       dir, what);
    }
    if (ds_check_sides(dir, a, b, e)) {
        data_close(d);
        return -1;
    }
    return 0;
}

static int data_fingerprint(Data *d, const char *dir, char out[17], Err *e) {
    uint64_t h = 1469598103934665603ULL;
    const int T = ds_info(d->split[0])->image_size;   // the largest side (data_open)
    uint8_t *img = malloc((size_t)T * T * 3);
    if (!img) return err_set(e, "%s: out of memory", dir);
    for (int s = 0; s < 2; s++) {
        const Dataset *ds = d->split[s];
        const DsInfo *in = ds_info(ds);
        const int S = in->image_size;
        int64_t head[4] = {ds_size(ds), in->image_size, in->label_dim, ds_num_shards(ds)};
        h = fnv(h, head, sizeof head);
        h = fnv(h, in->label_names, strlen(in->label_names) + 1);
        for (long i = 0; i < ds_size(ds); i++) h = fnv(h, ds_labels(ds, i), (size_t)in->label_dim * sizeof(int32_t));
        long n = ds_size(ds), pick[3] = {0, n / 2, n - 1};
        for (int k = 0; k < 3; k++) {
            if (ds_read_image(d->split[s], pick[k], img, e)) {
                free(img);
                return -1;
            }
            h = fnv(h, img, (size_t)S * S * 3);
        }
    }
    free(img);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

int probe_data_fingerprint(const char *data_dir, char out[17], Err *e) {
    Data d;
    if (data_open(&d, data_dir, e)) return -1;
    int rc = data_fingerprint(&d, data_dir, out, e);
    data_close(&d);
    return rc;
}

// Reads images idx[0..n) of ds, their centre SxS (all of them when stored at S), resized to P, into
// X [n,3,P,P], their labels into Y [n,L].
static int load_images(Dataset *ds, const long *idx, long n, int S, int P, real *X, int32_t *Y, Err *e) {
    const int L = ds_info(ds)->label_dim, CH = 64;
    uint8_t *hwc = malloc((size_t)S * S * 3);
    real *chw = malloc((size_t)CH * 3 * S * S * sizeof(real));
    int rc = (!hwc || !chw) ? err_set(e, "probe: out of memory reading %dx%d images", S, S) : 0;
    for (long j0 = 0; j0 < n && !rc; j0 += CH) {
        int m = n - j0 < CH ? (int)(n - j0) : CH;
        for (int k = 0; k < m && !rc; k++) {
            rc = ds_read_centre(ds, idx[j0 + k], S, hwc, e);
            if (!rc) to_chw(chw + (size_t)k * 3 * S * S, hwc, S);
            memcpy(Y + (size_t)(j0 + k) * L, ds_labels(ds, idx[j0 + k]), (size_t)L * sizeof(int32_t));
        }
        if (!rc) rc = probe_resize(X + (size_t)j0 * 3 * P * P, chw, m, S, P, e);
    }
    free(hwc);
    free(chw);
    return rc;
}

// ------------------------------------------------------------------ fit

// out [3,P,P] = in [3,P,P] moved by (dx, dy) pixels, the edge rows/columns repeated into the gap.
static void shift_copy(real *out, const real *in, int P, int dx, int dy) {
    if (!dx && !dy) {
        memcpy(out, in, (size_t)3 * P * P * sizeof(real));
        return;
    }
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < P; y++) {
            int sy = y - dy;
            sy = sy < 0 ? 0 : sy >= P ? P - 1 : sy;
            const real *src = in + ((size_t)c * P + sy) * P;
            real *dst = out + ((size_t)c * P + y) * P;
            for (int x = 0; x < P; x++) {
                int sx = x - dx;
                dst[x] = src[sx < 0 ? 0 : sx >= P ? P - 1 : sx];
            }
        }
}

// In-place Fisher-Yates of v[0..n) from (key, tag): deterministic in (seed, tag).
static void shuffle(long *v, long n, RngKey key, uint64_t tag) {
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rng_u32(key, tag, (uint64_t)i) % (uint32_t)(i + 1));
        long t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static void names_from(ProbeReport *r, const DsInfo *in) {
    r->n_attrs = in->label_dim;
    for (int a = 0; a < in->label_dim; a++) ds_label_name(in, a, r->names[a], PROBE_NAME_LEN);
}

// Accuracy of p on the whole test split (read, converted and predicted a batch at a time at the split's
// own side S: the path generated images take).
static int measure(Probe *p, Dataset *ds, ProbeReport *r, Err *e) {
    const int S = ds_info(ds)->image_size, A = p->n_attrs, B = p->max_batch;
    const long n = ds_size(ds);
    uint8_t *hwc = malloc((size_t)S * S * 3);
    real *chw = malloc((size_t)B * 3 * S * S * sizeof(real));
    int32_t *pred = malloc((size_t)B * A * sizeof(int32_t));
    long *count = calloc((size_t)A * PROBE_MAX_CLASSES, sizeof(long));
    long right[PROBE_MAX_ATTRS] = {0}, all = 0;
    int rc = (!hwc || !chw || !pred || !count) ? err_set(e, "probe: out of memory measuring the test split") : 0;
    for (long i0 = 0; i0 < n && !rc; i0 += B) {
        int m = n - i0 < B ? (int)(n - i0) : B;
        for (int k = 0; k < m && !rc; k++)
            if (!(rc = ds_read_image(ds, i0 + k, hwc, e))) to_chw(chw + (size_t)k * 3 * S * S, hwc, S);
        if (rc || (rc = probe_predict(p, chw, m, S, pred, e))) break;
        for (int k = 0; k < m; k++) {
            const int32_t *y = ds_labels(ds, i0 + k);
            int ok = 1;
            for (int a = 0; a < A; a++) {
                int hit = pred[(size_t)k * A + a] == y[a];
                right[a] += hit;
                ok &= hit;
                count[(size_t)a * PROBE_MAX_CLASSES + y[a]]++;
            }
            all += ok;
        }
    }
    for (int a = 0; a < A && !rc; a++) {
        long most = 0;
        for (int c = 0; c < p->n_classes[a]; c++)
            if (count[(size_t)a * PROBE_MAX_CLASSES + c] > most) most = count[(size_t)a * PROBE_MAX_CLASSES + c];
        r->test_accuracy[a] = n ? (double)right[a] / n : 0;
        r->chance_accuracy[a] = n ? (double)most / n : 0;
    }
    r->test_all = n ? (double)all / n : 0;
    r->n_test = n;
    free(hwc);
    free(chw);
    free(pred);
    free(count);
    return rc;
}

static int check_options(const ProbeFitOptions *o, Err *e) {
    if (o->side < PROBE_MIN_SIDE || o->side > PROBE_MAX_SIDE)
        return err_set(e, "probe: --side %d outside %d..%d", o->side, PROBE_MIN_SIDE, PROBE_MAX_SIDE);
    if (o->epochs < 1 || o->max_images < 1 || o->batch < 1 || !(o->lr > 0))
        return err_set(e, "probe: epochs %d, max_images %ld, batch %d, lr %g must be positive", o->epochs,
                       o->max_images, o->batch, o->lr);
    if (o->shift < 0 || o->shift >= o->side / 2)
        return err_set(e, "probe: --shift %d outside 0..%d (less than half the side %d)", o->shift,
                       o->side / 2 - 1, o->side);
    return 0;
}

int probe_fit(const char *data_dir, const ProbeFitOptions *o, Probe *p, ProbeReport *r, Err *e) {
    memset(p, 0, sizeof(*p));
    memset(r, 0, sizeof(*r));
    if (check_options(o, e)) return -1;
    const double t0 = now_s();
    Data d;
    if (data_open(&d, data_dir, e)) return -1;
    Dataset *tr = d.split[0];
    const DsInfo *in = ds_info(tr);
    // S: the test side, the model's; a train split stored larger (T, for the random crop) gives its centre SxS
    const int L = in->label_dim, P = o->side, T = in->image_size, S = ds_info(d.split[1])->image_size;
    names_from(r, in);
    snprintf(r->source, sizeof r->source, "%s", data_dir);
    // classes per column: 1 + the largest label over both splits
    int ncls[PROBE_MAX_ATTRS];
    for (int a = 0; a < L; a++) ncls[a] = 2;
    for (int s = 0; s < 2; s++)
        for (long i = 0; i < ds_size(d.split[s]); i++) {
            const int32_t *y = ds_labels(d.split[s], i);
            for (int a = 0; a < L; a++) {
                if (y[a] < 0 || y[a] >= PROBE_MAX_CLASSES) {
                    err_set(e, "%s: split %s image %ld: /labels column %d (%s) is %d; the probe needs class indices "
                               "0..%d", data_dir, SPLIT[s], i, a, r->names[a], (int)y[a], PROBE_MAX_CLASSES - 1);
                    data_close(&d);   // y points into it
                    return -1;
                }
                if (y[a] + 1 > ncls[a]) ncls[a] = y[a] + 1;
            }
        }
    int rc = data_fingerprint(&d, data_dir, r->fingerprint, e);
    // the training images: all of the split, or a seeded random subset of max_images (read in index order)
    const long N = ds_size(tr), n = N < o->max_images ? N : o->max_images;
    const RngKey key = rng_key(o->seed, RNG_PROBE);
    long *idx = malloc((size_t)N * sizeof(long)), *order = malloc((size_t)n * sizeof(long));
    real *X = malloc((size_t)n * 3 * P * P * sizeof(real)), *xb = malloc((size_t)o->batch * 3 * P * P * sizeof(real));
    int32_t *Y = malloc((size_t)n * L * sizeof(int32_t)), *yb = malloc((size_t)o->batch * L * sizeof(int32_t));
    int32_t *pred = malloc((size_t)o->batch * L * sizeof(int32_t));
    if (!rc && (!idx || !order || !X || !xb || !Y || !yb || !pred))
        rc = err_set(e, "%s: out of memory for %ld training images at %dx%d (%.0f MB): lower --max-images", data_dir, n,
                     P, P, (double)n * 3 * P * P * sizeof(real) / 1e6);
    if (!rc) {
        for (long i = 0; i < N; i++) idx[i] = i;
        if (n < N) {
            shuffle(idx, N, key, TAG_SUBSET);
            qsort(idx, (size_t)n, sizeof(long), cmp_long);
        }
        rc = load_images(tr, idx, n, S, P, X, Y, e);
    }
    if (!rc) rc = probe_build(p, L, ncls, P, o->batch, e);
    if (!rc) {
        probe_init(p, o->seed);
        r->n_train = n;
        char from[64] = "";
        if (T > S) snprintf(from, sizeof from, ", the centre of %dx%d", T, T);
        if (o->log)
            fprintf(o->log, "probe: %s: %ld train images (of %ld) at %dx%d (from %dx%d%s), %d attributes, %d epochs, "
                            "batch %d, lr %g, shift +-%d\n", data_dir, n, N, P, P, S, S, from, L, o->epochs, o->batch,
                    o->lr, o->shift);
    }
    const long steps_per_epoch = (n + o->batch - 1) / o->batch, total = steps_per_epoch * o->epochs;
    long step = 0;
    for (int ep = 0; ep < o->epochs && !rc; ep++) {
        const double te = now_s();
        for (long i = 0; i < n; i++) order[i] = i;
        shuffle(order, n, key, TAG_EPOCH + (uint64_t)ep);
        double loss_sum = 0;
        long right[PROBE_MAX_ATTRS] = {0}, all = 0;
        for (long b0 = 0; b0 < n && !rc; b0 += o->batch, step++) {
            int m = n - b0 < o->batch ? (int)(n - b0) : o->batch;
            for (int k = 0; k < m; k++) {
                long j = order[b0 + k];
                uint32_t w[4];   // the shift of image k of this step: (seed, TAG_AUG + step, k)
                rng_block(key, TAG_AUG + (uint64_t)step, (uint64_t)k, w);
                const int sh = o->shift, dx = (int)(w[0] % (uint32_t)(2 * sh + 1)) - sh,
                          dy = (int)(w[1] % (uint32_t)(2 * sh + 1)) - sh;
                shift_copy(xb + (size_t)k * 3 * P * P, X + (size_t)j * 3 * P * P, P, dx, dy);
                memcpy(yb + (size_t)k * L, Y + (size_t)j * L, (size_t)L * sizeof(int32_t));
            }
            // cosine decay from lr to 0 over the whole fit
            real lr = (real)(o->lr * 0.5 * (1 + cos(3.141592653589793 * (double)step / (double)total)));
            double loss;
            if ((rc = probe_train_step(p, xb, yb, m, P, lr, &loss, e))) break;
            loss_sum += loss * m;
            probe_last_pred(p, m, pred);   // of the forward before this step's update
            for (int k = 0; k < m; k++) {
                int ok = 1;
                for (int a = 0; a < L; a++) {
                    int hit = pred[(size_t)k * L + a] == yb[(size_t)k * L + a];
                    right[a] += hit;
                    ok &= hit;
                }
                all += ok;
            }
        }
        if (!rc && o->log) {
            double dt = now_s() - te;
            fprintf(o->log, "probe epoch %d/%d: loss %.4f | train acc", ep + 1, o->epochs, loss_sum / n);
            for (int a = 0; a < L; a++) fprintf(o->log, " %s %.3f", r->names[a], (double)right[a] / n);
            fprintf(o->log, " | all %.3f | %.0f images/s\n", (double)all / n, n / (dt > 0 ? dt : 1e-9));
            fflush(o->log);
        }
    }
    if (!rc) rc = measure(p, d.split[1], r, e);
    r->fit_seconds = now_s() - t0;
    free(idx);
    free(order);
    free(X);
    free(xb);
    free(Y);
    free(yb);
    free(pred);
    data_close(&d);
    if (rc) probe_free(p);
    return rc;
}

// ------------------------------------------------------------------ cache file

static int write_ds(hid_t f, const char *name, hid_t ftype, hid_t mtype, hsize_t n, const void *buf) {
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = sp >= 0 ? H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = (d < 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) ? -1 : 0;
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

static void widths_str(char *out, size_t n) {
    snprintf(out, n, "%d,%d,%d", PROBE_WIDTH1, PROBE_WIDTH2, PROBE_WIDTH3);
}

static void join_names(char *out, size_t n, const ProbeReport *r) {
    out[0] = 0;
    for (int a = 0; a < r->n_attrs; a++) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s%s", a ? "," : "", r->names[a]);
    }
}

int probe_save(const char *path, const Probe *p, const ProbeReport *r, const ProbeFitOptions *o, Err *e) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);   // weights_save appends to an existing file: start from nothing
    if (weights_save(tmp, "/weights", &p->ps, e)) {
        fs_discard(tmp);
        return -1;
    }
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    int rc = f < 0 ? err_set(e, "%s: cannot reopen to add the probe's metadata", tmp) : 0;
    const int A = p->n_attrs;
    int32_t ncls[PROBE_MAX_ATTRS];
    for (int a = 0; a < A; a++) ncls[a] = p->n_classes[a];
    char widths[64], names[PROBE_MAX_ATTRS * PROBE_NAME_LEN + 1];
    widths_str(widths, sizeof widths);
    join_names(names, sizeof names, r);
    if (!rc && (write_ds(f, "n_classes", H5T_STD_I32LE, H5T_NATIVE_INT32, (hsize_t)A, ncls) ||
                write_ds(f, "test_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (hsize_t)A, r->test_accuracy) ||
                write_ds(f, "chance_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (hsize_t)A, r->chance_accuracy)))
        rc = err_set(e, "%s: writing /n_classes, /test_accuracy or /chance_accuracy failed (disk full?)", tmp);
    if (!rc && (h5u_attr_write_i64(f, "probe_format", PROBE_FILE_FORMAT) || h5u_attr_write_i64(f, "side", p->side) ||
                h5u_attr_write_i64(f, "n_attrs", A) || h5u_attr_write_str(f, "widths", widths) ||
                h5u_attr_write_str(f, "label_names", names) || h5u_attr_write_f64(f, "test_all", r->test_all) ||
                h5u_attr_write_i64(f, "n_train", r->n_train) || h5u_attr_write_i64(f, "n_test", r->n_test) ||
                h5u_attr_write_f64(f, "fit_seconds", r->fit_seconds) ||
                h5u_attr_write_str(f, "fingerprint", r->fingerprint) || h5u_attr_write_str(f, "source", r->source) ||
                h5u_attr_write_i64(f, "epochs", o->epochs) || h5u_attr_write_i64(f, "max_images", o->max_images) ||
                h5u_attr_write_i64(f, "batch", o->batch) || h5u_attr_write_i64(f, "seed", (int64_t)o->seed) ||
                h5u_attr_write_i64(f, "shift", o->shift) ||
                h5u_attr_write_f64(f, "lr", o->lr)))
        rc = err_set(e, "%s: writing the attributes failed (disk full?)", tmp);
    if (f >= 0 && H5Fclose(f) < 0 && !rc) rc = err_set(e, "%s: close failed (disk full?)", tmp);
    h5u_quiet_end(q);
    if (rc) {
        fs_discard(tmp);
        return -1;
    }
    return fs_commit(tmp, path, e);
}

// Reads the 1-D dataset name of exactly n values as mtype into buf; errors name the file and dataset.
static int read_vec(hid_t f, const char *path, const char *name, hid_t mtype, int n, void *buf, Err *e) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return err_set(e, "%s: dataset /%s missing (not a probe file?)", path, name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[2] = {0, 0};
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (nd == 1) H5Sget_simple_extent_dims(sp, dims, NULL);
    int rc = 0;
    if (nd != 1 || dims[0] != (hsize_t)n)
        rc = err_set(e, "%s: dataset /%s should be 1-D of %d values (one per attribute; n_attrs = %d)", path, name, n, n);
    else if (H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = err_set(e, "%s: dataset /%s unreadable (truncated file?)", path, name);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return rc;
}

static int read_i64(hid_t f, const char *path, const char *name, int64_t *v, Err *e) {
    return h5u_attr_read_i64(f, name, v) ? err_set(e, "%s: attribute %s missing or not an integer (not a probe file?)",
                                                   path, name)
                                         : 0;
}

// The cache file of a directory: probe-<default side>.h5, else its only probe-*.h5.
static int resolve_path(const char *path_or_dir, char *out, size_t n, Err *e) {
    DIR *dir = opendir(path_or_dir);
    if (!dir) {
        snprintf(out, n, "%s", path_or_dir);
        return 0;
    }
    probe_default_path(out, n, path_or_dir, PROBE_DEFAULT_SIDE);
    int found = access(out, F_OK) == 0, count = 0;
    struct dirent *de;
    char only[1024] = "";
    while (!found && (de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "probe-", 6) || len < 10 || strcmp(de->d_name + len - 3, ".h5")) continue;
        count++;
        snprintf(only, sizeof only, "%s", de->d_name);
    }
    closedir(dir);
    if (found) return 0;
    if (count == 1) {
        snprintf(out, n, "%s/%s", path_or_dir, only);
        return 0;
    }
    return err_set(e, "%s: %s (make it with `ratlip data probe %s`)", path_or_dir,
                   count ? "several probe-*.h5: name the file" : "no attribute probe (probe-<side>.h5)", path_or_dir);
}

int probe_load(const char *path_or_dir, Probe *p, ProbeReport *r, Err *e) {
    memset(p, 0, sizeof(*p));
    ProbeReport rr;
    if (!r) r = &rr;
    memset(r, 0, sizeof(*r));
    char path[4200];
    if (resolve_path(path_or_dir, path, sizeof path, e)) return -1;
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        h5u_quiet_end(q);
        return err_set(e, "%s: cannot open as HDF5 (missing, truncated, or not a probe file: refit it with `ratlip "
                          "data probe DIR --force`)", path);
    }
    int64_t fmt = 0, side = 0, A = 0, v;
    int rc = read_i64(f, path, "probe_format", &fmt, e);
    if (!rc && fmt != PROBE_FILE_FORMAT)
        rc = err_set(e, "%s: attribute probe_format is %lld; this ratlip reads %d (refit with `ratlip data probe DIR "
                        "--force`)", path, (long long)fmt, PROBE_FILE_FORMAT);
    if (!rc) rc = read_i64(f, path, "side", &side, e) || read_i64(f, path, "n_attrs", &A, e);
    if (!rc && (A < 1 || A > PROBE_MAX_ATTRS))
        rc = err_set(e, "%s: attribute n_attrs is %lld (1..%d)", path, (long long)A, PROBE_MAX_ATTRS);
    char want[64];
    widths_str(want, sizeof want);
    char *widths = rc ? NULL : h5u_attr_read_str(f, "widths");
    if (!rc && (!widths || strcmp(widths, want)))
        rc = err_set(e, "%s: attribute widths is '%s'; this ratlip's probe has conv widths %s (refit with `ratlip "
                        "data probe DIR --force`)", path, widths ? widths : "(missing)", want);
    free(widths);
    int32_t ncls[PROBE_MAX_ATTRS];
    if (!rc) rc = read_vec(f, path, "n_classes", H5T_NATIVE_INT32, (int)A, ncls, e);
    if (!rc) rc = read_vec(f, path, "test_accuracy", H5T_NATIVE_DOUBLE, (int)A, r->test_accuracy, e);
    if (!rc) rc = read_vec(f, path, "chance_accuracy", H5T_NATIVE_DOUBLE, (int)A, r->chance_accuracy, e);
    if (!rc) {
        r->n_attrs = (int)A;
        char *names = h5u_attr_read_str(f, "label_names");
        DsInfo in = {.label_dim = (int)A};
        if (names) snprintf(in.label_names, sizeof in.label_names, "%s", names);
        free(names);
        for (int a = 0; a < A; a++) ds_label_name(&in, a, r->names[a], PROBE_NAME_LEN);
        h5u_attr_read_f64(f, "test_all", &r->test_all);
        if (!h5u_attr_read_i64(f, "n_train", &v)) r->n_train = (long)v;
        if (!h5u_attr_read_i64(f, "n_test", &v)) r->n_test = (long)v;
        h5u_attr_read_f64(f, "fit_seconds", &r->fit_seconds);
        char *fp = h5u_attr_read_str(f, "fingerprint");
        snprintf(r->fingerprint, sizeof r->fingerprint, "%s", fp ? fp : "");
        free(fp);
        char *src = h5u_attr_read_str(f, "source");
        snprintf(r->source, sizeof r->source, "%s", src ? src : "");
        free(src);
    }
    H5Fclose(f);
    h5u_quiet_end(q);
    if (rc) return -1;
    int n_classes[PROBE_MAX_ATTRS];
    for (int a = 0; a < A; a++) n_classes[a] = ncls[a];
    Err be;
    if (probe_build(p, (int)A, n_classes, (int)side, LOAD_BATCH, &be))
        return err_set(e, "%s: /n_classes or attribute side describe no probe: %s", path, be.msg);
    if (weights_load(path, "/weights", &p->ps, 1, e) < 0) {
        probe_free(p);
        return -1;
    }
    return 0;
}

int probe_cache_current(const char *path, const char *data_dir, const ProbeFitOptions *o, char *why, size_t n,
                        Err *e) {
    char fp[17];
    if (access(path, F_OK) != 0) {
        snprintf(why, n, "no cache at %s", path);
        return 0;
    }
    if (probe_data_fingerprint(data_dir, fp, e)) return -1;
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        h5u_quiet_end(q);
        snprintf(why, n, "%s is unreadable (truncated or not HDF5)", path);
        return 0;
    }
    char *got = h5u_attr_read_str(f, "fingerprint");
    int64_t side = 0, epochs = 0, maxi = 0, batch = 0, seed = 0, fmt = 0, shift = 0;
    double lr = 0;
    int bad = h5u_attr_read_i64(f, "probe_format", &fmt) | h5u_attr_read_i64(f, "side", &side) |
              h5u_attr_read_i64(f, "epochs", &epochs) | h5u_attr_read_i64(f, "max_images", &maxi) |
              h5u_attr_read_i64(f, "batch", &batch) | h5u_attr_read_i64(f, "seed", &seed) |
              h5u_attr_read_i64(f, "shift", &shift) |
              h5u_attr_read_f64(f, "lr", &lr);
    H5Fclose(f);
    h5u_quiet_end(q);
    int cur = 0;
    if (bad || !got || fmt != PROBE_FILE_FORMAT) snprintf(why, n, "%s lacks the probe attributes of this ratlip", path);
    else if (strcmp(got, fp)) snprintf(why, n, "the dataset changed since the fit (fingerprint %s, was %s)", fp, got);
    else if (side != o->side) snprintf(why, n, "fitted at --side %lld, now %d", (long long)side, o->side);
    else if (epochs != o->epochs) snprintf(why, n, "fitted with --epochs %lld, now %d", (long long)epochs, o->epochs);
    else if (maxi != o->max_images) snprintf(why, n, "fitted with --max-images %lld, now %ld", (long long)maxi, o->max_images);
    else if (batch != o->batch) snprintf(why, n, "fitted with batch %lld, now %d", (long long)batch, o->batch);
    else if ((uint64_t)seed != o->seed) snprintf(why, n, "fitted with seed %lld, now %llu", (long long)seed,
                                                 (unsigned long long)o->seed);
    else if (lr != o->lr) snprintf(why, n, "fitted with lr %g, now %g", lr, o->lr);
    else if (shift != o->shift) snprintf(why, n, "fitted with --shift %lld, now %d", (long long)shift, o->shift);
    else cur = 1;
    free(got);
    return cur;
}

int probe_fit_cached(const char *data_dir, const ProbeFitOptions *o, int force, Probe *p, ProbeReport *r,
                     int *reused, char *path_out, size_t path_n, char *why, size_t why_n, Err *e) {
    char path[4200], reason[1100] = "--force";
    probe_default_path(path, sizeof path, data_dir, o->side);
    if (path_out) snprintf(path_out, path_n, "%s", path);
    *reused = 0;
    if (check_options(o, e)) return -1;
    if (!force) {
        int cur = probe_cache_current(path, data_dir, o, reason, sizeof reason, e);
        if (cur < 0) return -1;
        if (cur) {
            Err le;
            if (probe_load(path, p, r, &le) == 0) {
                *reused = 1;
                return 0;
            }
            snprintf(reason, sizeof reason, "%s", le.msg);
        }
    }
    if (why) snprintf(why, why_n, "%s", reason);
    if (probe_fit(data_dir, o, p, r, e)) return -1;
    if (probe_save(path, p, r, o, e)) {
        probe_free(p);
        return -1;
    }
    return 0;
}
