// ckpt: one HDF5 file per checkpoint with everything a bit-exact resume needs.
//
// Layout (format version 1):
//   /                      attributes: format_version, complete (written last), step, epoch,
//                          reader_epoch, reader_cursor, seed, world_size, unix_time (int64);
//                          ratlip_version, git_rev, config_json (variable-length strings)
//   /extra                 one attribute per named extra scalar (float64 or int64)
//   /<net>/<name>          float32 tensor, shape as declared (0-d tensors are stored as [1] with
//                          attribute ndim = 0); attribute kind = 0 trainable, 1 frozen, 2 buffer
//   /<net>/adam_m/<name>   Adam first moment of each trainable tensor (absent for no_adam nets)
//   /<net>/adam_v/<name>   Adam second moment;  /<net> attribute adam_step (int64)
// <name> is the upstream PyTorch state_dict key. Every dataset is chunked with the Fletcher-32
// filter, so a flipped byte fails the read of that tensor. Files are written as <path>.tmp,
// closed, fsynced, renamed over <path>, and the directory is fsynced: <path> is always either the
// old complete file or the new complete one. Readable with h5py/h5dump without ratlip.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/params.h"

#define CKPT_FORMAT_VERSION 1
#define CKPT_MAX_EXTRA 32

typedef struct {
    const char *name;   // "netG", "netD", "netC", "netG_ema"
    ParamSet *ps;       // declared and finalized
    int no_adam;        // 1: skip the Adam moments (EMA copy)
} CkptNet;

typedef struct {
    char name[64];
    int is_int;         // 1: i holds the value; 0: d does
    double d;
    int64_t i;
} CkptScalar;

typedef struct {
    int64_t step, epoch;
    int64_t reader_epoch, reader_cursor;   // data reader position (io/reader)
    int64_t seed;                          // RNG seed: every key is derived from it (core/rng.h)
    char *config_json;                     // resolved config; on load malloc'd (free with ckpt_meta_free)
    // provenance
    int64_t format_version;                // set by ckpt_save
    char ratlip_version[32];               // the caller fills these two from RATLIP_VERSION / RATLIP_GIT_REV
                                           // (defined for jobs/ only); "" is written as "unknown"
    char git_rev[64];
    int64_t world_size;
    int64_t unix_time;                     // 0 on save: now
    int n_extra;
    CkptScalar extra[CKPT_MAX_EXTRA];
} CkptMeta;

// Saves nets and meta durably to path (see above). Nothing is written under path on failure.
int ckpt_save(const char *path, const CkptNet *nets, int n_nets, const CkptMeta *meta, Err *e);
// Loads into already-declared ParamSets. Checks format version and completeness, that every
// expected tensor exists with the same shape and that the file holds no tensor the nets lack
// (errors name the tensor and both shapes), and the checksums. The ParamSets are changed only when
// everything loaded. meta may be NULL.
int ckpt_load(const char *path, CkptNet *nets, int n_nets, CkptMeta *meta, Err *e);
void ckpt_meta_free(CkptMeta *meta);
// Extra scalars: set (replace by name) and get (-1 when absent).
int ckpt_meta_set_double(CkptMeta *m, const char *name, double v);
int ckpt_meta_set_int(CkptMeta *m, const char *name, int64_t v);
int ckpt_meta_get_double(const CkptMeta *m, const char *name, double *v);

// Every tensor in a checkpoint, read fully (checksums verified), without declaring ParamSets.
// cb gets the path inside the file ("netG/fc.weight"), the shape and the data as double; a
// non-zero return stops the walk. Used by `ratlip ckpt info|verify`.
typedef int (*CkptVisitFn)(const char *name, int ndim, const int64_t *shape, const double *data, size_t n,
                           void *user);
int ckpt_visit(const char *path, CkptVisitFn cb, void *user, CkptMeta *meta, Err *e);

// "<dir>/ckpt-<step, 8 digits>.h5"
void ckpt_path(char *out, size_t size, const char *dir, int64_t step);
// Deletes ckpt-<step>.h5 files in dir beyond the newest keep_last, never the one whose file name
// (or path) is best_name (NULL = none). Returns the number deleted or -1.
int ckpt_retain(const char *dir, int keep_last, const char *best_name, Err *e);
// Tries the ckpt-<step>.h5 files of dir newest first and loads the first that loads cleanly into
// nets/meta; its path goes to out_path. Each skipped file is reported as one line appended to
// report (may be NULL). Returns 1 when one loaded, 0 when none did (or dir has none), -1 on error.
int ckpt_find_latest(const char *dir, CkptNet *nets, int n_nets, CkptMeta *meta, char *out_path, size_t out_size,
                     char *report, size_t report_size, Err *e);
// The same with a check of each candidate before it is opened here: pre returns 0 to go on, else the
// file is skipped with its `why` in the report. (The run driver opens candidates in a child process
// first: libhdf5 1.10 crashes on some damaged files instead of returning an error.)
typedef int (*CkptPrecheck)(const char *path, void *ctx, char *why, size_t why_size);
int ckpt_find_latest_prechecked(const char *dir, CkptNet *nets, int n_nets, CkptMeta *meta, char *out_path,
                                size_t out_size, CkptPrecheck pre, void *pre_ctx, char *report, size_t report_size,
                                Err *e);
