#include "io/metrics.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/fault.h"
#include "io/fs.h"
#include "io/h5util.h"

#define METRICS_CHUNK_ROWS 256

struct Metrics {
    hid_t f;
    char path[4096];
};

// File access without HDF5's file lock: the writer must not block readers (see metrics.h).
static hid_t fapl_nolock(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 0, 1);
#endif
    return fapl;
}

// A new file is created complete under <path>.tmp and renamed into place, so a kill at any moment
// leaves either no metrics.h5 or one that opens.
static int create_complete(const char *path, Err *e) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    hid_t fapl = fapl_nolock();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) return err_set(e, "%s: cannot create (directory missing or not writable?)", path);
    if (H5Fclose(f) < 0) {
        fs_discard(tmp);
        return err_set(e, "%s: cannot create (disk full?)", path);
    }
    fault_point("metrics-create");
    return fs_commit(tmp, path, e);
}

Metrics *metrics_open(const char *path, Err *e) {
    Metrics *m = calloc(1, sizeof(Metrics));
    if (!m) {
        err_set(e, "%s: out of memory", path);
        return NULL;
    }
    snprintf(m->path, sizeof m->path, "%s", path);
    H5Quiet q = h5u_quiet_begin();
    struct stat st;
    m->f = -1;
    if (stat(path, &st) == 0 || create_complete(path, e) == 0) {
        hid_t fapl = fapl_nolock();
        m->f = H5Fopen(path, H5F_ACC_RDWR, fapl);
        H5Pclose(fapl);
        if (m->f < 0) err_set(e, "%s: cannot open for appending (not HDF5, damaged, or another writer?)", path);
    }
    h5u_quiet_end(q);
    if (m->f < 0) {
        free(m);
        return NULL;
    }
    return m;
}

Metrics *metrics_open_or_rebuild(const char *path, char *note, size_t note_size, Err *e) {
    if (note_size) note[0] = 0;
    Metrics *m = metrics_open(path, e);
    struct stat st;
    if (m || stat(path, &st) != 0) return m;
    char aside[4200];
    snprintf(aside, sizeof aside, "%s.damaged", path);
    if (rename(path, aside) != 0) {
        err_set(e, "%s: cannot open it, nor move it aside to %s: %s", path, aside, strerror(errno));
        return NULL;
    }
    snprintf(note, note_size, "%s could not be opened (a writer killed mid-flush?): kept as %s, starting a new one",
             path, aside);
    return metrics_open(path, e);
}

static int valid_name(const char *s) {
    if (!s || !s[0] || strlen(s) > 64) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-' || *p == '.'))
            return 0;
    return strcmp(s, ".") && strcmp(s, "..");
}

static hid_t open_or_create_column(hid_t g, const char *name, hid_t ftype, hid_t mtype, const void *fill) {
    if (H5Lexists(g, name, H5P_DEFAULT) > 0) return H5Dopen2(g, name, H5P_DEFAULT);
    hsize_t zero = 0, unlim = H5S_UNLIMITED, chunk = METRICS_CHUNK_ROWS;
    hid_t sp = H5Screate_simple(1, &zero, &unlim);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_fill_value(dcpl, mtype, fill);   // rows a column missed read as NaN
    hid_t d = H5Dcreate2(g, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return d;
}

static hsize_t dataset_len(hid_t d) {
    hid_t sp = H5Dget_space(d);
    hsize_t n = 0;
    if (H5Sget_simple_extent_ndims(sp) == 1) H5Sget_simple_extent_dims(sp, &n, NULL);
    H5Sclose(sp);
    return n;
}

// Sets the length of d to `len` and, when value is not NULL, writes it at row `row`.
static int set_len_write(hid_t d, hsize_t len, hsize_t row, hid_t mtype, const void *value) {
    if (H5Dset_extent(d, &len) < 0) return -1;
    if (!value) return 0;
    hid_t fs = H5Dget_space(d);
    hsize_t one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    int rc = (H5Sselect_hyperslab(fs, H5S_SELECT_SET, &row, NULL, &one, NULL) >= 0 &&
              H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, value) >= 0)
                 ? 0
                 : -1;
    H5Sclose(ms);
    H5Sclose(fs);
    return rc;
}

typedef struct {
    hsize_t len;      // new length for every value column
    int n;
    const char *const *names;
    const double *values;
    char *written;
    int failed;
} RowScan;

// Sets every existing value column of the group to the new length, writing this row's value where one was given.
static herr_t extend_column(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    RowScan *r = data;
    if (!strcmp(name, "step")) return 0;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return 0;
    const double *v = NULL;
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->names[i], name)) {
            v = &r->values[i];
            r->written[i] = 1;
        }
    double nan = NAN;
    // a column without a value in this row still gets its slot (NaN): overwrite any leftover of a killed append
    if (set_len_write(d, r->len, r->len - 1, H5T_NATIVE_DOUBLE, v ? v : &nan)) r->failed = 1;
    H5Dclose(d);
    return 0;
}

int metrics_append(Metrics *m, const char *group, int64_t step, int n, const char *const *names, const double *values,
                   Err *e) {
    if (!valid_name(group)) return err_set(e, "%s: group name '%s' is not valid", m->path, group ? group : "");
    for (int i = 0; i < n; i++)
        if (!valid_name(names[i]) || !strcmp(names[i], "step"))
            return err_set(e, "%s: /%s: column name '%s' is not valid (letters, digits, _ . -; not \"step\")", m->path,
                           group, names[i] ? names[i] : "");
    H5Quiet q = h5u_quiet_begin();
    int rc = 0;
    hid_t g = H5Lexists(m->f, group, H5P_DEFAULT) > 0 ? H5Gopen2(m->f, group, H5P_DEFAULT)
                                                      : H5Gcreate2(m->f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        h5u_quiet_end(q);
        return err_set(e, "%s: /%s: cannot open or create the group", m->path, group);
    }
    int64_t zero = 0;
    double nan = NAN;
    hid_t ds = open_or_create_column(g, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &zero);
    if (ds < 0) rc = err_set(e, "%s: /%s/step: cannot open or create", m->path, group);
    hsize_t rows = rc ? 0 : dataset_len(ds);
    // new columns first (created empty; the extension below fills earlier rows with NaN)
    for (int i = 0; i < n && rc == 0; i++) {
        hid_t d = open_or_create_column(g, names[i], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &nan);
        if (d < 0) rc = err_set(e, "%s: /%s/%s: cannot open or create the column", m->path, group, names[i]);
        else H5Dclose(d);
    }
    char written[256] = {0};
    RowScan r = {rows + 1, n, names, values, written, 0};
    if (rc == 0 && n > (int)sizeof written) rc = err_set(e, "%s: /%s: too many columns in one row", m->path, group);
    if (rc == 0) {
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, extend_column, &r);
        if (r.failed) rc = err_set(e, "%s: /%s: extending the columns failed (disk full?)", m->path, group);
    }
    if (rc == 0) fault_point("metrics-append");
    // step last: its length is the number of complete rows
    if (rc == 0 && set_len_write(ds, rows + 1, rows, H5T_NATIVE_INT64, &step))
        rc = err_set(e, "%s: /%s/step: append failed (disk full?)", m->path, group);
    if (ds >= 0) H5Dclose(ds);
    H5Gclose(g);
    if (rc == 0 && H5Fflush(m->f, H5F_SCOPE_GLOBAL) < 0) rc = err_set(e, "%s: flush failed (disk full?)", m->path);
    h5u_quiet_end(q);
    return rc;
}

typedef struct { hsize_t len; int failed; } TruncScan;

static herr_t truncate_column(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    TruncScan *t = data;
    if (!strcmp(name, "step")) return 0;   // done last by the caller
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return 0;
    if (dataset_len(d) > t->len && H5Dset_extent(d, &t->len) < 0) t->failed = 1;
    H5Dclose(d);
    return 0;
}

typedef struct { Metrics *m; int64_t step; Err *e; int failed; } GroupScan;

static herr_t truncate_group(hid_t f, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    GroupScan *s = data;
    hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
    if (g < 0) return 0;
    if (H5Lexists(g, "step", H5P_DEFAULT) > 0) {
        hid_t ds = H5Dopen2(g, "step", H5P_DEFAULT);
        hsize_t n = dataset_len(ds);
        int64_t *st = malloc((n ? n : 1) * sizeof(int64_t));
        if (st && (n == 0 || H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, st) >= 0)) {
            hsize_t keep = 0;
            while (keep < n && st[keep] < s->step) keep++;
            TruncScan t = {keep, 0};
            // value columns first, step last (same order as an append)
            H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, truncate_column, &t);
            if (n > keep && H5Dset_extent(ds, &keep) < 0) t.failed = 1;
            if (t.failed) s->failed = err_set(s->e, "%s: /%s: truncating failed", s->m->path, name);
        } else {
            s->failed = err_set(s->e, "%s: /%s/step: read failed", s->m->path, name);
        }
        free(st);
        if (ds >= 0) H5Dclose(ds);
    }
    H5Gclose(g);
    return 0;
}

int metrics_truncate_after(Metrics *m, int64_t step, Err *e) {
    H5Quiet q = h5u_quiet_begin();
    GroupScan s = {m, step, e, 0};
    H5Literate(m->f, H5_INDEX_NAME, H5_ITER_INC, NULL, truncate_group, &s);
    if (!s.failed && H5Fflush(m->f, H5F_SCOPE_GLOBAL) < 0) s.failed = err_set(e, "%s: flush failed", m->path);
    h5u_quiet_end(q);
    return s.failed ? -1 : 0;
}

int metrics_close(Metrics *m, Err *e) {
    if (!m) return 0;
    int rc = H5Fclose(m->f) < 0 ? err_set(e, "%s: close failed (disk full?)", m->path) : 0;
    free(m);
    return rc;
}

int metrics_read(const char *path, const char *group, const char *column, double **values, size_t *n, Err *e) {
    *values = NULL;
    *n = 0;
    H5Quiet q = h5u_quiet_begin();
    hid_t fapl = fapl_nolock();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    int rc = 0;
    char p[256];
    snprintf(p, sizeof p, "%s/step", group);
    if (f < 0) rc = err_set(e, "%s: cannot open (missing, not HDF5, or caught mid-flush: retry)", path);
    else if (H5Lexists(f, group, H5P_DEFAULT) <= 0 || H5Lexists(f, p, H5P_DEFAULT) <= 0)
        rc = err_set(e, "%s: /%s: no such group (no rows written yet?)", path, group);
    if (rc == 0) {
        hid_t ds = H5Dopen2(f, p, H5P_DEFAULT);
        hsize_t rows = dataset_len(ds);
        H5Dclose(ds);
        snprintf(p, sizeof p, "%s/%s", group, column);
        hid_t d = H5Lexists(f, p, H5P_DEFAULT) > 0 ? H5Dopen2(f, p, H5P_DEFAULT) : -1;
        if (d < 0) rc = err_set(e, "%s: /%s: no such column", path, p);
        else {
            hsize_t len = dataset_len(d);
            if (len < rows) rows = len;
            double *buf = malloc((rows ? rows : 1) * sizeof(double));
            if (!buf) rc = err_set(e, "%s: out of memory", path);
            else if (rows) {
                hid_t fs = H5Dget_space(d);
                hsize_t start = 0;
                hid_t ms = H5Screate_simple(1, &rows, NULL);
                if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &rows, NULL) < 0 ||
                    H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, buf) < 0)
                    rc = err_set(e, "%s: /%s: read failed", path, p);
                H5Sclose(ms);
                H5Sclose(fs);
            }
            if (rc == 0) {
                *values = buf;
                *n = (size_t)rows;
            } else free(buf);
            H5Dclose(d);
        }
    }
    if (f >= 0) H5Fclose(f);
    h5u_quiet_end(q);
    return rc;
}

int metrics_set_attr(Metrics *m, const char *group, const char *name, const char *value, Err *e) {
    if (!valid_name(group)) return err_set(e, "%s: group name '%s' is not valid", m->path, group ? group : "");
    H5Quiet q = h5u_quiet_begin();
    hid_t g = H5Lexists(m->f, group, H5P_DEFAULT) > 0 ? H5Gopen2(m->f, group, H5P_DEFAULT)
                                                      : H5Gcreate2(m->f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (g < 0) rc = err_set(e, "%s: /%s: cannot open or create the group", m->path, group);
    else if (h5u_attr_write_str(g, name, value)) rc = err_set(e, "%s: /%s: cannot write attribute %s", m->path, group, name);
    if (g >= 0) H5Gclose(g);
    if (rc == 0 && H5Fflush(m->f, H5F_SCOPE_GLOBAL) < 0) rc = err_set(e, "%s: flush failed (disk full?)", m->path);
    h5u_quiet_end(q);
    return rc;
}
