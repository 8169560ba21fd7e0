#include "jobs/trainer.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/kernels.h"
#include "core/rng.h"
#include "dist/sync.h"
#include "dist/watch.h"
#include "io/fsutil.h"
#include "io/modeldims.h"
#include "io/png.h"
#include "io/runload.h"
#include "io/weights.h"
#include "jobs/commands.h"

#define SAMPLE_GRID_MAX 16

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void trainer_say(Trainer *t, const char *fmt, ...) {
    if (t->dp.rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (t->log) {
        va_start(ap, fmt);
        vfprintf(t->log, fmt, ap);
        va_end(ap);
        fflush(t->log);
    }
}

void trainer_status(Trainer *t, const char *status) {
    if (t->dp.rank != 0 || !t->run_dir[0]) return;
    char path[1100], tmp[1110];
    snprintf(path, sizeof path, "%s/status", t->run_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "%s\n", status);
    fclose(f);
    rename(tmp, path);
}

// Every rank passes its own rc; all return -1 if any failed. A rank that did not fail itself gets
// a message pointing at the one that did (which prints its own).
int trainer_agree(Trainer *t, int rc, Err *e) {
    int mine = rc ? 1 : 0, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, t->dp.world);
    if (!any) return 0;
    if (!mine) err_set(e, "rank %d: stopping because another rank failed (its message is above)", t->dp.rank);
    return -1;
}

static void on_grad_ready(void *ctx, int idx) {
    Err ignored;  // a failure here resurfaces (named) in dp_grads_finish
    dp_grads_mark_ready((DpGrads *)ctx, idx, &ignored);
}

// Rank 0 resolves the config (defaults, file, --set, command-line overrides) and broadcasts it.
static int setup_config(Trainer *t, const TrainArgs *a, Err *e) {
    int rc = 0;
    char *json = NULL;
    if (t->dp.rank == 0) {
        rc = config_resolve(&t->cfg, a->config_file, a->n_sets, a->sets, e);
        if (!rc && a->data_dir) snprintf(t->cfg.data.dir, sizeof t->cfg.data.dir, "%s", a->data_dir);
        if (!rc && a->steps > 0) t->cfg.train.steps = a->steps;
        if (!rc && a->threads > 0) t->cfg.train.threads = a->threads;
        if (!rc) rc = config_validate(&t->cfg, e);
        if (!rc && !t->cfg.data.dir[0])
            rc = err_set(e, "data.dir is empty: pass --data DIR (make a dataset with `ratlip data synth --out DIR`)");
        if (!rc) json = config_to_json(&t->cfg);
    }
    if (trainer_agree(t, rc, e)) return -1;
    if (dp_broadcast_string(json, 0, &t->config_json, e)) return -1;
    free(json);
    return config_from_json_string(&t->cfg, t->config_json, "config broadcast from rank 0", e);
}

static int setup_data(Trainer *t, Err *e) {
    const Config *c = &t->cfg;
    int rc = ds_open(&t->train, c->data.dir, "train", e);
    if (!rc && ds_info(t->train)->embed_dim != c->model.text_dim)
        rc = err_set(e, "%s: text embeddings have dimension %d, the config's model.text_dim is %d", c->data.dir,
                     ds_info(t->train)->embed_dim, c->model.text_dim);
    if (!rc && ds_size(t->train) < (long)c->train.batch_per_rank * t->dp.size)
        rc = err_set(e, "%s: %ld training images, fewer than one global batch (%d ranks x %d)", c->data.dir,
                     ds_size(t->train), t->dp.size, c->train.batch_per_rank);
    if (trainer_agree(t, rc, e)) return -1;
    // every rank must see the same dataset (a stale shard on one node's scratch disk is an error)
    const DsInfo *in = ds_info(t->train);
    char fp[512];
    snprintf(fp, sizeof fp, "%d shards, %ld images, %dx%d, K=%d, D=%d, encoder %s", ds_num_shards(t->train),
             ds_size(t->train), in->image_size, in->image_size, in->n_captions, in->embed_dim, in->text_encoder);
    if (dp_check_same_string("training dataset", fp, e)) return -1;
    trainer_say(t, "data: %s/train: %s\n", c->data.dir, fp);
    Err ignore;
    if (ds_has_split(c->data.dir, "test", &ignore) == 1 && ds_open(&t->test, c->data.dir, "test", e)) return -1;
    return 0;
}

static int setup_model(Trainer *t, Err *e) {
    const Config *c = &t->cfg;
    int rc = modeldims_gan_build(&t->gan, c, c->train.batch_per_rank, ds_info(t->train)->image_size, e);
    if (!rc && c->model.clip_weights[0]) {
        rc = weights_load(c->model.clip_weights, "/", &t->gan.clip.ps, 1, e) < 0 ? -1 : 0;
    } else if (!rc) {
        clip_init_random(&t->gan.clip, CLIP_RANDOM_SEED);
        t->random_clip = 1;
    }
    if (trainer_agree(t, rc, e)) return -1;
    gan_init(&t->gan, (uint64_t)c->train.seed);
    trainer_say(t, "model: %s, rat_mode %s | G %zu trainable | D %zu + C %zu | CLIP %s (%zu frozen)%s\n", c->name,
                c->model.rat_mode, t->gan.g.ps.n_trainable, t->gan.dc.netd.n_trainable, t->gan.dc.netc.n_trainable,
                t->random_clip ? "random-weight" : c->model.clip_weights, t->gan.clip.ps.total,
                t->random_clip ? "\n  note: random-weight CLIP: the similarity loss and CLIP score are not meaningful "
                                 "(train one with `ratlip clip train` or convert OpenAI's)"
                               : "");
    return 0;
}

// Fresh start or resume (rank 0 loads, then everything is broadcast).
static int setup_state(Trainer *t, const char *resume, Err *e) {
    CkptNet nets[4];
    int n = runload_ckpt_nets(&t->gan, nets);
    CkptMeta meta;
    memset(&meta, 0, sizeof meta);
    int64_t info[6] = {0, 0, 0, 0, 0, 0};  // found, step, reader epoch, reader cursor, bn tracked, ckpt world
    int rc = 0;
    if (t->dp.rank == 0 && resume) {
        char path[1100] = "", report[4096] = "";
        int found;
        if (!strcmp(resume, "auto")) {
            found = ckpt_find_latest(t->run_dir, nets, n, &meta, path, sizeof path, report, sizeof report, e);
            if (report[0]) trainer_say(t, "resume: skipped checkpoints:\n%s", report);
        } else {
            snprintf(path, sizeof path, "%s", resume);
            found = ckpt_load(path, nets, n, &meta, e) ? -1 : 1;
        }
        if (found < 0) rc = -1;
        if (found == 1) {
            double tracked = 0;
            ckpt_meta_get_double(&meta, "netG.num_batches_tracked", &tracked);
            int64_t v[6] = {1, meta.step, meta.reader_epoch, meta.reader_cursor, (int64_t)tracked, meta.world_size};
            memcpy(info, v, sizeof v);
            trainer_say(t, "resume: %s (step %lld, written by %lld rank%s)\n", path, (long long)meta.step,
                        (long long)meta.world_size, meta.world_size == 1 ? "" : "s");
        } else if (found == 0) {
            trainer_say(t, "resume: no checkpoint in %s, starting fresh\n", t->run_dir);
        }
        ckpt_meta_free(&meta);
    }
    if (trainer_agree(t, rc, e)) return -1;
    MPI_Bcast(info, 6, MPI_INT64_T, 0, t->dp.world);
    t->step = t->start_step = info[0] ? info[1] : 0;
    t->gan.g.bn_batches_tracked = info[4];
    if (t->gan.has_ema) t->gan.g_ema.bn_batches_tracked = info[4];
    if (info[0] && info[5] != t->dp.size)
        trainer_say(t, "resume: checkpoint from %lld ranks, now %d: the global batch is %d x %d = %d (was %lld); the "
                       "data order continues from the next whole global batch\n",
                    (long long)info[5], t->dp.size, t->dp.size, t->cfg.train.batch_per_rank,
                    t->dp.size * t->cfg.train.batch_per_rank, (long long)(info[5] * t->cfg.train.batch_per_rank));

    // replicas start identical: rank 0's state everywhere, then verified
    for (int i = 0; i < n; i++)
        if (dp_broadcast_params(nets[i].ps, 0, e)) return -1;
    if (dp_check_replicas(&t->gan.clip.ps, "CLIP tower", e)) return -1;
    for (int i = 0; i < n; i++)
        if (dp_check_replicas(nets[i].ps, nets[i].name, e)) return -1;

    ReaderOptions ro = {.seed = (uint64_t)t->cfg.train.seed, .rank = t->dp.rank, .world = t->dp.size,
                        .local_batch = t->cfg.train.batch_per_rank, .prefetch = t->cfg.data.prefetch,
                        .crop_pad = t->cfg.data.random_crop, .flip = t->cfg.data.random_flip};
    ReaderState start = {info[0] ? info[2] : 0, info[0] ? info[3] : 0};
    rc = reader_open(&t->reader, t->train, &ro, start, e);
    if (!rc) rc = reader_batch_alloc(&t->batch, t->reader);
    return trainer_agree(t, rc, e);
}

int trainer_setup(Trainer *t, const TrainArgs *a, Err *e) {
    snprintf(t->run_dir, sizeof t->run_dir, "%s", a->run_dir);
    if (setup_config(t, a, e)) return -1;
    int threads = a->threads > 0 ? t->dp.threads : t->cfg.train.threads > 0 ? t->cfg.train.threads : t->dp.threads;
    kern_set_threads(threads);
    int rc = 0;
    if (t->dp.rank == 0) {
        rc = fs_mkdir_p(t->run_dir, e);
        char path[1100];
        snprintf(path, sizeof path, "%s/train.log", t->run_dir);
        if (!rc && !(t->log = fopen(path, "a"))) rc = err_set(e, "%s: cannot open for writing", path);
        snprintf(path, sizeof path, "%s/samples", t->run_dir);
        if (!rc) rc = fs_mkdir_p(path, e);
        snprintf(path, sizeof path, "%s/config.json", t->run_dir);
        FILE *f = rc ? NULL : fopen(path, "w");
        if (f) {
            fputs(t->config_json, f);
            fclose(f);
        }
    }
    if (trainer_agree(t, rc, e)) return -1;
    trainer_status(t, "running");
    char what[320];
    snprintf(what, sizeof what, "train | %s", t->dp.startup);
    if (t->dp.rank == 0) jobs_print_banner(what);
    if (t->log) fprintf(t->log, "ratlip train | BLAS %s | %s\n", kern_backend_name(), t->dp.startup);
    if (setup_data(t, e) || setup_model(t, e) || setup_state(t, a->resume, e)) return -1;

    const Config *c = &t->cfg;
    int B = c->train.batch_per_rank, T = c->model.text_dim, Z = c->model.z_dim, W = t->dp.size;
    t->z = calloc((size_t)B * Z, sizeof(real));
    t->s_mis = calloc((size_t)B * T, sizeof(real));
    t->s_all = calloc((size_t)W * B * T, sizeof(real));
    rc = (!t->z || !t->s_mis || !t->s_all) ? err_set(e, "out of memory") : 0;
    if (!rc) rc = dp_grads_init(&t->red_g, &t->gan.g.ps, t->dp.world, c->dist.bucket_kib, e);
    if (!rc) rc = dp_grads_init(&t->red_d, &t->gan.dc.netd, t->dp.world, c->dist.bucket_kib, e);
    if (!rc) rc = dp_grads_init(&t->red_c, &t->gan.dc.netc, t->dp.world, c->dist.bucket_kib, e);
    t->gan.g.ps.ready_hook = on_grad_ready;
    t->gan.g.ps.ready_ctx = &t->red_g;
    if (c->model.sync_bn && W > 1) {
        t->gan.g.bn_hook = dp_sync_bn_hook;
        t->gan.g.bn_hook_ctx = &t->syncbn;
    }
    if (!rc && t->dp.rank == 0) {
        char path[1100];
        snprintf(path, sizeof path, "%s/metrics.h5", t->run_dir);
        t->metrics = metrics_open(path, e);
        if (!t->metrics) rc = -1;
        else if (t->start_step > 0) rc = metrics_truncate_after(t->metrics, t->start_step + 1, e);
    }
    if (trainer_agree(t, rc, e)) return -1;
    if (c->train.eval_every > 0) {
        if (!t->test)
            return err_set(e, "train.eval_every is %d but %s has no test split to evaluate on (set it to 0 or "
                              "add test-*.h5)", c->train.eval_every, c->data.dir);
        char grids[1100];
        snprintf(grids, sizeof grids, "%s/samples", t->run_dir);
        if (eval_ctx_init(&t->ev, c, c->data.dir, grids, 0, e)) return -1;
        t->ev.random_clip = t->random_clip;
        t->has_eval = 1;
    }
    dp_set_timeout(c->dist.timeout_s);
    trainer_say(t, "train: %d rank%s x batch %d = global batch %d | steps %lld -> %ld | sync_bn %s | run dir %s\n", W,
                W == 1 ? "" : "s", B, W * B, (long long)t->step, c->train.steps, c->model.sync_bn ? "on" : "off",
                t->run_dir);
    t->t_start = t->t_window = now_s();
    t->window_step = t->step;
    return 0;
}

void trainer_free(Trainer *t) {
    Err ignore;
    if (t->metrics) metrics_close(t->metrics, &ignore);
    if (t->reader) reader_close(t->reader);
    reader_batch_free(&t->batch);
    if (t->train) ds_close(t->train);
    if (t->test) ds_close(t->test);
    if (t->has_eval) eval_ctx_free(&t->ev);
    if (t->gan.buf) gan_free(&t->gan);
    dp_grads_free(&t->red_g);
    dp_grads_free(&t->red_d);
    dp_grads_free(&t->red_c);
    free(t->z), free(t->s_mis), free(t->s_all), free(t->config_json);
    if (t->log) fclose(t->log);
}

// RATLIP_PROFILE=1 (opt-in, for tests/bench/scaling.sh): rank 0 adds to every log line where its
// steps' wall time went since the last line: data wait (reader + sentence allgather), D step (backward
// + Adam), D reduce wait (dp_grads_finish: D's buckets all start there), G step (backward + Adam + EMA;
// G's buckets start during its backward), G reduce wait (the exposed part of G's allreduce).
enum { PROF_DATA, PROF_D, PROF_D_WAIT, PROF_G, PROF_G_WAIT, PROF_N };
static double prof_s[PROF_N];
static long prof_steps;
static int profiling(void) {
    static int on = -1;
    if (on < 0) on = getenv("RATLIP_PROFILE") && atoi(getenv("RATLIP_PROFILE")) > 0;
    return on;
}
static void prof_add(int what, double *since) {
    double now = now_s();
    prof_s[what] += now - *since;
    *since = now;
}

int trainer_step(Trainer *t, Err *e) {
    const Config *c = &t->cfg;
    int B = c->train.batch_per_rank, T = c->model.text_dim, Z = c->model.z_dim, W = t->dp.size, r = t->dp.rank;
    double tp = now_s();
    if (reader_next(t->reader, &t->batch, e)) return -1;
    const real *imgs = t->batch.images, *s = t->batch.text;

    // mismatched sentences: the *global* batch rolled by one, so the pairs do not depend on W
    if (W > 1) {
        if (MPI_Allgather(s, B * T, MPI_FLOAT, t->s_all, B * T, MPI_FLOAT, t->dp.world) != MPI_SUCCESS)
            return err_set(e, "rank %d: allgather of the sentence embeddings failed", r);
    } else {
        memcpy(t->s_all, s, sizeof(real) * (size_t)B * T);
    }
    // noise per global sample position: the same z for the same sample whatever W is
    RngKey key = rng_key((uint64_t)c->train.seed, RNG_NOISE);
    for (int b = 0; b < B; b++) {
        int64_t g = (int64_t)r * B + b;
        memcpy(t->s_mis + (size_t)b * T, t->s_all + (size_t)((g + 1) % ((int64_t)W * B)) * T, sizeof(real) * T);
        rng_fill_normal(t->z + (size_t)b * Z, Z, 0, 1, key, ((uint64_t)t->step << 24) | (uint64_t)g);
    }

    GanLosses L;
    memset(&L, 0, sizeof L);
    prof_add(PROF_DATA, &tp);
    dp_grads_begin(&t->red_d);
    dp_grads_begin(&t->red_c);
    if (gan_d_backward(&t->gan, imgs, s, t->s_mis, t->z, B, &L))
        return err_set(e, "rank %d: D step: %s", r, t->syncbn.err.msg);
    prof_add(PROF_D, &tp);
    // D's gradient is a sum over four passes (real, mismatched, fake, MA-GP): complete only now
    if (dp_grads_finish(&t->red_d, c->dist.timeout_s, e) || dp_grads_finish(&t->red_c, c->dist.timeout_s, e))
        return -1;
    prof_add(PROF_D_WAIT, &tp);
    gan_d_update(&t->gan);
    prof_add(PROF_D, &tp);

    dp_grads_begin(&t->red_g);  // G's buckets start during its backward (params ready hook)
    if (gan_g_backward(&t->gan, s, B, &L)) return err_set(e, "rank %d: G step: %s", r, t->syncbn.err.msg);
    prof_add(PROF_G, &tp);
    if (dp_grads_finish(&t->red_g, c->dist.timeout_s, e)) return -1;
    prof_add(PROF_G_WAIT, &tp);
    gan_g_update(&t->gan);
    prof_add(PROF_G, &tp);
    prof_steps++;
    t->step++;
    t->last = L;
    return 0;
}

int trainer_log(Trainer *t, Err *e) {
    double now = now_s();
    double img_per_s = (double)(t->step - t->window_step) * t->cfg.train.batch_per_rank * t->dp.size /
                       (now - t->t_window > 0 ? now - t->t_window : 1e-9);
    t->t_window = now;
    t->window_step = t->step;
    GanLosses *L = &t->last;
    double v[8] = {L->d_total, L->d_real, L->d_mis, L->d_fake, L->magp, L->g_total, L->g_adv, L->sim};
    if (t->dp.size > 1 && dp_mean_doubles(v, 8, e)) return -1;
    double gd, gg;
    gan_grad_norms(&t->gan, &gd, &gg);
    if (t->dp.rank != 0) return 0;
    double elapsed = now - t->t_start;
    long todo = t->cfg.train.steps - t->step;
    double eta = t->step > t->start_step ? elapsed / (double)(t->step - t->start_step) * todo : 0;
    if (profiling() && prof_steps > 0) {
        double ms[PROF_N], total = 0;
        for (int i = 0; i < PROF_N; i++) total += ms[i] = prof_s[i] / (double)prof_steps * 1e3;
        double mb_d = (double)(t->gan.dc.netd.n_trainable + t->gan.dc.netc.n_trainable) * sizeof(real) / 1e6;
        double mb_g = (double)t->gan.g.ps.n_trainable * sizeof(real) / 1e6;
        trainer_say(t,
                    "profile: ms/step %.1f | data %.1f | D step %.1f | D reduce wait %.1f (%.2f MB) | G step %.1f | "
                    "G reduce wait %.1f (%.2f MB) | reduce wait share %.1f%% | %ld steps\n",
                    total, ms[PROF_DATA], ms[PROF_D], ms[PROF_D_WAIT], mb_d, ms[PROF_G], ms[PROF_G_WAIT], mb_g,
                    100 * (ms[PROF_D_WAIT] + ms[PROF_G_WAIT]) / total, prof_steps);
        memset(prof_s, 0, sizeof prof_s);
        prof_steps = 0;
    }
    trainer_say(t,
                "step %6lld/%ld | %6.1f img/s | D %.4f (real %.3f mis %.3f fake %.3f magp %.2e) | G %.4f (adv %.3f "
                "sim %.4f) | |gD| %.3g |gG| %.3g | ETA %dm%02ds\n",
                (long long)t->step, t->cfg.train.steps, img_per_s, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], gd,
                gg, (int)(eta / 60), (int)eta % 60);
    const char *names[] = {"loss_d", "loss_d_real", "loss_d_mis", "loss_d_fake", "magp", "loss_g", "loss_g_adv",
                           "clip_sim", "grad_norm_d", "grad_norm_g", "img_per_s", "time"};
    double row[12] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], gd, gg, img_per_s, elapsed};
    return metrics_append(t->metrics, "train", t->step, 12, names, row, e);
}

int trainer_checkpoint(Trainer *t, Err *e) {
    int rc = 0;
    if (t->dp.rank == 0) {
        CkptNet nets[4];
        int n = runload_ckpt_nets(&t->gan, nets);
        CkptMeta meta;
        memset(&meta, 0, sizeof meta);
        ReaderState rs = reader_state(t->reader);
        meta.step = t->step;
        meta.epoch = rs.epoch;
        meta.reader_epoch = rs.epoch;
        meta.reader_cursor = rs.cursor;
        meta.seed = t->cfg.train.seed;
        meta.config_json = t->config_json;
        snprintf(meta.ratlip_version, sizeof meta.ratlip_version, "%s", RATLIP_VERSION);
        snprintf(meta.git_rev, sizeof meta.git_rev, "%s", RATLIP_GIT_REV);
        meta.world_size = t->dp.size;
        ckpt_meta_set_double(&meta, "netG.num_batches_tracked", (double)t->gan.g.bn_batches_tracked);
        ckpt_meta_set_int(&meta, "random_clip", t->random_clip);
        char path[1100];
        ckpt_path(path, sizeof path, t->run_dir, t->step);
        rc = ckpt_save(path, nets, n, &meta, e);
        if (!rc && ckpt_retain(t->run_dir, t->cfg.train.keep_last, t->best_ckpt[0] ? t->best_ckpt : NULL, e) < 0)
            rc = -1;
        if (!rc) trainer_say(t, "checkpoint: %s\n", path);
    }
    return trainer_agree(t, rc, e);
}

int trainer_samples(Trainer *t, Err *e) {
    if (t->dp.rank != 0) return 0;
    Dataset *ds = t->test ? t->test : t->train;
    const Config *c = &t->cfg;
    int n = (int)(ds_size(ds) < SAMPLE_GRID_MAX ? ds_size(ds) : SAMPLE_GRID_MAX);
    int B = c->train.batch_per_rank, Z = c->model.z_dim, T = c->model.text_dim, S = c->model.image_size;
    real *z = calloc((size_t)n * Z, sizeof(real)), *s = calloc((size_t)n * T, sizeof(real));
    real *img = calloc((size_t)n * 3 * S * S, sizeof(real));
    char caps[SAMPLE_GRID_MAX][256];
    const char *capp[SAMPLE_GRID_MAX];
    int rc = (!z || !s || !img) ? err_set(e, "out of memory") : 0;
    RngKey key = rng_key((uint64_t)c->train.seed, RNG_SAMPLE);
    for (int i = 0; i < n && !rc; i++) {   // fixed z and the first captions: grids are comparable over steps
        rng_fill_normal(z + (size_t)i * Z, Z, 0, 1, key, (uint64_t)i);
        rc = ds_read_emb(ds, i, 0, s + (size_t)i * T, e);
        if (!rc) rc = ds_read_caption(ds, i, 0, caps[i], sizeof caps[i], e);
        capp[i] = caps[i];
    }
    for (int i = 0; i < n && !rc; i += B) {
        int nb = n - i < B ? n - i : B;
        if (gan_generate(&t->gan, 1, z + (size_t)i * Z, s + (size_t)i * T, img + (size_t)i * 3 * S * S, nb))
            rc = err_set(e, "sampling failed");
    }
    if (!rc) {
        char path[1100];
        snprintf(path, sizeof path, "%s/samples/step-%08lld.png", t->run_dir, (long long)t->step);
        int cols = n < 4 ? n : 4, rows = (n + cols - 1) / cols;
        rc = png_write_grid_f32(path, img, n, S, S, rows, cols, capp, e);
        if (!rc) trainer_say(t, "samples: %s (%s G, captions of the %s split)\n", path,
                             t->gan.has_ema ? "EMA" : "raw", t->test ? "test" : "train");
    }
    free(z), free(s), free(img);
    return rc;
}

int trainer_eval(Trainer *t, int *improved, Err *e) {
    EvalResult res;
    *improved = 0;
    if (eval_run(&t->ev, &t->gan, 1, &t->cfg, t->test, t->step, t->metrics, &res, e)) return -1;
    if (!res.improved) return 0;
    // the best checkpoint is kept by retention, whatever keep_last says; the caller writes it
    snprintf(t->best_ckpt, sizeof t->best_ckpt, "ckpt-%08lld.h5", (long long)t->step);
    trainer_say(t, "eval: best FID so far (%.3f): %s is kept as best\n", res.fid, t->best_ckpt);
    *improved = 1;
    return 0;
}
