// fuzz_ckpt: an HDF5 file's bytes -> a checkpoint, the three ways ratlip opens one (io/ckpt.h):
//  - `ratlip ckpt verify`: ckpt_visit reads every tensor with its checksum;
//  - `ratlip sample|eval`: the stored config_json goes through config_from_json_string (io/runload.c);
//  - `--resume auto`: ckpt_find_latest on the directory loads it into declared networks (the two of
//    fuzz_util.h, which tests/fuzz/gen_seeds.c saved into the seeds).
// Checks: a refused file has an error naming it; a failed load leaves the networks untouched
// (ckpt.h promises it: a resume that skips a bad checkpoint must not keep half of it); the visitor
// sees consistent shapes; nothing is left open in HDF5.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/ckpt.h"
#include "io/config.h"

#define SENTINEL ((real)7.25)

static ParamSet net_g, net_ema;

typedef struct {
    size_t file_bytes;
    double sum;
} Visit;

static int visit(const char *name, int ndim, const int64_t *shape, const double *data, size_t n, void *user) {
    FUZZ_CHECK(name && name[0], "tensor without a name");
    FUZZ_CHECK(ndim >= 0 && ndim <= 8, "%s: ndim %d", name, ndim);
    size_t want = 1;
    for (int i = 0; i < ndim; i++) want *= (size_t)shape[i];
    FUZZ_CHECK(n == want, "%s: %zu values for a shape of %zu (ndim %d)", name, n, want, ndim);
    // a verify never hands out more values than the file has bytes: a damaged shape must not make
    // it allocate and read gigabytes of fill values
    Visit *v = user;
    FUZZ_CHECK(n <= v->file_bytes, "%s: %zu values from a file of %zu bytes", name, n, v->file_bytes);
    for (size_t i = 0; i < n; i++) v->sum += data[i];
    return 0;
}

static void fill(ParamSet *ps, real v) {
    for (size_t i = 0; i < ps->total; i++) ps->data[i] = v;
    for (size_t i = 0; i < ps->n_trainable; i++) ps->adam_m[i] = ps->adam_v[i] = v;
    ps->adam_step = -3;
}

static int untouched(const ParamSet *ps) {
    for (size_t i = 0; i < ps->total; i++)
        if (ps->data[i] != SENTINEL) return 0;
    for (size_t i = 0; i < ps->n_trainable; i++)
        if (ps->adam_m[i] != SENTINEL || ps->adam_v[i] != SENTINEL) return 0;
    return ps->adam_step == -3;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!net_g.data) {
        fuzz_declare_net(&net_g);
        fuzz_declare_net(&net_ema);
    }
    const char *path = fuzz_write("ckpt-00000001.h5", data, size);
    char file[4400];
    snprintf(file, sizeof file, "%s", path);

    // verify
    CkptMeta meta;
    memset(&meta, 0, sizeof meta);
    Visit v = {size, 0};
    Err e = {{0}};
    if (ckpt_visit(file, visit, &v, &meta, &e) == 0) {
        if (meta.config_json) {   // what `ratlip sample` does with it
            Config c;
            Err ce = {{0}};
            config_defaults(&c);
            if (config_from_json_string(&c, meta.config_json, file, &ce) == 0) config_validate(&c, &ce);
            else fuzz_check_err(&ce, file);
        }
        ckpt_meta_free(&meta);
    } else {
        fuzz_check_err(&e, file);
    }
    fuzz_sink = (unsigned)(v.sum != v.sum);
    fuzz_check_h5_closed("ckpt_visit");

    // resume
    fill(&net_g, SENTINEL);
    fill(&net_ema, SENTINEL);
    CkptNet nets[2] = {{"netG", &net_g, 0}, {"netG_ema", &net_ema, 1}};
    char found[4400] = "", report[8192];
    memset(&meta, 0, sizeof meta);
    int rc = ckpt_find_latest(fuzz_dir(), nets, 2, &meta, found, sizeof found, report, sizeof report, &e);
    FUZZ_CHECK(rc == 0 || rc == 1, "ckpt_find_latest returned %d", rc);
    if (rc == 1) {
        FUZZ_CHECK(!strcmp(found, file), "loaded %s, not %s", found, file);
        ckpt_meta_free(&meta);
    } else {
        FUZZ_CHECK(strstr(report, file) != NULL, "the skip report does not name %s: %s", file, report);
        FUZZ_CHECK(untouched(&net_g) && untouched(&net_ema), "a failed load changed the networks");
    }
    fuzz_check_h5_closed("ckpt_find_latest");
    return 0;
}
