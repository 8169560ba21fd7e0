// Background checkpoint writes (io/ckpt_async): the file holds the state at ckpta_begin even when the
// caller changes everything right after (the staging copy), loads to the same bytes as a synchronous
// ckpt_save of that state, keeps Adam-less nets Adam-less, applies retention after the write; the
// main thread may use HDF5 while the thread writes; a write that cannot be made is reported with its
// path and leaves the earlier checkpoint intact; an uncollected failure is not hidden by a later
// success; ckpta_free waits for the write in flight.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/rng.h"
#include "io/ckpt_async.h"
#include "testutil.h"

static char dir[] = "/tmp/ratlip_ckpta_XXXXXX";

// Two networks of the trainer's kinds: trainable (big enough for several chunks), frozen, buffers.
static void declare(ParamSet *g, ParamSet *ema) {
    for (int k = 0; k < 2; k++) {
        ParamSet *ps = k ? ema : g;
        memset(ps, 0, sizeof *ps);
        params_declare(ps, "fc.weight", PARAM_TRAINABLE, 2, (int[]){96, 100});
        params_declare(ps, "GBlocks.0.c1.weight", PARAM_TRAINABLE, 4, (int[]){128, 256, 3, 3});
        params_declare(ps, "GBlocks.0.c1.bn.running_var", PARAM_BUFFER, 1, (int[]){32});
        params_declare(ps, "mapping.CLIP_ViT.class_embedding", PARAM_FROZEN, 1, (int[]){64});
        params_finalize(ps);
    }
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int main(void) {
    TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    ParamSet g, ema, g_ref, ema_ref, g_in, ema_in;
    declare(&g, &ema);
    declare(&g_ref, &ema_ref);
    declare(&g_in, &ema_in);
    tu_fill_param_state(&g, 1);
    tu_fill_param_state(&ema, 2);
    tu_fill_param_state(&g_ref, 1);   // what the file must hold
    tu_fill_param_state(&ema_ref, 2);
    CkptNet nets[2] = {{"netG", &g, 0}, {"netG_ema", &ema, 1}};
    CkptNet in[2] = {{"netG", &g_in, 0}, {"netG_ema", &ema_in, 1}};
    CkptMeta meta = {.step = 40, .epoch = 2, .reader_epoch = 2, .reader_cursor = 17, .seed = 5,
                     .config_json = "{\"name\": \"async\"}", .world_size = 2};
    ckpt_meta_set_double(&meta, "best_fid", 12.5);
    Err e = {{0}};
    char p40[1100], p41[1100], sync_path[1100];
    ckpt_path(p40, sizeof p40, dir, 40);
    snprintf(sync_path, sizeof sync_path, "%s/sync.h5", dir);

    // 1. the staged state, not what the caller did after begin
    CkptAsync *w = ckpta_new();
    TU_CHECK(w != NULL, "ckpta_new");
    TU_CHECK(ckpta_begin(w, p40, nets, 2, &meta, NULL, 0, NULL, &e) == 0, "begin: %s", e.msg);
    tu_fill_param_state(&g, 99);   // training goes on: the next step changes every value
    tu_fill_param_state(&ema, 98);
    // HDF5 from this thread while the writer runs (a synchronous save of the reference state)
    CkptNet ref_nets[2] = {{"netG", &g_ref, 0}, {"netG_ema", &ema_ref, 1}};
    TU_CHECK(ckpt_save(sync_path, ref_nets, 2, &meta, &e) == 0, "sync save: %s", e.msg);
    CkptAsyncDone d;
    ckpta_wait(w, &d);
    TU_CHECK(d.collected && !d.failed && d.step == 40 && !strcmp(d.path, p40) && d.write_s > 0,
             "wait: collected %d failed %d step %lld path %s (%s)", d.collected, d.failed, (long long)d.step, d.path,
             d.msg);
    CkptMeta got;
    TU_CHECK(ckpt_load(p40, in, 2, &got, &e) == 0, "load: %s", e.msg);
    TU_CHECK(tu_same_param_state(&g_in, &g_ref, 1), "netG in the file is not the state at begin");
    TU_CHECK(tu_same_param_state(&ema_in, &ema_ref, 0), "netG_ema in the file is not the state at begin");
    double fid = 0;
    TU_CHECK(got.step == 40 && got.reader_cursor == 17 && got.world_size == 2 && got.config_json &&
                 !strcmp(got.config_json, meta.config_json) && ckpt_meta_get_double(&got, "best_fid", &fid) == 0 &&
                 fid == 12.5,
             "meta not kept (step %lld, cursor %lld, fid %g)", (long long)got.step, (long long)got.reader_cursor, fid);
    ckpt_meta_free(&got);
    // the same bytes as the synchronous writer's file, loaded back
    ParamSet g_s, ema_s;
    declare(&g_s, &ema_s);
    CkptNet s_nets[2] = {{"netG", &g_s, 0}, {"netG_ema", &ema_s, 1}};
    TU_CHECK(ckpt_load(sync_path, s_nets, 2, NULL, &e) == 0, "load sync: %s", e.msg);
    TU_CHECK(tu_same_param_state(&g_s, &g_in, 1) && tu_same_param_state(&ema_s, &ema_in, 0), "async and sync files differ");
    ckpta_poll(w, &d);
    TU_CHECK(!d.collected, "a second collection of the same write");

    // 2. retention after the write: keep_last 2 of ckpt 40, 41, 42 (+ sync.h5, not a checkpoint name)
    for (int64_t step = 41; step <= 42; step++) {
        meta.step = step;
        char p[1100];
        ckpt_path(p, sizeof p, dir, step);
        TU_CHECK(ckpta_begin(w, p, nets, 2, &meta, dir, 2, NULL, &e) == 0, "begin %lld: %s", (long long)step, e.msg);
    }
    ckpta_wait(w, &d);
    ckpt_path(p41, sizeof p41, dir, 41);
    TU_CHECK(d.collected && !d.failed && d.step == 42, "retention run: step %lld failed %d", (long long)d.step,
             d.failed);
    TU_CHECK(!exists(p40) && exists(p41) && exists(sync_path), "retention: 40 %d 41 %d sync %d", exists(p40),
             exists(p41), exists(sync_path));

    // 3. a write that cannot be made: reported with its path, the earlier checkpoint intact, and not
    // hidden by a later success nobody collected in between
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/no-such-dir/ckpt-00000043.h5", dir);
    meta.step = 43;
    TU_CHECK(ckpta_begin(w, bad, nets, 2, &meta, dir, 2, NULL, &e) == 0, "begin bad: %s", e.msg);
    meta.step = 44;
    char p44[1100];
    ckpt_path(p44, sizeof p44, dir, 44);
    TU_CHECK(ckpta_begin(w, p44, nets, 2, &meta, NULL, 0, NULL, &e) == 0, "begin 44: %s", e.msg);
    ckpta_wait(w, &d);
    TU_CHECK(d.collected && d.failed && d.step == 43 && strstr(d.msg, "no-such-dir"),
             "failure: collected %d failed %d step %lld msg %s", d.collected, d.failed, (long long)d.step, d.msg);
    TU_CHECK(ckpt_load(p41, in, 2, NULL, &e) == 0, "the earlier checkpoint does not load: %s", e.msg);
    TU_CHECK(ckpt_load(p44, in, 2, NULL, &e) == 0 && tu_same_param_state(&g_in, &g, 1), "the write after the failure: %s",
             e.msg);

    // 4. free waits for the write in flight: the file is complete afterwards
    meta.step = 45;
    char p45[1100];
    ckpt_path(p45, sizeof p45, dir, 45);
    TU_CHECK(ckpta_begin(w, p45, nets, 2, &meta, NULL, 0, NULL, &e) == 0, "begin 45: %s", e.msg);
    ckpta_free(w);
    TU_CHECK(ckpt_load(p45, in, 2, NULL, &e) == 0, "after free: %s", e.msg);

    params_free(&g), params_free(&ema), params_free(&g_ref), params_free(&ema_ref);
    params_free(&g_in), params_free(&ema_in), params_free(&g_s), params_free(&ema_s);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return tu_done("io_ckpt_async");
}
