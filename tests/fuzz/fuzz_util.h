// fuzz_util: what the libFuzzer targets share. The io functions under test take paths (as the program
// calls them), so each input is written to a file in a per-process scratch directory under $TMPDIR;
// the checks that turn a quiet misbehaviour into a crash libFuzzer reports (an error without a
// message, an HDF5 object left open) live here too. Header-only: each target is one .c file.
#pragma once
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/err.h"
#include "core/params.h"

// Stops the run with a message: libFuzzer reports the abort as a crash and saves the input.
#define FUZZ_CHECK(cond, ...)                                        \
    do {                                                             \
        if (!(cond)) {                                               \
            fprintf(stderr, "fuzz check failed: %s: ", #cond);       \
            fprintf(stderr, __VA_ARGS__);                            \
            fputc('\n', stderr);                                     \
            abort();                                                 \
        }                                                            \
    } while (0)

static char fuzz_dir_path[4096];
// Values the targets compute from what they read, stored so the reads (and ASan's checks) stay.
static volatile unsigned fuzz_sink;

static inline void fuzz_dir_remove(void) {
    char cmd[4200];
    if (!fuzz_dir_path[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_path);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir_path);
}

// The scratch directory of this process: $TMPDIR/ratlip-fuzz-XXXXXX, removed at exit.
static inline const char *fuzz_dir(void) {
    if (fuzz_dir_path[0]) return fuzz_dir_path;
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/ratlip-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(fuzz_dir_path)) {
        perror(fuzz_dir_path);
        abort();
    }
    atexit(fuzz_dir_remove);
    return fuzz_dir_path;
}

// Writes data to <scratch>/name (replacing it) and returns the path (static storage).
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
    static char path[4400];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

// An error is a value with a message that names the file (DESIGN.md, "Errors are values").
static inline void fuzz_check_err(const Err *e, const char *path) {
    FUZZ_CHECK(memchr(e->msg, 0, sizeof e->msg) != NULL, "error message not terminated");
    FUZZ_CHECK(e->msg[0] != 0, "failed without a message (%s)", path);
    FUZZ_CHECK(strstr(e->msg, path) != NULL, "the message does not name %s: %s", path, e->msg);
}

// HDF5 files, groups, datasets, named datatypes and attributes still open. A reader that leaks one on
// an error path keeps the file open: the shard or checkpoint stays locked and its memory held, and
// the next H5Fopen of the same path gets the stale shared file back.
static inline ssize_t fuzz_h5_open_objects(void) { return H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); }

static inline void fuzz_check_h5_closed(const char *what) {
    ssize_t n = fuzz_h5_open_objects();
    FUZZ_CHECK(n == 0, "%s left %zd HDF5 object(s) open", what, n);
}

// The two networks of the checkpoint seeds (tests/fuzz/gen_seeds.c writes them, fuzz_ckpt loads
// them): every kind of tensor (trainable, frozen, buffer, 0-d) and an EMA copy without Adam state.
static inline void fuzz_declare_net(ParamSet *ps) {
    memset(ps, 0, sizeof(*ps));
    params_declare(ps, "fc.weight", PARAM_TRAINABLE, 2, (const int[]){2, 3});
    params_declare(ps, "clip.proj", PARAM_FROZEN, 1, (const int[]){2});
    params_declare(ps, "bn.running_mean", PARAM_BUFFER, 1, (const int[]){2});
    params_declare(ps, "bn.num_batches_tracked", PARAM_BUFFER, 0, NULL);
    FUZZ_CHECK(params_finalize(ps) == 0, "declaring the checkpoint nets failed");
}
