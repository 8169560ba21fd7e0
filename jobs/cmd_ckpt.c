// cmd_ckpt: `ratlip ckpt info FILE` (step, provenance, config summary, every tensor with its shape
// and L2 norm) and `ratlip ckpt verify FILE` (reads every tensor with its checksum; exits non-zero
// naming the first bad one).
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "io/ckpt.h"
#include "io/config.h"
#include "jobs/commands.h"

typedef struct { long tensors; double elements; } Tally;

static int print_tensor(const char *name, int ndim, const int64_t *shape, const double *data, size_t n, void *user) {
    Tally *t = user;
    double ss = 0;   // long sums in double (DESIGN.md)
    for (size_t i = 0; i < n; i++) ss += data[i] * data[i];
    char sh[96];
    size_t k = (size_t)snprintf(sh, sizeof sh, "[");
    for (int i = 0; i < ndim && k < sizeof sh; i++)
        k += (size_t)snprintf(sh + k, sizeof sh - k, "%s%" PRId64, i ? "," : "", shape[i]);
    if (k < sizeof sh) snprintf(sh + k, sizeof sh - k, "]");
    printf("  %-64s %-20s norm %.6g\n", name, sh, sqrt(ss));
    t->tensors++;
    t->elements += (double)n;
    return 0;
}

static int count_tensor(const char *name, int ndim, const int64_t *shape, const double *data, size_t n, void *user) {
    (void)name, (void)ndim, (void)shape, (void)data;
    Tally *t = user;
    t->tensors++;
    t->elements += (double)n;
    return 0;
}

static void print_meta(const char *path, const CkptMeta *m) {
    time_t tt = (time_t)m->unix_time;
    char when[64] = "?";
    struct tm tmv;
    if (gmtime_r(&tt, &tmv)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tmv);
    printf("checkpoint %s\n  format %" PRId64 ", ratlip %s (git %s), world size %" PRId64 ", written %s\n", path,
           m->format_version, m->ratlip_version, m->git_rev, m->world_size, when);
    printf("  step %" PRId64 ", epoch %" PRId64 ", reader (epoch %" PRId64 ", cursor %" PRId64 "), seed %" PRId64 "\n",
           m->step, m->epoch, m->reader_epoch, m->reader_cursor, m->seed);
    for (int i = 0; i < m->n_extra; i++) {
        if (m->extra[i].is_int) printf("  %s = %" PRId64 "\n", m->extra[i].name, m->extra[i].i);
        else printf("  %s = %.9g\n", m->extra[i].name, m->extra[i].d);
    }
    if (m->config_json && m->config_json[0]) {
        Config c;
        config_defaults(&c);
        Err e = {{0}};
        if (config_from_json_string(&c, m->config_json, "config_json", &e) == 0) {
            const ModelConfig *mc = &c.model;
            printf("  config \"%s\": image %d, rat_mode %s, CLIP %d/%d w%d L%d, batch/rank %d, steps %ld, lr G %g D %g\n",
                   c.name, mc->image_size, mc->rat_mode, mc->clip_image_size, mc->clip_patch, mc->clip_width,
                   mc->clip_layers, c.train.batch_per_rank, c.train.steps, c.train.lr_g, c.train.lr_d);
        } else {
            printf("  config: not readable by this ratlip (%s)\n", e.msg);
        }
    }
}

int cmd_ckpt(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "info") != 0 && strcmp(argv[1], "verify") != 0)) {
        fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
                "usage: ratlip ckpt info FILE     step, provenance, config summary, tensors with shapes and norms\n"
                "       ratlip ckpt verify FILE   read every tensor with its checksum; non-zero exit on the first bad one\n");
        return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    int info = !strcmp(argv[1], "info");
    Tally t = {0, 0};
    CkptMeta m;
    Err e = {{0}};
    if (info) printf("tensors of %s:\n", argv[2]);
    if (ckpt_visit(argv[2], info ? print_tensor : count_tensor, &t, &m, &e)) {
        fprintf(stderr, "ratlip ckpt %s: %s\n", argv[1], e.msg);
        return 1;
    }
    if (info) print_meta(argv[2], &m);
    printf("%s: %ld tensors, %.0f elements, all checksums good\n", argv[2], t.tensors, t.elements);
    ckpt_meta_free(&m);
    return 0;
}
