// config: one table describes every key (its JSON path, type and place in Config); loading, --set,
// printing and did-you-mean all walk that table, so a new key is one line here.
#include "io/config.h"
#include "io/fs.h"
#include "core/inception.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_INT, K_LONG, K_FLOAT, K_BOOL, K_STR, K_ILIST } KeyType;

typedef struct {
    const char *key;   // "section.field" ("name" at the top level)
    KeyType type;
    size_t off;        // offsetof(Config, ...)
    size_t size;       // K_STR: buffer size
    size_t count_off;  // K_ILIST: offset of the int holding the list length
} KeyDesc;

#define KI(s, f) {#s "." #f, K_INT, offsetof(Config, s.f), 0, 0}
#define KL(s, f) {#s "." #f, K_LONG, offsetof(Config, s.f), 0, 0}
#define KF(s, f) {#s "." #f, K_FLOAT, offsetof(Config, s.f), 0, 0}
#define KB(s, f) {#s "." #f, K_BOOL, offsetof(Config, s.f), 0, 0}
#define KS(s, f) {#s "." #f, K_STR, offsetof(Config, s.f), sizeof(((Config *)0)->s.f), 0}
#define KLIST(s, f, n) {#s "." #f, K_ILIST, offsetof(Config, s.f), 0, offsetof(Config, s.n)}

static const KeyDesc keys[] = {
    {"name", K_STR, offsetof(Config, name), sizeof(((Config *)0)->name), 0},
    KI(model, image_size), KI(model, z_dim), KI(model, text_dim), KI(model, code_ch), KI(model, code_size),
    KI(model, mblocks), KI(model, mblock_mid), KS(model, rat_mode), KI(model, rat_hidden),
    KLIST(model, g_channels, n_g_channels), KLIST(model, g_sizes, n_gblocks), KI(model, shuffle_groups),
    KB(model, sync_bn), KI(model, clip_image_size), KI(model, clip_patch), KI(model, clip_width),
    KI(model, clip_layers), KI(model, clip_heads), KI(model, clip_embed_dim), KLIST(model, clip_taps, n_clip_taps),
    KI(model, prompt_first), KI(model, prompt_last), KS(model, clip_remap), KS(model, clip_weights),
    KI(model, d_out_ch), KI(model, netc_mid), KI(model, netc_k1), KI(model, netc_k2),
    KI(train, batch_per_rank), KL(train, steps), KF(train, lr_g), KF(train, lr_d), KF(train, beta1),
    KF(train, beta2), KF(train, adam_eps), KF(train, sim_weight), KF(train, magp_weight), KF(train, magp_p),
    KF(train, ema_decay), KL(train, seed), KI(train, log_every), KI(train, ckpt_every), KI(train, sample_every),
    KI(train, eval_every), KI(train, keep_last), KB(train, ckpt_async), KI(train, threads), KS(train, precision), KF(train, loss_bound), KI(train, max_rollbacks),
    KI(train, rollback_window), KF(train, hard_mismatch), KS(train, hard_mismatch_labels),
    KS(data, dir), KI(data, random_crop), KB(data, random_flip), KI(data, prefetch),
    KI(dist, bucket_kib), KF(dist, timeout_s), KI(dist, check_every),
    KI(eval, n_samples), KS(eval, inception_weights), KS(eval, ref_stats), KI(eval, rprec_repeats),
    KI(eval, diversity_captions), KI(eval, diversity_samples), KI(eval, samples_per_caption), KI(eval, inception_size),
    KF(clip, lr), KL(clip, steps), KI(clip, batch_per_rank), KF(clip, temperature), KF(clip, beta1),
    KF(clip, beta2), KF(clip, adam_eps), KI(clip, eval_every), KI(clip, eval_samples), KI(clip, ckpt_every),
    KI(clip, text_negatives),
};
static const int n_keys = (int)(sizeof(keys) / sizeof(keys[0]));
static const char *const sections[] = {"model", "train", "data", "dist", "eval", "clip"};

int config_key_count(void) { return n_keys; }
const char *config_key_name(int i) { return (i >= 0 && i < n_keys) ? keys[i].key : NULL; }

static void set_list(int *dst, int *count, const int *v, int n) {
    for (int i = 0; i < n; i++) dst[i] = v[i];
    *count = n;
}

void config_defaults(Config *c) {
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof c->name, "tiny");
    snprintf(c->source, sizeof c->source, "defaults");
    ModelConfig *m = &c->model;
    m->image_size = 64;
    m->z_dim = 100;
    m->text_dim = 512;
    m->code_ch = 64;
    m->code_size = 8;
    m->mblocks = 4;
    m->mblock_mid = 32;
    snprintf(m->rat_mode, sizeof m->rat_mode, "sample");
    m->rat_hidden = 64;
    set_list(m->g_channels, &m->n_g_channels, (const int[]){256, 256, 128, 64, 32}, 5);
    set_list(m->g_sizes, &m->n_gblocks, (const int[]){8, 16, 32, 64}, 4);
    m->shuffle_groups = 8;
    m->sync_bn = 0;
    m->clip_image_size = 64;
    m->clip_patch = 8;
    m->clip_width = 256;
    m->clip_layers = 6;
    m->clip_heads = 4;
    m->clip_embed_dim = 512;
    set_list(m->clip_taps, &m->n_clip_taps, (const int[]){1, 2, 4}, 3);
    m->prompt_first = 1;
    m->prompt_last = 4;
    snprintf(m->clip_remap, sizeof m->clip_remap, "galip");
    m->d_out_ch = 256;
    m->netc_mid = 64;
    m->netc_k1 = 5;
    m->netc_k2 = 4;
    TrainConfig *t = &c->train;
    t->batch_per_rank = 8;
    t->steps = 2000;
    t->lr_g = 1e-4;
    t->lr_d = 4e-4;
    t->beta1 = 0.0;
    t->beta2 = 0.9;
    t->adam_eps = 1e-8;
    t->sim_weight = 4.0;
    t->magp_weight = 2.0;
    t->magp_p = 6.0;
    t->ema_decay = 0.999;
    t->seed = 100;
    t->log_every = 10;
    t->ckpt_every = 200;
    t->sample_every = 200;
    t->eval_every = 0;
    t->keep_last = 3;
    t->ckpt_async = 1;
    t->threads = 0;
    snprintf(t->precision, sizeof t->precision, "fp32");
    t->loss_bound = 1e6;   // GAN losses here are O(1-10); 1e6 is a run that has left the rails
    t->max_rollbacks = 3;
    t->rollback_window = 1000;
    t->hard_mismatch = 0;
    t->hard_mismatch_labels[0] = 0;
    c->data.random_crop = 0;
    c->data.random_flip = 1;
    c->data.prefetch = 4;
    c->dist.bucket_kib = 4096;
    c->dist.timeout_s = 300.0;
    c->dist.check_every = 100;
    c->eval.n_samples = 1000;
    c->eval.rprec_repeats = 3;
    c->eval.diversity_captions = 8;
    c->eval.diversity_samples = 4;
    c->eval.samples_per_caption = 0;   // eval.n_samples is the count
    c->eval.inception_size = INCEPTION_SIZE;
    ClipTrainConfig *lc = &c->clip;
    lc->lr = 1e-3;     // the tiny recipe: ~1 min on 2 cores, retrieval ~20x chance on the synthetic set
    lc->steps = 40;
    lc->batch_per_rank = 32;
    lc->temperature = 0.07;
    lc->beta1 = 0.9;
    lc->beta2 = 0.98;
    lc->adam_eps = 1e-6;
    lc->eval_every = 0;
    lc->eval_samples = 256;
    lc->ckpt_every = 20;
    lc->text_negatives = 0;
}

// ---- did-you-mean ----

int config_edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

// The closest key to `key` (compared whole and by its field part, so "batch_per_rnk" and
// "model.batch_per_rank" both find "train.batch_per_rank"); NULL when nothing is close.
static const char *closest_key(const char *key) {
    const char *field = strrchr(key, '.');
    field = field ? field + 1 : key;
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; i < n_keys; i++) {
        const char *kf = strrchr(keys[i].key, '.');
        kf = kf ? kf + 1 : keys[i].key;
        int d1 = config_edit_distance(key, keys[i].key), d2 = config_edit_distance(field, kf);
        int d = d1 < d2 ? d1 : d2;
        if (d < best_d) {
            best_d = d;
            best = keys[i].key;
        }
    }
    int limit = (int)strlen(field) / 3;
    if (limit < 2) limit = 2;
    return best_d <= limit ? best : NULL;
}

static const KeyDesc *find_key(const char *key) {
    for (int i = 0; i < n_keys; i++)
        if (!strcmp(keys[i].key, key)) return &keys[i];
    return NULL;
}

static int unknown_key(const char *origin, const char *key, Err *e) {
    const char *s = closest_key(key);
    if (s) return err_set(e, "%s: %s: unknown key (did you mean %s?)", origin, key, s);
    return err_set(e, "%s: %s: unknown key (`ratlip config show` lists every key)", origin, key);
}

// ---- setting one value from JSON ----

static const char *json_type_name(const cJSON *v) {
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "a list";
    if (cJSON_IsObject(v)) return "an object";
    return "an invalid value";
}

static int is_integer(const cJSON *v, double lo, double hi) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    return isfinite(d) && d == floor(d) && d >= lo && d <= hi;
}

static int set_value(Config *c, const KeyDesc *k, const cJSON *v, const char *origin, Err *e) {
    char *base = (char *)c + k->off;
    switch (k->type) {
    case K_INT:
        if (!is_integer(v, INT_MIN, INT_MAX))
            return err_set(e, "%s: %s: expected an integer, got %s", origin, k->key, json_type_name(v));
        *(int *)base = (int)v->valuedouble;
        return 0;
    case K_LONG:
        if (!is_integer(v, -9.0e15, 9.0e15))
            return err_set(e, "%s: %s: expected an integer, got %s", origin, k->key, json_type_name(v));
        *(long *)base = (long)v->valuedouble;
        return 0;
    case K_FLOAT:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return err_set(e, "%s: %s: expected a number, got %s", origin, k->key, json_type_name(v));
        *(double *)base = v->valuedouble;
        return 0;
    case K_BOOL:
        if (cJSON_IsBool(v)) *(int *)base = cJSON_IsTrue(v) ? 1 : 0;
        else if (is_integer(v, 0, 1)) *(int *)base = (int)v->valuedouble;
        else return err_set(e, "%s: %s: expected true or false, got %s", origin, k->key, json_type_name(v));
        return 0;
    case K_STR:
        if (!cJSON_IsString(v))
            return err_set(e, "%s: %s: expected a string, got %s", origin, k->key, json_type_name(v));
        if (strlen(v->valuestring) >= k->size)
            return err_set(e, "%s: %s: string longer than %zu characters", origin, k->key, k->size - 1);
        snprintf(base, k->size, "%s", v->valuestring);
        return 0;
    case K_ILIST: {
        if (!cJSON_IsArray(v))
            return err_set(e, "%s: %s: expected a list of integers, got %s", origin, k->key, json_type_name(v));
        int n = cJSON_GetArraySize(v);
        if (n < 1 || n > CFG_MAX_LIST)
            return err_set(e, "%s: %s: list has %d entries, expected 1 to %d", origin, k->key, n, CFG_MAX_LIST);
        int tmp[CFG_MAX_LIST], i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, v) {
            if (!is_integer(it, INT_MIN, INT_MAX))
                return err_set(e, "%s: %s[%d]: expected an integer, got %s", origin, k->key, i, json_type_name(it));
            tmp[i++] = (int)it->valuedouble;
        }
        set_list((int *)base, (int *)((char *)c + k->count_off), tmp, n);
        return 0;
    }
    }
    return err_set(e, "%s: %s: internal error (unknown key type)", origin, k->key);
}

static void append_source(Config *c, const char *what) {
    if (!strcmp(c->source, "defaults") || !c->source[0]) snprintf(c->source, sizeof c->source, "%s", what);
    else {
        size_t n = strlen(c->source);
        if (n + 3 + strlen(what) < sizeof c->source) snprintf(c->source + n, sizeof c->source - n, " + %s", what);
    }
}

// ---- loading ----

// Line and column (1-based) of byte `pos` in `text`.
static void line_col(const char *text, size_t pos, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else (*col)++;
    }
}

// A JSON text that ends inside a string or with brackets still open: what a cut-off file looks like.
static int json_is_truncated(const char *s) {
    int depth = 0, in_str = 0, any = 0;
    for (const char *p = s; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == '"') in_str = 0;
            continue;
        }
        if (*p == '"') in_str = 1;
        else if (*p == '{' || *p == '[') depth++;
        else if (*p == '}' || *p == ']') depth--;
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') any = 1;
    }
    return in_str || depth > 0 || !any;
}

static int apply_object(Config *c, const cJSON *root, const char *origin, Err *e) {
    if (!cJSON_IsObject(root))
        return err_set(e, "%s: the top level must be a JSON object ({\"model\": {...}, \"train\": {...}}), got %s",
                       origin, json_type_name(root));
    const cJSON *sec;
    cJSON_ArrayForEach(sec, root) {
        const char *sname = sec->string;
        if (!strcmp(sname, "name")) {
            if (set_value(c, &keys[0], sec, origin, e)) return -1;
            continue;
        }
        int known = 0;
        for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) known |= !strcmp(sname, sections[i]);
        if (!known) {
            if (cJSON_IsObject(sec)) {
                const char *best = NULL;
                for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
                    if (config_edit_distance(sname, sections[i]) <= 2) best = sections[i];
                if (best) return err_set(e, "%s: %s: unknown section (did you mean %s?)", origin, sname, best);
                return err_set(e, "%s: %s: unknown section (sections: name, model, train, data, dist, eval)", origin,
                               sname);
            }
            return unknown_key(origin, sname, e);
        }
        if (!cJSON_IsObject(sec))
            return err_set(e, "%s: %s: expected an object of keys, got %s", origin, sname, json_type_name(sec));
        const cJSON *v;
        cJSON_ArrayForEach(v, sec) {
            char full[160];
            snprintf(full, sizeof full, "%s.%s", sname, v->string);
            const KeyDesc *k = find_key(full);
            if (!k) return unknown_key(origin, full, e);
            if (set_value(c, k, v, origin, e)) return -1;
        }
    }
    return 0;
}

int config_from_json_string(Config *c, const char *json, const char *origin, Err *e) {
    size_t len = strlen(json);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t pos = end ? (size_t)(end - json) : len;
        int line, col;
        line_col(json, pos, &line, &col);
        if (json_is_truncated(json)) {
            line_col(json, len, &line, &col);
            return err_set(e, "%s: malformed JSON: unexpected end of input at line %d column %d (truncated file?)",
                           origin, line, col);
        }
        char near[24];
        size_t k = 0;
        for (const char *q = json + pos; *q && k < sizeof near - 1; q++) near[k++] = (*q < 32) ? ' ' : *q;
        near[k] = 0;
        return err_set(e, "%s: malformed JSON at line %d column %d near '%s'", origin, line, col, near);
    }
    // cJSON accepts trailing bytes after the value; we don't
    const char *p = end;
    while (p && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    if (p && *p) {
        int line, col;
        line_col(json, (size_t)(p - json), &line, &col);
        cJSON_Delete(root);
        return err_set(e, "%s: malformed JSON: unexpected text after the top-level object at line %d column %d",
                       origin, line, col);
    }
    int rc = apply_object(c, root, origin, e);
    cJSON_Delete(root);
    if (rc == 0) append_source(c, origin);
    return rc;
}

int config_load_file(Config *c, const char *path, Err *e) {
    size_t n = 0;
    char *buf = fs_read_all(path, (size_t)1 << 24, &n, e);   // 16 MiB: no config is that big
    if (!buf) return -1;
    if (strlen(buf) != n) {
        free(buf);
        return err_set(e, "%s: malformed JSON: file contains a NUL byte (binary file?)", path);
    }
    int rc = config_from_json_string(c, buf, path, e);
    free(buf);
    return rc;
}

int config_set(Config *c, const char *assignment, Err *e) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return err_set(e, "--set %s: expected key=value (e.g. --set train.batch_per_rank=16)", assignment);
    char key[160];
    size_t kl = (size_t)(eq - assignment);
    if (kl >= sizeof key) return err_set(e, "--set: key too long");
    memcpy(key, assignment, kl);
    key[kl] = 0;
    char origin[200];
    snprintf(origin, sizeof origin, "--set %s", key);
    const KeyDesc *k = find_key(key);
    if (!k) return unknown_key("--set", key, e);
    const char *val = eq + 1;
    // the value is JSON when it parses as JSON (numbers, true/false, lists, "quoted"), else a string
    cJSON *v = cJSON_ParseWithOpts(val, NULL, 1);
    if (!v || (k->type == K_STR && !cJSON_IsString(v))) {
        cJSON_Delete(v);
        v = cJSON_CreateString(val);
    }
    int rc = set_value(c, k, v, origin, e);
    cJSON_Delete(v);
    if (rc == 0) append_source(c, origin);
    return rc;
}

// ---- validation ----

#define REQ(cond, key, ...)                                                                      \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            char why_[400];                                                                      \
            snprintf(why_, sizeof why_, __VA_ARGS__);                                            \
            return err_set(e, "%s: %s: %s", c->source[0] ? c->source : "config", key, why_);     \
        }                                                                                        \
    } while (0)

int config_validate(const Config *c, Err *e) {
    const ModelConfig *m = &c->model;
    REQ(m->image_size > 0, "model.image_size", "must be positive, got %d", m->image_size);
    REQ(m->z_dim > 0, "model.z_dim", "must be positive, got %d", m->z_dim);
    REQ(m->text_dim > 0, "model.text_dim", "must be positive, got %d", m->text_dim);
    REQ(m->code_ch > 0, "model.code_ch", "must be positive, got %d", m->code_ch);
    REQ(m->code_size > 0, "model.code_size", "must be positive, got %d", m->code_size);
    REQ(m->mblocks >= 0, "model.mblocks", "must be >= 0, got %d", m->mblocks);
    REQ(m->mblock_mid > 0, "model.mblock_mid", "must be positive, got %d", m->mblock_mid);
    REQ(!strcmp(m->rat_mode, "sample") || !strcmp(m->rat_mode, "batch"), "model.rat_mode",
        "must be \"sample\" or \"batch\", got \"%s\"", m->rat_mode);
    REQ(m->rat_hidden > 0, "model.rat_hidden", "must be positive, got %d", m->rat_hidden);
    REQ(m->n_gblocks >= 1, "model.g_sizes", "needs at least one entry");
    REQ(m->n_g_channels == m->n_gblocks + 1, "model.g_channels",
        "has %d entries, expected len(model.g_sizes)+1 = %d", m->n_g_channels, m->n_gblocks + 1);
    for (int i = 0; i < m->n_g_channels; i++)
        REQ(m->g_channels[i] > 0, "model.g_channels", "entry %d must be positive, got %d", i, m->g_channels[i]);
    REQ(m->g_sizes[0] >= m->code_size, "model.g_sizes", "first size %d is smaller than model.code_size %d",
        m->g_sizes[0], m->code_size);
    for (int i = 1; i < m->n_gblocks; i++)
        REQ(m->g_sizes[i] >= m->g_sizes[i - 1], "model.g_sizes", "must not decrease (entry %d: %d after %d)", i,
            m->g_sizes[i], m->g_sizes[i - 1]);
    REQ(m->g_sizes[m->n_gblocks - 1] == m->image_size, "model.g_sizes",
        "last size %d must equal model.image_size %d", m->g_sizes[m->n_gblocks - 1], m->image_size);
    REQ(m->shuffle_groups > 0, "model.shuffle_groups", "must be positive, got %d", m->shuffle_groups);
    REQ(m->sync_bn == 0 || m->sync_bn == 1, "model.sync_bn", "must be true or false");
    REQ(m->clip_patch > 0, "model.clip_patch", "must be positive, got %d", m->clip_patch);
    REQ(m->clip_image_size > 0 && m->clip_image_size % m->clip_patch == 0, "model.clip_image_size",
        "%d is not a positive multiple of model.clip_patch %d", m->clip_image_size, m->clip_patch);
    REQ(m->image_size % m->clip_patch == 0, "model.image_size", "%d is not a multiple of model.clip_patch %d",
        m->image_size, m->clip_patch);
    REQ(m->clip_image_size / m->clip_patch == m->code_size, "model.code_size",
        "%d must equal the CLIP token grid side clip_image_size/clip_patch = %d", m->code_size,
        m->clip_image_size / m->clip_patch);
    REQ(m->clip_layers > 0, "model.clip_layers", "must be positive, got %d", m->clip_layers);
    REQ(m->clip_heads > 0, "model.clip_heads", "must be positive, got %d", m->clip_heads);
    REQ(m->clip_width > 0 && m->clip_width % m->clip_heads == 0, "model.clip_heads",
        "%d does not divide model.clip_width %d", m->clip_heads, m->clip_width);
    REQ(m->clip_embed_dim > 0, "model.clip_embed_dim", "must be positive, got %d", m->clip_embed_dim);
    REQ(m->n_clip_taps >= 1, "model.clip_taps", "needs at least one entry");
    for (int i = 0; i < m->n_clip_taps; i++)
        REQ(m->clip_taps[i] >= 0 && m->clip_taps[i] < m->clip_layers, "model.clip_taps",
            "entry %d = %d is outside the CLIP blocks 0..%d", i, m->clip_taps[i], m->clip_layers - 1);
    REQ(m->prompt_first >= 0 && m->prompt_first <= m->prompt_last, "model.prompt_first",
        "%d must be >= 0 and <= model.prompt_last %d", m->prompt_first, m->prompt_last);
    REQ(m->prompt_last < m->clip_layers, "model.prompt_last", "%d is outside the CLIP blocks 0..%d",
        m->prompt_last, m->clip_layers - 1);
    REQ(!strcmp(m->clip_remap, "galip") || !strcmp(m->clip_remap, "standard"), "model.clip_remap",
        "must be \"galip\" or \"standard\", got \"%s\"", m->clip_remap);
    REQ(m->d_out_ch > 0, "model.d_out_ch", "must be positive, got %d", m->d_out_ch);
    REQ(m->netc_mid > 0, "model.netc_mid", "must be positive, got %d", m->netc_mid);
    REQ(m->netc_k1 > 0 && m->netc_k1 <= m->code_size, "model.netc_k1", "must be in 1..code_size %d, got %d",
        m->code_size, m->netc_k1);
    REQ(m->netc_k2 > 0 && m->netc_k2 <= m->code_size - m->netc_k1 + 1, "model.netc_k2",
        "must be in 1..%d (what is left after netc_k1), got %d", m->code_size - m->netc_k1 + 1, m->netc_k2);

    const TrainConfig *t = &c->train;
    REQ(t->batch_per_rank > 0, "train.batch_per_rank", "must be positive, got %d", t->batch_per_rank);
    REQ(t->steps >= 0, "train.steps", "must be >= 0, got %ld", t->steps);
    REQ(t->lr_g > 0, "train.lr_g", "must be positive, got %g", t->lr_g);
    REQ(t->lr_d > 0, "train.lr_d", "must be positive, got %g", t->lr_d);
    REQ(t->beta1 >= 0 && t->beta1 < 1, "train.beta1", "must be in [0,1), got %g", t->beta1);
    REQ(t->beta2 >= 0 && t->beta2 < 1, "train.beta2", "must be in [0,1), got %g", t->beta2);
    REQ(t->adam_eps > 0, "train.adam_eps", "must be positive, got %g", t->adam_eps);
    REQ(t->sim_weight >= 0, "train.sim_weight", "must be >= 0, got %g", t->sim_weight);
    REQ(t->magp_weight >= 0, "train.magp_weight", "must be >= 0, got %g", t->magp_weight);
    REQ(t->magp_p > 0, "train.magp_p", "must be positive, got %g", t->magp_p);
    REQ(t->ema_decay >= 0 && t->ema_decay < 1, "train.ema_decay", "must be in [0,1) (0 disables EMA), got %g",
        t->ema_decay);
    REQ(t->seed >= 0, "train.seed", "must be >= 0, got %ld", t->seed);
    REQ(t->log_every > 0, "train.log_every", "must be positive, got %d", t->log_every);
    REQ(t->ckpt_every >= 0, "train.ckpt_every", "must be >= 0 (0 = never), got %d", t->ckpt_every);
    REQ(t->sample_every >= 0, "train.sample_every", "must be >= 0 (0 = never), got %d", t->sample_every);
    REQ(t->eval_every >= 0, "train.eval_every", "must be >= 0 (0 = never), got %d", t->eval_every);
    REQ(t->keep_last >= 1, "train.keep_last", "must be >= 1, got %d", t->keep_last);
    REQ(t->threads >= 0, "train.threads", "must be >= 0 (0 = auto), got %d", t->threads);
    REQ(!strcmp(t->precision, "fp32") || !strcmp(t->precision, "bf16"), "train.precision",
        "must be \"fp32\" or \"bf16\", got \"%s\"", t->precision);
    REQ(t->loss_bound >= 0, "train.loss_bound", "must be >= 0 (0 = only non-finite losses count), got %g",
        t->loss_bound);
    REQ(t->max_rollbacks >= 0, "train.max_rollbacks", "must be >= 0 (0 = stop at the first divergence), got %d",
        t->max_rollbacks);
    REQ(t->rollback_window > 0, "train.rollback_window", "must be positive, got %d", t->rollback_window);
    REQ(t->hard_mismatch >= 0 && t->hard_mismatch <= 1, "train.hard_mismatch",
        "must be in [0, 1] (the share of mismatched pairs with a hard caption), got %g", t->hard_mismatch);

    REQ(c->data.random_crop >= 0 && c->data.random_crop < m->image_size, "data.random_crop",
        "must be in 0..%d pixels, got %d", m->image_size - 1, c->data.random_crop);
    REQ(c->data.random_flip == 0 || c->data.random_flip == 1, "data.random_flip", "must be true or false");
    REQ(c->data.prefetch >= 1, "data.prefetch", "must be >= 1, got %d", c->data.prefetch);
    REQ(c->dist.bucket_kib > 0, "dist.bucket_kib", "must be positive, got %d", c->dist.bucket_kib);
    REQ(c->dist.timeout_s > 0, "dist.timeout_s", "must be positive, got %g", c->dist.timeout_s);
    REQ(c->dist.check_every >= 0, "dist.check_every", "must be >= 0 (0 = never), got %d", c->dist.check_every);
    REQ(c->eval.n_samples > 0, "eval.n_samples", "must be positive, got %d", c->eval.n_samples);
    REQ(c->eval.rprec_repeats >= 1 && c->eval.rprec_repeats <= 100, "eval.rprec_repeats", "must be in 1..100, got %d",
        c->eval.rprec_repeats);
    REQ(c->eval.diversity_captions >= 1 && c->eval.diversity_captions <= 100000, "eval.diversity_captions",
        "must be in 1..100000, got %d", c->eval.diversity_captions);
    REQ(c->eval.diversity_samples == 0 || (c->eval.diversity_samples >= 2 && c->eval.diversity_samples <= 1000),
        "eval.diversity_samples", "must be 0 (off) or 2..1000 (pairs need two), got %d", c->eval.diversity_samples);
    REQ(c->eval.samples_per_caption >= 0 && c->eval.samples_per_caption <= 1000, "eval.samples_per_caption",
        "must be 0 (eval.n_samples is the count) or 1..1000 samples of every test image's captions (upstream: "
        "12), got %d", c->eval.samples_per_caption);
    REQ(c->eval.inception_size >= INCEPTION_SIZE_MIN && c->eval.inception_size <= INCEPTION_SIZE_MAX,
        "eval.inception_size", "must be in %d..%d px (299 as pytorch-fid and upstream; FID is comparable only at "
        "the size of its reference statistics), got %d", INCEPTION_SIZE_MIN, INCEPTION_SIZE_MAX,
        c->eval.inception_size);
    const ClipTrainConfig *lc = &c->clip;
    REQ(lc->lr > 0, "clip.lr", "must be positive, got %g", lc->lr);
    REQ(lc->steps >= 0, "clip.steps", "must be >= 0, got %ld", lc->steps);
    REQ(lc->batch_per_rank > 0, "clip.batch_per_rank", "must be positive, got %d", lc->batch_per_rank);
    REQ(lc->temperature >= 0.01 && lc->temperature <= 1, "clip.temperature",
        "must be in [0.01, 1] (logit_scale = log(1/temperature) is clamped to [0, log 100]), got %g",
        lc->temperature);
    REQ(lc->beta1 >= 0 && lc->beta1 < 1, "clip.beta1", "must be in [0,1), got %g", lc->beta1);
    REQ(lc->beta2 >= 0 && lc->beta2 < 1, "clip.beta2", "must be in [0,1), got %g", lc->beta2);
    REQ(lc->adam_eps > 0, "clip.adam_eps", "must be positive, got %g", lc->adam_eps);
    REQ(lc->eval_every >= 0, "clip.eval_every", "must be >= 0 (0 = at the end only), got %d", lc->eval_every);
    REQ(lc->eval_samples >= 0, "clip.eval_samples", "must be >= 0 (0 = the whole test split), got %d",
        lc->eval_samples);
    REQ(lc->ckpt_every >= 0, "clip.ckpt_every", "must be >= 0 (0 = never), got %d", lc->ckpt_every);
    REQ(lc->text_negatives >= 0 && lc->text_negatives <= CLIP_TEXT_NEGATIVES_MAX, "clip.text_negatives",
        "must be in [0, %d] (distinct train captions used as extra negatives; 0 = none), got %d",
        CLIP_TEXT_NEGATIVES_MAX, lc->text_negatives);
    return 0;
}

// ---- printing ----

char *config_to_json(const Config *c) {
    cJSON *root = cJSON_CreateObject();
    for (int i = 0; i < n_keys; i++) {
        const KeyDesc *k = &keys[i];
        cJSON *parent = root;
        const char *field = k->key;
        const char *dot = strchr(k->key, '.');
        if (dot) {
            char sname[32];
            snprintf(sname, sizeof sname, "%.*s", (int)(dot - k->key), k->key);
            parent = cJSON_GetObjectItemCaseSensitive(root, sname);
            if (!parent) parent = cJSON_AddObjectToObject(root, sname);
            field = dot + 1;
        }
        const char *base = (const char *)c + k->off;
        cJSON *v = NULL;
        switch (k->type) {
        case K_INT: v = cJSON_CreateNumber(*(const int *)base); break;
        case K_LONG: v = cJSON_CreateNumber((double)*(const long *)base); break;
        case K_FLOAT: v = cJSON_CreateNumber(*(const double *)base); break;
        case K_BOOL: v = cJSON_CreateBool(*(const int *)base); break;
        case K_STR: v = cJSON_CreateString(base); break;
        case K_ILIST: v = cJSON_CreateIntArray((const int *)base, *(const int *)((const char *)c + k->count_off)); break;
        }
        cJSON_AddItemToObject(parent, field, v);
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}

int config_resolve(Config *c, const char *file, int n_sets, char *const *sets, Err *e) {
    config_defaults(c);
    if (file && config_load_file(c, file, e)) return -1;
    for (int i = 0; i < n_sets; i++)
        if (config_set(c, sets[i], e)) return -1;
    return config_validate(c, e);
}
