// testutil: what the C tests share: reading the PyTorch reference's HDF5 files, comparing arrays
// with a stated tolerance, and a failure counter that decides the exit status.
#pragma once
#include <stddef.h>
#include <stdio.h>
#include "io/config.h"

extern int tu_failures;

// Reads dataset `name` of `file` as float32 (any numeric type is converted); n = element count.
// Aborts the test (exit 1) with a message when missing. Caller frees.
float *tu_read_f32(const char *file, const char *name, size_t *n);
double *tu_read_f64(const char *file, const char *name, size_t *n);
int tu_has(const char *file, const char *name);
// Integer attribute `attr` of object `obj` (a dataset or group) of `file`.
long tu_attr_long(const char *file, const char *obj, const char *attr);

// max|got-want| / max(max|want|, floor): one figure per tensor, printed with its name.
double tu_rel_err(const float *got, const float *want, size_t n);
// Checks rel_err <= tol; prints "ok"/"FAIL" with the figure; counts failures. Returns 1 when ok.
int tu_close(const char *what, const float *got, const float *want, size_t n, double tol);
int tu_close_d(const char *what, const double *got, const double *want, size_t n, double tol);
#define TU_CHECK(cond, ...)                                                     \
    do {                                                                        \
        if (!(cond)) {                                                          \
            tu_failures++;                                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
        }                                                                       \
    } while (0)
// A test's config: defaults, then file (NULL: none), then n_sets "section.key=value" overrides.
// Prints the error and exits 1 when one fails, as the readers above do.
void tu_load_config(Config *cfg, const char *file, char *const *sets, int n_sets);
// Prints a summary and returns the exit status for main.
int tu_done(const char *test);
