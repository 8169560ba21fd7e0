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
#include "analysis/analysis.h"
#include <unistd.h>
#include <sys/wait.h>

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

// `ratlip ckpt diff A B [--changed] [--fail-if-different]` (analysis/ckpt_diff.c)
static int ckpt_diff_cmd(int argc, char **argv) {
    const char *f[2] = {NULL, NULL};
    int changed, strict;
    const OptSpec opts[] = {
        OPT_ARG("A", &f[0], OPT_REQ, "checkpoint"),
        OPT_ARG("B", &f[1], OPT_REQ, "checkpoint compared with A"),
        OPT_FLAG("changed", 0, &changed, "print only the tensors that differ"),
        OPT_FLAG("fail-if-different", 0, &strict, "exit 3 unless every tensor is bit-identical"),
        {0}};
    const OptCommand cmd = {"ckpt diff", NULL, "Per tensor: |A|, |B|, |B-A|, |B-A|/|A|, max|B-A|.\n",
                            "exit status 3: --fail-if-different and some tensor differs.\n", opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    long ndiff = 0;
    Err e = {{0}};
    if (analysis_ckpt_diff(f[0], f[1], changed, stdout, &ndiff, &e)) {
        fprintf(stderr, "ratlip ckpt diff: %s\n", e.msg);
        return 1;
    }
    return strict && ndiff ? 3 : 0;
}

// `ratlip ckpt export --format torch --out FILE.pth [--ema] [--clip-weights FILE] CKPT`: runs the
// converter io/tools/export_torch.py (PyTorch lives in Python) with /usr/bin/python3 (or
// $RATLIP_PYTHON); $RATLIP_TOOLS_DIR overrides where the converter is looked up.
static int ckpt_export_cmd(int argc, char **argv) {
    const char *fmt = NULL, *out = NULL, *ckpt = NULL, *clip = NULL;
    int ema;
    const OptSpec opts[] = {
        OPT_ARG("CKPT", &ckpt, OPT_REQ, "checkpoint of `ratlip train`"),
        OPT_CHOICE("format", 0, &fmt, OPT_REQ, "torch", NULL, "the upstream RATLIP checkpoint dict (torch.load-able)"),
        OPT_PATH("out", 'o', &out, OPT_REQ, "FILE.pth", "the file written"),
        OPT_FLAG("ema", 0, &ema, "export the EMA generator as netG"),
        OPT_PATH("clip-weights", 0, &clip, 0, "FILE", "CLIP weight file for netG's mapping.CLIP_ViT.* copies (default: the config's model.clip_weights)"),
        {0}};
    const OptCommand cmd = {
        "ckpt export", NULL,
        "Writes the upstream RATLIP checkpoint dict (torch.load-able): module.-prefixed netG/netD/netC\n"
        "state_dicts and the Adam optimizer dicts. Runs io/tools/export_torch.py with /usr/bin/python3\n"
        "($RATLIP_PYTHON; $RATLIP_TOOLS_DIR: where the converter is looked up).\n",
        NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    (void)fmt;  // torch is the only format
    const char *py = getenv("RATLIP_PYTHON") ? getenv("RATLIP_PYTHON") : "/usr/bin/python3";
    const char *tools = getenv("RATLIP_TOOLS_DIR") ? getenv("RATLIP_TOOLS_DIR") : RATLIP_SOURCE_DIR "/io/tools";
    char script[4200];
    snprintf(script, sizeof script, "%s/export_torch.py", tools);
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "ratlip ckpt export: %s: converter not found (set RATLIP_TOOLS_DIR to the io/tools directory "
                        "of a ratlip source tree)\n", script);
        return 1;
    }
    char *args[16];
    int n = 0;
    args[n++] = (char *)py;
    args[n++] = script;
    args[n++] = (char *)ckpt;
    args[n++] = "--out";
    args[n++] = (char *)out;
    if (ema) args[n++] = "--ema";
    if (clip) {
        args[n++] = "--clip-weights";
        args[n++] = (char *)clip;
    }
    args[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execv(py, args);
        fprintf(stderr, "ratlip ckpt export: cannot run %s (install python3-torch and python3-h5py)\n", py);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) {
        fprintf(stderr, "ratlip ckpt export: cannot start %s\n", py);
        return 1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

// `ratlip ckpt info FILE` and `ratlip ckpt verify FILE`
static int ckpt_read_cmd(int argc, char **argv) {
    int info = !strcmp(argv[0], "info");
    const char *file = NULL;
    const OptSpec opts[] = {OPT_ARG("FILE", &file, OPT_REQ, "checkpoint"), {0}};
    const OptCommand cmd = {
        info ? "ckpt info" : "ckpt verify", NULL,
        info ? "Step, provenance, config summary, and every tensor with its shape and L2 norm (checksums checked).\n"
             : "Reads every tensor with its checksum; exits 1 naming the first bad one.\n",
        NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    Tally t = {0, 0};
    CkptMeta m;
    Err e = {{0}};
    if (info) printf("tensors of %s:\n", file);
    if (ckpt_visit(file, info ? print_tensor : count_tensor, &t, &m, &e)) {
        fprintf(stderr, "ratlip ckpt %s: %s\n", argv[0], e.msg);
        return 1;
    }
    if (info) print_meta(file, &m);
    printf("%s: %ld tensors, %.0f elements, all checksums good\n", file, t.tensors, t.elements);
    ckpt_meta_free(&m);
    return 0;
}

int cmd_ckpt(int argc, char **argv) {
    static const Command subs[] = {
        {"info", ckpt_read_cmd, "step, provenance, config summary, tensors with shapes and norms"},
        {"verify", ckpt_read_cmd, "read every tensor with its checksum; non-zero exit on the first bad one"},
        {"diff", ckpt_diff_cmd, "per-tensor norms and relative change between two checkpoints"},
        {"export", ckpt_export_cmd, "the upstream PyTorch checkpoint dict (--format torch)"},
    };
    return opt_dispatch("ckpt", "Inspect, check, compare or export checkpoints.", subs,
                        (int)(sizeof subs / sizeof subs[0]), argc, argv);
}
