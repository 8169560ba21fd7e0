// Checkpoints: a save/load round trip gives identical bytes for every tensor, Adam moment and meta
// field; a flipped byte inside a tensor, a checkpoint of another config, a truncated file and a killed
// writer all fail cleanly with the tensor or file named, and leave the ParamSets untouched; retention
// and find-latest pick the right files. argv[1] = the ratlip binary (for `ratlip ckpt verify|info`).
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/rng.h"
#include "io/ckpt.h"
#include "testutil.h"

static char dir[] = "/tmp/ratlip_ckpt_XXXXXX";
static const char *ratlip_bin;

// A small "generator": trainable tensors of several ranks (one big enough to span several chunks),
// frozen tensors, BatchNorm buffers incl. a 0-d counter. `variant` changes one shape.
static void make_g(ParamSet *ps, int variant) {
    memset(ps, 0, sizeof(*ps));
    params_declare(ps, "fc.weight", PARAM_TRAINABLE, 2, (int[]){variant ? 48 : 64, 100});
    params_declare(ps, "fc.bias", PARAM_TRAINABLE, 1, (int[]){64});
    params_declare(ps, "GBlocks.0.c1.weight", PARAM_TRAINABLE, 4, (int[]){256, 256, 3, 3});   // 2.3 MB: 3 chunks
    params_declare(ps, "GBlocks.0.c1.bn.running_mean", PARAM_BUFFER, 1, (int[]){32});
    params_declare(ps, "GBlocks.0.c1.bn.num_batches_tracked", PARAM_BUFFER, 0, NULL);
    params_declare(ps, "mapping.CLIP_ViT.class_embedding", PARAM_FROZEN, 1, (int[]){256});
    params_declare(ps, "to_rgb.1.weight", PARAM_TRAINABLE, 4, (int[]){3, 32, 3, 3});
    params_finalize(ps);
}

static void make_d(ParamSet *ps) {
    memset(ps, 0, sizeof(*ps));
    params_declare(ps, "DBlocks.0.conv_r.0.weight", PARAM_TRAINABLE, 4, (int[]){256, 256, 3, 3});
    params_declare(ps, "DBlocks.0.gamma", PARAM_TRAINABLE, 1, (int[]){1});
    params_finalize(ps);
}

static void sentinel(ParamSet *ps) {
    for (size_t i = 0; i < ps->total; i++) ps->data[i] = 7.0f;
    for (size_t i = 0; i < ps->n_trainable; i++) ps->adam_m[i] = ps->adam_v[i] = 7.0f;
    ps->adam_step = 7;
}

static int is_sentinel(const ParamSet *ps) {
    for (size_t i = 0; i < ps->total; i++)
        if (ps->data[i] != 7.0f) return 0;
    for (size_t i = 0; i < ps->n_trainable; i++)
        if (ps->adam_m[i] != 7.0f || ps->adam_v[i] != 7.0f) return 0;
    return ps->adam_step == 7;
}

static void copy_file(const char *from, const char *to, long truncate_to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    long total = 0;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) {
        if (truncate_to >= 0 && total + (long)n > truncate_to) n = (size_t)(truncate_to - total);
        fwrite(buf, 1, n, b);
        total += (long)n;
        if (truncate_to >= 0 && total >= truncate_to) break;
    }
    fclose(a);
    fclose(b);
}

// Flips one byte in the middle of the first chunk of dataset `dset` (file offset from HDF5 itself).
static long flip_byte_in(const char *path, const char *dset) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    haddr_t addr = 0;
    hsize_t size = 0, off[8];
    unsigned mask;
    hid_t sp = H5Dget_space(d);
    H5Dget_chunk_info(d, sp, 0, off, &mask, &addr, &size);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    long pos = (long)addr + (long)size / 2;
    FILE *fp = fopen(path, "r+b");
    fseek(fp, pos, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, pos, SEEK_SET);
    fputc(c ^ 0x10, fp);
    fclose(fp);
    return pos;
}

static int run_cli(const char *action, const char *path) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' ckpt %s '%s' > '%s/cli.out' 2>&1", ratlip_bin, action, path, dir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static int cli_output_has(const char *needle) {
    char p[600], buf[65536] = {0};
    snprintf(p, sizeof p, "%s/cli.out", dir);
    FILE *f = fopen(p, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strstr(buf, needle) != NULL;
}

int main(int argc, char **argv) {
    ratlip_bin = argc > 1 ? argv[1] : "ratlip";
    TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    Err e = {{0}};
    char path[600], p2[1024];

    // ---- round trip ----
    ParamSet g, d, ema;
    make_g(&g, 0);
    make_d(&d);
    make_g(&ema, 0);
    tu_fill_param_state(&g, 1);
    tu_fill_param_state(&d, 2);
    tu_fill_param_state(&ema, 3);
    CkptNet nets[3] = {{"netG", &g, 0}, {"netD", &d, 0}, {"netG_ema", &ema, 1}};
    CkptMeta meta = {0};
    meta.step = 1234;
    meta.epoch = 5;
    meta.reader_epoch = 5;
    meta.reader_cursor = 4567;
    meta.seed = 100;
    meta.world_size = 4;
    meta.config_json = "{\"name\": \"tiny\", \"train\": {\"batch_per_rank\": 8}}";
    snprintf(meta.ratlip_version, sizeof meta.ratlip_version, "0.1.0");
    snprintf(meta.git_rev, sizeof meta.git_rev, "abc123");
    ckpt_meta_set_double(&meta, "best_fid", 42.5);
    ckpt_meta_set_int(&meta, "images_seen", 987654321012LL);
    ckpt_path(path, sizeof path, dir, 1234);
    TU_CHECK(ckpt_save(path, nets, 3, &meta, &e) == 0, "save: %s", e.msg);
    snprintf(p2, sizeof p2, "%s.tmp", path);
    TU_CHECK(access(p2, F_OK) != 0, "a .tmp file was left behind");

    ParamSet g2, d2, ema2;
    make_g(&g2, 0);
    make_d(&d2);
    make_g(&ema2, 0);
    CkptNet nets2[3] = {{"netG", &g2, 0}, {"netD", &d2, 0}, {"netG_ema", &ema2, 1}};
    CkptMeta m2;
    TU_CHECK(ckpt_load(path, nets2, 3, &m2, &e) == 0, "load: %s", e.msg);
    TU_CHECK(tu_same_param_state(&g, &g2, 1), "netG tensors or Adam state differ after the round trip");
    TU_CHECK(tu_same_param_state(&d, &d2, 1), "netD tensors or Adam state differ after the round trip");
    TU_CHECK(tu_same_param_state(&ema, &ema2, 0), "netG_ema tensors differ after the round trip");
    TU_CHECK(ema2.adam_step == 0, "EMA got Adam state");
    printf("meta: step %lld epoch %lld reader %lld/%lld seed %lld world %lld version %lld time %lld rv %s git %s cfg %s\n",
           (long long)m2.step, (long long)m2.epoch, (long long)m2.reader_epoch, (long long)m2.reader_cursor,
           (long long)m2.seed, (long long)m2.world_size, (long long)m2.format_version, (long long)m2.unix_time,
           m2.ratlip_version, m2.git_rev, m2.config_json ? m2.config_json : "(null)");
    TU_CHECK(m2.step == 1234 && m2.epoch == 5 && m2.reader_epoch == 5 && m2.reader_cursor == 4567 && m2.seed == 100 &&
                 m2.world_size == 4 && m2.format_version == CKPT_FORMAT_VERSION && m2.unix_time > 1600000000 &&
                 !strcmp(m2.ratlip_version, "0.1.0") && !strcmp(m2.git_rev, "abc123") &&
                 m2.config_json && !strcmp(m2.config_json, meta.config_json),
             "meta differs after the round trip");
    double fid = 0, seen = 0;
    TU_CHECK(ckpt_meta_get_double(&m2, "best_fid", &fid) == 0 && fid == 42.5, "extra double lost");
    TU_CHECK(ckpt_meta_get_double(&m2, "images_seen", &seen) == 0 && seen == 987654321012.0, "extra int lost");
    ckpt_meta_free(&m2);
    printf("round trip: %zu + %zu + %zu floats and Adam state identical byte for byte\n", g.total, d.total, ema.total);

    // the command line: verify passes, info lists the tensors with shapes
    TU_CHECK(run_cli("verify", path) == 0, "ratlip ckpt verify failed on a good file");
    TU_CHECK(run_cli("info", path) == 0 && cli_output_has("netG/GBlocks.0.c1.weight") && cli_output_has("[256,256,3,3]") &&
                 cli_output_has("step 1234"),
             "ratlip ckpt info output incomplete");

    // ---- flipped byte inside one tensor ----
    snprintf(p2, sizeof p2, "%s/flipped.h5", dir);
    copy_file(path, p2, -1);
    long pos = flip_byte_in(p2, "netG/fc.weight");
    params_free(&g2);
    make_g(&g2, 0);
    sentinel(&g2);
    nets2[0].ps = &g2;
    TU_CHECK(ckpt_load(p2, nets2, 3, NULL, &e) != 0, "load accepted a flipped byte");
    TU_CHECK(strstr(e.msg, "netG/fc.weight") && strstr(e.msg, "checksum"), "flip: message lacks the tensor: %s", e.msg);
    TU_CHECK(is_sentinel(&g2), "a failed load changed the ParamSet");
    printf("flipped byte at %ld -> %s\n", pos, e.msg);
    TU_CHECK(ckpt_visit(p2, NULL, NULL, NULL, &e) != 0 && strstr(e.msg, "netG/fc.weight"), "visit: %s", e.msg);
    TU_CHECK(run_cli("verify", p2) == 1 && cli_output_has("netG/fc.weight"), "ratlip ckpt verify missed the flip");
    params_free(&g2);

    // ---- a checkpoint of another config ----
    ParamSet gv;
    make_g(&gv, 1);
    sentinel(&gv);
    nets2[0].ps = &gv;
    TU_CHECK(ckpt_load(path, nets2, 3, NULL, &e) != 0, "load accepted another config");
    TU_CHECK(strstr(e.msg, "netG/fc.weight") && strstr(e.msg, "[64,100]") && strstr(e.msg, "[48,100]"),
             "shape mismatch message: %s", e.msg);
    TU_CHECK(is_sentinel(&gv), "a failed load changed the ParamSet");
    printf("other config -> %s\n", e.msg);
    params_free(&gv);
    // a tensor the checkpoint lacks, and one it has in excess
    ParamSet gx;
    memset(&gx, 0, sizeof gx);
    params_declare(&gx, "fc.weight", PARAM_TRAINABLE, 2, (int[]){64, 100});
    params_declare(&gx, "extra.weight", PARAM_TRAINABLE, 1, (int[]){3});
    params_finalize(&gx);
    nets2[0].ps = &gx;
    TU_CHECK(ckpt_load(path, nets2, 1, NULL, &e) != 0 && strstr(e.msg, "netG/extra.weight") && strstr(e.msg, "missing"),
             "missing tensor: %s", e.msg);
    params_free(&gx);
    memset(&gx, 0, sizeof gx);
    params_declare(&gx, "fc.weight", PARAM_TRAINABLE, 2, (int[]){64, 100});
    params_finalize(&gx);
    TU_CHECK(ckpt_load(path, nets2, 1, NULL, &e) != 0 && strstr(e.msg, "not in this config"), "excess tensor: %s", e.msg);
    params_free(&gx);
    CkptNet wrong_net = {"netC", &d2, 0};
    TU_CHECK(ckpt_load(path, &wrong_net, 1, NULL, &e) != 0 && strstr(e.msg, "netC"), "missing net: %s", e.msg);

    // ---- truncated file ----
    struct stat st;
    stat(path, &st);
    snprintf(p2, sizeof p2, "%s/truncated.h5", dir);
    copy_file(path, p2, (long)st.st_size / 2);
    params_free(&g2);
    make_g(&g2, 0);
    nets2[0].ps = &g2;
    TU_CHECK(ckpt_load(p2, nets2, 3, NULL, &e) != 0 && strstr(e.msg, "truncated.h5"), "truncated: %s", e.msg);
    printf("truncated -> %s\n", e.msg);
    TU_CHECK(run_cli("verify", p2) == 1, "ratlip ckpt verify accepted a truncated file");
    snprintf(p2, sizeof p2, "%s/empty.h5", dir);
    fclose(fopen(p2, "wb"));
    TU_CHECK(ckpt_load(p2, nets2, 3, NULL, &e) != 0, "empty file accepted");

    // ---- temp + rename: a failed save leaves the previous file whole and no partial one ----
    ParamSet bad;
    memset(&bad, 0, sizeof bad);
    params_declare(&bad, "a/b", PARAM_TRAINABLE, 1, (int[]){4});
    params_finalize(&bad);
    CkptNet badnet[2] = {{"netG", &g, 0}, {"netX", &bad, 0}};
    meta.step = 99;
    TU_CHECK(ckpt_save(path, badnet, 2, &meta, &e) != 0, "save with an unstorable name succeeded");
    snprintf(p2, sizeof p2, "%s.tmp", path);
    TU_CHECK(access(p2, F_OK) != 0, "failed save left %s", p2);
    CkptMeta m3;
    TU_CHECK(ckpt_load(path, nets2, 3, &m3, &e) == 0 && m3.step == 1234, "failed save damaged the previous file");
    ckpt_meta_free(&m3);
    params_free(&bad);
    // a writer killed mid-save: the final name still holds a complete checkpoint (old or new)
    ParamSet big;
    memset(&big, 0, sizeof big);
    params_declare(&big, "w", PARAM_TRAINABLE, 2, (int[]){2048, 2048});
    params_finalize(&big);
    CkptNet bign = {"netG", &big, 0};
    snprintf(p2, sizeof p2, "%s/killed.h5", dir);
    meta.step = 1;
    TU_CHECK(ckpt_save(p2, &bign, 1, &meta, &e) == 0, "big save: %s", e.msg);
    int outcome_old = 0, outcome_new = 0;
    for (int delay_ms = 20; delay_ms <= 1280; delay_ms *= 4) {
        pid_t pid = fork();
        if (pid == 0) {
            CkptMeta mm = meta;
            mm.step = 2;
            Err ce;
            ckpt_save(p2, &bign, 1, &mm, &ce);
            _exit(0);
        }
        usleep((useconds_t)delay_ms * 1000);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        CkptMeta mk;
        TU_CHECK(ckpt_load(p2, &bign, 1, &mk, &e) == 0, "after a killed save (%d ms): %s", delay_ms, e.msg);
        if (mk.step == 1) outcome_old++;
        if (mk.step == 2) outcome_new++;
        ckpt_meta_free(&mk);
    }
    printf("killed writers: final name held the old checkpoint %d times, the new one %d times, never a partial one\n",
           outcome_old, outcome_new);
    params_free(&big);

    // ---- retention ----
    char rdir[640];
    snprintf(rdir, sizeof rdir, "%s/ret", dir);
    mkdir(rdir, 0755);
    for (int s = 100; s <= 500; s += 100) {
        ckpt_path(p2, sizeof p2, rdir, s);
        fclose(fopen(p2, "wb"));
    }
    snprintf(p2, sizeof p2, "%s/notes.txt", rdir);
    fclose(fopen(p2, "wb"));
    int del = ckpt_retain(rdir, 2, "ckpt-00000100.h5", &e);
    TU_CHECK(del == 2, "retain deleted %d, expected 2", del);
    int present[6] = {0};
    for (int s = 100; s <= 500; s += 100) {
        ckpt_path(p2, sizeof p2, rdir, s);
        present[s / 100] = access(p2, F_OK) == 0;
    }
    TU_CHECK(present[1] && !present[2] && !present[3] && present[4] && present[5], "retain kept the wrong files");
    snprintf(p2, sizeof p2, "%s/notes.txt", rdir);
    TU_CHECK(access(p2, F_OK) == 0, "retain deleted a file that is not a checkpoint");

    // ---- find latest: newest two are damaged, the third loads ----
    char fdir[640];
    snprintf(fdir, sizeof fdir, "%s/find", dir);
    mkdir(fdir, 0755);
    for (int s = 1; s <= 2; s++) {
        meta.step = s * 100;
        ckpt_path(p2, sizeof p2, fdir, s * 100);
        TU_CHECK(ckpt_save(p2, nets, 3, &meta, &e) == 0, "save: %s", e.msg);
    }
    char p3[1024];
    ckpt_path(p3, sizeof p3, fdir, 300);
    copy_file(p2, p3, -1);
    flip_byte_in(p3, "netD/DBlocks.0.conv_r.0.weight");
    ckpt_path(p3, sizeof p3, fdir, 400);
    stat(p2, &st);
    copy_file(p2, p3, (long)st.st_size - 1000);
    params_free(&g2);
    make_g(&g2, 0);
    nets2[0].ps = &g2;
    char found[1024], report[4096];
    CkptMeta mf;
    int r = ckpt_find_latest(fdir, nets2, 3, &mf, found, sizeof found, report, sizeof report, &e);
    TU_CHECK(r == 1 && strstr(found, "ckpt-00000200.h5") && mf.step == 200, "find_latest picked %s", found);
    TU_CHECK(strstr(report, "ckpt-00000300.h5") && strstr(report, "ckpt-00000400.h5") &&
                 strstr(report, "netD/DBlocks.0.conv_r.0.weight"),
             "find_latest report: %s", report);
    printf("find_latest -> %s; report:\n%s", found, report);
    if (r == 1) ckpt_meta_free(&mf);
    TU_CHECK(ckpt_find_latest(rdir, nets2, 3, NULL, found, sizeof found, report, sizeof report, &e) == 0,
             "find_latest in a directory of empty files found one");
    TU_CHECK(ckpt_find_latest("/nonexistent", nets2, 3, NULL, found, sizeof found, NULL, 0, &e) == 0,
             "find_latest in a missing directory");

    params_free(&g);
    params_free(&d);
    params_free(&ema);
    params_free(&g2);
    params_free(&d2);
    params_free(&ema2);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return tu_done("test_ckpt");
}
