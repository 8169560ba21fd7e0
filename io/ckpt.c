#include "io/ckpt.h"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "io/fault.h"
#include "io/fs.h"
#include "io/h5util.h"

#define REAL_H5 (sizeof(real) == sizeof(float) ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE)
// tensors are stored as core's scalar: float32 from ratlip, float64 from ratlip_f64 (exactness tests);
// a reader converts either to its own
#define REAL_FILE (sizeof(real) == sizeof(float) ? H5T_IEEE_F32LE : H5T_IEEE_F64LE)
#define CHUNK_BYTES (1u << 20)   // about 1 MiB per chunk: one checksum per MiB, small reads stay cheap

// ---- writing ----

static void shape_str(char *out, size_t size, int ndim, const hsize_t *dims) {
    size_t n = (size_t)snprintf(out, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
    if (n < size) snprintf(out + n, size - n, "]");
}

// File shape of a tensor: its shape, or [1] for a 0-d tensor.
static int file_dims(const ParamSpec *s, hsize_t *dims) {
    if (s->ndim == 0) {
        dims[0] = 1;
        return 1;
    }
    for (int i = 0; i < s->ndim; i++) dims[i] = (hsize_t)s->shape[i];
    return s->ndim;
}

static int write_tensor(hid_t grp, const char *dset, const ParamSpec *s, const real *data, int with_meta) {
    hsize_t dims[PARAM_MAX_DIMS], chunk[PARAM_MAX_DIMS];
    int nd = file_dims(s, dims);
    // chunk = the whole tensor, cut along leading dimensions until it is about CHUNK_BYTES
    size_t elems = 1;
    for (int i = 0; i < nd; i++) elems *= (size_t)(chunk[i] = dims[i]);
    for (int i = 0; i < nd && elems * sizeof(real) > CHUNK_BYTES; i++) {
        size_t inner = elems / chunk[i];
        size_t want = CHUNK_BYTES / sizeof(real) / inner;
        chunk[i] = want < 1 ? 1 : want;
        elems = inner * chunk[i];
    }
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int rc = -1;
    if (H5Pset_chunk(dcpl, nd, chunk) >= 0 && H5Pset_fletcher32(dcpl) >= 0) {
        hid_t d = H5Dcreate2(grp, dset, REAL_FILE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (d >= 0) {
            rc = H5Dwrite(d, REAL_H5, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0 ? 0 : -1;
            if (rc == 0 && with_meta) {
                rc |= h5u_attr_write_i64(d, "kind", (int64_t)s->kind);
                if (s->ndim == 0) rc |= h5u_attr_write_i64(d, "ndim", 0);
            }
            if (H5Dclose(d) < 0) rc = -1;
        }
    }
    H5Pclose(dcpl);
    H5Sclose(sp);
    return rc;
}

static hid_t create_group(hid_t parent, const char *name) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);   // listings in state_dict order
    hid_t g = H5Gcreate2(parent, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return g;
}

static int write_net(hid_t f, const CkptNet *n, const char *path, Err *e) {
    const ParamSet *ps = n->ps;
    hid_t g = create_group(f, n->name);
    if (g < 0) return err_set(e, "%s: %s: cannot create group (duplicate network name?)", path, n->name);
    int with_adam = !n->no_adam && ps->n_trainable > 0;
    hid_t gm = -1, gv = -1;
    if (with_adam) {
        gm = create_group(g, "adam_m");
        gv = create_group(g, "adam_v");
    }
    int rc = (with_adam && (gm < 0 || gv < 0)) ? err_set(e, "%s: %s: cannot create Adam groups", path, n->name) : 0;
    for (int i = 0; i < ps->count && rc == 0; i++) {
        const ParamSpec *s = &ps->specs[i];
        if (!s->name[0] || strchr(s->name, '/') || !strcmp(s->name, "adam_m") || !strcmp(s->name, "adam_v") ||
            !strcmp(s->name, "."))
            rc = err_set(e, "%s: %s/%s: tensor name cannot be stored (empty, '/' or a reserved name)", path, n->name,
                         s->name);
        else if (s->numel == 0)
            rc = err_set(e, "%s: %s/%s: tensor has no elements (a zero dimension)", path, n->name, s->name);
        else if (write_tensor(g, s->name, s, ps->data + s->offset, 1))
            rc = err_set(e, "%s: %s/%s: writing the tensor failed (disk full? duplicate name?)", path, n->name, s->name);
        else if (with_adam && s->kind == PARAM_TRAINABLE &&
                 (write_tensor(gm, s->name, s, ps->adam_m + s->offset, 0) ||
                  write_tensor(gv, s->name, s, ps->adam_v + s->offset, 0)))
            rc = err_set(e, "%s: %s/adam_m|adam_v/%s: writing the Adam state failed", path, n->name, s->name);
    }
    if (rc == 0 && (h5u_attr_write_i64(g, "adam_step", ps->adam_step) || h5u_attr_write_i64(g, "has_adam", with_adam)))
        rc = err_set(e, "%s: %s: writing attribute adam_step failed", path, n->name);
    if (gm >= 0) H5Gclose(gm);
    if (gv >= 0) H5Gclose(gv);
    H5Gclose(g);
    return rc;
}

static int write_meta(hid_t f, const CkptMeta *m, const char *path, Err *e) {
    int rc = 0;
    rc |= h5u_attr_write_i64(f, "format_version", CKPT_FORMAT_VERSION);
    rc |= h5u_attr_write_i64(f, "step", m->step);
    rc |= h5u_attr_write_i64(f, "epoch", m->epoch);
    rc |= h5u_attr_write_i64(f, "reader_epoch", m->reader_epoch);
    rc |= h5u_attr_write_i64(f, "reader_cursor", m->reader_cursor);
    rc |= h5u_attr_write_i64(f, "seed", m->seed);
    rc |= h5u_attr_write_i64(f, "world_size", m->world_size);
    rc |= h5u_attr_write_i64(f, "unix_time", m->unix_time ? m->unix_time : (int64_t)time(NULL));
    rc |= h5u_attr_write_str(f, "ratlip_version", m->ratlip_version[0] ? m->ratlip_version : "unknown");
    rc |= h5u_attr_write_str(f, "git_rev", m->git_rev[0] ? m->git_rev : "unknown");
    rc |= h5u_attr_write_str(f, "config_json", m->config_json ? m->config_json : "");
    hid_t g = create_group(f, "extra");
    if (g < 0) return err_set(e, "%s: cannot create group /extra", path);
    for (int i = 0; i < m->n_extra && i < CKPT_MAX_EXTRA; i++)
        rc |= m->extra[i].is_int ? h5u_attr_write_i64(g, m->extra[i].name, m->extra[i].i)
                                 : h5u_attr_write_f64(g, m->extra[i].name, m->extra[i].d);
    H5Gclose(g);
    return rc ? err_set(e, "%s: writing the metadata attributes failed", path) : 0;
}

int ckpt_save(const char *path, const CkptNet *nets, int n_nets, const CkptMeta *meta, Err *e) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return err_set(e, "%s: path too long", path);
    H5Quiet q = h5u_quiet_begin();
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    // TRUNC, not EXCL: a stale .tmp from a killed writer is ours to replace
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    int rc = 0;
    if (f < 0) rc = err_set(e, "%s: cannot create (directory missing or not writable?)", tmp);
    CkptMeta empty = {0};
    for (int i = 0; i < n_nets && rc == 0; i++) {
        rc = write_net(f, &nets[i], path, e);
        if (i == 0) fault_point("ckpt-write");
    }
    if (rc == 0) rc = write_meta(f, meta ? meta : &empty, path, e);
    // `complete` last: a reader never trusts a file without it
    if (rc == 0 && h5u_attr_write_i64(f, "complete", 1)) rc = err_set(e, "%s: writing attribute complete failed", path);
    if (f >= 0 && H5Fclose(f) < 0 && rc == 0) rc = err_set(e, "%s: closing failed (disk full?)", tmp);
    h5u_quiet_end(q);
    if (rc) {
        fs_note_free_space(path, e);   // at the moment of failure, before the temporary's space is freed
        fs_discard(tmp);   // frees the space now: after a failed close HDF5 may still hold the file
        return -1;
    }
    fault_point("ckpt-commit");
    return fs_commit(tmp, path, e);
}

// ---- reading ----

static int read_tensor(hid_t grp, const char *dset, const ParamSpec *s, real *out, const char *path,
                       const char *what, Err *e) {
    if (H5Lexists(grp, dset, H5P_DEFAULT) <= 0)
        return err_set(e, "%s: %s: tensor missing from the checkpoint (saved with another config?)", path, what);
    hid_t d = H5Dopen2(grp, dset, H5P_DEFAULT);
    if (d < 0) return err_set(e, "%s: %s: not a dataset", path, what);
    hid_t sp = H5Dget_space(d);
    hsize_t want[PARAM_MAX_DIMS], got[8];
    int nd = file_dims(s, want);
    int gnd = H5Sget_simple_extent_ndims(sp);
    int same = gnd == nd;
    if (gnd > 0 && gnd <= 8) H5Sget_simple_extent_dims(sp, got, NULL);
    for (int i = 0; same && i < nd; i++) same = got[i] == want[i];
    int rc = 0;
    if (!same) {
        char a[96], b[96];
        shape_str(a, sizeof a, gnd > 0 && gnd <= 8 ? gnd : 0, got);
        shape_str(b, sizeof b, nd, want);
        rc = err_set(e, "%s: %s: shape %s in the checkpoint, %s in this config (checkpoint from another config?)", path,
                     what, a, b);
    } else {
        hid_t t = H5Dget_type(d);
        if (H5Tget_class(t) != H5T_FLOAT) rc = err_set(e, "%s: %s: not a floating-point dataset", path, what);
        H5Tclose(t);
        if (rc == 0 && !h5u_stored_in_full(d))
            rc = err_set(e, "%s: %s: data missing from the file (chunks not stored); the file is corrupt", path, what);
        if (rc == 0 && H5Dread(d, REAL_H5, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
            rc = err_set(e, "%s: %s: read failed: checksum mismatch or damaged data (Fletcher-32); the file is corrupt",
                         path, what);
    }
    H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

typedef struct {
    const ParamSet *ps;
    const char *found;   // first name in the file that the ParamSet lacks
    char buf[PARAM_NAME_MAX];
} ExtraScan;

static herr_t scan_extra(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)g;
    (void)info;
    ExtraScan *x = data;
    if (!strcmp(name, "adam_m") || !strcmp(name, "adam_v")) return 0;
    if (params_find(x->ps, name) < 0) {
        snprintf(x->buf, sizeof x->buf, "%s", name);
        x->found = x->buf;
        return 1;
    }
    return 0;
}

static int read_meta(hid_t f, CkptMeta *m) {
    memset(m, 0, sizeof(*m));
    h5u_attr_read_i64(f, "format_version", &m->format_version);
    h5u_attr_read_i64(f, "step", &m->step);
    h5u_attr_read_i64(f, "epoch", &m->epoch);
    h5u_attr_read_i64(f, "reader_epoch", &m->reader_epoch);
    h5u_attr_read_i64(f, "reader_cursor", &m->reader_cursor);
    h5u_attr_read_i64(f, "seed", &m->seed);
    h5u_attr_read_i64(f, "world_size", &m->world_size);
    h5u_attr_read_i64(f, "unix_time", &m->unix_time);
    char *s = h5u_attr_read_str(f, "ratlip_version");
    if (s) snprintf(m->ratlip_version, sizeof m->ratlip_version, "%s", s);
    free(s);
    s = h5u_attr_read_str(f, "git_rev");
    if (s) snprintf(m->git_rev, sizeof m->git_rev, "%s", s);
    free(s);
    m->config_json = h5u_attr_read_str(f, "config_json");
    hid_t g = H5Lexists(f, "extra", H5P_DEFAULT) > 0 ? H5Gopen2(f, "extra", H5P_DEFAULT) : -1;
    if (g >= 0) {
        H5O_info_t oi;
        if (H5Oget_info2(g, &oi, H5O_INFO_NUM_ATTRS) >= 0)
            for (hsize_t i = 0; i < oi.num_attrs && m->n_extra < CKPT_MAX_EXTRA; i++) {
                hid_t a = H5Aopen_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT);
                if (a < 0) continue;
                CkptScalar *x = &m->extra[m->n_extra];
                H5Aget_name(a, sizeof x->name, x->name);
                hid_t t = H5Aget_type(a);
                x->is_int = H5Tget_class(t) == H5T_INTEGER;
                int ok = x->is_int ? H5Aread(a, H5T_NATIVE_INT64, &x->i) : H5Aread(a, H5T_NATIVE_DOUBLE, &x->d);
                if (ok >= 0) m->n_extra++;
                H5Tclose(t);
                H5Aclose(a);
            }
        H5Gclose(g);
    }
    return 0;
}

// Opens a checkpoint read-only and checks it is complete and of our format version.
static hid_t open_checked(const char *path, Err *e) {
    struct stat st;
    if (stat(path, &st) != 0) {
        err_set(e, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        err_set(e, "%s: not a readable HDF5 file (truncated or not a checkpoint; %lld bytes)", path,
                (long long)st.st_size);
        return -1;
    }
    int64_t complete = 0, version = 0;
    if (h5u_attr_read_i64(f, "complete", &complete) || complete != 1) {
        H5Fclose(f);
        err_set(e, "%s: complete: attribute missing, the checkpoint was not finished (writer killed?)", path);
        return -1;
    }
    if (h5u_attr_read_i64(f, "format_version", &version) || version != CKPT_FORMAT_VERSION) {
        H5Fclose(f);
        err_set(e, "%s: format_version: %lld, this ratlip reads version %d", path, (long long)version,
                CKPT_FORMAT_VERSION);
        return -1;
    }
    return f;
}

typedef struct { real *data, *m, *v; long adam_step; } Scratch;

static int load_net(hid_t f, const CkptNet *n, Scratch *sc, const char *path, Err *e) {
    const ParamSet *ps = n->ps;
    char what[PARAM_NAME_MAX + 96];
    if (H5Lexists(f, n->name, H5P_DEFAULT) <= 0)
        return err_set(e, "%s: %s: network missing from the checkpoint", path, n->name);
    hid_t g = H5Gopen2(f, n->name, H5P_DEFAULT);
    if (g < 0) return err_set(e, "%s: %s: not a group", path, n->name);
    int64_t has_adam = 0, adam_step = 0;
    h5u_attr_read_i64(g, "has_adam", &has_adam);
    h5u_attr_read_i64(g, "adam_step", &adam_step);
    int want_adam = !n->no_adam && ps->n_trainable > 0;
    int rc = 0;
    if (want_adam && !has_adam) rc = err_set(e, "%s: %s: the checkpoint has no Adam state for this network", path, n->name);
    hid_t gm = -1, gv = -1;
    if (rc == 0 && want_adam) {
        gm = H5Gopen2(g, "adam_m", H5P_DEFAULT);
        gv = H5Gopen2(g, "adam_v", H5P_DEFAULT);
        if (gm < 0 || gv < 0) rc = err_set(e, "%s: %s/adam_m|adam_v: group missing", path, n->name);
    }
    for (int i = 0; i < ps->count && rc == 0; i++) {
        const ParamSpec *s = &ps->specs[i];
        snprintf(what, sizeof what, "%s/%s", n->name, s->name);
        rc = read_tensor(g, s->name, s, sc->data + s->offset, path, what, e);
        if (rc == 0 && want_adam && s->kind == PARAM_TRAINABLE) {
            snprintf(what, sizeof what, "%s/adam_m/%s", n->name, s->name);
            rc = read_tensor(gm, s->name, s, sc->m + s->offset, path, what, e);
            snprintf(what, sizeof what, "%s/adam_v/%s", n->name, s->name);
            if (rc == 0) rc = read_tensor(gv, s->name, s, sc->v + s->offset, path, what, e);
        }
    }
    if (rc == 0) {
        ExtraScan x = {ps, NULL, {0}};
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, scan_extra, &x);
        if (x.found)
            rc = err_set(e, "%s: %s/%s: tensor in the checkpoint but not in this config (checkpoint from another config?)",
                         path, n->name, x.found);
    }
    sc->adam_step = (long)adam_step;
    if (gm >= 0) H5Gclose(gm);
    if (gv >= 0) H5Gclose(gv);
    H5Gclose(g);
    return rc;
}

int ckpt_load(const char *path, CkptNet *nets, int n_nets, CkptMeta *meta, Err *e) {
    H5Quiet q = h5u_quiet_begin();
    hid_t f = open_checked(path, e);
    if (f < 0) {
        h5u_quiet_end(q);
        return -1;
    }
    // read everything into scratch buffers; the ParamSets change only when all of it is good
    Scratch *sc = calloc((size_t)(n_nets > 0 ? n_nets : 1), sizeof(Scratch));
    int rc = sc ? 0 : err_set(e, "%s: out of memory", path);
    for (int i = 0; i < n_nets && rc == 0; i++) {
        const ParamSet *ps = nets[i].ps;
        sc[i].data = malloc((ps->total ? ps->total : 1) * sizeof(real));
        sc[i].m = malloc((ps->n_trainable ? ps->n_trainable : 1) * sizeof(real));
        sc[i].v = malloc((ps->n_trainable ? ps->n_trainable : 1) * sizeof(real));
        if (!sc[i].data || !sc[i].m || !sc[i].v) rc = err_set(e, "%s: %s: out of memory", path, nets[i].name);
        else rc = load_net(f, &nets[i], &sc[i], path, e);
    }
    CkptMeta m;
    if (rc == 0) read_meta(f, &m);
    H5Fclose(f);
    h5u_quiet_end(q);
    for (int i = 0; i < n_nets && sc; i++) {
        if (rc == 0) {
            ParamSet *ps = nets[i].ps;
            memcpy(ps->data, sc[i].data, ps->total * sizeof(real));
            if (!nets[i].no_adam) {
                memcpy(ps->adam_m, sc[i].m, ps->n_trainable * sizeof(real));
                memcpy(ps->adam_v, sc[i].v, ps->n_trainable * sizeof(real));
                ps->adam_step = sc[i].adam_step;
            }
        }
        free(sc[i].data);
        free(sc[i].m);
        free(sc[i].v);
    }
    free(sc);
    if (rc == 0) {
        if (meta) *meta = m;
        else free(m.config_json);
    }
    return rc;
}

void ckpt_meta_free(CkptMeta *meta) {
    free(meta->config_json);
    meta->config_json = NULL;
}

static CkptScalar *extra_slot(CkptMeta *m, const char *name) {
    for (int i = 0; i < m->n_extra; i++)
        if (!strcmp(m->extra[i].name, name)) return &m->extra[i];
    if (m->n_extra >= CKPT_MAX_EXTRA || strlen(name) >= sizeof m->extra[0].name || !name[0]) return NULL;
    CkptScalar *x = &m->extra[m->n_extra++];
    memset(x, 0, sizeof(*x));
    snprintf(x->name, sizeof x->name, "%s", name);
    return x;
}

int ckpt_meta_set_double(CkptMeta *m, const char *name, double v) {
    CkptScalar *x = extra_slot(m, name);
    if (!x) return -1;
    x->is_int = 0;
    x->d = v;
    return 0;
}

int ckpt_meta_set_int(CkptMeta *m, const char *name, int64_t v) {
    CkptScalar *x = extra_slot(m, name);
    if (!x) return -1;
    x->is_int = 1;
    x->i = v;
    return 0;
}

int ckpt_meta_get_double(const CkptMeta *m, const char *name, double *v) {
    for (int i = 0; i < m->n_extra; i++)
        if (!strcmp(m->extra[i].name, name)) {
            *v = m->extra[i].is_int ? (double)m->extra[i].i : m->extra[i].d;
            return 0;
        }
    return -1;
}

// ---- visiting every tensor (info, verify) ----

typedef struct {
    CkptVisitFn cb;
    void *user;
    const char *path;
    Err *e;
    int failed;
} VisitState;

static herr_t visit_link(hid_t root, const char *name, const H5L_info_t *info, void *data) {
    VisitState *st = data;
    if (info->type != H5L_TYPE_HARD) return 0;
    hid_t o = H5Oopen(root, name, H5P_DEFAULT);
    if (o < 0) {
        st->failed = err_set(st->e, "%s: %s: cannot open object (damaged file)", st->path, name);
        return 1;
    }
    if (H5Iget_type(o) != H5I_DATASET) {
        H5Oclose(o);
        return 0;
    }
    hid_t sp = H5Dget_space(o);
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[8] = {0};
    int64_t shape[8] = {0};
    size_t n = 1;
    int rc = 0;
    if (nd < 0 || nd > 8) rc = err_set(st->e, "%s: %s: dataspace of rank %d (damaged file)", st->path, name, nd);
    else H5Sget_simple_extent_dims(sp, dims, NULL);
    for (int i = 0; rc == 0 && i < nd; i++)
        if (dims[i] > INT64_MAX || __builtin_mul_overflow(n, (size_t)(shape[i] = (int64_t)dims[i]), &n))
            rc = err_set(st->e, "%s: %s: impossible shape (damaged file)", st->path, name);
    if (rc == 0 && !h5u_stored_in_full(o))
        rc = err_set(st->e, "%s: %s: %zu values declared but not all stored: the file is damaged", st->path, name, n);
    double *buf = rc ? NULL : malloc((n ? n : 1) * sizeof(double));
    if (rc == 0 && !buf) rc = err_set(st->e, "%s: %s: out of memory", st->path, name);
    else if (rc == 0 && n && H5Dread(o, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = err_set(st->e, "%s: %s: read failed: checksum mismatch or damaged data (Fletcher-32); the file is corrupt",
                     st->path, name);
    if (rc == 0 && st->cb) {
        int64_t ndim0 = -1;
        if (nd == 1 && n == 1 && h5u_attr_read_i64(o, "ndim", &ndim0) == 0 && ndim0 == 0) nd = 0;
        if (st->cb(name, nd, shape, buf, n, st->user)) rc = 1;
    }
    free(buf);
    H5Sclose(sp);
    H5Oclose(o);
    if (rc) {
        st->failed = rc < 0 ? -1 : 1;
        return 1;
    }
    return 0;
}

int ckpt_visit(const char *path, CkptVisitFn cb, void *user, CkptMeta *meta, Err *e) {
    H5Quiet q = h5u_quiet_begin();
    hid_t f = open_checked(path, e);
    if (f < 0) {
        h5u_quiet_end(q);
        return -1;
    }
    CkptMeta m;
    read_meta(f, &m);
    VisitState st = {cb, user, path, e, 0};
    herr_t hr = H5Lvisit(f, H5_INDEX_CRT_ORDER, H5_ITER_INC, visit_link, &st);
    if (hr < 0 && !st.failed) st.failed = err_set(e, "%s: walking the file failed (damaged metadata)", path);
    H5Fclose(f);
    h5u_quiet_end(q);
    if (meta && st.failed >= 0) *meta = m;
    else free(m.config_json);
    return st.failed < 0 ? -1 : 0;
}

// ---- directories of checkpoints ----

void ckpt_path(char *out, size_t size, const char *dir, int64_t step) {
    snprintf(out, size, "%s/ckpt-%08" PRId64 ".h5", dir, step);
}

// Step of a file name "ckpt-<digits>.h5", or -1.
static int64_t ckpt_step_of(const char *name) {
    if (strncmp(name, "ckpt-", 5) != 0) return -1;
    const char *p = name + 5;
    int64_t v = 0;
    int nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 18) v = v * 10 + (*p++ - '0'), nd++;
    return (nd > 0 && !strcmp(p, ".h5")) ? v : -1;
}

typedef struct { int64_t step; char name[256]; } CkptEntry;

static int cmp_desc(const void *a, const void *b) {
    int64_t x = ((const CkptEntry *)a)->step, y = ((const CkptEntry *)b)->step;
    return x < y ? 1 : x > y ? -1 : 0;
}

// The checkpoints of dir, newest first. *n = 0 (and NULL) when dir is missing or has none.
static CkptEntry *list_ckpts(const char *dir, int *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    CkptEntry *v = NULL;
    int cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t s = ckpt_step_of(de->d_name);
        if (s < 0 || strlen(de->d_name) >= sizeof v[0].name) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            CkptEntry *nv = realloc(v, (size_t)cap * sizeof(CkptEntry));
            if (!nv) break;
            v = nv;
        }
        v[*n].step = s;
        snprintf(v[*n].name, sizeof v[*n].name, "%s", de->d_name);
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(v, (size_t)*n, sizeof(CkptEntry), cmp_desc);
    return v;
}

int ckpt_retain(const char *dir, int keep_last, const char *best_name, Err *e) {
    int n;
    CkptEntry *v = list_ckpts(dir, &n);
    const char *best = best_name ? strrchr(best_name, '/') : NULL;
    best = best ? best + 1 : best_name;
    int deleted = 0, rc = 0;
    for (int i = keep_last < 0 ? 0 : keep_last; i < n; i++) {
        if (best && !strcmp(v[i].name, best)) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, v[i].name);
        if (unlink(p) == 0) deleted++;
        else rc = err_set(e, "%s: cannot delete old checkpoint: %s", p, strerror(errno));
    }
    free(v);
    return rc ? -1 : deleted;
}

int ckpt_find_latest(const char *dir, CkptNet *nets, int n_nets, CkptMeta *meta, char *out_path, size_t out_size,
                     char *report, size_t report_size, Err *e) {
    return ckpt_find_latest_prechecked(dir, nets, n_nets, meta, out_path, out_size, NULL, NULL, report, report_size, e);
}

int ckpt_find_latest_prechecked(const char *dir, CkptNet *nets, int n_nets, CkptMeta *meta, char *out_path,
                                size_t out_size, CkptPrecheck pre, void *pre_ctx, char *report, size_t report_size,
                                Err *e) {
    int n;
    CkptEntry *v = list_ckpts(dir, &n);
    if (report && report_size) report[0] = 0;
    int found = 0;
    for (int i = 0; i < n && !found; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, v[i].name);
        Err le = {{0}};
        if (pre && pre(p, pre_ctx, le.msg, sizeof le.msg)) {
            if (report) {
                size_t len = strlen(report);
                snprintf(report + len, report_size - len, "skipped %s: %s\n", p, le.msg);
            }
        } else if (ckpt_load(p, nets, n_nets, meta, &le) == 0) {
            found = 1;
            if (out_path) snprintf(out_path, out_size, "%s", p);
        } else if (report) {
            size_t len = strlen(report);
            snprintf(report + len, report_size - len, "skipped %s: %s\n", p, le.msg);
        }
    }
    free(v);
    (void)e;
    return found;
}
