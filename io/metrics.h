// metrics: the run's metrics.h5. Groups /train and /eval (any name works) hold one extendible 1-D
// dataset per column: `step` (int64) and named float64 columns (time, loss_d, loss_g, grad_norm_d,
// img_per_s; fid, kid, clip_score ...), chunked (256 rows) with unlimited size, created on first
// use. A row is appended by writing the value columns first and extending `step` last, so the
// length of `step` is the number of complete rows; a column that did not get a value in some row
// (or appeared later) holds NaN there. H5Fflush runs after every append.
//
// Reading while training runs: no SWMR. SWMR would need the 1.10 file format, and a killed SWMR
// writer leaves a file that plain readers refuse until `h5clear -s`. Instead the writer uses the
// default (1.8-compatible) format, disables HDF5 file locking for its own handle, and flushes after
// every row, so any reader (this module's metrics_read, h5py, h5dump) can open the file read-only at
// any time and sees every row up to the last flush: take n = len(/train/step) and read the first n
// entries of each column. A read that races a flush may fail: just open again. A file left by a
// killed run reads the same way, and metrics_open appends to it.
//   python3 -c "import h5py; f=h5py.File('run/metrics.h5','r'); n=len(f['train/step']); print(f['train/loss_d'][:n])"
// Only one writer (rank 0) per file.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

typedef struct Metrics Metrics;

// Opens path for appending, creating it when missing (complete, via <path>.tmp and a rename). NULL
// (and e set) on failure.
Metrics *metrics_open(const char *path, Err *e);
// The training run's way in: as metrics_open, but a file that exists and cannot be opened (a writer
// killed mid-flush can leave one) is renamed to <path>.damaged and a new one started; note (when not
// empty) says so, for the log.
Metrics *metrics_open_or_rebuild(const char *path, char *note, size_t note_size, Err *e);
// Appends one row to group: step plus n named values. Flushes. Column names: [A-Za-z0-9_.-]+, not "step".
int metrics_append(Metrics *m, const char *group, int64_t step, int n, const char *const *names, const double *values,
                   Err *e);
// Drops every row with step >= `step` in every group (a resumed run calls it with its resume step
// before appending again). Flushes.
int metrics_truncate_after(Metrics *m, int64_t step, Err *e);
int metrics_close(Metrics *m, Err *e);
// Sets (replaces) string attribute `name` on group (created if missing), e.g. what the /eval values
// were computed with. Flushes.
int metrics_set_attr(Metrics *m, const char *group, const char *name, const char *value, Err *e);

// Reads column `column` ("step" included) of group: the first len(step) entries, as double.
// *values is malloc'd (NULL when there are no rows). Works while a writer has the file open.
int metrics_read(const char *path, const char *group, const char *column, double **values, size_t *n, Err *e);
