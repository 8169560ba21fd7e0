// cmd_clip: `ratlip clip train`, locked-text contrastive pretraining of the CLIP image tower (LiT).
// The dataset's caption embeddings are fixed targets; the tower (patch conv, transformer, ln_post,
// proj) and a learned temperature are trained with CLIP's symmetric InfoNCE over the GLOBAL batch:
// every rank encodes its slice, the embeddings are all-gathered, every rank computes the same loss
// and the gradient for its own slice, and the tower gradients are averaged. The result is a CLIP
// weight file in the layout of the converted OpenAI weights (model.clip_weights takes it). The run
// directory, resume, checkpoints, signals and agreement between ranks are the run driver's
// (jobs/run.h); this file is the task: the tower, one step, the evaluation, the weight file.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/clip.h"
#include "core/lit.h"
#include "core/ops.h"
#include "dist/agree.h"
#include "dist/grads.h"
#include "dist/sync.h"
#include "io/clipweights.h"
#include "io/bow.h"
#include "io/capbank.h"
#include "io/modeldims.h"
#include "io/synth.h"
#include "io/weights.h"
#include "jobs/commands.h"
#include "jobs/run.h"

typedef struct {
    const char *config_file, *data_dir, *out, *run_dir, *resume;
    char **sets;
    int n_sets, threads;
    long steps;
} ClipArgs;

typedef struct {
    const char *out;          // the CLIP weight file written at the end
    ClipTower tw;
    ParamSet lit;             // one trainable scalar: logit_scale
    ClipActs *acts;
    int E, S;                 // embedding dim, CLIP input side (the local batch is Run.batch_per_rank)
    real *img;                // [B,3,S,S] tower input (the batch, resized when the dataset differs)
    real *emb, *emb_all, *text_all, *demb_all;   // [B,E], [W*B,E] x3
    CapBank bank;             // distinct train captions, extra negatives (clip.text_negatives)
    double t_window, loss_sum, acc_sum;           // the logging window: since the last log line
    int64_t window;
} Lit;

// Dataset images [n,3,Sd,Sd] → tower input [n,3,S,S] (nearest resize, as the reference).
static void to_tower_input(const Lit *l, real *out, const real *in, int n, int Sd) {
    if (Sd == l->S) memcpy(out, in, (size_t)n * 3 * Sd * Sd * sizeof(real));
    else resize_nearest_forward(out, in, n, 3, Sd, Sd, l->S, l->S);
}

// ---------------------------------------------------------------- set-up

static int configure(void *self, Config *c, const RunArgs *a, Err *e) {
    (void)self, (void)e;
    if (a->steps > 0) c->clip.steps = a->steps;
    return 0;
}

// Replicas are checked once, at the end; the evaluation runs at the end whatever clip.eval_every says.
static void schedule(void *self, const Config *c, RunSchedule *s) {
    (void)self;
    const ClipTrainConfig *lc = &c->clip;
    *s = (RunSchedule){.steps = lc->steps, .log_every = c->train.log_every, .check_every = 0,
                       .eval_every = lc->eval_every, .eval_at_end = 1, .ckpt_every = lc->ckpt_every,
                       .ckpt_at_end = lc->ckpt_every > 0, .sample_every = 0};
}

// The data (caption embeddings must live in the tower's embedding space: bow's 512 = embed_dim), then
// the tower, trainable, from model.clip_weights when given (fine-tuning), else seeded.
static int init(void *self, Run *r, Err *e) {
    Lit *l = self;
    const Config *c = &r->cfg;
    ClipDims cd;
    modeldims_clip(&c->model, &cd);
    l->E = cd.embed_dim, l->S = cd.image_size;
    // images at the dataset's own side (its test split's): a train split stored larger is cropped at random
    if (run_open_data(r, c->clip.batch_per_rank, "clip.batch_per_rank", l->E, "model.clip_embed_dim", 0, NULL, e))
        return -1;
    run_say(r, "evaluation on %s\n", r->test ? "the test split" : "the TRAIN split (no test-* shards)");
    int rc = clip_build_trainable(&l->tw, &cd);
    int shape[1] = {1};
    if (!rc) rc = params_declare(&l->lit, "logit_scale", PARAM_TRAINABLE, 0, shape) < 0 || params_finalize(&l->lit);
    if (rc) rc = err_set(e, "out of memory building the CLIP tower");
    if (!rc && c->model.clip_weights[0])
        rc = weights_load(c->model.clip_weights, "/", &l->tw.ps, 1, e) < 0 ? -1 : 0;
    else if (!rc)
        clip_init_random(&l->tw, (uint64_t)c->train.seed);
    if (!rc) l->lit.data[0] = (real)log(1.0 / c->clip.temperature);
    if (run_agree(r, rc, e)) return -1;
    run_say(r, "model: CLIP tower %dx%d patch %d, width %d, %d layers, %d heads, embed %d: %zu trainable (%s) | "
               "logit_scale %.4f\n",
            cd.image_size, cd.image_size, cd.patch, cd.width, cd.layers, cd.heads, cd.embed_dim, l->tw.ps.n_trainable,
            c->model.clip_weights[0] ? c->model.clip_weights : "seeded random start", (double)l->lit.data[0]);
    return 0;
}

static int nets(void *self, CkptNet *out) {
    Lit *l = self;
    out[0] = (CkptNet){"clip", &l->tw.ps, 0};
    out[1] = (CkptNet){"lit", &l->lit, 0};
    return 2;
}

static void save_meta(void *self, Run *r, CkptMeta *m) {
    (void)r;
    ckpt_meta_set_double(m, "logit_scale", (double)((Lit *)self)->lit.data[0]);
}

// The bank (core/lit.h, io/capbank.h): clip.text_negatives distinct train captions, the same on every rank.
static int build_bank(Lit *l, Run *r, Err *e) {
    int want = r->cfg.clip.text_negatives;
    if (want <= 0) return 0;
    if (capbank_build(&l->bank, r->train, want, (uint64_t)r->cfg.train.seed, e)) return -1;
    run_say(r, "clip train: caption bank of %d distinct train captions (clip.text_negatives %d; %ld read) as extra "
               "negatives\n", l->bank.n, want, l->bank.reads);
    return 0;
}

static int start(void *self, Run *r, const RunResume *res, Err *e) {
    Lit *l = self;
    (void)res;
    int B = r->batch_per_rank;
    size_t N = (size_t)B * r->dp.size;
    l->acts = clip_acts_new(&l->tw, B, 0);
    l->img = malloc((size_t)B * 3 * l->S * l->S * sizeof(real));
    l->emb = malloc((size_t)B * l->E * sizeof(real));
    l->emb_all = malloc(N * l->E * sizeof(real));
    l->text_all = malloc(N * l->E * sizeof(real));
    l->demb_all = malloc(N * l->E * sizeof(real));
    if (!l->acts || !l->img || !l->emb || !l->emb_all || !l->text_all || !l->demb_all)
        return err_set(e, "out of memory for a batch of %d", B);
    if (build_bank(l, r, e)) return -1;
    run_say(r, "clip train: %d rank%s x batch %d = contrastive batch %zu | steps %lld -> %ld | lr %g | run dir %s\n",
            r->dp.size, r->dp.size == 1 ? "" : "s", B, N, (long long)r->step, r->cfg.clip.steps, r->cfg.clip.lr,
            r->run_dir);
    l->t_window = run_now_s();
    return 0;
}

static void task_free(void *self) {
    Lit *l = self;
    clip_acts_free(l->acts);
    if (l->tw.ps.data) clip_free(&l->tw);
    if (l->lit.data) params_free(&l->lit);
    free(l->img), free(l->emb), free(l->emb_all), free(l->text_all), free(l->demb_all);
    capbank_free(&l->bank);
}

// ---------------------------------------------------------------- one step

// The global batch's loss and image→text top-1 accuracy go into the logging window.
static int step(void *self, Run *r, Err *e) {
    Lit *l = self;
    const ClipTrainConfig *lc = &r->cfg.clip;
    int B = r->batch_per_rank, E = l->E, W = r->dp.size, N = B * W;
    if (reader_next(r->reader, &r->batch, e)) return -1;
    to_tower_input(l, l->img, r->batch.images, B, r->batch.S);
    clip_encode_forward(&l->tw, l->acts, NULL, l->emb, l->img, B);
    if (dp_allgather_real(l->emb, l->emb_all, B * E, "clip train: all-gather of the image embeddings", e) ||
        dp_allgather_real(r->batch.text, l->text_all, B * E, "clip train: all-gather of the caption embeddings", e))
        return -1;
    // every rank: the same loss over the global batch and d loss / d (every embedding)
    memset(l->demb_all, 0, (size_t)N * E * sizeof(real));
    params_zero_grad(&l->lit);
    double acc = 0, loss = lit_loss(l->demb_all, &l->lit.grad[0], l->emb_all, l->text_all, N, E, l->lit.data[0],
                                       l->bank.emb, l->bank.n);
    lit_retrieval(&acc, NULL, NULL, NULL, l->emb_all, l->text_all, N, E);
    // this rank's slice, times W: averaging the W partial tower gradients then gives their sum, the
    // gradient of the global loss (the same as one process with the whole batch)
    real *mine = l->demb_all + (size_t)r->dp.rank * B * E;
    for (size_t i = 0; i < (size_t)B * E; i++) mine[i] *= (real)W;
    params_zero_grad(&l->tw.ps);
    clip_encode_backward_params(&l->tw, l->acts, NULL, NULL, mine, B);
    if (W > 1 && dp_allreduce_mean(l->tw.ps.grad, l->tw.ps.n_trainable, e)) return -1;
    long t = ++l->tw.ps.adam_step;
    adam_step(l->tw.ps.data, l->tw.ps.grad, l->tw.ps.adam_m, l->tw.ps.adam_v, l->tw.ps.n_trainable, (real)lc->lr,
              (real)lc->beta1, (real)lc->beta2, (real)lc->adam_eps, t);
    t = ++l->lit.adam_step;   // the scalar's gradient is already identical on every rank
    adam_step(l->lit.data, l->lit.grad, l->lit.adam_m, l->lit.adam_v, 1, (real)lc->lr, (real)lc->beta1,
              (real)lc->beta2, (real)lc->adam_eps, t);
    l->lit.data[0] = lit_clamp_logit_scale(l->lit.data[0]);
    l->loss_sum += loss, l->acc_sum += acc, l->window++;
    r->step++;
    return 0;
}

// Means over the steps since the last line.
static int log_line(void *self, Run *r, Err *e) {
    Lit *l = self;
    double now = run_now_s(), n = (double)l->window;
    double ips = n * r->batch_per_rank * r->dp.size / (now - l->t_window), loss = l->loss_sum / n, acc = l->acc_sum / n;
    run_say(r, "step %lld/%ld | loss %.4f | batch top-1 %.3f | temperature %.4f | %.1f img/s\n", (long long)r->step,
            r->cfg.clip.steps, loss, acc, exp(-(double)l->lit.data[0]), ips);
    l->t_window = now, l->loss_sum = l->acc_sum = 0, l->window = 0;
    if (!r->metrics) return 0;
    const char *names[] = {"loss", "acc_i2t_batch", "logit_scale", "img_per_s"};
    double v[] = {loss, acc, (double)l->lit.data[0], ips};
    return metrics_append(r->metrics, "train", r->step, 4, names, v, e);
}

static int check(void *self, Run *r, Err *e) {
    (void)r;
    return dp_check_replicas(&((Lit *)self)->tw.ps, "CLIP tower", e);
}

// ---------------------------------------------------------------- evaluation

typedef struct {
    int n;
    double i2t, t2i, chance, score_own, score_shuffled;
    int zs_ok;                        // the zero-shot attribute figures below exist (the synthetic set)
    double zs_acc[4], zs_chance[4];   // per SynthLabel attribute: shape, colour, background, size
} ClipEval;

// Zero-shot attribute accuracy on the synthetic set: for each image and attribute, the plain caption
// of its labels (synth_caption_of) with that attribute set to each possible value (shape and background
// colours never equal), embedded with the dataset's encoder; the attribute is seen when the image's
// own value's caption is the most similar (cosine; the first of equals). Says whether the tower sees
// what the GAN's discriminator and text loss need: an attribute at chance here cannot be taught to the
// generator through this tower (issue 15: shape). Other datasets: ev->zs_ok = 0.
static int zero_shot(ClipEval *ev, const Dataset *ds, const real *u, int n, int E, Err *e) {
    const DsInfo *info = ds_info(ds);
    ev->zs_ok = 0;
    if (info->label_dim != 4 || strcmp(info->label_names, SYNTH_LABEL_NAMES) || !bow_order_of(info->text_encoder) ||
        E != BOW_DIM)
        return 0;
    enum { NCAP = SYNTH_SHAPES * SYNTH_COLOURS * SYNTH_COLOURS * 2 };
    // Every label's caption embedding. All have norm BOW_NORM and an image's norm is common to its
    // candidates, so the largest dot product is the largest cosine.
    float *cap = malloc((size_t)NCAP * BOW_DIM * sizeof(float));
    BowCache *cache = bow_cache_new();
    if (!cap || !cache) {
        free(cap), bow_cache_free(cache);
        return err_set(e, "out of memory for the zero-shot evaluation");
    }
#define CAP_INDEX(sh, c, b, z) ((((sh) * SYNTH_COLOURS + (c)) * SYNTH_COLOURS + (b)) * 2 + (z))
    for (int k = 0; k < NCAP; k++) {
        SynthLabel L = {k / (SYNTH_COLOURS * SYNTH_COLOURS * 2), k / (SYNTH_COLOURS * 2) % SYNTH_COLOURS,
                        k / 2 % SYNTH_COLOURS, k % 2};
        char text[SYNTH_CAPTION_LEN];
        synth_caption_of(&L, text);
        bow_embed_named(cache, info->text_encoder, text, cap + (size_t)k * BOW_DIM);
    }
    bow_cache_free(cache);
    const int values[4] = {SYNTH_SHAPES, SYNTH_COLOURS, SYNTH_COLOURS, 2};
    long hits[4] = {0};
    for (int i = 0; i < n; i++) {
        const int32_t *lab = ds_labels(ds, i);
        const real *ui = u + (size_t)i * E;
        for (int a = 0; a < 4; a++) {
            int best = -1;
            double best_sim = -INFINITY;
            for (int v = 0; v < values[a]; v++) {
                int L[4] = {lab[0], lab[1], lab[2], lab[3]};
                L[a] = v;
                if (L[1] == L[2]) continue;   // a shape never has its background's colour
                const float *t = cap + (size_t)CAP_INDEX(L[0], L[1], L[2], L[3]) * BOW_DIM;
                double dot = 0;
                for (int d = 0; d < E; d++) dot += (double)ui[d] * t[d];
                if (dot > best_sim) best_sim = dot, best = v;
            }
            hits[a] += best == lab[a];
        }
    }
#undef CAP_INDEX
    free(cap);
    for (int a = 0; a < 4; a++) {
        ev->zs_acc[a] = n > 0 ? (double)hits[a] / n : 0;
        ev->zs_chance[a] = 1.0 / (a == 1 || a == 2 ? values[a] - 1 : values[a]);
    }
    ev->zs_ok = n > 0;
    return 0;
}

// This rank's share of images 0..n-1 (i ≡ rank mod W), each with its caption 0, into rows of u
// (image embeddings) and t (caption embeddings) [n,E]; the other rows are left alone. Images at the
// training batches' side Sd (the centre of a train split stored larger).
static int encode_share(Lit *l, Run *r, Dataset *ds, int n, real *u, real *t, Err *e) {
    int E = l->E, B = r->batch_per_rank, Sd = r->image_size, W = r->dp.size;
    size_t plane = (size_t)Sd * Sd;
    real *raw = malloc((size_t)B * 3 * plane * sizeof(real));
    uint8_t *hwc = malloc(plane * 3);
    long *idx = malloc((size_t)B * sizeof(long));
    int rc = (!raw || !hwc || !idx) ? err_set(e, "out of memory for evaluation (%d images)", n) : 0;
    for (long first = r->dp.rank; !rc && first < n; first += (long)W * B) {
        int m = 0;
        for (long i = first; i < n && m < B; i += W) idx[m++] = i;
        for (int k = 0; !rc && k < m; k++) {
            rc = ds_read_centre(ds, idx[k], Sd, hwc, e);
            if (!rc) rc = ds_read_emb(ds, idx[k], 0, t + (size_t)idx[k] * E, e);
            for (size_t p = 0; !rc && p < plane; p++)
                for (int ch = 0; ch < 3; ch++)
                    raw[((size_t)k * 3 + ch) * plane + p] = (real)(hwc[p * 3 + ch] / 127.5f - 1.0f);
        }
        if (rc) break;
        to_tower_input(l, l->img, raw, m, Sd);
        clip_encode_forward(&l->tw, l->acts, NULL, l->emb, l->img, m);
        for (int k = 0; k < m; k++) memcpy(u + (size_t)idx[k] * E, l->emb + (size_t)k * E, (size_t)E * sizeof(real));
    }
    free(raw), free(hwc), free(idx);
    return rc;
}

// Retrieval and CLIP score over the first clip.eval_samples test images; every rank gets the result.
static int evaluate(Lit *l, Run *r, ClipEval *ev, Err *e) {
    Dataset *ds = r->test ? r->test : r->train;
    long total = ds_size(ds);
    int n = r->cfg.clip.eval_samples > 0 && r->cfg.clip.eval_samples < total ? r->cfg.clip.eval_samples : (int)total;
    int E = l->E;
    real *u = calloc((size_t)n * E, sizeof(real)), *t = calloc((size_t)n * E, sizeof(real));
    int rc = (!u || !t) ? err_set(e, "out of memory for evaluation (%d images)", n)
                        : encode_share(l, r, ds, n, u, t, e);
    rc = run_agree(r, rc, e);
    // each row was filled by exactly one rank (the others hold zeros): a sum assembles the whole set
    if (!rc) rc = dp_allreduce_sum_real(u, (size_t)n * E, "clip train: gathering the evaluation image embeddings", e);
    if (!rc) rc = dp_allreduce_sum_real(t, (size_t)n * E, "clip train: gathering the evaluation caption embeddings", e);
    int *perm = rc ? NULL : malloc((size_t)n * sizeof(int));   // shuffled captions: the caption n/2 away
    if (!rc && !perm) rc = err_set(e, "out of memory for evaluation (%d images)", n);
    if (!rc) {
        for (int i = 0; i < n; i++) perm[i] = (i + n / 2) % n;
        ev->n = n;
        lit_retrieval(&ev->i2t, &ev->t2i, &ev->chance, NULL, u, t, n, E);
        ev->score_own = lit_clip_score(u, t, NULL, n, E);
        ev->score_shuffled = lit_clip_score(u, t, perm, n, E);
        rc = zero_shot(ev, ds, u, n, E, e);
    }
    free(perm), free(u), free(t);
    return rc;
}

static int eval(void *self, Run *r, int *improved, Err *e) {
    ClipEval ev;
    *improved = 0;   // no best-checkpoint policy for LiT: the last one is the result
    if (evaluate(self, r, &ev, e)) return -1;
    run_say(r, "eval step %lld: %d %s images | top-1 image->text %.3f text->image %.3f (chance %.3f) | CLIP score "
               "own %.4f shuffled %.4f gap %.4f\n",
            (long long)r->step, ev.n, r->test ? "test" : "train", ev.i2t, ev.t2i, ev.chance, ev.score_own,
            ev.score_shuffled, ev.score_own - ev.score_shuffled);
    if (ev.zs_ok)
        run_say(r, "eval step %lld: zero-shot attributes (its caption with one attribute changed; chance in "
                   "brackets): shape %.3f (%.3f) colour %.3f (%.3f) background %.3f (%.3f) size %.3f (%.3f)\n",
                (long long)r->step, ev.zs_acc[0], ev.zs_chance[0], ev.zs_acc[1], ev.zs_chance[1], ev.zs_acc[2],
                ev.zs_chance[2], ev.zs_acc[3], ev.zs_chance[3]);
    if (!r->metrics) return 0;
    const char *names[] = {"acc_i2t", "acc_t2i", "chance", "clip_score", "clip_score_shuffled", "clip_score_gap",
                           "n_eval", "zs_shape", "zs_colour", "zs_background", "zs_size"};
    double v[] = {ev.i2t, ev.t2i, ev.chance, ev.score_own, ev.score_shuffled, ev.score_own - ev.score_shuffled, ev.n,
                  ev.zs_acc[0], ev.zs_acc[1], ev.zs_acc[2], ev.zs_acc[3]};
    return metrics_append(r->metrics, "eval", r->step, ev.zs_ok ? 11 : 7, names, v, e);
}

// ---------------------------------------------------------------- output

// Rank 0 writes the weight file (the driver agrees on the outcome).
static int finish(void *self, Run *r, Err *e) {
    Lit *l = self;
    if (r->dp.rank != 0) return 0;
    // the layout of converted OpenAI weights (io/clipweights.h), so model.clip_weights takes it
    const ClipProvenance prov = {(double)l->lit.data[0], r->step, "ratlip clip train (LiT: locked-text contrastive)",
                                 r->config_json};
    if (clipweights_save(l->out, &l->tw.ps, &l->tw.d, &prov, e)) return -1;
    run_say(r, "done: %lld steps; CLIP weights %s (use --set model.clip_weights=%s)\n", (long long)r->step, l->out,
            l->out);
    return 0;
}

// ---------------------------------------------------------------- command

static const char clip_train_about[] =
    "Trains the config's CLIP image tower with the text side locked (LiT): the dataset's caption embeddings\n"
    "are fixed targets, and the tower learns to map each image near its own caption and away from the other\n"
    "captions of the global batch (CLIP's symmetric InfoNCE, learned temperature). Under mpirun/srun every\n"
    "rank takes clip.batch_per_rank images; the contrastive batch is that x ranks. clip.text_negatives N adds\n"
    "N distinct train captions to every image's negatives (a fixed bank: the text side does not move).\n";
static const char clip_train_epilog[] =
    "The tiny config's clip.*: 40 steps x batch 32, lr 1e-3 (about a minute on 2 cores; top-1 retrieval on the\n"
    "synthetic test split ~20x chance); the demo's (jobs/configs/demo.json) 100 steps. On the synthetic set the\n"
    "evaluation also prints zero-shot attribute accuracy: what the tower tells apart (shape comes last).\n";

static int clip_train(int argc, char **argv) {
    ClipArgs a;
    memset(&a, 0, sizeof a);
    OptList set_list;
    const OptSpec opts[] = {
        OPT_PATH("config", 'c', &a.config_file, 0, "FILE", "JSON config (the clip.* keys: lr, steps, batch_per_rank, temperature, ...)"),
        OPT_LIST("set", 's', &set_list, "K=V", "override one config key"),
        OPT_PATH("data", 'd', &a.data_dir, 0, "DIR",
                 "dataset with train-*.h5 (and test-*.h5 for the evaluation); captions embedded at\n"
                 "model.clip_embed_dim (the bow encoder: 512)"),
        OPT_PATH("out", 'o', &a.out, OPT_REQ, "CLIP.h5", "the trained tower, a CLIP weight file: use it with --set model.clip_weights=CLIP.h5"),
        OPT_LONG("steps", 'n', &a.steps, 0, 1, 1000000000L, NULL, "N", "overrides clip.steps"),
        OPT_PATH("run-dir", 'r', &a.run_dir, 0, "DIR",
                 "checkpoints (every clip.ckpt_every), metrics.h5 (/train: loss, batch accuracy,\n"
                 "logit_scale; /eval: top-1 retrieval both ways, chance, CLIP score own/shuffled/gap; on the\n"
                 "synthetic set also zero-shot attribute accuracy zs_shape, zs_colour, zs_background, zs_size)\n"
                 "(default: <out>.run)"),
        OPT_PATH("resume", 'R', &a.resume, 0, "auto|CKPT", "continue from the newest good checkpoint in the run dir, or from CKPT"),
        OPT_INT("threads", 't', &a.threads, 0, 1, 1024, NULL, "N", "BLAS threads per rank"),
        {0}};
    const OptCommand cmd = {"clip train", NULL, clip_train_about, clip_train_epilog, opts};
    int prc = opt_parse(&cmd, argc, argv);  // before MPI starts
    if (prc != OPT_CONTINUE) return prc;
    char **sets = set_list.v;
    a.sets = sets;
    a.n_sets = set_list.n;
    char run_dir[1100];
    snprintf(run_dir, sizeof run_dir, "%s%s", a.run_dir ? a.run_dir : a.out, a.run_dir ? "" : ".run");
    RunArgs ra = {.config_file = a.config_file, .sets = sets, .n_sets = a.n_sets, .data_dir = a.data_dir,
                  .run_dir = run_dir, .resume = a.resume, .steps = a.steps, .threads = a.threads};
    Lit l;
    memset(&l, 0, sizeof l);
    l.out = a.out;
    RunTask task = {.name = "clip train", .self = &l, .configure = configure, .schedule = schedule, .init = init,
                    .nets = nets, .start = start, .step = step, .progress = log_line, .check = check, .eval = eval,
                    .samples = NULL, .save_meta = save_meta, .finish = finish, .free = task_free};
    int status = run_main(&task, &ra, &argc, &argv);
    free(sets);
    return status;
}

int cmd_clip(int argc, char **argv) {
    static const Command subs[] = {{"train", clip_train, "train the CLIP image tower on the dataset's captions (LiT)"}};
    return opt_dispatch("clip", NULL, subs, 1, argc, argv);
}
