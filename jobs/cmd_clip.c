// cmd_clip: `ratlip clip train`, locked-text contrastive pretraining of the CLIP image tower (LiT).
// The dataset's caption embeddings are fixed targets; the tower (patch conv, transformer, ln_post,
// proj) and a learned temperature are trained with CLIP's symmetric InfoNCE over the GLOBAL batch:
// every rank encodes its slice, the embeddings are all-gathered, every rank computes the same loss
// and the gradient for its own slice, and the tower gradients are averaged. The result is a CLIP
// weight file in the layout of the converted OpenAI weights (model.clip_weights takes it).
#include <errno.h>
#include <getopt.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/clip.h"
#include "core/kernels.h"
#include "core/lit.h"
#include "core/ops.h"
#include "dist/grads.h"
#include "dist/rank.h"
#include "dist/sync.h"
#include "dist/watch.h"
#include "io/ckpt.h"
#include "io/config.h"
#include "io/dataset.h"
#include "io/fsutil.h"
#include "io/h5util.h"
#include "io/metrics.h"
#include "io/modeldims.h"
#include "io/reader.h"
#include "io/weights.h"
#include "jobs/commands.h"

typedef struct {
    const char *config_file, *data_dir, *out, *run_dir, *resume;
    char **sets;
    int n_sets, threads;
    long steps;
} ClipArgs;

typedef struct {
    DpInfo dp;
    Config cfg;
    char *config_json;
    char run_dir[1024];
    ClipTower tw;
    ParamSet lit;             // one trainable scalar: logit_scale
    ClipActs *acts;
    Dataset *train, *test;
    Reader *reader;
    ReaderBatch batch;
    Metrics *metrics;
    int B, E, S;              // local batch, embedding dim, CLIP input side
    int64_t step, start_step;
    real *img;                // [B,3,S,S] tower input (the batch, resized when the dataset differs)
    real *emb, *emb_all, *text_all, *demb_all;   // [B,E], [W*B,E] x3
    double t_start;
} ClipRun;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void say(const ClipRun *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const ClipRun *r, const char *fmt, ...) {
    if (r->dp.rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

// Every rank learns whether any rank failed, so all stop together.
static int agree(const ClipRun *r, int rc, Err *e) {
    int mine = rc ? 1 : 0, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, r->dp.world);
    if (!any) return 0;
    if (!mine) err_set(e, "rank %d: stopping because another rank failed (its message is above)", r->dp.rank);
    return -1;
}

static int gather(const ClipRun *r, const real *mine, real *all, int n, const char *what, Err *e) {
    if (r->dp.size == 1) {
        memcpy(all, mine, (size_t)n * sizeof(real));
        return 0;
    }
    int rc = MPI_Allgather(mine, n, MPI_FLOAT, all, n, MPI_FLOAT, r->dp.world);
    if (rc != MPI_SUCCESS) {
        char msg[256];
        return err_set(e, "rank %d: all-gather of %s failed: %s", r->dp.rank, what, dp_mpi_strerror(rc, msg, sizeof msg));
    }
    return 0;
}

// Dataset images [n,3,Sd,Sd] → tower input [n,3,S,S] (nearest resize, as the reference).
static void to_tower_input(const ClipRun *r, real *out, const float *in, int n, int Sd) {
    if (Sd == r->S) memcpy(out, in, (size_t)n * 3 * Sd * Sd * sizeof(real));
    else resize_nearest_forward(out, in, n, 3, Sd, Sd, r->S, r->S);
}

// ---------------------------------------------------------------- setup

static int setup(ClipRun *r, const ClipArgs *a, Err *e) {
    int rc = 0;
    char *json = NULL;
    if (r->dp.rank == 0) {
        rc = config_resolve(&r->cfg, a->config_file, a->n_sets, a->sets, e);
        if (!rc && a->data_dir) snprintf(r->cfg.data.dir, sizeof r->cfg.data.dir, "%s", a->data_dir);
        if (!rc && a->steps > 0) r->cfg.clip.steps = a->steps;
        if (!rc && !r->cfg.data.dir[0])
            rc = err_set(e, "data.dir is empty: pass --data DIR (make a dataset with `ratlip data synth --out DIR`)");
        if (!rc) json = config_to_json(&r->cfg);
    }
    if (agree(r, rc, e)) return -1;
    if (dp_broadcast_string(json, 0, &r->config_json, e)) return -1;
    free(json);
    if (config_from_json_string(&r->cfg, r->config_json, "config broadcast from rank 0", e)) return -1;
    const Config *c = &r->cfg;
    kern_set_threads(a->threads > 0 ? r->dp.threads : c->train.threads > 0 ? c->train.threads : r->dp.threads);
    dp_set_timeout(c->dist.timeout_s);
    char what[320];
    snprintf(what, sizeof what, "clip train | %s", r->dp.startup);
    if (r->dp.rank == 0) jobs_print_banner(what);

    // data: caption embeddings must live in the tower's embedding space (bow: 512 = embed_dim)
    ClipDims cd;
    modeldims_clip(&c->model, &cd);
    r->B = c->clip.batch_per_rank, r->E = cd.embed_dim, r->S = cd.image_size;
    rc = ds_open(&r->train, c->data.dir, "train", e);
    if (!rc && ds_info(r->train)->embed_dim != r->E)
        rc = err_set(e, "%s: caption embeddings have dimension %d, the CLIP tower's model.clip_embed_dim is %d "
                        "(LiT compares them directly: embed the captions to that size)",
                     c->data.dir, ds_info(r->train)->embed_dim, r->E);
    if (!rc && ds_size(r->train) < (long)r->B * r->dp.size)
        rc = err_set(e, "%s: %ld training images, fewer than one global batch (%d ranks x clip.batch_per_rank %d)",
                     c->data.dir, ds_size(r->train), r->dp.size, r->B);
    Err ignore;
    if (!rc && ds_has_split(c->data.dir, "test", &ignore) == 1) rc = ds_open(&r->test, c->data.dir, "test", e);
    if (agree(r, rc, e)) return -1;
    char fp[256];
    const DsInfo *in = ds_info(r->train);
    snprintf(fp, sizeof fp, "%d shards, %ld images, %dx%d, D=%d, encoder %s", ds_num_shards(r->train),
             ds_size(r->train), in->image_size, in->image_size, in->embed_dim, in->text_encoder);
    if (dp_check_same_string("training dataset", fp, e)) return -1;
    say(r, "data: %s/train: %s | evaluation on %s\n", c->data.dir, fp,
        r->test ? "the test split" : "the TRAIN split (no test-* shards)");

    // model: the tower trainable, starting from model.clip_weights when given (fine-tuning), else seeded
    rc = clip_build_trainable(&r->tw, &cd);
    int shape[1] = {1};
    if (!rc) rc = params_declare(&r->lit, "logit_scale", PARAM_TRAINABLE, 0, shape) < 0 || params_finalize(&r->lit);
    if (rc) rc = err_set(e, "out of memory building the CLIP tower");
    if (!rc && c->model.clip_weights[0])
        rc = weights_load(c->model.clip_weights, "/", &r->tw.ps, 1, e) < 0 ? -1 : 0;
    else if (!rc)
        clip_init_random(&r->tw, (uint64_t)c->train.seed);
    r->lit.data[0] = (real)log(1.0 / c->clip.temperature);
    if (agree(r, rc, e)) return -1;
    say(r, "model: CLIP tower %dx%d patch %d, width %d, %d layers, %d heads, embed %d: %zu trainable (%s) | "
           "logit_scale %.4f\n",
        cd.image_size, cd.image_size, cd.patch, cd.width, cd.layers, cd.heads, cd.embed_dim, r->tw.ps.n_trainable,
        c->model.clip_weights[0] ? c->model.clip_weights : "seeded random start", (double)r->lit.data[0]);

    // resume: rank 0 loads, everything is broadcast
    CkptNet nets[2] = {{"clip", &r->tw.ps, 0}, {"lit", &r->lit, 0}};
    int64_t info[4] = {0, 0, 0, 0};   // found, step, reader epoch, reader cursor
    rc = 0;
    if (r->dp.rank == 0 && a->resume) {
        CkptMeta meta;
        memset(&meta, 0, sizeof meta);
        char path[1100] = "", report[4096] = "";
        int found;
        if (!strcmp(a->resume, "auto")) {
            found = ckpt_find_latest(r->run_dir, nets, 2, &meta, path, sizeof path, report, sizeof report, e);
            if (report[0]) say(r, "resume: skipped checkpoints:\n%s", report);
        } else {
            snprintf(path, sizeof path, "%s", a->resume);
            found = ckpt_load(path, nets, 2, &meta, e) ? -1 : 1;
        }
        if (found < 0) rc = -1;
        if (found == 1) {
            int64_t v[4] = {1, meta.step, meta.reader_epoch, meta.reader_cursor};
            memcpy(info, v, sizeof v);
            say(r, "resume: %s (step %lld)\n", path, (long long)meta.step);
        } else if (found == 0) {
            say(r, "resume: no checkpoint in %s, starting fresh\n", r->run_dir);
        }
        ckpt_meta_free(&meta);
    }
    if (agree(r, rc, e)) return -1;
    MPI_Bcast(info, 4, MPI_INT64_T, 0, r->dp.world);
    r->step = r->start_step = info[0] ? info[1] : 0;
    if (dp_broadcast_params(&r->tw.ps, 0, e) || dp_broadcast_params(&r->lit, 0, e)) return -1;
    if (dp_check_replicas(&r->tw.ps, "CLIP tower", e)) return -1;

    ReaderOptions ro = {.seed = (uint64_t)c->train.seed, .rank = r->dp.rank, .world = r->dp.size, .local_batch = r->B,
                        .prefetch = c->data.prefetch, .crop_pad = c->data.random_crop, .flip = c->data.random_flip};
    ReaderState start = {info[0] ? info[2] : 0, info[0] ? info[3] : 0};
    rc = reader_open(&r->reader, r->train, &ro, start, e);
    if (!rc) rc = reader_batch_alloc(&r->batch, r->reader);
    size_t N = (size_t)r->B * r->dp.size;
    r->acts = clip_acts_new(&r->tw, r->B, 0);
    r->img = malloc((size_t)r->B * 3 * r->S * r->S * sizeof(real));
    r->emb = malloc((size_t)r->B * r->E * sizeof(real));
    r->emb_all = malloc(N * r->E * sizeof(real));
    r->text_all = malloc(N * r->E * sizeof(real));
    r->demb_all = malloc(N * r->E * sizeof(real));
    if (!rc && (!r->acts || !r->img || !r->emb || !r->emb_all || !r->text_all || !r->demb_all))
        rc = err_set(e, "out of memory for a batch of %d", r->B);
    if (!rc && r->dp.rank == 0) {
        char path[1100];
        snprintf(path, sizeof path, "%s/metrics.h5", r->run_dir);
        r->metrics = metrics_open(path, e);
        if (!r->metrics) rc = -1;
        else if (r->start_step > 0) rc = metrics_truncate_after(r->metrics, r->start_step + 1, e);
    }
    if (agree(r, rc, e)) return -1;
    say(r, "clip train: %d rank%s x batch %d = contrastive batch %zu | steps %lld -> %ld | lr %g | run dir %s\n",
        r->dp.size, r->dp.size == 1 ? "" : "s", r->B, N, (long long)r->step, c->clip.steps, c->clip.lr, r->run_dir);
    return 0;
}

static void run_free(ClipRun *r) {
    Err ignore;
    if (r->metrics) metrics_close(r->metrics, &ignore);
    if (r->reader) reader_close(r->reader);
    reader_batch_free(&r->batch);
    if (r->train) ds_close(r->train);
    if (r->test) ds_close(r->test);
    clip_acts_free(r->acts);
    if (r->tw.ps.data) clip_free(&r->tw);
    if (r->lit.data) params_free(&r->lit);
    free(r->img), free(r->emb), free(r->emb_all), free(r->text_all), free(r->demb_all), free(r->config_json);
}

// ---------------------------------------------------------------- one step

// Returns 0 / -1; *loss, *acc: the global batch's loss and image→text top-1 accuracy.
static int train_step(ClipRun *r, double *loss, double *acc, Err *e) {
    const ClipTrainConfig *lc = &r->cfg.clip;
    int B = r->B, E = r->E, W = r->dp.size, N = B * W;
    if (reader_next(r->reader, &r->batch, e)) return -1;
    to_tower_input(r, r->img, r->batch.images, B, r->batch.S);
    clip_encode_forward(&r->tw, r->acts, NULL, r->emb, r->img, B);
    if (gather(r, r->emb, r->emb_all, B * E, "image embeddings", e) ||
        gather(r, r->batch.text, r->text_all, B * E, "caption embeddings", e))
        return -1;
    // every rank: the same loss over the global batch and d loss / d (every embedding)
    memset(r->demb_all, 0, (size_t)N * E * sizeof(real));
    params_zero_grad(&r->lit);
    *loss = lit_loss(r->demb_all, &r->lit.grad[0], r->emb_all, r->text_all, N, E, r->lit.data[0]);
    lit_retrieval(acc, NULL, NULL, NULL, r->emb_all, r->text_all, N, E);
    // this rank's slice, times W: averaging the W partial tower gradients then gives their sum, the
    // gradient of the global loss (the same as one process with the whole batch)
    real *mine = r->demb_all + (size_t)r->dp.rank * B * E;
    for (size_t i = 0; i < (size_t)B * E; i++) mine[i] *= (real)W;
    params_zero_grad(&r->tw.ps);
    clip_encode_backward_params(&r->tw, r->acts, NULL, NULL, mine, B);
    if (W > 1 && dp_allreduce_mean(r->tw.ps.grad, r->tw.ps.n_trainable, e)) return -1;
    long t = ++r->tw.ps.adam_step;
    adam_step(r->tw.ps.data, r->tw.ps.grad, r->tw.ps.adam_m, r->tw.ps.adam_v, r->tw.ps.n_trainable, (real)lc->lr,
              (real)lc->beta1, (real)lc->beta2, (real)lc->adam_eps, t);
    t = ++r->lit.adam_step;   // the scalar's gradient is already identical on every rank
    adam_step(r->lit.data, r->lit.grad, r->lit.adam_m, r->lit.adam_v, 1, (real)lc->lr, (real)lc->beta1,
              (real)lc->beta2, (real)lc->adam_eps, t);
    r->lit.data[0] = lit_clamp_logit_scale(r->lit.data[0]);
    r->step++;
    return 0;
}

// ---------------------------------------------------------------- evaluation

typedef struct {
    int n;
    double i2t, t2i, chance, score_own, score_shuffled;
} ClipEval;

// Test images 0..n-1 (rank r encodes i ≡ r mod W), each with its caption 0; every rank gets the result.
static int evaluate(ClipRun *r, ClipEval *ev, Err *e) {
    Dataset *ds = r->test ? r->test : r->train;
    long total = ds_size(ds);
    int n = r->cfg.clip.eval_samples > 0 && r->cfg.clip.eval_samples < total ? r->cfg.clip.eval_samples : (int)total;
    int E = r->E, B = r->B, Sd = ds_info(ds)->image_size, W = r->dp.size;
    size_t plane = (size_t)Sd * Sd;
    real *u = calloc((size_t)n * E, sizeof(real)), *t = calloc((size_t)n * E, sizeof(real));
    float *raw = malloc((size_t)B * 3 * plane * sizeof(float));
    uint8_t *hwc = malloc(plane * 3);
    long *idx = malloc((size_t)B * sizeof(long));
    int rc = (!u || !t || !raw || !hwc || !idx) ? err_set(e, "out of memory for evaluation (%d images)", n) : 0;
    for (long first = r->dp.rank; !rc && first < n; first += (long)W * B) {
        int m = 0;
        for (long i = first; i < n && m < B; i += W) idx[m++] = i;
        for (int k = 0; !rc && k < m; k++) {
            rc = ds_read_image(ds, idx[k], hwc, e);
            if (!rc) rc = ds_read_emb(ds, idx[k], 0, t + (size_t)idx[k] * E, e);
            for (size_t p = 0; !rc && p < plane; p++)
                for (int ch = 0; ch < 3; ch++)
                    raw[((size_t)k * 3 + ch) * plane + p] = hwc[p * 3 + ch] / 127.5f - 1.0f;
        }
        if (rc) break;
        to_tower_input(r, r->img, raw, m, Sd);
        clip_encode_forward(&r->tw, r->acts, NULL, r->emb, r->img, m);
        for (int k = 0; k < m; k++) memcpy(u + (size_t)idx[k] * E, r->emb + (size_t)k * E, (size_t)E * sizeof(real));
    }
    free(raw), free(hwc), free(idx);
    if (agree(r, rc, e)) {
        free(u), free(t);
        return -1;
    }
    // each row was filled by exactly one rank (the others hold zeros): a sum assembles the whole set
    if (W > 1 && (MPI_Allreduce(MPI_IN_PLACE, u, n * E, MPI_FLOAT, MPI_SUM, r->dp.world) != MPI_SUCCESS ||
                  MPI_Allreduce(MPI_IN_PLACE, t, n * E, MPI_FLOAT, MPI_SUM, r->dp.world) != MPI_SUCCESS)) {
        free(u), free(t);
        return err_set(e, "rank %d: gathering the evaluation embeddings failed", r->dp.rank);
    }
    int *perm = malloc((size_t)n * sizeof(int));   // shuffled captions: each image gets the caption n/2 away
    for (int i = 0; i < n; i++) perm[i] = (i + n / 2) % n;
    ev->n = n;
    lit_retrieval(&ev->i2t, &ev->t2i, &ev->chance, NULL, u, t, n, E);
    ev->score_own = lit_clip_score(u, t, NULL, n, E);
    ev->score_shuffled = lit_clip_score(u, t, perm, n, E);
    free(perm), free(u), free(t);
    return 0;
}

static int eval_and_log(ClipRun *r, Err *e) {
    ClipEval ev;
    if (evaluate(r, &ev, e)) return -1;
    say(r, "eval step %lld: %d %s images | top-1 image->text %.3f text->image %.3f (chance %.3f) | CLIP score own "
           "%.4f shuffled %.4f gap %.4f\n",
        (long long)r->step, ev.n, r->test ? "test" : "train", ev.i2t, ev.t2i, ev.chance, ev.score_own,
        ev.score_shuffled, ev.score_own - ev.score_shuffled);
    int rc = 0;
    if (r->metrics) {
        const char *names[] = {"acc_i2t", "acc_t2i", "chance", "clip_score", "clip_score_shuffled", "clip_score_gap",
                               "n_eval"};
        double v[] = {ev.i2t, ev.t2i, ev.chance, ev.score_own, ev.score_shuffled, ev.score_own - ev.score_shuffled,
                      ev.n};
        rc = metrics_append(r->metrics, "eval", r->step, 7, names, v, e);
    }
    return agree(r, rc, e);
}

// ---------------------------------------------------------------- output

static int checkpoint(ClipRun *r, Err *e) {
    int rc = 0;
    if (r->dp.rank == 0) {
        CkptNet nets[2] = {{"clip", &r->tw.ps, 0}, {"lit", &r->lit, 0}};
        CkptMeta meta;
        memset(&meta, 0, sizeof meta);
        ReaderState rs = reader_state(r->reader);
        meta.step = r->step, meta.epoch = rs.epoch, meta.reader_epoch = rs.epoch, meta.reader_cursor = rs.cursor;
        meta.seed = r->cfg.train.seed, meta.world_size = r->dp.size, meta.config_json = r->config_json;
        snprintf(meta.ratlip_version, sizeof meta.ratlip_version, "%s", RATLIP_VERSION);
        snprintf(meta.git_rev, sizeof meta.git_rev, "%s", RATLIP_GIT_REV);
        ckpt_meta_set_double(&meta, "logit_scale", (double)r->lit.data[0]);
        char path[1100];
        ckpt_path(path, sizeof path, r->run_dir, r->step);
        rc = ckpt_save(path, nets, 2, &meta, e);
        if (!rc && ckpt_retain(r->run_dir, r->cfg.train.keep_last, NULL, e) < 0) rc = -1;
    }
    return agree(r, rc, e);
}

// The CLIP weight file: datasets visual.* at the root and the attributes the converters write.
static int write_clip_file(const ClipRun *r, const char *out, Err *e) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    unlink(tmp);
    if (weights_save(tmp, "/", &r->tw.ps, e)) return -1;
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    int rc = f < 0 ? err_set(e, "%s: cannot reopen to write the attributes", tmp) : 0;
    const ClipDims *d = &r->tw.d;
    const char *names[] = {"width", "layers", "heads", "patch", "image_size", "embed_dim"};
    int vals[] = {d->width, d->layers, d->heads, d->patch, d->image_size, d->embed_dim};
    for (int i = 0; !rc && i < 6; i++)
        if (h5u_attr_write_i64(f, names[i], vals[i])) rc = err_set(e, "%s: cannot write attribute %s", tmp, names[i]);
    if (!rc && (h5u_attr_write_f64(f, "logit_scale", (double)r->lit.data[0]) ||
                h5u_attr_write_i64(f, "lit_steps", r->step) ||
                h5u_attr_write_str(f, "trained_by", "ratlip clip train (LiT: locked-text contrastive)") ||
                h5u_attr_write_str(f, "config_json", r->config_json)))
        rc = err_set(e, "%s: cannot write the provenance attributes", tmp);
    if (f >= 0 && H5Fclose(f) < 0 && !rc) rc = err_set(e, "%s: closing failed", tmp);
    h5u_quiet_end(q);
    if (rc) {
        unlink(tmp);
        return -1;
    }
    return h5u_commit_file(tmp, out, e);
}

// ---------------------------------------------------------------- command

static void usage(FILE *f) {
    fprintf(f,
            "usage: ratlip clip train [--config FILE] [--set section.key=value ...] --data DIR --out CLIP.h5\n"
            "                         [--steps N] [--run-dir DIR] [--resume auto|CKPT] [--threads N]\n"
            "\n"
            "Trains the config's CLIP image tower with the text side locked (LiT): the dataset's caption embeddings\n"
            "are fixed targets, and the tower learns to map each image near its own caption and away from the other\n"
            "captions of the global batch (CLIP's symmetric InfoNCE, learned temperature). Under mpirun/srun every\n"
            "rank takes clip.batch_per_rank images; the contrastive batch is that x ranks.\n"
            "\n"
            "  --config FILE   JSON config (the clip.* keys: lr, steps, batch_per_rank, temperature, eval_every ...)\n"
            "  --data DIR      dataset with train-*.h5 (and test-*.h5 for the evaluation); captions embedded at\n"
            "                  model.clip_embed_dim (the bow encoder: 512)\n"
            "  --out CLIP.h5   the trained tower, a CLIP weight file: use it with --set model.clip_weights=CLIP.h5\n"
            "  --steps N       overrides clip.steps\n"
            "  --run-dir DIR   checkpoints (every clip.ckpt_every), metrics.h5 (/train: loss, batch accuracy,\n"
            "                  logit_scale; /eval: top-1 retrieval both ways, chance, CLIP score own/shuffled/gap)\n"
            "                  (default: <out>.run)\n"
            "  --resume auto   continue from the newest good checkpoint in the run dir (or --resume CKPT)\n"
            "  --threads N     BLAS threads per rank\n"
            "\n"
            "The tiny config's clip.* defaults are the demo recipe: 40 steps x batch 32, lr 1e-3 (about a minute on 2\n"
            "cores; top-1 retrieval on the synthetic test split ~20x chance).\n");
}

static int clip_train(int argc, char **argv) {
    ClipArgs a;
    memset(&a, 0, sizeof a);
    char **sets = calloc((size_t)argc + 1, sizeof(char *));
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
        {"data", required_argument, 0, 'd'},   {"out", required_argument, 0, 'o'},
        {"steps", required_argument, 0, 'n'},  {"run-dir", required_argument, 0, 'r'},
        {"resume", required_argument, 0, 'R'}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "c:s:d:o:n:r:R:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': a.config_file = optarg; break;
        case 's': sets[a.n_sets++] = optarg; break;
        case 'd': a.data_dir = optarg; break;
        case 'o': a.out = optarg; break;
        case 'n': a.steps = atol(optarg); break;
        case 'r': a.run_dir = optarg; break;
        case 'R': a.resume = optarg; break;
        case 't': a.threads = atoi(optarg); break;
        case 'h': usage(stdout); free(sets); return 0;
        default: usage(stderr); free(sets); return 2;
        }
    }
    if (optind < argc || !a.out) {
        fprintf(stderr, "ratlip clip train: %s\n", optind < argc ? "unexpected argument" : "--out CLIP.h5 is required");
        usage(stderr);
        free(sets);
        return 2;
    }
    a.sets = sets;
    ClipRun *r = calloc(1, sizeof *r);
    Err e = {{0}};
    if (dp_init(&argc, &argv, a.threads, &r->dp, &e)) {
        fprintf(stderr, "ratlip clip train: %s\n", e.msg);
        free(sets), free(r);
        return 1;
    }
    if (a.run_dir) snprintf(r->run_dir, sizeof r->run_dir, "%s", a.run_dir);
    else snprintf(r->run_dir, sizeof r->run_dir, "%s.run", a.out);
    int status = 0;
    if (agree(r, r->dp.rank == 0 ? fs_mkdir_p(r->run_dir, &e) : 0, &e) || setup(r, &a, &e)) goto fail;
    const ClipTrainConfig *lc = &r->cfg.clip;
    int log_every = r->cfg.train.log_every;
    double t0 = now_s(), loss_sum = 0, acc_sum = 0;
    int64_t window = 0;
    while (r->step < lc->steps) {
        double loss = 0, acc = 0;
        if (agree(r, train_step(r, &loss, &acc, &e), &e)) goto fail;
        loss_sum += loss, acc_sum += acc, window++;
        if (r->step % log_every == 0 || r->step == lc->steps) {
            double t1 = now_s(), ips = (double)window * r->B * r->dp.size / (t1 - t0);
            say(r, "step %lld/%ld | loss %.4f | batch top-1 %.3f | temperature %.4f | %.1f img/s\n",
                (long long)r->step, lc->steps, loss_sum / window, acc_sum / window, exp(-(double)r->lit.data[0]), ips);
            int rc = 0;
            if (r->metrics) {
                const char *names[] = {"loss", "acc_i2t_batch", "logit_scale", "img_per_s"};
                double v[] = {loss_sum / window, acc_sum / window, (double)r->lit.data[0], ips};
                rc = metrics_append(r->metrics, "train", r->step, 4, names, v, &e);
            }
            if (agree(r, rc, &e)) goto fail;
            t0 = t1, loss_sum = acc_sum = 0, window = 0;
        }
        if (lc->eval_every > 0 && r->step % lc->eval_every == 0 && r->step < lc->steps && eval_and_log(r, &e)) goto fail;
        if (lc->ckpt_every > 0 && r->step % lc->ckpt_every == 0 && checkpoint(r, &e)) goto fail;
    }
    if (dp_check_replicas(&r->tw.ps, "CLIP tower", &e) || eval_and_log(r, &e)) goto fail;
    if (lc->ckpt_every > 0 && r->step % lc->ckpt_every != 0 && checkpoint(r, &e)) goto fail;
    if (agree(r, r->dp.rank == 0 ? write_clip_file(r, a.out, &e) : 0, &e)) goto fail;
    say(r, "done: %lld steps; CLIP weights %s (use --set model.clip_weights=%s)\n", (long long)r->step, a.out, a.out);
    goto done;
fail:
    fprintf(stderr, "ratlip clip train: %s\n", e.msg);
    status = 1;
done:
    run_free(r);
    dp_finalize(&r->dp);
    free(r);
    free(sets);
    return status;
}

int cmd_clip(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return clip_train(argc - 1, argv + 1);
    FILE *f = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? stdout : stderr;
    fprintf(f, "usage: ratlip clip train --data DIR --out CLIP.h5 [options]   (ratlip clip train --help)\n");
    return f == stdout ? 0 : 2;
}
