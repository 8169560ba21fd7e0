#include "io/weights.h"
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

static int dataset_path(char *out, size_t n, const char *group, const char *name) {
    int len = (group && *group && strcmp(group, "/") != 0) ? snprintf(out, n, "%s/%s", group, name)
                                                            : snprintf(out, n, "/%s", name);
    return len > 0 && (size_t)len < n;
}

int weights_load(const char *path, const char *group, ParamSet *ps, int require_all, Err *e) {
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);  // our messages, not HDF5's stack dumps
    int loaded = 0, rc = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        rc = err_set(e, "%s: cannot open as HDF5 (missing or not an HDF5 file)", path);
        goto out;
    }
    for (int i = 0; i < ps->count && rc == 0; i++) {
        const ParamSpec *sp = &ps->specs[i];
        char dpath[512];
        if (!dataset_path(dpath, sizeof dpath, group, sp->name)) {
            rc = err_set(e, "%s: dataset path too long for %s", path, sp->name);
            break;
        }
        if (H5Lexists(f, dpath, H5P_DEFAULT) <= 0) {
            if (require_all) rc = err_set(e, "%s: missing dataset %s (is this a weight file for this config?)", path, dpath);
            continue;
        }
        hid_t d = H5Dopen2(f, dpath, H5P_DEFAULT);
        hid_t space = d >= 0 ? H5Dget_space(d) : -1;
        int nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
        hsize_t dims[8] = {0};
        if (nd >= 0 && nd <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
        size_t numel = 1;
        for (int k = 0; k < nd; k++) numel *= dims[k];
        if (d < 0 || nd < 0 || nd > 8) {
            rc = err_set(e, "%s: cannot read dataset %s", path, dpath);
        } else if (numel != sp->numel) {
            char want[64] = "", got[64] = "";
            for (int k = 0; k < sp->ndim; k++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", k ? "," : "", sp->shape[k]);
            for (int k = 0; k < nd; k++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", k ? "," : "", (unsigned long long)dims[k]);
            rc = err_set(e, "%s: %s has shape [%s], the model expects [%s] (weights from another config?)", path, dpath,
                         got, want);
        } else {
#ifdef RATLIP_F64
            hid_t mem = H5T_NATIVE_DOUBLE;
#else
            hid_t mem = H5T_NATIVE_FLOAT;
#endif
            if (H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, params_tensor(ps, i)) < 0)
                rc = err_set(e, "%s: reading %s failed (truncated file or checksum error)", path, dpath);
            else
                loaded++;
        }
        if (space >= 0) H5Sclose(space);
        if (d >= 0) H5Dclose(d);
    }
    H5Fclose(f);
out:
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return rc ? -1 : loaded;
}

int weights_save(const char *path, const char *group, const ParamSet *ps, Err *e) {
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        rc = err_set(e, "%s: cannot create (directory missing or not writable?)", path);
        goto out;
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    for (int i = 0; i < ps->count && rc == 0; i++) {
        const ParamSpec *sp = &ps->specs[i];
        char dpath[512];
        dataset_path(dpath, sizeof dpath, group, sp->name);
        hsize_t dims[PARAM_MAX_DIMS];
        for (int k = 0; k < sp->ndim; k++) dims[k] = (hsize_t)sp->shape[k];
        hid_t space = H5Screate_simple(sp->ndim, dims, NULL);
        if (sp->ndim == 0) {
            H5Sclose(space);
            space = H5Screate(H5S_SCALAR);
        }
        hid_t d = H5Dcreate2(f, dpath, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
#ifdef RATLIP_F64
        hid_t mem = H5T_NATIVE_DOUBLE;
#else
        hid_t mem = H5T_NATIVE_FLOAT;
#endif
        if (d < 0 || H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, params_tensor(ps, i)) < 0)
            rc = err_set(e, "%s: writing %s failed", path, dpath);
        if (d >= 0) H5Dclose(d);
        H5Sclose(space);
    }
    H5Pclose(lcpl);
    if (H5Fclose(f) < 0 && rc == 0) rc = err_set(e, "%s: closing failed (disk full?)", path);
out:
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return rc;
}
