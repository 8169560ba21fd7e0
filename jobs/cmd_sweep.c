// cmd_sweep: `ratlip sweep expand SWEEP.json --out DIR` turns a sweep spec into numbered trial
// configs that slurm/sweep.sbatch runs as a job array (one array task per trial).
//
// Sweep spec (JSON):
//   {
//     "name":    "lr-sweep",                      optional, default: the file's stem
//     "base":    "../jobs/configs/tiny.json",     optional config file, relative to SWEEP.json
//     "set":     {"train.steps": 40},             fixed overrides, any config key
//     "grid":    {"train.lr_g": [1e-4, 2e-4],     every combination (cartesian product); the
//                 "model.rat_mode": ["sample", "batch"]},   last key varies fastest
//     "random":  {"train.beta2": {"uniform": [0.9, 0.999]},
//                 "train.lr_d":  {"log_uniform": [1e-4, 1e-3]},
//                 "train.seed":  {"int": [0, 1000]},         inclusive bounds
//                 "model.sync_bn": {"choice": [false, true]}},
//     "samples": 2,                               random draws per grid point (default 1)
//     "seed":    7                                seeds the random axes (default 0)
//   }
// Trials = (product of grid sizes) x samples, numbered 0.. with the grid point major. A random value
// is a pure function of (seed, trial number, axis number) through the Philox generator, so the
// expansion is reproducible and does not depend on the order axes are drawn in.
//
// Output in DIR:  trials/trial-NNNN.json  the full resolved config of trial NNNN (validated)
//                 runs/trial-NNNN/        where sweep.sbatch runs it (created on demand by train)
//                 sweep.json              manifest: name, n_trials, swept keys, per-trial values
// Expanding again into the same DIR rewrites identical files; finished runs are untouched.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/rng.h"
#include "io/config.h"
#include "io/fs.h"
#include "jobs/commands.h"

#define SWEEP_MAX_AXES 32
#define SWEEP_MAX_TRIALS 100000
// Philox purpose of sweep draws: outside core/rng.h's training purposes so no stream is shared.
#define SWEEP_RNG_PURPOSE 0x53574550u

typedef enum { AX_GRID, AX_UNIFORM, AX_LOG_UNIFORM, AX_INT, AX_CHOICE } AxisKind;

typedef struct {
    const char *key;        // config key ("train.lr_g")
    AxisKind kind;
    const cJSON *values;    // grid / choice: the array of values
    double lo, hi;          // uniform, log_uniform, int
} Axis;

static int key_known(const char *key) {
    for (int i = 0; i < config_key_count(); i++)
        if (!strcmp(config_key_name(i), key)) return 1;
    return 0;
}

// Parses one "random" axis: {"uniform": [lo, hi]} and friends.
static int parse_random_axis(const char *spec, const cJSON *item, Axis *a, Err *e) {
    const cJSON *d = item->child;
    if (!cJSON_IsObject(item) || !d || d->next)
        return err_set(e, "%s: random.%s: expected one of {\"uniform\"|\"log_uniform\"|\"int\": [lo, hi]} or "
                          "{\"choice\": [v1, v2, ...]}", spec, a->key);
    if (!strcmp(d->string, "choice")) {
        if (!cJSON_IsArray(d) || cJSON_GetArraySize(d) < 1)
            return err_set(e, "%s: random.%s.choice: expected a non-empty list", spec, a->key);
        a->kind = AX_CHOICE;
        a->values = d;
        return 0;
    }
    if (!strcmp(d->string, "uniform")) a->kind = AX_UNIFORM;
    else if (!strcmp(d->string, "log_uniform")) a->kind = AX_LOG_UNIFORM;
    else if (!strcmp(d->string, "int")) a->kind = AX_INT;
    else return err_set(e, "%s: random.%s: unknown distribution '%s' (uniform, log_uniform, int, choice)", spec, a->key,
                        d->string);
    if (!cJSON_IsArray(d) || cJSON_GetArraySize(d) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(d, 0)) ||
        !cJSON_IsNumber(cJSON_GetArrayItem(d, 1)))
        return err_set(e, "%s: random.%s.%s: expected [lo, hi] numbers", spec, a->key, d->string);
    a->lo = cJSON_GetArrayItem(d, 0)->valuedouble;
    a->hi = cJSON_GetArrayItem(d, 1)->valuedouble;
    if (!(a->lo <= a->hi)) return err_set(e, "%s: random.%s: lo %g > hi %g", spec, a->key, a->lo, a->hi);
    if (a->kind == AX_LOG_UNIFORM && !(a->lo > 0))
        return err_set(e, "%s: random.%s.log_uniform: bounds must be positive, got %g", spec, a->key, a->lo);
    if (a->kind == AX_INT && (a->lo != floor(a->lo) || a->hi != floor(a->hi)))
        return err_set(e, "%s: random.%s.int: bounds must be integers", spec, a->key);
    return 0;
}

// A uniform double in [0, 1) with 53 random bits, from (seed, trial, axis).
static double draw01(uint64_t seed, int trial, int axis) {
    uint32_t w[4];
    rng_block(rng_key(seed, SWEEP_RNG_PURPOSE), (uint64_t)trial, (uint64_t)axis, w);
    uint64_t bits = ((uint64_t)w[0] << 21) ^ (uint64_t)(w[1] >> 11);
    return (double)(bits & ((1ull << 53) - 1)) / 9007199254740992.0;
}

// The value axis `ai` takes in trial `t` (grid coordinate g for grid axes). Caller deletes.
static cJSON *axis_value(const Axis *a, int ai, int g, int t, uint64_t seed) {
    double u = a->kind == AX_GRID ? 0 : draw01(seed, t, ai);
    switch (a->kind) {
    case AX_GRID: return cJSON_Duplicate(cJSON_GetArrayItem(a->values, g), 1);
    case AX_CHOICE: {
        int n = cJSON_GetArraySize(a->values);
        int k = (int)(u * n);
        return cJSON_Duplicate(cJSON_GetArrayItem(a->values, k < n ? k : n - 1), 1);
    }
    case AX_UNIFORM: return cJSON_CreateNumber(a->lo + u * (a->hi - a->lo));
    case AX_LOG_UNIFORM: return cJSON_CreateNumber(exp(log(a->lo) + u * (log(a->hi) - log(a->lo))));
    case AX_INT: {
        double v = a->lo + floor(u * (a->hi - a->lo + 1));
        return cJSON_CreateNumber(v > a->hi ? a->hi : v);
    }
    }
    return NULL;
}

// config_set takes "key=<json>"; strings go in bare (config_set treats non-JSON as a string).
static int apply_value(Config *c, const char *key, const cJSON *v, Err *e) {
    char *txt = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
    const char *val = txt ? txt : v->valuestring;
    size_t n = strlen(key) + strlen(val) + 2;
    char *asg = malloc(n);
    snprintf(asg, n, "%s=%s", key, val);
    int rc = config_set(c, asg, e);
    free(asg);
    free(txt);
    return rc;
}

typedef struct {
    const char *spec_path;
    char base[4096];             // resolved base config path ("" = defaults)
    char name[64];
    const cJSON *set;
    Axis axes[SWEEP_MAX_AXES];
    int n_axes, n_grid;          // grid axes come first
    int samples, n_trials;
    uint64_t seed;
} Sweep;

static int sweep_parse(Sweep *s, const cJSON *root, Err *e) {
    const char *spec = s->spec_path;
    if (!cJSON_IsObject(root)) return err_set(e, "%s: expected a JSON object", spec);
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "name") && strcmp(k, "base") && strcmp(k, "set") && strcmp(k, "grid") && strcmp(k, "random") &&
            strcmp(k, "samples") && strcmp(k, "seed"))
            return err_set(e, "%s: unknown key '%s' (name, base, set, grid, random, samples, seed)", spec, k);
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (name && !cJSON_IsString(name)) return err_set(e, "%s: name: expected a string", spec);
    if (name) snprintf(s->name, sizeof s->name, "%s", name->valuestring);
    else {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", spec);
        char *b = basename(tmp), *dot = strrchr(b, '.');
        if (dot) *dot = 0;
        snprintf(s->name, sizeof s->name, "%s", b);
    }
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(root, "base");
    s->base[0] = 0;
    if (base) {
        if (!cJSON_IsString(base)) return err_set(e, "%s: base: expected a config file path", spec);
        if (base->valuestring[0] == '/') snprintf(s->base, sizeof s->base, "%s", base->valuestring);
        else {
            char tmp[4096];
            snprintf(tmp, sizeof tmp, "%s", spec);
            snprintf(s->base, sizeof s->base, "%s/%s", dirname(tmp), base->valuestring);
        }
    }
    s->set = cJSON_GetObjectItemCaseSensitive(root, "set");
    if (s->set && !cJSON_IsObject(s->set)) return err_set(e, "%s: set: expected {\"key\": value, ...}", spec);
    for (const cJSON *it = s->set ? s->set->child : NULL; it; it = it->next)
        if (!key_known(it->string)) return err_set(e, "%s: set.%s: not a config key (ratlip config show lists them)", spec, it->string);

    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(root, "grid");
    const cJSON *rnd = cJSON_GetObjectItemCaseSensitive(root, "random");
    if (grid && !cJSON_IsObject(grid)) return err_set(e, "%s: grid: expected {\"key\": [values], ...}", spec);
    if (rnd && !cJSON_IsObject(rnd)) return err_set(e, "%s: random: expected {\"key\": {dist: ...}, ...}", spec);
    s->n_axes = 0;
    long n_points = 1;
    for (const cJSON *it = grid ? grid->child : NULL; it; it = it->next) {
        if (s->n_axes == SWEEP_MAX_AXES) return err_set(e, "%s: more than %d axes", spec, SWEEP_MAX_AXES);
        if (!key_known(it->string)) return err_set(e, "%s: grid.%s: not a config key (ratlip config show lists them)", spec, it->string);
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) < 1) return err_set(e, "%s: grid.%s: expected a non-empty list", spec, it->string);
        s->axes[s->n_axes++] = (Axis){.key = it->string, .kind = AX_GRID, .values = it};
        n_points *= cJSON_GetArraySize(it);
        if (n_points > SWEEP_MAX_TRIALS) return err_set(e, "%s: grid: more than %d points", spec, SWEEP_MAX_TRIALS);
    }
    s->n_grid = s->n_axes;
    for (const cJSON *it = rnd ? rnd->child : NULL; it; it = it->next) {
        if (s->n_axes == SWEEP_MAX_AXES) return err_set(e, "%s: more than %d axes", spec, SWEEP_MAX_AXES);
        if (!key_known(it->string)) return err_set(e, "%s: random.%s: not a config key (ratlip config show lists them)", spec, it->string);
        for (int i = 0; i < s->n_grid; i++)
            if (!strcmp(s->axes[i].key, it->string)) return err_set(e, "%s: %s is both a grid and a random axis", spec, it->string);
        Axis *a = &s->axes[s->n_axes];
        a->key = it->string;
        if (parse_random_axis(spec, it, a, e)) return -1;
        s->n_axes++;
    }
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(root, "samples");
    s->samples = 1;
    if (samples) {
        if (!cJSON_IsNumber(samples) || samples->valuedouble < 1 || samples->valuedouble != floor(samples->valuedouble))
            return err_set(e, "%s: samples: expected a positive integer", spec);
        s->samples = samples->valueint;
    }
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    s->seed = 0;
    if (seed) {
        if (!cJSON_IsNumber(seed) || seed->valuedouble < 0 || seed->valuedouble != floor(seed->valuedouble))
            return err_set(e, "%s: seed: expected a non-negative integer", spec);
        s->seed = (uint64_t)seed->valuedouble;
    }
    if (n_points * s->samples > SWEEP_MAX_TRIALS) return err_set(e, "%s: more than %d trials", spec, SWEEP_MAX_TRIALS);
    s->n_trials = (int)(n_points * s->samples);
    return 0;
}

// Builds trial t's config and its swept values (an object key -> value, caller deletes).
static int sweep_trial(const Sweep *s, int t, Config *c, cJSON **values, Err *e) {
    if (config_resolve(c, s->base[0] ? s->base : NULL, 0, NULL, e)) return -1;
    for (const cJSON *it = s->set ? s->set->child : NULL; it; it = it->next)
        if (apply_value(c, it->string, it, e)) return -1;
    *values = cJSON_CreateObject();
    int g = t / s->samples;   // grid point; last grid axis fastest
    int stride = 1;
    int coord[SWEEP_MAX_AXES] = {0};
    for (int i = s->n_grid - 1; i >= 0; i--) {
        int n = cJSON_GetArraySize(s->axes[i].values);
        coord[i] = (g / stride) % n;
        stride *= n;
    }
    for (int i = 0; i < s->n_axes; i++) {
        cJSON *v = axis_value(&s->axes[i], i, coord[i], t, s->seed);
        if (apply_value(c, s->axes[i].key, v, e)) {
            cJSON_Delete(v);
            char m[sizeof e->msg];
            snprintf(m, sizeof m, "%s", e->msg);
            return err_set(e, "%s: trial %d: %s", s->spec_path, t, m);
        }
        cJSON_AddItemToObject(*values, s->axes[i].key, v);
    }
    snprintf(c->name, sizeof c->name, "%.50s-%04d", s->name, t % 100000);
    if (config_validate(c, e)) {
        char m[sizeof e->msg];
        snprintf(m, sizeof m, "%s", e->msg);
        return err_set(e, "%s: trial %d is not a valid config: %s", s->spec_path, t, m);
    }
    return 0;
}

static int sweep_expand(const char *spec_path, const char *out, int quiet, Err *e) {
    char *text = fs_read_all(spec_path, 0, NULL, e);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return err_set(e, "%s: not valid JSON (near '%.20s')", spec_path, cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
    Sweep s = {.spec_path = spec_path};
    int rc = sweep_parse(&s, root, e);
    char path[4200];
    if (!rc) rc = fs_mkdir_p(out, e);
    snprintf(path, sizeof path, "%s/trials", out);
    if (!rc) rc = fs_mkdir_p(path, e);
    snprintf(path, sizeof path, "%s/runs", out);
    if (!rc) rc = fs_mkdir_p(path, e);
    cJSON *manifest = cJSON_CreateObject(), *trials = cJSON_CreateArray(), *keys = cJSON_CreateArray();
    cJSON_AddStringToObject(manifest, "name", s.name);
    cJSON_AddNumberToObject(manifest, "n_trials", s.n_trials);
    cJSON_AddNumberToObject(manifest, "seed", (double)s.seed);
    for (int i = 0; i < s.n_axes; i++) cJSON_AddItemToArray(keys, cJSON_CreateString(s.axes[i].key));
    cJSON_AddItemToObject(manifest, "keys", keys);
    cJSON_AddItemToObject(manifest, "trials", trials);
    for (int t = 0; !rc && t < s.n_trials; t++) {
        Config c;
        cJSON *values = NULL;
        rc = sweep_trial(&s, t, &c, &values, e);
        if (rc) { cJSON_Delete(values); break; }
        char rel[64], run[64];
        snprintf(rel, sizeof rel, "trials/trial-%04d.json", t);
        snprintf(run, sizeof run, "runs/trial-%04d", t);
        snprintf(path, sizeof path, "%s/%s", out, rel);
        char *json = config_to_json(&c);
        rc = fs_write_atomic(path, json, strlen(json), e);
        free(json);
        cJSON *tr = cJSON_CreateObject();
        cJSON_AddNumberToObject(tr, "trial", t);
        cJSON_AddStringToObject(tr, "config", rel);
        cJSON_AddStringToObject(tr, "run_dir", run);
        if (!quiet) {
            char *v = cJSON_PrintUnformatted(values);
            printf("trial %04d  %s\n", t, v);
            free(v);
        }
        cJSON_AddItemToObject(tr, "values", values);
        cJSON_AddItemToArray(trials, tr);
    }
    if (!rc) {
        char *m = cJSON_Print(manifest);
        snprintf(path, sizeof path, "%s/sweep.json", out);
        rc = fs_write_atomic(path, m, strlen(m), e);
        free(m);
    }
    if (!rc)
        printf("sweep %s: %d trial%s in %s/trials (run with: sbatch --array=0-%d%%2 slurm/sweep.sbatch %s)\n", s.name,
               s.n_trials, s.n_trials == 1 ? "" : "s", out, s.n_trials - 1, out);
    cJSON_Delete(manifest);
    cJSON_Delete(root);
    return rc;
}

static int sweep_expand_cmd(int argc, char **argv) {
    const char *spec = NULL, *out = NULL;
    int quiet;
    const OptSpec opts[] = {
        OPT_ARG("SWEEP.json", &spec, OPT_REQ, "the sweep spec (format at the top of jobs/cmd_sweep.c and in README.md)"),
        OPT_PATH("out", 'o', &out, OPT_REQ, "DIR", "where trials/, sweep.json and runs/ go"),
        OPT_FLAG("quiet", 'q', &quiet, "no line per trial"),
        {0}};
    const OptCommand cmd = {"sweep expand", NULL,
                            "Writes DIR/trials/trial-NNNN.json (full configs), DIR/sweep.json (manifest) and DIR/runs/,\n"
                            "for slurm/submit-sweep.sh (one array task per trial).\n",
                            NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    Err e = {{0}};
    if (sweep_expand(spec, out, quiet, &e)) {
        fprintf(stderr, "ratlip sweep expand: %s\n", e.msg);
        return 1;
    }
    return 0;
}

int cmd_sweep(int argc, char **argv) {
    static const Command subs[] = {{"expand", sweep_expand_cmd, "a sweep spec into numbered trial configs"}};
    return opt_dispatch("sweep", NULL, subs, 1, argc, argv);
}
