// fidstats: reference statistics files. See fidstats.h.
#include "io/fidstats.h"
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/fs.h"
#include "io/h5util.h"

// the memory type of core's scalar (the file keeps float32 features either way)
#define REAL_MEM (sizeof(real) == sizeof(double) ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT)

void fidstats_default_path(char *out, size_t n, const char *dir, const char *split, const char *network, int size) {
    if (size == INCEPTION_SIZE) snprintf(out, n, "%s/fid-stats-%s-%s.h5", dir, split, network);
    else snprintf(out, n, "%s/fid-stats-%s-%s-%dpx.h5", dir, split, network, size);
}

static int write_ds(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims, const void *buf) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = sp >= 0 ? H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = (d < 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) ? -1 : 0;
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

int fidstats_write(const char *path, const FidStats *s, Err *e) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (f < 0) {
        h5u_quiet_end(q);
        return err_set(e, "%s: cannot create (directory missing or not writable?)", tmp);
    }
    hsize_t d1[1] = {(hsize_t)s->d}, d2[2] = {(hsize_t)s->d, (hsize_t)s->d}, df[2] = {(hsize_t)s->n_feat, (hsize_t)s->d};
    if (write_ds(f, "mu", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d1, s->mu) ||
        write_ds(f, "sigma", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d2, s->sigma) ||
        (s->feat && write_ds(f, "features", H5T_IEEE_F32LE, REAL_MEM, 2, df, s->feat)))
        rc = err_set(e, "%s: writing the statistics failed (disk full?)", tmp);
    if (!rc && (h5u_attr_write_i64(f, "n", s->n) || h5u_attr_write_str(f, "network", s->network) ||
                h5u_attr_write_str(f, "weights_sha256", s->weights_sha256) ||
                h5u_attr_write_i64(f, "random_weights", s->random_weights) ||
                h5u_attr_write_str(f, "note", s->random_weights ? FIDSTATS_RANDOM_NOTE : "") ||
                h5u_attr_write_str(f, "source", s->source ? s->source : "") ||
                h5u_attr_write_i64(f, "inception_size", s->inception_size)))
        rc = err_set(e, "%s: writing the attributes failed", tmp);
    if (H5Fclose(f) < 0 && !rc) rc = err_set(e, "%s: close failed (disk full?)", tmp);
    h5u_quiet_end(q);
    if (rc) {
        remove(tmp);
        return -1;
    }
    return fs_commit(tmp, path, e);
}

// Reads dataset name as mtype into a malloc'd buffer; dims (up to 2) into dims. NULL when missing.
static void *read_ds(hid_t f, const char *name, hid_t mtype, size_t esize, int *rank, hsize_t dims[2]) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    *rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    void *buf = NULL;
    if (*rank >= 1 && *rank <= 2) {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        size_t n = dims[0] * (*rank == 2 ? dims[1] : 1);
        buf = malloc((n ? n : 1) * esize);
        if (buf && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            free(buf);
            buf = NULL;
        }
    }
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return buf;
}

// String attribute name into out[n] ("" when missing); -1 (e set, naming path and name) when it does not
// fit: an identity string is never cut.
static int copy_attr(hid_t f, const char *path, const char *name, char *out, size_t n, Err *e) {
    char *s = h5u_attr_read_str(f, name);
    size_t len = s ? strlen(s) : 0;
    int rc = 0;
    if (len >= n)
        rc = err_set(e, "%s: attribute %s is %zu characters, more than the %zu this reader keeps (damaged, or "
                        "not made by ratlip's tools?)", path, name, len, n - 1);
    snprintf(out, n, "%s", rc || !s ? "" : s);
    free(s);
    return rc;
}

int fidstats_read(const char *path, FidStats *s, Err *e) {
    memset(s, 0, sizeof *s);
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        h5u_quiet_end(q);
        return err_set(e, "%s: cannot open as HDF5 (make it with `ratlip data stats DIR --split test`)", path);
    }
    int rc = 0, r1 = 0, r2 = 0, rf = 0;
    hsize_t d1[2] = {0}, d2[2] = {0}, df[2] = {0};
    s->mu = read_ds(f, "mu", H5T_NATIVE_DOUBLE, sizeof(double), &r1, d1);
    s->sigma = read_ds(f, "sigma", H5T_NATIVE_DOUBLE, sizeof(double), &r2, d2);
    s->feat = read_ds(f, "features", REAL_MEM, sizeof(real), &rf, df);
    int64_t n = 0, rnd = 0, size = INCEPTION_SIZE;
    if (!s->mu || r1 != 1) rc = err_set(e, "%s: /mu missing or not 1-D float64 (not a statistics file?)", path);
    else if (!s->sigma || r2 != 2 || d2[0] != d1[0] || d2[1] != d1[0])
        rc = err_set(e, "%s: /sigma missing or not [%llu,%llu]", path, (unsigned long long)d1[0], (unsigned long long)d1[0]);
    else if (s->feat && (rf != 2 || df[1] != d1[0]))
        rc = err_set(e, "%s: /features is not [n,%llu]", path, (unsigned long long)d1[0]);
    else if (h5u_attr_read_i64(f, "n", &n)) rc = err_set(e, "%s: attribute n missing", path);
    s->d = (int)d1[0];
    s->n = (long)n;
    s->n_feat = s->feat ? (long)df[0] : 0;
    if (!rc) rc = copy_attr(f, path, "network", s->network, sizeof s->network, e);
    if (!rc) rc = copy_attr(f, path, "weights_sha256", s->weights_sha256, sizeof s->weights_sha256, e);
    s->source = h5u_attr_read_str(f, "source");   // informational: kept whole, whatever its length
    if (h5u_attr_read_i64(f, "random_weights", &rnd) == 0) s->random_weights = (int)rnd;
    if (!rc && H5Aexists(f, "inception_size") > 0 &&
        (h5u_attr_read_i64(f, "inception_size", &size) || size < INCEPTION_SIZE_MIN || size > INCEPTION_SIZE_MAX))
        rc = err_set(e, "%s: attribute inception_size is %lld, not an Inception input side in %d..%d (damaged?)", path,
                     (long long)size, INCEPTION_SIZE_MIN, INCEPTION_SIZE_MAX);
    s->inception_size = (int)size;
    if (!rc && (!s->network[0] || !s->weights_sha256[0]))
        rc = err_set(e, "%s: attributes network/weights_sha256 missing (made by an old tool?)", path);
    H5Fclose(f);
    h5u_quiet_end(q);
    if (rc) fidstats_free(s);
    return rc;
}

void fidstats_free(FidStats *s) {
    free(s->mu);
    free(s->sigma);
    free(s->feat);
    free(s->source);
    s->mu = s->sigma = NULL;
    s->feat = NULL;
    s->source = NULL;
}

int fidstats_comparable(const FidStats *a, const FidStats *b, char *why, size_t n) {
    if (a->d != b->d) snprintf(why, n, "feature dimensions differ (%d vs %d)", a->d, b->d);
    else if (strcmp(a->network, b->network)) snprintf(why, n, "networks differ (%s vs %s)", a->network, b->network);
    else if (strcmp(a->weights_sha256, b->weights_sha256))
        snprintf(why, n, "weights differ (%s vs %s)", a->weights_sha256, b->weights_sha256);
    else if (a->inception_size != b->inception_size)
        snprintf(why, n, "Inception input sizes differ (%d vs %d px)", a->inception_size, b->inception_size);
    else return 1;
    return 0;
}

int fidstats_weights_info(const char *path, char *network, size_t nn, char *sha, size_t ns, Err *e) {
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = 0;
    if (f < 0) {
        rc = err_set(e, "%s: cannot open as HDF5 (eval.inception_weights: make it with io/tools/convert_inception.py)", path);
    } else {
        rc = copy_attr(f, path, "network", network, nn, e);
        if (!rc) rc = copy_attr(f, path, "source_sha256", sha, ns, e);
        if (!rc && (!network[0] || !sha[0]))
            rc = err_set(e, "%s: attributes network/source_sha256 missing (not made by io/tools/convert_inception.py?)", path);
        H5Fclose(f);
    }
    h5u_quiet_end(q);
    return rc;
}
