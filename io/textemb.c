// textemb: the caption-embedding file (/text_emb, /captions, text_encoder). See textemb.h.
#include "io/textemb.h"
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/fs.h"
#include "io/h5util.h"

// dataset name [dims[0..rank)] of file type ftype from buf in memory type mtype; 0 or -1
static int write_ds(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                    const void *buf) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = sp < 0 ? -1 : H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = d < 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    return bad ? -1 : 0;
}

// a fixed-length (NUL-terminated) string attribute on the root, as the bow files have always had
static int write_fixed_str_attr(hid_t f, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int bad = a < 0 || H5Awrite(a, t, value) < 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return bad ? -1 : 0;
}

int textemb_write(const char *path, const float *emb, long n, int D, const char *const *captions, const char *encoder,
                  Err *e) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = f < 0 ? err_set(e, "%s: cannot write (directory missing or not writable?)", path) : 0;
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)D};
    if (!rc && write_ds(f, "text_emb", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, emb))
        rc = err_set(e, "%s: dataset /text_emb [%ld, %d]: write failed", path, n, D);
    if (!rc && captions) {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, H5T_VARIABLE);
        H5Tset_cset(st, H5T_CSET_UTF8);
        if (write_ds(f, "captions", st, st, 1, dims, captions))
            rc = err_set(e, "%s: dataset /captions [%ld]: write failed", path, n);
        H5Tclose(st);
    }
    if (!rc && write_fixed_str_attr(f, "text_encoder", encoder))
        rc = err_set(e, "%s: attribute text_encoder: write failed", path);
    if (f >= 0 && H5Fclose(f) < 0 && !rc) rc = err_set(e, "%s: closing failed (disk full?)", path);
    h5u_quiet_end(q);
    if (rc) {
        unlink(tmp);
        return -1;
    }
    return fs_commit(tmp, path, e);
}

// /text_emb of an open file: float32, [n, D >= 1], finite
static int read_emb(hid_t f, const char *path, float **emb, long *n, int *D, Err *e) {
    hid_t d = H5Lexists(f, "text_emb", H5P_DEFAULT) > 0 ? H5Dopen2(f, "text_emb", H5P_DEFAULT) : -1;
    if (d < 0) return err_set(e, "%s: dataset /text_emb missing (want float32 [n, D], one row per caption)", path);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    hsize_t dims[2];
    int rc = 0;
    if (H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 4)
        rc = err_set(e, "%s: dataset /text_emb has the wrong dtype (want float32)", path);
    else if (H5Sget_simple_extent_ndims(sp) != 2 || H5Sget_simple_extent_dims(sp, dims, NULL) != 2 || dims[1] < 1)
        rc = err_set(e, "%s: dataset /text_emb has the wrong shape (want [n, D])", path);
    size_t count = rc ? 0 : (size_t)dims[0] * dims[1];
    float *v = rc ? NULL : malloc((count ? count : 1) * sizeof(float));
    if (!rc && !v) rc = err_set(e, "%s: dataset /text_emb: out of memory for %zu values", path, count);
    else if (!rc && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        rc = err_set(e, "%s: dataset /text_emb: read failed (truncated file?)", path);
    for (size_t j = 0; !rc && j < count; j++)
        if (!isfinite(v[j]))
            rc = err_set(e, "%s: dataset /text_emb: non-finite value at row %zu", path, (size_t)(j / dims[1]));
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(d);
    if (rc) {
        free(v);
        return -1;
    }
    *emb = v, *n = (long)dims[0], *D = (int)dims[1];
    return 0;
}

int textemb_read(const char *path, float **emb, long *n, int *D, char *encoder, size_t encoder_size, Err *e) {
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = f < 0 ? err_set(e, "%s: cannot open as HDF5", path) : read_emb(f, path, emb, n, D, e);
    if (!rc) {
        char *enc = h5u_attr_read_str(f, "text_encoder");
        snprintf(encoder, encoder_size, "%s", enc && enc[0] ? enc : TEXTEMB_UNNAMED);
        free(enc);
    }
    if (f >= 0) H5Fclose(f);
    h5u_quiet_end(q);
    return rc;
}

int textemb_read_captions(const char *path, long n, char ***captions, Err *e) {
    *captions = NULL;
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = f < 0 ? err_set(e, "%s: cannot open as HDF5", path) : 0;
    if (!rc && H5Lexists(f, "captions", H5P_DEFAULT) <= 0) rc = 1;
    hid_t d = rc ? -1 : H5Dopen2(f, "captions", H5P_DEFAULT);
    if (!rc && d < 0) rc = err_set(e, "%s: dataset /captions: cannot open", path);
    if (!rc) {
        hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
        hsize_t dims[1];
        if (H5Tget_class(t) != H5T_STRING || !H5Tis_variable_str(t))
            rc = err_set(e, "%s: dataset /captions is not variable-length strings", path);
        else if (H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, dims, NULL) != 1 ||
                 (long)dims[0] != n)
            rc = err_set(e, "%s: dataset /captions does not hold one string per /text_emb row (%ld)", path, n);
        char **v = rc ? NULL : calloc((size_t)n, sizeof(char *));
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5T_CSET_UTF8);
        if (!rc && !v) rc = err_set(e, "%s: out of memory for %ld captions", path, n);
        else if (!rc && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
            rc = err_set(e, "%s: dataset /captions: read failed", path);
        if (!rc) {   // own copies, so the caller frees with free() (HDF5 allocated these)
            for (long i = 0; i < n; i++) {
                char *c = strdup(v[i] ? v[i] : "");
                H5free_memory(v[i]);
                v[i] = c;
            }
            *captions = v;
        } else {
            free(v);
        }
        H5Tclose(mt);
        H5Tclose(t);
        H5Sclose(sp);
        H5Dclose(d);
    }
    if (f >= 0) H5Fclose(f);
    h5u_quiet_end(q);
    return rc;
}
