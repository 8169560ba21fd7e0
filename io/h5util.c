#include "io/h5util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// HDF5 closes every file still open from an atexit handler. After a write failed on a full disk,
// HDF5 1.10's second close of that file segfaults there (H5F__close_cb; seen with ckpt_save on a full
// tmpfs). Every file ratlip writes is closed by ratlip, so the handler is not needed: turn it off
// before the library starts.
__attribute__((constructor)) static void h5u_no_atexit(void) { H5dont_atexit(); }

H5Quiet h5u_quiet_begin(void) {
    H5Quiet q = {NULL, NULL};
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

void h5u_quiet_end(H5Quiet q) { H5Eset_auto2(H5E_DEFAULT, q.func, q.data); }

static int attr_write(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *buf) {
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0) return -1;
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, mtype, buf) >= 0) ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

int h5u_attr_write_i64(hid_t obj, const char *name, int64_t v) {
    return attr_write(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

int h5u_attr_write_f64(hid_t obj, const char *name, double v) {
    return attr_write(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

int h5u_attr_write_str(hid_t obj, const char *name, const char *s) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    const char *p = s ? s : "";
    int rc = attr_write(obj, name, t, t, &p);
    H5Tclose(t);
    return rc;
}

static int attr_read(hid_t obj, const char *name, hid_t mtype, void *buf) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a);
    int rc = (H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, mtype, buf) >= 0) ? 0 : -1;
    H5Sclose(sp);
    H5Aclose(a);
    return rc;
}

int h5u_attr_read_i64(hid_t obj, const char *name, int64_t *v) { return attr_read(obj, name, H5T_NATIVE_INT64, v); }
int h5u_attr_read_f64(hid_t obj, const char *name, double *v) { return attr_read(obj, name, H5T_NATIVE_DOUBLE, v); }

char *h5u_attr_read_str(hid_t obj, const char *name) {
    if (H5Aexists(obj, name) <= 0) return NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t ft = H5Aget_type(a);
    char *out = NULL;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft));   // HDF5 does not convert between ASCII and UTF-8
            char *p = NULL;
            if (H5Aread(a, mt, &p) >= 0 && p) {
                out = strdup(p);
                H5free_memory(p);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(ft);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            H5Tset_cset(mt, H5Tget_cset(ft));
            out = calloc(n + 2, 1);
            if (out && H5Aread(a, mt, out) < 0) {
                free(out);
                out = NULL;
            }
            H5Tclose(mt);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return out;
}

int h5u_stored_in_full(hid_t d) {
    hid_t p = H5Dget_create_plist(d), sp = H5Dget_space(d), t = H5Dget_type(d);
    int nf = p >= 0 ? H5Pget_nfilters(p) : 0, compressed = 0;
    for (int i = 0; i < nf; i++) {
        unsigned flags;
        size_t ncd = 0;
        if (H5Pget_filter2(p, (unsigned)i, &flags, &ncd, NULL, 0, NULL, NULL) != H5Z_FILTER_FLETCHER32) compressed = 1;
    }
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[H5S_MAX_RANK], n = H5Sget_simple_extent_type(sp) == H5S_NULL ? 0 : 1;
    int ok = p >= 0 && nd >= 0 && nd <= H5S_MAX_RANK && H5Sget_simple_extent_dims(sp, dims, NULL) == nd;
    for (int i = 0; ok && i < nd; i++) ok = !__builtin_mul_overflow(n, dims[i], &n);   // no shape wraps around
    // chunks of another rank than the shape (a damaged layout): HDF5 1.10 then enumerates chunks
    // without end, gigabytes of them, to read one value
    if (ok && H5Pget_layout(p) == H5D_CHUNKED) ok = H5Pget_chunk(p, H5S_MAX_RANK, dims) == nd;
    size_t elem = t >= 0 ? H5Tget_size(t) : 0;
    // compressed: the stored size says nothing about the count
    ok = ok && elem > 0 && (compressed || n <= H5Dget_storage_size(d) / elem);
    if (p >= 0) H5Pclose(p);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    return ok;
}
