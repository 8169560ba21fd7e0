#include "jobs/trainer.h"
#include "core/kernels.h"
#include <math.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "dist/sync.h"
#include "io/bow.h"
#include "io/dataset.h"
#include "io/fault.h"
#include "io/fs.h"
#include "io/gridindex.h"
#include "io/modeldims.h"
#include "io/png.h"
#include "io/runload.h"
#include "io/weights.h"
#include "jobs/eval_report.h"

#define SAMPLE_GRID_MAX 16
#define HARD_MISMATCH_BANK 4096   // distinct train captions searched for hard mismatches (the synthetic set has ~2700)

// Bytes of a parameter set: values, plus gradient and Adam moments of the trainable part when it trains
// (the EMA copy's and the frozen CLIP's are allocated but never touched, so never resident).
static double ps_bytes(const ParamSet *ps, int trains) {
    return (double)sizeof(real) * ((double)ps->total + (trains ? 3.0 * (double)ps->n_trainable : 0));
}
static double trainer_param_bytes(const Gan *g) {
    return ps_bytes(&g->g.ps, 1) + (g->has_ema ? ps_bytes(&g->g_ema.ps, 0) : 0) + ps_bytes(&g->dc.netd, 1) +
           ps_bytes(&g->dc.netc, 1) + ps_bytes(&g->clip.ps, 0);
}

static void on_grad_ready(void *ctx, int idx) {
    Err ignored;  // a failure here resurfaces (named) in dp_grads_finish
    dp_grads_mark_ready((DpGrads *)ctx, idx, &ignored);
}

// ---------------------------------------------------------------- set-up

// Rank 0: the command line's overrides (into the config, so checkpoints record them), then validation.
static int configure(void *self, Config *c, const RunArgs *a, Err *e) {
    (void)self;
    if (a->steps > 0) c->train.steps = a->steps;
    if (a->threads > 0) c->train.threads = a->threads;
    return config_validate(c, e);
}

static void schedule(void *self, const Config *c, RunSchedule *s) {
    (void)self;
    const TrainConfig *tc = &c->train;
    *s = (RunSchedule){.steps = tc->steps, .log_every = tc->log_every, .check_every = c->dist.check_every,
                       .eval_every = tc->eval_every, .eval_at_end = tc->eval_every > 0,
                       .ckpt_every = tc->ckpt_every, .ckpt_at_end = 1, .sample_every = tc->sample_every};
}

// The data, then the networks, seeded (a resume overwrites them).
static int init(void *self, Run *r, Err *e) {
    Trainer *t = self;
    const Config *c = &r->cfg;
    char grids[1100];
    snprintf(grids, sizeof grids, "%s/samples", r->run_dir);
    if (run_agree(r, r->dp.rank == 0 ? fs_mkdir_p(grids, e) : 0, e)) return -1;
    if (run_open_data(r, c->train.batch_per_rank, "train.batch_per_rank", c->model.text_dim, "model.text_dim",
                      c->model.image_size, "model.image_size", e))
        return -1;
    // real images: model.image_size (the reader crops a train split stored larger)
    int rc = modeldims_gan_build(&t->gan, c, c->train.batch_per_rank, r->image_size, e);
    if (!rc && c->model.clip_weights[0]) {
        rc = weights_load(c->model.clip_weights, "/", &t->gan.clip.ps, 1, e) < 0 ? -1 : 0;
    } else if (!rc) {
        clip_init_random(&t->gan.clip, CLIP_RANDOM_SEED);
        t->random_clip = 1;
    }
    if (run_agree(r, rc, e)) return -1;
    gan_init(&t->gan, (uint64_t)c->train.seed);
    run_say(r, "model: %s, rat_mode %s | G %zu trainable | D %zu + C %zu | CLIP %s (%zu frozen)%s\n", c->name,
            c->model.rat_mode, t->gan.g.ps.n_trainable, t->gan.dc.netd.n_trainable, t->gan.dc.netc.n_trainable,
            t->random_clip ? "random-weight" : c->model.clip_weights, t->gan.clip.ps.total,
            t->random_clip ? "\n  note: random-weight CLIP: the similarity loss and CLIP score are not meaningful "
                             "(train one with `ratlip clip train` or convert OpenAI's)"
                           : "");
    // bf16 only where the CPU computes it natively; RATLIP_BF16_FORCE=1 uses oneDNN's emulation anyway
    const char *force = getenv("RATLIP_BF16_FORCE");
    kern_set_precision(!strcmp(c->train.precision, "bf16"), force && *force && strcmp(force, "0"));
    run_say(r, "%s\n", kern_precision_line());
    run_say(r, "memory per rank (planned): parameters, gradients and Adam %.0f MB | activations %.0f MB "
            "(batch %d) | peak RSS is reported at the end\n", trainer_param_bytes(&t->gan) / 1048576.0,
            gan_activation_bytes(&t->gan) / 1048576.0, c->train.batch_per_rank);
    return 0;
}

static int nets(void *self, CkptNet *out) { return runload_ckpt_nets(&((Trainer *)self)->gan, out); }

static void save_meta(void *self, Run *r, CkptMeta *m) {
    Trainer *t = self;
    ckpt_meta_set_double(m, "netG.num_batches_tracked", (double)t->gan.g.bn_batches_tracked);
    ckpt_meta_set_int(m, "random_clip", t->random_clip);
    // which built-in encoder made the training captions' embeddings (io/bow.h: 1 bow, 3 ngram, 0 a
    // precomputed one), so `ratlip sample` embeds new captions the same way
    ckpt_meta_set_int(m, CKPT_TEXT_ENCODER_ORDER, bow_order_of(ds_info(r->train)->text_encoder));
}

// The task's scalars a checkpoint holds beside the tensors (at start, and after a rollback).
static void restore(void *self, Run *r, const RunResume *res) {
    Trainer *t = self;
    double tracked = 0;
    if (res->found) ckpt_meta_get_double(&res->meta, "netG.num_batches_tracked", &tracked);
    t->gan.g.bn_batches_tracked = (long)tracked;
    if (t->gan.has_ema) t->gan.g_ema.bn_batches_tracked = (long)tracked;
    t->t_window = run_now_s();   // images/s restart from here
    t->window_step = r->step;
}

// t->mis_cols from train.hard_mismatch_labels ("" = every /labels column, in order): names of the
// dataset's label columns, each once.
static int mismatch_columns(Trainer *t, const DsInfo *info, const char *want, const char *dir, Err *e) {
    t->n_mis_cols = 0;
    if (!*want) {
        for (int j = 0; j < info->label_dim; j++) t->mis_cols[t->n_mis_cols++] = j;
        return 0;
    }
    for (const char *p = want; *p;) {
        size_t len = strcspn(p, ",");
        int found = -1;
        char name[64];
        for (int j = 0; j < info->label_dim && found < 0; j++) {
            ds_label_name(info, j, name, sizeof name);
            if (strlen(name) == len && !strncmp(name, p, len)) found = j;
        }
        if (found < 0)
            return err_set(e, "train.hard_mismatch_labels: '%.*s' is not a label of %s (its /labels columns: %s)",
                           (int)len, p, dir, info->label_names);
        for (int i = 0; i < t->n_mis_cols; i++)
            if (t->mis_cols[i] == found)
                return err_set(e, "train.hard_mismatch_labels: '%.*s' is named twice", (int)len, p);
        t->mis_cols[t->n_mis_cols++] = found;
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

// Step buffers and gradient reducers; the evaluation context when train.eval_every > 0.
static int start(void *self, Run *r, const RunResume *res, Err *e) {
    Trainer *t = self;
    const Config *c = &r->cfg;
    (void)res;   // the checkpoint's scalars came in through restore
    if (c->train.steps == 0) {   // every rank has the same config and data: all return here together
        long global = (long)c->train.batch_per_rank * r->dp.size, per_epoch = ds_size(r->train) / global;
        return err_set(e, "train.steps is 0: nothing to train. Set it (--steps N, --set train.steps=N); upstream's "
                          "1502 epochs are 1502 x floor(%ld train images / global batch %ld) = %ld steps here "
                          "(jobs/configs/faces.json ships 0: CelebA-tiny's size is not published)",
                       ds_size(r->train), global, 1502 * per_epoch);
    }
    if (dp_check_replicas(&t->gan.clip.ps, "CLIP tower", e)) return -1;

    int B = c->train.batch_per_rank, T = c->model.text_dim, Z = c->model.z_dim, W = r->dp.size;
    t->z = calloc((size_t)B * Z, sizeof(real));
    t->s_mis = calloc((size_t)B * T, sizeof(real));
    t->s_all = calloc((size_t)W * B * T, sizeof(real));
    if (run_agree(r, (!t->z || !t->s_mis || !t->s_all) ? err_set(e, "out of memory") : 0, e)) return -1;
    if (c->train.hard_mismatch > 0) {   // every rank sees the same dataset: all fail here together
        const DsInfo *info = ds_info(r->train);
        if (info->label_dim == 0)
            return err_set(e, "train.hard_mismatch is %g but %s has no /labels to find a caption differing in one "
                              "label (the synthetic set has them): set it to 0", c->train.hard_mismatch, c->data.dir);
        if (mismatch_columns(t, info, c->train.hard_mismatch_labels, c->data.dir, e)) return -1;
        if (capbank_build(&t->mis_bank, r->train, HARD_MISMATCH_BANK, (uint64_t)c->train.seed, e)) return -1;
        run_say(r, "train: hard mismatched captions for %.0f%% of D's mismatched pairs: the nearest of %d distinct "
                   "train captions (%ld read) whose sample differs in one of the labels %s\n",
                100 * c->train.hard_mismatch, t->mis_bank.n, t->mis_bank.reads,
                *c->train.hard_mismatch_labels ? c->train.hard_mismatch_labels : info->label_names);
    }
    if (dp_grads_init(&t->red_g, &t->gan.g.ps, r->dp.world, c->dist.bucket_kib, e) ||
        dp_grads_init(&t->red_d, &t->gan.dc.netd, r->dp.world, c->dist.bucket_kib, e) ||
        dp_grads_init(&t->red_c, &t->gan.dc.netc, r->dp.world, c->dist.bucket_kib, e))
        return -1;
    t->gan.g.ps.ready_hook = on_grad_ready;
    t->gan.g.ps.ready_ctx = &t->red_g;
    if (c->model.sync_bn && W > 1) {
        t->gan.g.bn_hook = dp_sync_bn_hook;
        t->gan.g.bn_hook_ctx = &t->syncbn;
    }
    if (c->train.eval_every > 0) {
        if (!r->test)   // every rank sees the same dataset: all fail here together
            return err_set(e, "train.eval_every is %d but %s has no test split to evaluate on (set it to 0 or "
                              "add test-*.h5)", c->train.eval_every, c->data.dir);
        char grids[1100];
        snprintf(grids, sizeof grids, "%s/samples", r->run_dir);
        if (eval_ctx_init(&t->ev, c, c->data.dir, grids, 0, e)) return -1;
        t->ev.random_clip = t->random_clip;
        t->has_eval = 1;
    }
    run_say(r, "train: %d rank%s x batch %d = global batch %d | steps %lld -> %ld | sync_bn %s | run dir %s\n", W,
            W == 1 ? "" : "s", B, W * B, (long long)r->step, c->train.steps, c->model.sync_bn ? "on" : "off",
            r->run_dir);
    t->t_window = run_now_s();
    t->window_step = r->step;
    return 0;
}

static void task_free(void *self) {
    Trainer *t = self;
    if (t->has_eval) eval_ctx_free(&t->ev);
    if (t->gan.buf) gan_free(&t->gan);
    dp_grads_free(&t->red_g);
    dp_grads_free(&t->red_d);
    dp_grads_free(&t->red_c);
    free(t->z), free(t->s_mis), free(t->s_all);
    capbank_free(&t->mis_bank);
}

// ---------------------------------------------------------------- one iteration

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
    double now = run_now_s();
    prof_s[what] += now - *since;
    *since = now;
}

// NaN or ±Inf anywhere in x: x − x is NaN exactly there, and the sum then is too. 16 independent
// partial sums: one running sum is a chain of dependent adds the compiler may not reorder (~7 ms of
// a 470 ms 2-rank demo step went there); 16 lanes vectorise.
static int all_finite(const real *x, size_t n) {
    enum { LANES = 16 };
    real acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += x[i + l] - x[i + l];
    real sum = 0;
    for (; i < n; i++) sum += x[i] - x[i];
    for (int l = 0; l < LANES; l++) sum += acc[l];
    return sum == 0;
}

// The divergence watchdog's test before an Adam update: this rank's loss, and the reduced gradients of
// a and b (identical on every rank). Collective: every rank learns the first rank that saw a problem
// and its reason. Returns 0 (go on), RUN_DIVERGED (e says why; the update must not happen), -1 (failed).
static int diverged(Run *run, const char *phase, double loss, const ParamSet *a, const ParamSet *b, Err *e) {
    char why[192] = "";
    double bound = run->cfg.train.loss_bound;
    if (!isfinite(loss)) snprintf(why, sizeof why, "%s loss is %g", phase, loss);
    else if (bound > 0 && fabs(loss) > bound)
        snprintf(why, sizeof why, "%s loss %g is beyond train.loss_bound %g", phase, loss, bound);
    else if (!all_finite(a->grad, a->n_trainable) || (b && !all_finite(b->grad, b->n_trainable)))
        snprintf(why, sizeof why, "%s gradient (averaged over the ranks) is not finite", phase);
    int first = dp_first_rank(why[0] != 0, dp_get_timeout(), "divergence check");
    if (first < 0) return 0;
    if (dp_bcast_bytes(why, (int)sizeof why, first, "divergence report", e)) return -1;
    err_set(e, "rank %d: %s", first, why);
    return RUN_DIVERGED;
}

// Read this rank's slice, D step + reduce + Adam, G step + reduce + Adam + EMA.
static int step(void *self, Run *run, Err *e) {
    Trainer *t = self;
    const Config *c = &run->cfg;
    int B = c->train.batch_per_rank, T = c->model.text_dim, Z = c->model.z_dim, W = run->dp.size, r = run->dp.rank;
    double tp = run_now_s();
    if (reader_next(run->reader, &run->batch, e)) return -1;
    const real *imgs = run->batch.images, *s = run->batch.text;

    // mismatched sentences: the *global* batch rolled by one, so the pairs do not depend on W
    if (dp_allgather_real(s, t->s_all, B * T, "train: allgather of the sentence embeddings", e)) return -1;
    // noise per global sample position: the same z for the same sample whatever W is
    RngKey key = rng_key((uint64_t)c->train.seed, RNG_NOISE);
    for (int b = 0; b < B; b++) {
        int64_t g = (int64_t)r * B + b;
        memcpy(t->s_mis + (size_t)b * T, t->s_all + (size_t)((g + 1) % ((int64_t)W * B)) * T, sizeof(real) * T);
        rng_fill_normal(t->z + (size_t)b * Z, Z, 0, 1, key, ((uint64_t)run->step << 24) | (uint64_t)g);
    }
    if (t->mis_bank.n > 0) {   // hard ones (train.hard_mismatch): per global sample, so not dependent on W either
        RngKey mk = rng_key((uint64_t)c->train.seed, RNG_MISMATCH);
        for (int b = 0; b < B; b++) {
            uint32_t u[4];
            rng_block(mk, (uint64_t)run->step, (uint64_t)((int64_t)r * B + b), u);
            if ((double)u[0] / 4294967296.0 >= c->train.hard_mismatch) continue;
            const int32_t *lab = ds_labels(run->train, (long)run->batch.index[b]);
            int col = t->mis_cols[u[1] % (uint32_t)t->n_mis_cols];
            int m = capbank_nearest_other(&t->mis_bank, s + (size_t)b * T, lab, col);
            if (m < 0) continue;   // no caption of that kind in the bank: the rolled one stays
            memcpy(t->s_mis + (size_t)b * T, t->mis_bank.emb + (size_t)m * T, sizeof(real) * T);
        }
    }

    GanLosses L;
    memset(&L, 0, sizeof L);
    prof_add(PROF_DATA, &tp);
    dp_grads_begin(&t->red_d);
    dp_grads_begin(&t->red_c);
    if (gan_d_backward(&t->gan, imgs, s, t->s_mis, t->z, B, &L))
        return err_set(e, "rank %d: D step: %s", r, t->syncbn.err.msg);
    if (fault_point("grad")) t->gan.dc.netd.grad[0] = (real)NAN;   // the watchdog's test (io/fault.h)
    prof_add(PROF_D, &tp);
    // D's gradient is a sum over four passes (real, mismatched, fake, MA-GP): complete only now
    if (dp_grads_finish(&t->red_d, c->dist.timeout_s, e) || dp_grads_finish(&t->red_c, c->dist.timeout_s, e))
        return -1;
    prof_add(PROF_D_WAIT, &tp);
    int verdict = diverged(run, "D", L.d_total, &t->gan.dc.netd, &t->gan.dc.netc, e);
    if (verdict) return verdict;
    gan_d_update(&t->gan);
    prof_add(PROF_D, &tp);

    dp_grads_begin(&t->red_g);  // G's buckets start during its backward (params ready hook)
    if (gan_g_backward(&t->gan, s, B, &L)) return err_set(e, "rank %d: G step: %s", r, t->syncbn.err.msg);
    prof_add(PROF_G, &tp);
    if (dp_grads_finish(&t->red_g, c->dist.timeout_s, e)) return -1;
    prof_add(PROF_G_WAIT, &tp);
    if ((verdict = diverged(run, "G", L.g_total, &t->gan.g.ps, NULL, e))) return verdict;
    gan_g_update(&t->gan);
    prof_add(PROF_G, &tp);
    prof_steps++;
    run->step++;
    t->last = L;
    return 0;
}

// ---------------------------------------------------------------- reports

// Where the steps' wall time went since the last log line (RATLIP_PROFILE=1).
static void say_profile(Trainer *t, Run *r) {
    double ms[PROF_N], total = 0;
    for (int i = 0; i < PROF_N; i++) total += ms[i] = prof_s[i] / (double)prof_steps * 1e3;
    double mb_d = (double)(t->gan.dc.netd.n_trainable + t->gan.dc.netc.n_trainable) * sizeof(real) / 1e6;
    double mb_g = (double)t->gan.g.ps.n_trainable * sizeof(real) / 1e6;
    run_say(r,
            "profile: ms/step %.1f | data %.1f | D step %.1f | D reduce wait %.1f (%.2f MB) | G step %.1f | "
            "G reduce wait %.1f (%.2f MB) | reduce wait share %.1f%% | %ld steps\n",
            total, ms[PROF_DATA], ms[PROF_D], ms[PROF_D_WAIT], mb_d, ms[PROF_G], ms[PROF_G_WAIT], mb_g,
            100 * (ms[PROF_D_WAIT] + ms[PROF_G_WAIT]) / total, prof_steps);
    memset(prof_s, 0, sizeof prof_s);
    prof_steps = 0;
}

// Rank-0 log line + metrics row (losses averaged over ranks: collective); images/s over the steps
// since the previous log line.
static int log_line(void *self, Run *r, Err *e) {
    Trainer *t = self;
    double now = run_now_s();
    double img_per_s = (double)(r->step - t->window_step) * r->cfg.train.batch_per_rank * r->dp.size /
                       (now - t->t_window > 0 ? now - t->t_window : 1e-9);
    t->t_window = now;
    t->window_step = r->step;
    GanLosses *L = &t->last;
    double v[8] = {L->d_total, L->d_real, L->d_mis, L->d_fake, L->magp, L->g_total, L->g_adv, L->sim};
    if (r->dp.size > 1 && dp_mean_doubles(v, 8, e)) return -1;
    double gd, gg;
    gan_grad_norms(&t->gan, &gd, &gg);
    if (r->dp.rank != 0) return 0;
    double elapsed = now - r->t_start;
    long todo = r->cfg.train.steps - r->step;
    double eta = r->step > r->start_step ? elapsed / (double)(r->step - r->start_step) * todo : 0;
    if (profiling() && prof_steps > 0) say_profile(t, r);
    run_say(r,
            "step %6lld/%ld | %6.1f img/s | D %.4f (real %.3f mis %.3f fake %.3f magp %.2e) | G %.4f (adv %.3f "
            "sim %.4f) | |gD| %.3g |gG| %.3g | ETA %dm%02ds\n",
            (long long)r->step, r->cfg.train.steps, img_per_s, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], gd, gg,
            (int)(eta / 60), (int)eta % 60);
    const char *names[] = {"loss_d", "loss_d_real", "loss_d_mis", "loss_d_fake", "magp", "loss_g", "loss_g_adv",
                           "clip_sim", "grad_norm_d", "grad_norm_g", "img_per_s", "time"};
    double row[12] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], gd, gg, img_per_s, elapsed};
    return metrics_append(r->metrics, "train", r->step, 12, names, row, e);
}

// Replicas still identical? Per-rank BatchNorm statistics differ by design unless model.sync_bn.
static int check(void *self, Run *r, Err *e) {
    Trainer *t = self;
    int (*same)(const ParamSet *, const char *, Err *) = r->cfg.model.sync_bn ? dp_check_replicas
                                                                               : dp_check_replicas_values;
    return same(&t->gan.g.ps, "netG", e) || same(&t->gan.dc.netd, "netD", e) || same(&t->gan.dc.netc, "netC", e)
               ? -1 : 0;
}

// FID, KID, CLIP score (collective). *improved: the best FID so far; retention keeps this step's
// checkpoint as best, whatever keep_last says (the driver writes it).
static int eval(void *self, Run *r, int *improved, Err *e) {
    Trainer *t = self;
    EvalResult res;
    *improved = 0;
    // evaluation always in fp32: its FID must not depend on train.precision
    int bf16 = kern_precision_fp32_begin();
    int rc = eval_run(&t->ev, &t->gan, 1, &r->cfg, r->test, &res, e);
    kern_precision_fp32_end(bf16);
    if (rc) return -1;
    if (r->dp.rank == 0 && eval_report(&t->ev, &res, r->cfg.model.clip_remap, r->step, r->metrics, r->log, e)) return -1;
    if (!res.improved) return 0;
    snprintf(r->best_ckpt, sizeof r->best_ckpt, "ckpt-%08lld.h5", (long long)r->step);
    run_say(r, "eval: best FID so far (%.3f): %s is kept as best\n", res.fid, r->best_ckpt);
    *improved = 1;
    return 0;
}

// Rank 0 writes samples/step-<step>.png from fixed z and the first test captions (EMA G if any).
static int samples(void *self, Run *r, Err *e) {
    Trainer *t = self;
    if (r->dp.rank != 0) return 0;
    Dataset *ds = r->test ? r->test : r->train;
    const Config *c = &r->cfg;
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
    int bf16 = kern_precision_fp32_begin();  // sample grids as `ratlip sample` would draw them: fp32
    for (int i = 0; i < n && !rc; i += B) {
        int nb = n - i < B ? n - i : B;
        if (gan_generate(&t->gan, 1, z + (size_t)i * Z, s + (size_t)i * T, img + (size_t)i * 3 * S * S, nb))
            rc = err_set(e, "sampling failed");
    }
    kern_precision_fp32_end(bf16);
    if (!rc) {
        char path[1100];
        snprintf(path, sizeof path, "%s/samples/step-%08lld.png", r->run_dir, (long long)r->step);
        int cols = n < 4 ? n : 4, rows = (n + cols - 1) / cols;
        rc = png_write_grid_real(path, img, n, S, S, rows, cols, capp, e);
        if (!rc) run_say(r, "samples: %s (%s G, captions of the %s split)\n", path, t->gan.has_ema ? "EMA" : "raw",
                         r->test ? "test" : "train");
        // samples/index.html: the grids with their captions as text. Only a view: never fails the run.
        Err ie = {{0}};
        snprintf(path, sizeof path, "%s/samples", r->run_dir);
        if (!rc && gridindex_update(path, &ie)) run_say(r, "samples: warning: %s\n", ie.msg);
    }
    free(z), free(s), free(img);
    return rc;
}

static int finish(void *self, Run *r, Err *e) {
    (void)self, (void)e;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    run_say(r, "done: %lld steps, run dir %s | peak RSS rank 0: %.0f MB\n", (long long)r->step, r->run_dir,
            ru.ru_maxrss / 1024.0);
    return 0;
}

RunTask trainer_task(Trainer *t) {
    return (RunTask){.name = "train", .self = t, .configure = configure, .schedule = schedule, .init = init,
                     .nets = nets, .start = start, .restore = restore, .step = step, .progress = log_line,
                     .check = check, .eval = eval, .samples = samples, .save_meta = save_meta, .finish = finish, .free = task_free};
}
