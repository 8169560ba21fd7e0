// evaluate: distributed FID/KID/CLIP-score evaluation with rank 0 coordinating. See evaluate.h.
#include "dist/evaluate.h"
#include "dist/agree.h"
#include "dist/rank.h"
#include "dist/watch.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/condmetrics.h"
#include "core/fid.h"
#include "core/rng.h"
#include "io/weights.h"

#define EVAL_BATCH 8
#define EVAL_KID_SUBSETS 10
#define EVAL_KID_SUBSET 1000
#define EVAL_DIV_REAL_MAX 5000   // test images searched for real pairs with equal labels

// ---------------------------------------------------------------- set-up

int eval_net_init(EvalCtx *c, const char *inception_weights, int inception_size, Err *e) {
    InceptionVariant v = INCEPTION_FID;
    char network[64] = "", sha[128] = "";
    int from_file = inception_weights && *inception_weights;
    if (from_file) {
        if (fidstats_weights_info(inception_weights, network, sizeof network, sha, sizeof sha, e)) return -1;
        if (inception_variant_from_name(network, &v))
            return err_set(e, "%s: network '%s' is not inception_fid or inception_tv", inception_weights, network);
    }
    if (inception_size < INCEPTION_SIZE_MIN || inception_size > INCEPTION_SIZE_MAX)
        return err_set(e, "eval.inception_size is %d: Inception-v3 takes %d..%d px (299 as pytorch-fid)",
                       inception_size, INCEPTION_SIZE_MIN, INCEPTION_SIZE_MAX);
    Inception *net = &c->feat.net;
    if (inception_build(net, v, e)) return -1;
    net->input_size = inception_size;
    if (from_file) {
        if (weights_load(inception_weights, "/", &net->ps, 1, e) < 0) return -1;
        c->random_weights = 0;
        snprintf(c->weights_id, sizeof c->weights_id, "%s", sha);
    } else {
        inception_init_random(net, EVAL_INCEPTION_SEED);
        c->random_weights = 1;
        snprintf(c->weights_id, sizeof c->weights_id, "random-seed-%u", EVAL_INCEPTION_SEED);
    }
    return evalfeat_ready(&c->feat, EVAL_BATCH, e);
}

// Every collective here waits against the deadline of dist/watch.h: a stalled rank comes back as an
// error naming it (and dp_stalled() set, so the caller's next dp_agree ends the job), never a hang.
static int waited(int rc, MPI_Request *req, const char *what, Err *e) {
    if (rc != MPI_SUCCESS) return err_set(e, "%s: the MPI call failed", what);
    return dp_wait_one(req, what, e);
}

// Rank 0's status and message to everyone (so every rank returns the same way).
static int bcast_status(int rc, Err *e) {
    int r = rc;
    if (dp_bcast_bytes(&r, (int)sizeof r, 0, "eval: status broadcast", e)) return -1;
    if (r && dp_bcast_bytes(e->msg, (int)sizeof e->msg, 0, "eval: error broadcast", e)) return -1;
    return r ? -1 : 0;
}

// Rank 0: the reference statistics, checked against this network and weights, and Σ_ref^½.
static int ref_load(EvalCtx *c, const Config *cfg, const char *data_dir, Err *e) {
    const char *net = inception_network_name(c->feat.net.variant);
    if (cfg->eval.ref_stats[0]) snprintf(c->ref_path, sizeof c->ref_path, "%s", cfg->eval.ref_stats);
    else fidstats_default_path(c->ref_path, sizeof c->ref_path, data_dir, "test", net, c->feat.net.input_size);
    if (fidstats_read(c->ref_path, &c->ref, e)) return -1;
    if (strcmp(c->ref.network, net))
        return err_set(e, "%s: statistics of network %s, evaluation uses %s (remake them with `ratlip data stats`)",
                       c->ref_path, c->ref.network, net);
    if (strcmp(c->ref.weights_sha256, c->weights_id))
        return err_set(e, "%s: statistics made with weights %s, evaluation uses %s (remake them with `ratlip data "
                          "stats` and the same eval.inception_weights)",
                       c->ref_path, c->ref.weights_sha256, c->weights_id);
    if (c->ref.inception_size != c->feat.net.input_size)
        return err_set(e, "%s: statistics of images resized to %d px for Inception, eval.inception_size is %d (remake "
                          "them with `ratlip data stats DIR --inception-size %d`, or set eval.inception_size=%d)",
                       c->ref_path, c->ref.inception_size, c->feat.net.input_size, c->feat.net.input_size,
                       c->ref.inception_size);
    if (c->ref.d != INCEPTION_DIM)
        return err_set(e, "%s: statistics of dimension %d, Inception's pool3 has %d", c->ref_path, c->ref.d,
                       INCEPTION_DIM);
    // moments only (e.g. converted from pytorch-fid's .npz by io/tools/npz_to_fidstats.py): FID, no KID
    c->ref_sqrt = malloc((size_t)c->ref.d * c->ref.d * sizeof(double));
    if (!c->ref_sqrt) return err_set(e, "eval: out of memory for the reference statistics");
    return fid_sqrtm_psd(c->ref.sigma, c->ref.d, c->ref_sqrt, e);
}

// The dataset's attribute probe, when there is one that fits the test split: rank 0 looks, every rank
// loads. No probe (or one that does not fit) is not an error: the evaluation says why it has no
// attribute accuracy. Collective.
static int probe_ready(EvalCtx *c, const char *data_dir, Err *e) {
    int rank = 0, rc = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char path[1100];
    probe_default_path(path, sizeof path, data_dir, PROBE_DEFAULT_SIDE);
    if (rank == 0) {
        Dataset *test = NULL;
        Err pe;
        int L = 0;
        if (ds_open(&test, data_dir, "test", &pe) == 0) L = ds_info(test)->label_dim, ds_close(test);
        if (!L) snprintf(c->probe_note, sizeof c->probe_note, "no attribute accuracy: the test split has no /labels");
        else if (access(path, R_OK))
            snprintf(c->probe_note, sizeof c->probe_note, "no attribute accuracy: no probe (make it: ratlip data probe %s)",
                     data_dir);
        else if (probe_load(path, &c->probe, &c->probe_rep, &pe))
            snprintf(c->probe_note, sizeof c->probe_note, "no attribute accuracy: %.200s", pe.msg);
        else if (c->probe.n_attrs != L) {
            snprintf(c->probe_note, sizeof c->probe_note, "no attribute accuracy: %.120s has %d attributes, /labels %d",
                     path, c->probe.n_attrs, L);
            probe_free(&c->probe);
        } else {
            c->has_probe = 1;
        }
    }
    if (dp_bcast_bytes(&c->has_probe, (int)sizeof c->has_probe, 0, "eval: probe broadcast", e) ||
        dp_bcast_bytes(c->probe_note, (int)sizeof c->probe_note, 0, "eval: probe note broadcast", e))
        return -1;
    if (c->has_probe && rank) rc = probe_load(path, &c->probe, &c->probe_rep, e);
    return dp_agree(rc, dp_get_timeout(), e) ? -1 : 0;
}

int eval_ctx_init(EvalCtx *c, const Config *cfg, const char *data_dir, const char *out_dir, long n_samples, Err *e) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    memset(c, 0, sizeof *c);
    c->n_samples = n_samples > 0 ? n_samples : cfg->eval.n_samples;
    c->samples_per_caption = n_samples > 0 ? 0 : cfg->eval.samples_per_caption;
    c->kid_subsets = EVAL_KID_SUBSETS;
    c->kid_subset_size = EVAL_KID_SUBSET;
    c->seed = (uint64_t)cfg->train.seed;
    c->best_fid = INFINITY;
    c->rprec_repeats = cfg->eval.rprec_repeats;
    c->div_captions = cfg->eval.diversity_captions;
    c->div_samples = cfg->eval.diversity_samples;
    snprintf(c->out_dir, sizeof c->out_dir, "%s", out_dir ? out_dir : "");
    int rc = eval_net_init(c, cfg->eval.inception_weights, cfg->eval.inception_size, e);
    if (bcast_status(rc, e)) return -1;
    if (rank == 0) rc = ref_load(c, cfg, data_dir, e);
    if (bcast_status(rc, e)) return -1;
    return probe_ready(c, data_dir, e);
}

void eval_ctx_free(EvalCtx *c) {
    if (c->has_probe) probe_free(&c->probe);
    evalfeat_free(&c->feat);
    fidstats_free(&c->ref);
    free(c->ref_sqrt);
    free(c->grid.img);
    memset(c, 0, sizeof *c);
}

// ---------------------------------------------------------------- the sample plan

long eval_sample_count(const EvalCtx *c, Dataset *test) {
    return c->samples_per_caption > 0 ? (long)c->samples_per_caption * ds_size(test) : c->n_samples;
}

// What every rank follows: N samples of rank 0's seed, in batches of B; batch j is rank (j mod W)'s.
// Two sets: the main one (FID, KID, CLIP score, R-precision) and the diversity one (div_captions
// captions × div_samples noise vectors).
enum { SET_MAIN, SET_DIVERSITY };
typedef struct {
    long N, n_batches, my_batches;
    uint64_t seed;
    int rank, world, B, Z, T, S, E;
    int set, div_captions, div_samples;
    const NetG *G;
    const ClipTower *clip;
} SamplePlan;

static void plan_batches(SamplePlan *p, int set, long N) {
    p->set = set;
    p->N = N;
    p->n_batches = (p->N + p->B - 1) / p->B;
    p->my_batches = 0;
    for (long j = p->rank; j < p->n_batches; j += p->world) p->my_batches++;
}

static int plan_make(const EvalCtx *c, const Gan *gan, int use_ema, const Config *cfg, Dataset *test, SamplePlan *p,
                     Err *e) {
    MPI_Comm_rank(MPI_COMM_WORLD, &p->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p->world);
    long long plan[4] = {eval_sample_count(c, test), (long long)c->seed, c->div_captions, c->div_samples};
    if (dp_bcast_bytes(plan, (int)sizeof plan, 0, "eval: sample plan broadcast", e)) return -1;
    p->N = (long)plan[0];
    p->seed = (uint64_t)plan[1];
    p->div_captions = (int)plan[2], p->div_samples = (int)plan[3];
    p->G = (use_ema && gan->has_ema) ? &gan->g_ema : &gan->g;
    p->clip = &gan->clip;
    p->B = c->feat.batch, p->Z = p->G->d.z_dim, p->T = p->G->d.text_dim, p->S = cfg->model.image_size;
    p->E = p->clip->d.embed_dim;
    // every rank sees the same config, so every rank fails the same way
    int E = p->clip->d.embed_dim, T = p->T;
    if (p->N < 2)
        return err_set(e, "eval: %ld samples (%s): FID needs at least 2", p->N,
                       c->samples_per_caption > 0 ? "eval.samples_per_caption x test images" : "eval.n_samples");
    if (E != T) return err_set(e, "eval: CLIP embed_dim %d != text_dim %d: the CLIP score compares them", E, T);
    int Dt = ds_info(test)->embed_dim;
    if (Dt != T) return err_set(e, "eval: test split embeddings have %d dims, the generator wants %d", Dt, T);
    plan_batches(p, SET_MAIN, p->N);
    return 0;
}

// Counter spaces under (seed, RNG_EVAL): c_hi 1 the main set's captions, 2<<32 + g its noise, 3 the
// R-precision pool's captions, 4<<32 | repeat its candidate draws, 5 the diversity set's captions,
// 6<<32 + g its noise.
// Sample g of the plan's set: dataset image, caption, z. A pure function of (seed, set, g).
static int eval_sample(Dataset *test, const SamplePlan *p, long g, real *z, real *s, long *image, int *caption,
                       Err *e) {
    RngKey key = rng_key(p->seed, RNG_EVAL);
    long n = ds_size(test), i;
    int k;
    if (p->set == SET_MAIN) {
        i = g % n;
        k = (int)(rng_u32(key, 1, (uint64_t)g) % (uint32_t)ds_text_count(test, i));
        rng_fill_normal(z, (size_t)p->Z, 0, 1, key, ((uint64_t)2 << 32) + (uint64_t)g);
    } else {   // caption c = g / M, its images spread over the test split
        long c = g / p->div_samples;
        i = (long)((double)c * (double)n / p->div_captions) % n;
        k = (int)(rng_u32(key, 5, (uint64_t)c) % (uint32_t)ds_text_count(test, i));
        rng_fill_normal(z, (size_t)p->Z, 0, 1, key, ((uint64_t)6 << 32) + (uint64_t)g);
    }
    *image = i;
    *caption = k;
    return ds_read_emb(test, i, k, s, e);
}

// ---------------------------------------------------------------- this rank's share

// This rank's batches: their features [n,D] with their sample indices [n], Σf and Σffᵀ, Σcos; for the
// main set also the CLIP embeddings of the samples [n,E], their captions' embeddings [n,T] and (want_real)
// the CLIP embeddings of the samples' dataset images [n,E].
typedef struct {
    real *feat;
    long long *idx;
    long n;
    FeatSums fs;
    double clip_sum;
    real *clip_emb, *text_emb, *real_emb;
    long long attr_hits[PROBE_MAX_ATTRS + 1];   // samples whose attribute a is right; [n_attrs]: all right
} Share;

static void share_free(Share *sh) {
    free(sh->feat);
    free(sh->idx);
    free(sh->clip_emb), free(sh->text_emb), free(sh->real_emb);
    featsums_free(&sh->fs);
}

// Rank 0 keeps the first images of batch 0 (always its own) and their captions for the report. Out of
// memory only loses the grid.
static void keep_grid(EvalGrid *g, Dataset *test, const real *img, int nb, int S, const long *image,
                      const int *caption) {
    int n = nb < EVAL_GRID_MAX ? nb : EVAL_GRID_MAX;
    size_t len = (size_t)n * 3 * S * S;
    real *keep = realloc(g->img, len * sizeof(real));
    if (!keep) return;
    g->img = keep;
    memcpy(g->img, img, len * sizeof(real));
    for (int b = 0; b < n; b++) {
        Err ignored;   // a caption that cannot be read stays empty under its image
        g->caption[b][0] = 0;
        ds_read_caption(test, image[b], caption[b], g->caption[b], EVAL_CAPTION_MAX, &ignored);
    }
    g->n = n, g->size = S;
}

// The CLIP embeddings of the dataset images image[0..nb) into out [nb,E].
static int real_clip_batch(EvalCtx *c, const SamplePlan *p, Dataset *test, const long *image, int nb, uint8_t *hwc,
                           real *out, Err *e) {
    int S = ds_info(test)->image_size;
    for (int b = 0; b < nb; b++)
        if (ds_read_image(test, image[b], hwc + (size_t)b * S * S * 3, e)) return -1;
    return evalfeat_clip_u8(&c->feat, p->clip, hwc, nb, S, out, e);
}

// Classifies nb generated images with the probe and counts, per attribute, those whose class is the label
// of their dataset image (hits[L]: all of them right).
static int probe_hits(EvalCtx *c, Dataset *test, const real *img, int nb, int S, const long *image, long long *hits,
                      Err *e) {
    int L = c->probe.n_attrs;
    int32_t pred[EVALFEAT_BATCH_MAX * PROBE_MAX_ATTRS];
    if (probe_predict(&c->probe, img, nb, S, pred, e)) return -1;
    for (int b = 0; b < nb; b++) {
        const int32_t *want = ds_labels(test, image[b]);
        int all = 1;
        for (int a = 0; a < L; a++) {
            int ok = pred[b * L + a] == want[a];
            hits[a] += ok;
            all &= ok;
        }
        hits[L] += all;
    }
    return 0;
}

// Generates and embeds this rank's batches of the plan's set (core/evalfeat.h).
static int share_embed(EvalCtx *c, const SamplePlan *p, Dataset *test, int want_real, Share *sh, Err *e) {
    int B = p->B, T = p->T, S = p->S, E = p->E, D = INCEPTION_DIM, rc = 0, main_set = p->set == SET_MAIN;
    size_t rows = (size_t)p->my_batches * B + 1, Sd = (size_t)ds_info(test)->image_size;
    real *z = malloc((size_t)B * p->Z * sizeof(real)), *s = malloc((size_t)B * T * sizeof(real));
    real *img = malloc((size_t)B * 3 * S * S * sizeof(real)), *cosv = malloc((size_t)B * sizeof(real));
    uint8_t *hwc = want_real ? malloc((size_t)B * Sd * Sd * 3) : NULL;
    sh->feat = malloc(rows * D * sizeof(real));
    sh->idx = malloc(rows * sizeof(long long));
    if (main_set) {
        sh->clip_emb = malloc(rows * E * sizeof(real));
        sh->text_emb = malloc(rows * T * sizeof(real));
        if (want_real) sh->real_emb = malloc(rows * E * sizeof(real));
    }
    if (!z || !s || !img || !cosv || !sh->feat || !sh->idx || (main_set && featsums_init(&sh->fs, D)) ||
        (main_set && (!sh->clip_emb || !sh->text_emb)) || (want_real && (!hwc || !sh->real_emb)))
        rc = err_set(e, "eval: out of memory for a batch of %d", B);
    for (long j = p->rank; j < p->n_batches && !rc; j += p->world) {
        int nb = (int)((j + 1) * B <= p->N ? B : p->N - j * B);
        long image[EVALFEAT_BATCH_MAX];
        int caption[EVALFEAT_BATCH_MAX];
        for (int b = 0; b < nb && !rc; b++)
            rc = eval_sample(test, p, j * B + b, z + (size_t)b * p->Z, s + (size_t)b * T, &image[b], &caption[b], e);
        real *f = sh->feat + (size_t)sh->n * D;
        if (rc || (rc = evalfeat_generated(&c->feat, p->G, p->clip, z, s, nb, S, img, f, cosv, e))) break;
        if (main_set) featsums_add(&sh->fs, f, nb);
        for (int b = 0; b < nb; b++) {
            sh->idx[sh->n + b] = j * B + b;
            sh->clip_sum += cosv[b];
        }
        if (main_set && c->has_probe && (rc = probe_hits(c, test, img, nb, S, image, sh->attr_hits, e))) break;
        if (main_set) {
            memcpy(sh->clip_emb + (size_t)sh->n * E, c->feat.emb, (size_t)nb * E * sizeof(real));
            memcpy(sh->text_emb + (size_t)sh->n * T, s, (size_t)nb * T * sizeof(real));
            if (want_real && (rc = real_clip_batch(c, p, test, image, nb, hwc, sh->real_emb + (size_t)sh->n * E, e)))
                break;
        }
        sh->n += nb;
        if (main_set && j == 0 && c->out_dir[0]) keep_grid(&c->grid, test, img, nb, S, image, caption);
    }
    free(z), free(s), free(img), free(cosv), free(hwc);
    return rc;
}

// ---------------------------------------------------------------- to rank 0

// Rank 0's receive side. Allocated before the ranks agree, so that running out of memory is agreed on.
typedef struct {
    double head[2];                            // n, Σcos: reduced
    int *counts, *displs, *fcounts, *fdispls;  // per rank: its samples and their offset, in rows and in reals
    real *feat, *ordered;                      // [N,D]: in rank order, in sample order
    long long *idx;                            // [N]: the sample of each row of feat
    real *clip, *text, *real_clip;             // main set, in sample order: [N,E], [N,T], [N,E] (want_real)
} Gathered;

static int gathered_alloc(const SamplePlan *p, int want_real, Gathered *g, Err *e) {
    if (p->rank) return 0;
    size_t W = (size_t)p->world, N = (size_t)p->N, ND = N * INCEPTION_DIM, wide = (size_t)(p->E > p->T ? p->E : p->T);
    g->counts = calloc(W, sizeof(int)), g->displs = calloc(W, sizeof(int));
    g->fcounts = calloc(W, sizeof(int)), g->fdispls = calloc(W, sizeof(int));
    // feat is also the staging area of the narrower main-set rows (E, T <= D) before they are put in order
    g->feat = malloc((ND > N * wide ? ND : N * wide) * sizeof(real)), g->ordered = malloc(ND * sizeof(real));
    g->idx = malloc(N * sizeof(long long));
    int bad = !g->counts || !g->displs || !g->fcounts || !g->fdispls || !g->feat || !g->ordered || !g->idx;
    if (p->set == SET_MAIN) {
        g->clip = malloc(N * p->E * sizeof(real)), g->text = malloc(N * p->T * sizeof(real));
        if (want_real) g->real_clip = malloc(N * p->E * sizeof(real));
        bad |= !g->clip || !g->text || (want_real && !g->real_clip);
    }
    return bad ? err_set(e, "eval: out of memory for the %ld gathered features", p->N) : 0;
}

static void gathered_free(Gathered *g) {
    free(g->counts), free(g->displs), free(g->fcounts), free(g->fdispls);
    free(g->feat), free(g->ordered), free(g->idx);
    free(g->clip), free(g->text), free(g->real_clip);
}

// Every rank's rows [n,width] (this rank's: rows) to rank 0's out [N,width] in sample order; after gather
// (which filled g->counts, displs and idx on rank 0). Collective.
static int gather_rows(const SamplePlan *p, const Share *sh, Gathered *g, const real *rows, int width, real *out,
                       const char *what, Err *e) {
    MPI_Request q;
    if (p->rank == 0)
        for (int r = 0; r < p->world; r++) g->fcounts[r] = g->counts[r] * width, g->fdispls[r] = g->displs[r] * width;
    int rc = waited(MPI_Igatherv(rows, (int)sh->n * width, DP_MPI_REAL, g->feat, g->fcounts, g->fdispls, DP_MPI_REAL, 0,
                                 MPI_COMM_WORLD, &q),
                    &q, what, e);
    if (p->rank == 0 && !rc)
        for (long i = 0; i < p->N; i++)
            memcpy(out + (size_t)g->idx[i] * width, g->feat + (size_t)i * width, (size_t)width * sizeof(real));
    return rc;
}

// Reduces the sums (into sh->fs and g->head on rank 0) and gathers every feature to rank 0, in sample order.
static int gather(const SamplePlan *p, Share *sh, Gathered *g, Err *e) {
    int rank = p->rank, D = INCEPTION_DIM, cnt = (int)sh->n;
    FeatSums *fs = &sh->fs;
    MPI_Request q;
    MPI_Comm w = MPI_COMM_WORLD;
    g->head[0] = (double)sh->n, g->head[1] = sh->clip_sum;
    double *head = g->head;
    int rc = waited(MPI_Ireduce(rank ? head : MPI_IN_PLACE, head, 2, MPI_DOUBLE, MPI_SUM, 0, w, &q), &q, "eval: sums",
                    e);
    if (p->set == SET_MAIN)   // attribute hits (zeros without a probe): exact integer sums
        if (!rc) rc = waited(MPI_Ireduce(rank ? sh->attr_hits : MPI_IN_PLACE, sh->attr_hits, PROBE_MAX_ATTRS + 1,
                                         MPI_LONG_LONG, MPI_SUM, 0, w, &q),
                             &q, "eval: attribute hits", e);
    if (p->set == SET_MAIN) {   // the moments for FID
        if (!rc) rc = waited(MPI_Ireduce(rank ? fs->s : MPI_IN_PLACE, fs->s, D, MPI_DOUBLE, MPI_SUM, 0, w, &q), &q,
                             "eval: feature sums", e);
        if (!rc) rc = waited(MPI_Ireduce(rank ? fs->q : MPI_IN_PLACE, fs->q, D * D, MPI_DOUBLE, MPI_SUM, 0, w, &q), &q,
                             "eval: feature products", e);
    }
    if (!rc) rc = waited(MPI_Igather(&cnt, 1, MPI_INT, g->counts, 1, MPI_INT, 0, w, &q), &q, "eval: feature counts", e);
    if (rank == 0 && !rc)
        for (int r = 0, off = 0; r < p->world; r++) {
            g->displs[r] = off;
            g->fcounts[r] = g->counts[r] * D;
            g->fdispls[r] = off * D;
            off += g->counts[r];
        }
    if (!rc)
        rc = waited(MPI_Igatherv(sh->idx, cnt, MPI_LONG_LONG, g->idx, g->counts, g->displs, MPI_LONG_LONG, 0, w, &q), &q,
                    "eval: sample indices", e);
    if (!rc)
        rc = waited(MPI_Igatherv(sh->feat, cnt * D, DP_MPI_REAL, g->feat, g->fcounts, g->fdispls, DP_MPI_REAL, 0, w, &q),
                    &q, "eval: features", e);
    if (rank == 0 && !rc) {
        fs->n = head[0];
        for (long i = 0; i < p->N; i++)
            memcpy(g->ordered + (size_t)g->idx[i] * D, g->feat + (size_t)i * D, D * sizeof(real));
    }
    if (p->set == SET_MAIN && !rc) rc = gather_rows(p, sh, g, sh->clip_emb, p->E, g->clip, "eval: CLIP embeddings", e);
    if (p->set == SET_MAIN && !rc) rc = gather_rows(p, sh, g, sh->text_emb, p->T, g->text, "eval: caption embeddings", e);
    if (p->set == SET_MAIN && !rc && sh->real_emb)
        rc = gather_rows(p, sh, g, sh->real_emb, p->E, g->real_clip, "eval: real-image CLIP embeddings", e);
    return rc;
}

// ---------------------------------------------------------------- rank 0: the metrics

// FID of the reduced statistics against the reference, KID of the samples, CLIP score ×100.
static int score(const EvalCtx *c, const SamplePlan *p, const FeatSums *fs, const Gathered *g, EvalResult *r, Err *e) {
    int D = INCEPTION_DIM;
    double *mu = malloc((size_t)D * sizeof(double)), *sg = malloc((size_t)D * D * sizeof(double));
    int rc = (!mu || !sg) ? err_set(e, "eval: out of memory for the statistics") : featsums_stats(fs, mu, sg, e);
    if (!rc) rc = fid_compute(c->ref.mu, c->ref.sigma, c->ref_sqrt, mu, sg, D, &r->fid, &r->eig_ratio, e);
    r->kid = r->kid_std = NAN;   // KID needs the reference's features; a moments-only file has none
    if (!rc && c->ref.n_feat >= 2)
        rc = kid_compute(c->ref.feat, c->ref.n_feat, g->ordered, p->N, D, c->kid_subset_size, c->kid_subsets, p->seed,
                         &r->kid, &r->kid_std, e);
    r->clip_score = 100.0 * g->head[1] / g->head[0];
    r->n = (long)g->head[0];
    free(mu);
    free(sg);
    return rc;
}

// ---------------------------------------------------------------- rank 0: conditioning

// The R-precision pool: the first P test images, each with one Philox-chosen caption, embeddings [P,E].
static int rprec_pool(Dataset *test, uint64_t seed, int E, real **pool, long *P, Err *e) {
    RngKey key = rng_key(seed, RNG_EVAL);
    long n = ds_size(test) < EVAL_RPREC_POOL ? ds_size(test) : EVAL_RPREC_POOL;
    real *v = malloc((size_t)(n ? n : 1) * E * sizeof(real));
    if (!v) return err_set(e, "eval: out of memory for %ld R-precision captions", n);
    for (long j = 0; j < n; j++) {
        int k = (int)(rng_u32(key, 3, (uint64_t)j) % (uint32_t)ds_text_count(test, j));
        if (ds_read_emb(test, j, k, v + (size_t)j * E, e)) {
            free(v);
            return -1;
        }
    }
    *pool = v, *P = n;
    return 0;
}

// ---------------------------------------------------------------- one evaluation

// Rank 0: R-precision of the samples (and of their dataset images, the first time), the diversity figures.
// The real reference of diversity: pairs of test images with identical /labels, their features from the
// reference statistics (row i = test image i when they hold every test image). NaN (pairs 0) otherwise.
static int diversity_real(const FidStats *ref, Dataset *test, double *div, long *pairs, Err *e) {
    long n = ds_size(test);
    int L = ds_info(test)->label_dim;
    *div = NAN, *pairs = 0;
    if (!L || !ref->feat || ref->n_feat != n) return 0;
    if (n > EVAL_DIV_REAL_MAX) n = EVAL_DIV_REAL_MAX;   // the pair search is quadratic
    int32_t *lab = malloc((size_t)n * L * sizeof(int32_t));
    if (!lab) return err_set(e, "eval: out of memory for %ld labels", n);
    for (long i = 0; i < n; i++) memcpy(lab + (size_t)i * L, ds_labels(test, i), (size_t)L * sizeof(int32_t));
    *div = condm_diversity_equal_labels(ref->feat, lab, n, L, ref->d, pairs);
    free(lab);
    return 0;
}

// Rank 0: R-precision of the samples (and of their dataset images, the first time), the diversity figures.
static int conditioning(EvalCtx *c, const SamplePlan *p, Dataset *test, const Gathered *g, const long long *sh_hits,
                        int want_real, const Gathered *gd, const SamplePlan *pd, EvalResult *r, Err *e) {
    real *pool = NULL;
    long P = 0, *self = malloc((size_t)p->N * sizeof(long));
    if (!self) return err_set(e, "eval: out of memory for %ld samples", p->N);
    for (long i = 0; i < p->N; i++) self[i] = i % ds_size(test);   // the main set's image of sample i
    int rc = rprec_pool(test, p->seed, p->E, &pool, &P, e);
    if (!rc)
        condm_rprecision(g->clip, g->text, self, p->N, pool, P, p->E, c->rprec_repeats, p->seed, RNG_EVAL, &r->rprec,
                         &r->rprec_std, &r->rprec_candidates);
    if (!rc && want_real) {
        int k;
        condm_rprecision(g->real_clip, g->text, self, p->N, pool, P, p->E, c->rprec_repeats, p->seed, RNG_EVAL,
                         &r->rprec_real, &r->rprec_real_std, &k);
        rc = diversity_real(&c->ref, test, &r->div_real, &r->div_real_pairs, e);
    } else if (!rc) {
        r->rprec_real = c->rprec_real, r->rprec_real_std = c->rprec_real_std;
        r->div_real = c->div_real, r->div_real_pairs = c->div_real_pairs;
    }
    r->div_gen = gd ? condm_diversity(gd->ordered, pd->div_captions, pd->div_samples, INCEPTION_DIM) : NAN;
    r->n_attrs = c->has_probe ? c->probe.n_attrs : 0;
    for (int a = 0; a <= r->n_attrs && r->n_attrs; a++) {
        double acc = (double)sh_hits[a] / (double)p->N;
        if (a < r->n_attrs) r->attr_acc[a] = acc;
        else r->attr_all = acc;
    }
    free(pool);
    free(self);
    return rc;
}

// One set's samples: generated and embedded on every rank, gathered to rank 0. Collective.
static int run_set(EvalCtx *c, const SamplePlan *p, Dataset *test, int want_real, Share *sh, Gathered *g, Err *e) {
    int rc = share_embed(c, p, test, want_real, sh, e);
    if (!rc) rc = gathered_alloc(p, want_real, g, e);
    // a local failure must not leave the others waiting in the reductions: agree on it first
    return dp_agree(rc, dp_get_timeout(), e) ? -1 : gather(p, sh, g, e);
}

int eval_run(EvalCtx *c, const Gan *gan, int use_ema, const Config *cfg, Dataset *test, EvalResult *out, Err *e) {
    double t0 = MPI_Wtime();
    SamplePlan p, pd;
    if (plan_make(c, gan, use_ema, cfg, test, &p, e)) return -1;
    c->grid.n = 0;
    int want_real = !c->have_real, div = p.div_samples > 0;
    Share sh = {0}, shd = {0};
    Gathered g = {0}, gd = {0};
    int rc = run_set(c, &p, test, want_real, &sh, &g, e);
    if (!rc && div) {
        pd = p;
        plan_batches(&pd, SET_DIVERSITY, (long)p.div_captions * p.div_samples);
        rc = run_set(c, &pd, test, 0, &shd, &gd, e);
    }
    EvalResult r = {0};
    int score_rc = 0;
    if (!rc && p.rank == 0) {
        score_rc = score(c, &p, &sh.fs, &g, &r, e);
        if (!score_rc)
            score_rc = conditioning(c, &p, test, &g, sh.attr_hits, want_real, div ? &gd : NULL, &pd, &r, e);
        r.improved = !score_rc && r.fid < c->best_fid;
        r.random_weights = c->random_weights;
        r.ranks = p.world;
        r.seconds = MPI_Wtime() - t0;
    }
    share_free(&sh), share_free(&shd);
    gathered_free(&g), gathered_free(&gd);
    // everyone learns rank 0's outcome: its error, or the result
    if (rc || bcast_status(score_rc, e) || dp_bcast_bytes(&r, (int)sizeof r, 0, "eval: outcome broadcast", e))
        return -1;
    if (r.improved) c->best_fid = r.fid;
    if (want_real) {   // the ceilings depend on the sample plan and the frozen CLIP only: keep them
        c->have_real = 1;
        c->rprec_real = r.rprec_real, c->rprec_real_std = r.rprec_real_std;
        c->div_real = r.div_real, c->div_real_pairs = r.div_real_pairs;
    }
    *out = r;
    return 0;
}
