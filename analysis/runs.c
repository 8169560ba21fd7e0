// runs: the table of `ratlip analyze runs` (see analysis.h). Reads only files a run directory holds:
// config.json (resolved config), status (one word), requeues (one line per Slurm requeue, written by
// slurm/*.sbatch), metrics.h5 (/train/step, loss_d, loss_g; /eval/step, fid, kid, clip_score, r_precision,
// diversity, acc_all: last, best and the step of the best; absent columns print "-"). A file that is missing
// or unreadable leaves "-" in its cells; nothing here modifies a run.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analysis/analysis.h"
#include "io/fs.h"
#include "io/metrics.h"

#define MAX_KEYS 64

typedef struct {
    char dir[4096];
    char label[256];
    cJSON *config;        // flattened: {"train.lr_g": 0.0001, ...}; NULL when unreadable
    char cells[MAX_KEYS + 32][64];
} Run;

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

// {"train": {"lr_g": 1e-4}} -> {"train.lr_g": 1e-4}
static cJSON *flatten_config(const char *path) {
    char *text = fs_read_all(path, 0, NULL, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) return NULL;
    cJSON *flat = cJSON_CreateObject();
    for (cJSON *sec = root->child; sec; sec = sec->next) {
        if (!cJSON_IsObject(sec)) {
            cJSON_AddItemToObject(flat, sec->string, cJSON_Duplicate(sec, 1));
            continue;
        }
        for (cJSON *f = sec->child; f; f = f->next) {
            char key[256];
            snprintf(key, sizeof key, "%s.%s", sec->string, f->string);
            cJSON_AddItemToObject(flat, key, cJSON_Duplicate(f, 1));
        }
    }
    cJSON_Delete(root);
    return flat;
}

// A config value as a short cell: strings bare, numbers in %g, lists compact.
static void value_cell(const cJSON *v, char *out, size_t size) {
    if (!v) snprintf(out, size, "-");
    else if (cJSON_IsString(v)) snprintf(out, size, "%s", v->valuestring);
    else if (cJSON_IsNumber(v)) snprintf(out, size, "%.6g", v->valuedouble);
    else {
        char *s = cJSON_PrintUnformatted(v);
        snprintf(out, size, "%s", s ? s : "?");
        free(s);
    }
}

static int values_equal(const cJSON *a, const cJSON *b) {
    if (!a || !b) return a == b;
    return cJSON_Compare(a, b, 1);
}

// The last finite value of column, the best (min or max) and the step of the best.
typedef struct { int have; double last, best; long best_step; } Series;

static Series series(const char *metrics, const char *column, int maximize) {
    Series s = {0, NAN, NAN, -1};
    double *steps = NULL, *v = NULL;
    size_t ns = 0, nv = 0;
    Err e;
    if (metrics_read(metrics, "eval", "step", &steps, &ns, &e) || metrics_read(metrics, "eval", column, &v, &nv, &e)) {
        free(steps);
        return s;
    }
    size_t n = ns < nv ? ns : nv;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        s.last = v[i];
        if (!s.have || (maximize ? v[i] > s.best : v[i] < s.best)) {
            s.best = v[i];
            s.best_step = (long)steps[i];
        }
        s.have = 1;
    }
    free(steps);
    free(v);
    return s;
}

static long count_lines(const char *path) {
    char *s = fs_read_all(path, 0, NULL, NULL);
    if (!s) return 0;
    long n = 0;
    for (char *p = s; *p; p++) n += *p == '\n';
    free(s);
    return n;
}

// Adds the runs of one argument: a run directory, or a sweep directory (sweep.json) = its trials.
static int add_dir(const char *dir, Run **runs, int *n, int *cap, char keys[][128], int *n_keys, Err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/sweep.json", dir);
    char *text = fs_read_all(path, 0, NULL, NULL);
    if (!text) {
        if (!is_dir(dir)) return err_set(e, "%s: not a directory (give run directories or a sweep directory)", dir);
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            *runs = realloc(*runs, (size_t)*cap * sizeof **runs);
        }
        Run *r = &(*runs)[(*n)++];
        memset(r, 0, sizeof *r);
        snprintf(r->dir, sizeof r->dir, "%s", dir);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", dir);
        size_t l = strlen(tmp);
        while (l > 1 && tmp[l - 1] == '/') tmp[--l] = 0;
        snprintf(r->label, sizeof r->label, "%s", basename(tmp));
        return 0;
    }
    cJSON *m = cJSON_Parse(text);
    free(text);
    const cJSON *trials = cJSON_GetObjectItemCaseSensitive(m, "trials");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(m, "keys");
    if (!m || !cJSON_IsArray(trials)) {
        cJSON_Delete(m);
        return err_set(e, "%s: not a sweep manifest (expected \"trials\": [...]; made by ratlip sweep expand)", path);
    }
    for (const cJSON *it = k ? k->child : NULL; it; it = it->next) {
        int dup = 0;
        for (int i = 0; i < *n_keys; i++) dup |= !strcmp(keys[i], it->valuestring);
        if (!dup && *n_keys < MAX_KEYS && cJSON_IsString(it)) snprintf(keys[(*n_keys)++], 128, "%s", it->valuestring);
    }
    for (const cJSON *t = trials->child; t; t = t->next) {
        const cJSON *rd = cJSON_GetObjectItemCaseSensitive(t, "run_dir");
        if (!cJSON_IsString(rd)) continue;
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            *runs = realloc(*runs, (size_t)*cap * sizeof **runs);
        }
        Run *r = &(*runs)[(*n)++];
        memset(r, 0, sizeof *r);
        snprintf(r->dir, sizeof r->dir, "%s/%s", dir, rd->valuestring);
        const char *slash = strrchr(rd->valuestring, '/');
        snprintf(r->label, sizeof r->label, "%s", slash ? slash + 1 : rd->valuestring);
        // a trial that has not started yet has no config.json: use the expanded one
        const cJSON *cf = cJSON_GetObjectItemCaseSensitive(t, "config");
        snprintf(path, sizeof path, "%s/config.json", r->dir);
        if (access(path, R_OK) != 0 && cJSON_IsString(cf)) {
            snprintf(path, sizeof path, "%s/%s", dir, cf->valuestring);
            r->config = flatten_config(path);
        }
    }
    cJSON_Delete(m);
    return 0;
}

static void print_table(FILE *out, int csv, int n_cols, const char (*head)[64], Run *runs, int n) {
    int w[MAX_KEYS + 32];
    for (int c = 0; c < n_cols; c++) {
        w[c] = (int)strlen(head[c]);
        for (int i = 0; i < n; i++) {
            int l = (int)strlen(runs[i].cells[c]);
            if (l > w[c]) w[c] = l;
        }
    }
    for (int r = -1; r < n; r++) {
        for (int c = 0; c < n_cols; c++) {
            const char *s = r < 0 ? head[c] : runs[r].cells[c];
            if (csv) {
                int quote = strpbrk(s, ",\"\n") != NULL;
                if (c) fputc(',', out);
                if (!quote) fputs(s, out);
                else {
                    fputc('"', out);
                    for (const char *p = s; *p; p++) {
                        if (*p == '"') fputc('"', out);
                        fputc(*p, out);
                    }
                    fputc('"', out);
                }
            } else {
                fprintf(out, "%s%-*s", c ? "  " : "", c == n_cols - 1 ? 0 : w[c], s);
            }
        }
        fputc('\n', out);
    }
}

int analysis_runs(int n_dirs, char *const *dirs, int csv, FILE *out, Err *e) {
    Run *runs = NULL;
    int n = 0, cap = 0, n_keys = 0;
    static char keys[MAX_KEYS][128];
    for (int i = 0; i < n_dirs; i++)
        if (add_dir(dirs[i], &runs, &n, &cap, keys, &n_keys, e)) {
            free(runs);
            return -1;
        }
    if (n == 0) return err_set(e, "no runs given");
    char path[4200];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/config.json", runs[i].dir);
        cJSON *c = flatten_config(path);
        if (c) {
            cJSON_Delete(runs[i].config);
            runs[i].config = c;
        }
    }
    // no sweep manifest: the swept keys are those whose values differ between the runs
    int from_manifest = n_keys > 0;
    if (!from_manifest) {
        const cJSON *ref = NULL;
        for (int i = 0; i < n && !ref; i++) ref = runs[i].config;
        for (const cJSON *it = ref ? ref->child : NULL; it && n_keys < MAX_KEYS; it = it->next) {
            if (!strcmp(it->string, "name") || !strcmp(it->string, "source")) continue;
            int differs = 0;
            for (int i = 0; i < n; i++)
                if (runs[i].config && !values_equal(it, cJSON_GetObjectItemCaseSensitive(runs[i].config, it->string)))
                    differs = 1;
            if (differs) snprintf(keys[n_keys++], 128, "%s", it->string);
        }
    }

    // the /eval columns summarised, and whether higher is better
    static const char *metric[] = {"fid", "kid", "clip_score", "r_precision", "diversity", "acc_all"};
    static const int higher_better[] = {0, 0, 1, 1, 1, 1};
    enum { N_METRICS = sizeof metric / sizeof metric[0] };
    char head[MAX_KEYS + 32][64];
    int nc = 0;
    snprintf(head[nc++], 64, "run");
    for (int k = 0; k < n_keys; k++) snprintf(head[nc++], 64, "%.63s", keys[k]);
    snprintf(head[nc++], 64, "steps");
    snprintf(head[nc++], 64, "status");
    snprintf(head[nc++], 64, "loss_d_last");
    snprintf(head[nc++], 64, "loss_g_last");
    for (int m = 0; m < N_METRICS; m++) {
        snprintf(head[nc++], 64, "%s_last", metric[m]);
        snprintf(head[nc++], 64, "%s_best", metric[m]);
        snprintf(head[nc++], 64, "%s_best_step", metric[m]);
    }
    for (int i = 0; i < n; i++) {
        Run *r = &runs[i];
        int c = 0;
        snprintf(r->cells[c++], 64, "%.63s", r->label);
        for (int k = 0; k < n_keys; k++)
            value_cell(r->config ? cJSON_GetObjectItemCaseSensitive(r->config, keys[k]) : NULL, r->cells[c++], 64);
        // steps done: the last logged training step, out of train.steps
        snprintf(path, sizeof path, "%s/metrics.h5", r->dir);
        double *steps = NULL;
        size_t ns = 0;
        Err me;
        int have_metrics = metrics_read(path, "train", "step", &steps, &ns, &me) == 0;
        const cJSON *total = r->config ? cJSON_GetObjectItemCaseSensitive(r->config, "train.steps") : NULL;
        if (have_metrics && ns > 0) {
            if (cJSON_IsNumber(total)) snprintf(r->cells[c++], 64, "%ld/%ld", (long)steps[ns - 1], (long)total->valuedouble);
            else snprintf(r->cells[c++], 64, "%ld", (long)steps[ns - 1]);
        } else {
            snprintf(r->cells[c++], 64, "0");
        }
        free(steps);
        // status: the run's own word, plus how often Slurm requeued it
        snprintf(path, sizeof path, "%s/status", r->dir);
        char *st = fs_read_all(path, 0, NULL, NULL);
        char word[32] = "";
        if (st) sscanf(st, "%31s", word);
        free(st);
        if (!word[0]) snprintf(word, sizeof word, "%s", is_dir(r->dir) ? (have_metrics ? "unknown" : "not-started") : "pending");
        snprintf(path, sizeof path, "%s/requeues", r->dir);
        long rq = count_lines(path);
        if (rq > 0 && strcmp(word, "preempted") != 0)
            snprintf(r->cells[c++], 64, "%.31s (preempted %ldx, resumed)", word, rq % 1000000);
        else
            snprintf(r->cells[c++], 64, "%s", word);
        snprintf(path, sizeof path, "%s/metrics.h5", r->dir);
        for (int q = 0; q < 2; q++) {   // training losses at the last logged step
            double *v = NULL;
            size_t nv = 0;
            if (metrics_read(path, "train", q ? "loss_g" : "loss_d", &v, &nv, &me) == 0 && nv > 0)
                snprintf(r->cells[c++], 64, "%.6g", v[nv - 1]);
            else
                snprintf(r->cells[c++], 64, "-");
            free(v);
        }
        for (int m = 0; m < N_METRICS; m++) {
            Series s = series(path, metric[m], higher_better[m]);
            if (s.have) {
                snprintf(r->cells[c++], 64, "%.6g", s.last);
                snprintf(r->cells[c++], 64, "%.6g", s.best);
                snprintf(r->cells[c++], 64, "%ld", s.best_step);
            } else {
                for (int q = 0; q < 3; q++) snprintf(r->cells[c++], 64, "-");
            }
        }
    }
    print_table(out, csv, nc, (const char(*)[64])head, runs, n);
    for (int i = 0; i < n; i++) cJSON_Delete(runs[i].config);
    free(runs);
    return 0;
}
