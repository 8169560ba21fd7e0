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
    int nf = 0, changed = 0, strict = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--changed")) changed = 1;
        else if (!strcmp(argv[i], "--fail-if-different")) strict = 1;
        else if (argv[i][0] != '-' && nf < 2) f[nf++] = argv[i];
        else nf = 3;
    }
    if (nf != 2) {
        fprintf(stderr, "usage: ratlip ckpt diff A B [--changed] [--fail-if-different]\n"
                        "  per tensor: |A|, |B|, |B-A|, |B-A|/|A|, max|B-A|; --changed prints only tensors that differ;\n"
                        "  --fail-if-different exits 3 unless every tensor is bit-identical\n");
        return 2;
    }
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
    int ema = 0, bad = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc) fmt = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--clip-weights") && i + 1 < argc) clip = argv[++i];
        else if (!strcmp(argv[i], "--ema")) ema = 1;
        else if (argv[i][0] != '-' && !ckpt) ckpt = argv[i];
        else bad = 1;
    }
    if (bad || !fmt || !out || !ckpt) {
        fprintf(stderr, "usage: ratlip ckpt export --format torch --out FILE.pth [--ema] [--clip-weights FILE] CKPT\n"
                        "  writes the upstream RATLIP checkpoint dict (torch.load-able): module.-prefixed netG/netD/netC\n"
                        "  state_dicts and the Adam optimizer dicts; --ema exports the EMA generator as netG\n");
        return 2;
    }
    if (strcmp(fmt, "torch") != 0) {
        fprintf(stderr, "ratlip ckpt export: --format %s: unknown format (supported: torch)\n", fmt);
        return 2;
    }
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

int cmd_ckpt(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "diff")) return ckpt_diff_cmd(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "export")) return ckpt_export_cmd(argc, argv);
    if (argc != 3 || (strcmp(argv[1], "info") != 0 && strcmp(argv[1], "verify") != 0)) {
        fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
                "usage: ratlip ckpt info FILE     step, provenance, config summary, tensors with shapes and norms\n"
                "       ratlip ckpt verify FILE   read every tensor with its checksum; non-zero exit on the first bad one\n"
                "       ratlip ckpt diff A B      per-tensor norms and relative change (--help for options)\n"
                "       ratlip ckpt export --format torch --out FILE.pth CKPT   upstream PyTorch checkpoint dict\n");
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
