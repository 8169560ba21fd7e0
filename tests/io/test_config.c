// Config: defaults equal jobs/configs/tiny.json key for key, paper.json loads and validates, --set
// overrides, and every kind of bad input fails with a message naming the file and the key.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/config.h"
#include "testutil.h"

static char tmpdir[] = "/tmp/ratlip_cfg_XXXXXX";

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

static const char *write_tmp(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    return path;
}

// Every key of the table is present, with a value, in the JSON file.
static void check_every_key(const char *file) {
    char *text = slurp(file);
    TU_CHECK(text != NULL, "cannot read %s", file);
    if (!text) return;
    cJSON *root = cJSON_Parse(text);
    TU_CHECK(root != NULL, "%s does not parse", file);
    int missing = 0;
    for (int i = 0; i < config_key_count(); i++) {
        const char *k = config_key_name(i);
        const char *dot = strchr(k, '.');
        const cJSON *v;
        if (!dot) v = cJSON_GetObjectItemCaseSensitive(root, k);
        else {
            char sec[32];
            snprintf(sec, sizeof sec, "%.*s", (int)(dot - k), k);
            v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, sec), dot + 1);
        }
        if (!v) {
            missing++;
            fprintf(stderr, "%s lacks key %s\n", file, k);
        }
    }
    TU_CHECK(missing == 0, "%s lacks %d of %d keys", file, missing, config_key_count());
    printf("%s lists all %d keys\n", file, config_key_count());
    cJSON_Delete(root);
    free(text);
}

// Loads text as a file on top of the defaults, validates, and expects failure with every needle in the message.
static void expect_bad_file(const char *what, const char *text, const char *n1, const char *n2) {
    const char *path = write_tmp("bad.json", text);
    Config c;
    config_defaults(&c);
    Err e = {{0}};
    int rc = config_load_file(&c, path, &e);
    if (rc == 0) rc = config_validate(&c, &e);
    TU_CHECK(rc != 0, "%s: accepted", what);
    TU_CHECK(strstr(e.msg, "bad.json") != NULL, "%s: message does not name the file: %s", what, e.msg);
    TU_CHECK(!n1 || strstr(e.msg, n1), "%s: message lacks '%s': %s", what, n1, e.msg);
    TU_CHECK(!n2 || strstr(e.msg, n2), "%s: message lacks '%s': %s", what, n2, e.msg);
    TU_CHECK(strchr(e.msg, '\n') == NULL, "%s: message is not one line", what);
    printf("%-28s -> %s\n", what, e.msg);
}

static void expect_bad_set(const char *assign, const char *n1, const char *n2) {
    Config c;
    config_defaults(&c);
    Err e = {{0}};
    int rc = config_set(&c, assign, &e);
    if (rc == 0) rc = config_validate(&c, &e);
    TU_CHECK(rc != 0, "--set %s: accepted", assign);
    TU_CHECK(!n1 || strstr(e.msg, n1), "--set %s: message lacks '%s': %s", assign, n1, e.msg);
    TU_CHECK(!n2 || strstr(e.msg, n2), "--set %s: message lacks '%s': %s", assign, n2, e.msg);
    printf("--set %-22s -> %s\n", assign, e.msg);
}

int main(void) {
    TU_CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
    const char *tiny = RATLIP_SOURCE_DIR "/jobs/configs/tiny.json", *paper = RATLIP_SOURCE_DIR "/jobs/configs/paper.json";
    Err e = {{0}};

    // defaults == tiny.json: load tiny.json on top of paper (every key must overwrite) and compare
    Config d, t;
    config_defaults(&d);
    TU_CHECK(config_validate(&d, &e) == 0, "defaults do not validate: %s", e.msg);
    config_defaults(&t);
    TU_CHECK(config_load_file(&t, paper, &e) == 0, "paper.json: %s", e.msg);
    TU_CHECK(config_load_file(&t, tiny, &e) == 0, "tiny.json: %s", e.msg);
    char *jd = config_to_json(&d), *jt = config_to_json(&t);
    TU_CHECK(strcmp(jd, jt) == 0, "defaults differ from tiny.json:\n%s\n---\n%s", jd, jt);
    free(jd);
    free(jt);
    check_every_key(tiny);
    check_every_key(paper);

    // paper.json: loads, validates, has the paper shapes; and its JSON round-trips through config_to_json
    Config p;
    TU_CHECK(config_resolve(&p, paper, 0, NULL, &e) == 0, "paper.json: %s", e.msg);
    TU_CHECK(p.model.image_size == 224 && p.model.n_gblocks == 6 && p.model.n_g_channels == 7 &&
                 p.model.clip_width == 768 && p.model.clip_taps[2] == 8 && p.train.batch_per_rank == 64 &&
                 !strcmp(p.name, "paper"),
             "paper.json values not loaded");
    char *jp = config_to_json(&p);
    Config p2;
    config_defaults(&p2);
    TU_CHECK(config_from_json_string(&p2, jp, "roundtrip", &e) == 0, "round trip: %s", e.msg);
    char *jp2 = config_to_json(&p2);
    TU_CHECK(!strcmp(jp, jp2), "config_to_json does not round-trip");
    free(jp);
    free(jp2);

    // --set on top of a file
    char *sets[] = {"train.batch_per_rank=16", "model.rat_mode=batch", "data.dir=/data/cub", "model.sync_bn=true",
                    "train.lr_g=0.0002", "model.clip_taps=[0,3,5]", "eval.ref_stats=\"x.h5\"", "data.random_flip=false"};
    Config s;
    TU_CHECK(config_resolve(&s, tiny, 8, sets, &e) == 0, "--set: %s", e.msg);
    TU_CHECK(s.train.batch_per_rank == 16 && !strcmp(s.model.rat_mode, "batch") && !strcmp(s.data.dir, "/data/cub") &&
                 s.model.sync_bn == 1 && s.train.lr_g == 0.0002 && s.model.n_clip_taps == 3 &&
                 s.model.clip_taps[1] == 3 && !strcmp(s.eval.ref_stats, "x.h5") && s.data.random_flip == 0,
             "--set values not applied");
    Config s2;
    config_defaults(&s2);
    TU_CHECK(config_set(&s2, "data.dir=123", &e) == 0 && !strcmp(s2.data.dir, "123"), "a number for a string key");
    char *paper_sets[] = {"model.rat_mode=batch"};
    TU_CHECK(config_resolve(&s2, paper, 1, paper_sets, &e) == 0, "paper + rat_mode=batch: %s", e.msg);

    // bad files
    expect_bad_file("malformed JSON", "{\n  \"model\": {\"z_dim\": 100,,\n  }\n}\n", "line 2", "malformed");
    char *full = slurp(tiny);
    full[strlen(full) / 2] = 0;
    expect_bad_file("truncated JSON", full, "truncated", NULL);
    free(full);
    expect_bad_file("empty file", "", "truncated", NULL);
    expect_bad_file("trailing garbage", "{\"name\": \"x\"} xyz", "after the top-level", NULL);
    expect_bad_file("unknown key", "{\"train\": {\"batch_per_rnak\": 4}}", "train.batch_per_rnak",
                    "did you mean train.batch_per_rank");
    expect_bad_file("key in wrong section", "{\"model\": {\"batch_per_rank\": 4}}", "model.batch_per_rank",
                    "did you mean train.batch_per_rank");
    expect_bad_file("unknown section", "{\"trian\": {\"steps\": 4}}", "trian", "did you mean train");
    expect_bad_file("wrong type (string)", "{\"model\": {\"z_dim\": \"big\"}}", "model.z_dim", "integer");
    expect_bad_file("wrong type (fraction)", "{\"train\": {\"batch_per_rank\": 2.5}}", "train.batch_per_rank", NULL);
    expect_bad_file("wrong type (list)", "{\"model\": {\"g_sizes\": 64}}", "model.g_sizes", "list");
    expect_bad_file("wrong type (bool)", "{\"data\": {\"random_flip\": \"yes\"}}", "data.random_flip", NULL);
    expect_bad_file("top level not object", "[1,2]", "top level", NULL);
    expect_bad_file("negative batch", "{\"train\": {\"batch_per_rank\": -1}}", "train.batch_per_rank", "positive");
    expect_bad_file("bad rat_mode", "{\"model\": {\"rat_mode\": \"rnn\"}}", "model.rat_mode", "sample");
    expect_bad_file("heads not dividing width", "{\"model\": {\"clip_heads\": 5}}", "model.clip_heads", "divide");
    expect_bad_file("image not multiple of patch",
                    "{\"model\": {\"image_size\": 60, \"g_sizes\": [8,16,32,60]}}", "model.image_size", "multiple");
    expect_bad_file("g_channels length", "{\"model\": {\"g_channels\": [256,128]}}", "model.g_channels", "entries");
    expect_bad_file("tap out of range", "{\"model\": {\"clip_taps\": [1,2,6]}}", "model.clip_taps", NULL);
    expect_bad_file("ema out of range", "{\"train\": {\"ema_decay\": 1.5}}", "train.ema_decay", NULL);
    expect_bad_file("long string", "{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                    "name", "longer");
    Config c;
    config_defaults(&c);
    TU_CHECK(config_load_file(&c, "/nonexistent/x.json", &e) != 0 && strstr(e.msg, "/nonexistent/x.json"),
             "missing file: %s", e.msg);

    // bad --set
    expect_bad_set("train.batch_per_rnk=3", "train.batch_per_rnk", "did you mean train.batch_per_rank");
    expect_bad_set("batch_per_rank=3", "batch_per_rank", "did you mean train.batch_per_rank");
    expect_bad_set("train.batch_per_rank=many", "train.batch_per_rank", "integer");
    expect_bad_set("train.batch_per_rank=0", "train.batch_per_rank", "positive");
    expect_bad_set("model.clip_remap=fancy", "model.clip_remap", "galip");
    // the evaluation recipe (issue 17): samples per test caption set, Inception's input side
    expect_bad_set("eval.samples_per_caption=-1", "eval.samples_per_caption", "0 (");
    expect_bad_set("eval.samples_per_caption=1001", "eval.samples_per_caption", "1000");
    expect_bad_set("eval.inception_size=74", "eval.inception_size", "75..1024");
    expect_bad_set("eval.inception_size=4096", "eval.inception_size", "299");
    expect_bad_set("eval.inceptoin_size=299", "eval.inceptoin_size", "did you mean eval.inception_size");
    expect_bad_set("no_equals_sign", "key=value", NULL);

    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.json", tmpdir);
    unlink(bad);
    rmdir(tmpdir);
    return tu_done("test_config");
}
