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
#include "core/fid.h"
#include "core/rng.h"
#include "io/weights.h"

#define EVAL_BATCH 8
#define EVAL_KID_SUBSETS 10
#define EVAL_KID_SUBSET 1000

// ---------------------------------------------------------------- set-up

int eval_net_init(EvalCtx *c, const char *inception_weights, Err *e) {
    InceptionVariant v = INCEPTION_FID;
    char network[64] = "", sha[128] = "";
    int from_file = inception_weights && *inception_weights;
    if (from_file) {
        if (fidstats_weights_info(inception_weights, network, sizeof network, sha, sizeof sha, e)) return -1;
        if (inception_variant_from_name(network, &v))
            return err_set(e, "%s: network '%s' is not inception_fid or inception_tv", inception_weights, network);
    }
    Inception *net = &c->feat.net;
    if (inception_build(net, v, e)) return -1;
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
    else fidstats_default_path(c->ref_path, sizeof c->ref_path, data_dir, "test", net);
    if (fidstats_read(c->ref_path, &c->ref, e)) return -1;
    if (strcmp(c->ref.network, net))
        return err_set(e, "%s: statistics of network %s, evaluation uses %s (remake them with `ratlip data stats`)",
                       c->ref_path, c->ref.network, net);
    if (strcmp(c->ref.weights_sha256, c->weights_id))
        return err_set(e, "%s: statistics made with weights %s, evaluation uses %s (remake them with `ratlip data "
                          "stats` and the same eval.inception_weights)",
                       c->ref_path, c->ref.weights_sha256, c->weights_id);
    if (c->ref.n_feat < 2)
        return err_set(e, "%s: no /features (KID needs them): remake with `ratlip data stats`", c->ref_path);
    c->ref_sqrt = malloc((size_t)c->ref.d * c->ref.d * sizeof(double));
    if (!c->ref_sqrt) return err_set(e, "eval: out of memory for the reference statistics");
    return fid_sqrtm_psd(c->ref.sigma, c->ref.d, c->ref_sqrt, e);
}

int eval_ctx_init(EvalCtx *c, const Config *cfg, const char *data_dir, const char *out_dir, long n_samples, Err *e) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    memset(c, 0, sizeof *c);
    c->n_samples = n_samples > 0 ? n_samples : cfg->eval.n_samples;
    c->kid_subsets = EVAL_KID_SUBSETS;
    c->kid_subset_size = EVAL_KID_SUBSET;
    c->seed = (uint64_t)cfg->train.seed;
    c->best_fid = INFINITY;
    snprintf(c->out_dir, sizeof c->out_dir, "%s", out_dir ? out_dir : "");
    int rc = eval_net_init(c, cfg->eval.inception_weights, e);
    if (bcast_status(rc, e)) return -1;
    if (rank == 0) rc = ref_load(c, cfg, data_dir, e);
    return bcast_status(rc, e);
}

void eval_ctx_free(EvalCtx *c) {
    evalfeat_free(&c->feat);
    fidstats_free(&c->ref);
    free(c->ref_sqrt);
    free(c->grid.img);
    memset(c, 0, sizeof *c);
}

// ---------------------------------------------------------------- the sample plan

// What every rank follows: N samples of rank 0's seed, in batches of B; batch j is rank (j mod W)'s.
typedef struct {
    long N, n_batches, my_batches;
    uint64_t seed;
    int rank, world, B, Z, T, S;
    const NetG *G;
    const ClipTower *clip;
} SamplePlan;

static int plan_make(const EvalCtx *c, const Gan *gan, int use_ema, const Config *cfg, Dataset *test, SamplePlan *p,
                     Err *e) {
    MPI_Comm_rank(MPI_COMM_WORLD, &p->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p->world);
    long long plan[2] = {c->n_samples, (long long)c->seed};
    if (dp_bcast_bytes(plan, (int)sizeof plan, 0, "eval: sample plan broadcast", e)) return -1;
    p->N = (long)plan[0];
    p->seed = (uint64_t)plan[1];
    p->G = (use_ema && gan->has_ema) ? &gan->g_ema : &gan->g;
    p->clip = &gan->clip;
    p->B = c->feat.batch, p->Z = p->G->d.z_dim, p->T = p->G->d.text_dim, p->S = cfg->model.image_size;
    // every rank sees the same config, so every rank fails the same way
    int E = p->clip->d.embed_dim, T = p->T;
    if (p->N < 2) return err_set(e, "eval: eval.n_samples = %ld: FID needs at least 2 samples", p->N);
    if (E != T) return err_set(e, "eval: CLIP embed_dim %d != text_dim %d: the CLIP score compares them", E, T);
    int Dt = ds_info(test)->embed_dim;
    if (Dt != T) return err_set(e, "eval: test split embeddings have %d dims, the generator wants %d", Dt, T);
    p->n_batches = (p->N + p->B - 1) / p->B;
    p->my_batches = 0;
    for (long j = p->rank; j < p->n_batches; j += p->world) p->my_batches++;
    return 0;
}

// Sample g: dataset image, caption, z. A pure function of (seed, g).
static int eval_sample(Dataset *test, uint64_t seed, long g, int z_dim, real *z, real *s, long *image, int *caption,
                       Err *e) {
    RngKey key = rng_key(seed, RNG_EVAL);
    long i = g % ds_size(test);
    int k = (int)(rng_u32(key, 1, (uint64_t)g) % (uint32_t)ds_text_count(test, i));
    rng_fill_normal(z, (size_t)z_dim, 0, 1, key, ((uint64_t)2 << 32) + (uint64_t)g);
    *image = i;
    *caption = k;
    return ds_read_emb(test, i, k, s, e);
}

// ---------------------------------------------------------------- this rank's share

// This rank's batches: their features [n,D] with their sample indices [n], Σf and Σffᵀ, Σcos.
typedef struct {
    real *feat;
    long long *idx;
    long n;
    FeatSums fs;
    double clip_sum;
} Share;

static void share_free(Share *sh) {
    free(sh->feat);
    free(sh->idx);
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

// Generates and embeds this rank's batches (core/evalfeat.h).
static int share_embed(EvalCtx *c, const SamplePlan *p, Dataset *test, Share *sh, Err *e) {
    int B = p->B, Z = p->Z, T = p->T, S = p->S, D = INCEPTION_DIM, rc = 0;
    real *z = malloc((size_t)B * Z * sizeof(real)), *s = malloc((size_t)B * T * sizeof(real));
    real *img = malloc((size_t)B * 3 * S * S * sizeof(real)), *cosv = malloc((size_t)B * sizeof(real));
    sh->feat = malloc(((size_t)p->my_batches * B + 1) * D * sizeof(real));
    sh->idx = malloc(((size_t)p->my_batches * B + 1) * sizeof(long long));
    if (!z || !s || !img || !cosv || !sh->feat || !sh->idx || featsums_init(&sh->fs, D))
        rc = err_set(e, "eval: out of memory for a batch of %d", B);
    for (long j = p->rank; j < p->n_batches && !rc; j += p->world) {
        int nb = (int)((j + 1) * B <= p->N ? B : p->N - j * B);
        long image[EVALFEAT_BATCH_MAX];
        int caption[EVALFEAT_BATCH_MAX];
        for (int b = 0; b < nb && !rc; b++)
            rc = eval_sample(test, p->seed, j * B + b, Z, z + (size_t)b * Z, s + (size_t)b * T, &image[b], &caption[b],
                             e);
        real *f = sh->feat + (size_t)sh->n * D;
        if (rc || (rc = evalfeat_generated(&c->feat, p->G, p->clip, z, s, nb, S, img, f, cosv, e))) break;
        featsums_add(&sh->fs, f, nb);
        for (int b = 0; b < nb; b++) {
            sh->idx[sh->n + b] = j * B + b;
            sh->clip_sum += cosv[b];
        }
        sh->n += nb;
        if (j == 0 && c->out_dir[0]) keep_grid(&c->grid, test, img, nb, S, image, caption);
    }
    free(z), free(s), free(img), free(cosv);
    return rc;
}

// ---------------------------------------------------------------- to rank 0

// Rank 0's receive side. Allocated before the ranks agree, so that running out of memory is agreed on.
typedef struct {
    double head[2];                            // n, Σcos: reduced
    int *counts, *displs, *fcounts, *fdispls;  // per rank: its samples and their offset, in rows and in reals
    real *feat, *ordered;                      // [N,D]: in rank order, in sample order
    long long *idx;                            // [N]: the sample of each row of feat
} Gathered;

static int gathered_alloc(const SamplePlan *p, Gathered *g, Err *e) {
    if (p->rank) return 0;
    size_t W = (size_t)p->world, ND = (size_t)p->N * INCEPTION_DIM;
    g->counts = calloc(W, sizeof(int)), g->displs = calloc(W, sizeof(int));
    g->fcounts = calloc(W, sizeof(int)), g->fdispls = calloc(W, sizeof(int));
    g->feat = malloc(ND * sizeof(real)), g->ordered = malloc(ND * sizeof(real));
    g->idx = malloc((size_t)p->N * sizeof(long long));
    if (!g->counts || !g->displs || !g->fcounts || !g->fdispls || !g->feat || !g->ordered || !g->idx)
        return err_set(e, "eval: out of memory for the %ld gathered features", p->N);
    return 0;
}

static void gathered_free(Gathered *g) {
    free(g->counts), free(g->displs), free(g->fcounts), free(g->fdispls);
    free(g->feat), free(g->ordered), free(g->idx);
}

// Reduces the sums (into sh->fs and g->head on rank 0) and gathers every feature to rank 0, in sample order.
static int gather(const SamplePlan *p, Share *sh, Gathered *g, Err *e) {
    int rank = p->rank, D = INCEPTION_DIM, cnt = (int)sh->n;
    FeatSums *fs = &sh->fs;
    MPI_Request q;
    MPI_Comm w = MPI_COMM_WORLD;
    g->head[0] = fs->n, g->head[1] = sh->clip_sum;
    double *head = g->head;
    int rc = waited(MPI_Ireduce(rank ? head : MPI_IN_PLACE, head, 2, MPI_DOUBLE, MPI_SUM, 0, w, &q), &q, "eval: sums",
                    e);
    if (!rc) rc = waited(MPI_Ireduce(rank ? fs->s : MPI_IN_PLACE, fs->s, D, MPI_DOUBLE, MPI_SUM, 0, w, &q), &q,
                         "eval: feature sums", e);
    if (!rc) rc = waited(MPI_Ireduce(rank ? fs->q : MPI_IN_PLACE, fs->q, D * D, MPI_DOUBLE, MPI_SUM, 0, w, &q), &q,
                         "eval: feature products", e);
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
    return rc;
}

// ---------------------------------------------------------------- rank 0: the metrics

// FID of the reduced statistics against the reference, KID of the samples, CLIP score ×100.
static int score(const EvalCtx *c, const SamplePlan *p, const FeatSums *fs, const Gathered *g, EvalResult *r, Err *e) {
    int D = INCEPTION_DIM;
    double *mu = malloc((size_t)D * sizeof(double)), *sg = malloc((size_t)D * D * sizeof(double));
    int rc = (!mu || !sg) ? err_set(e, "eval: out of memory for the statistics") : featsums_stats(fs, mu, sg, e);
    if (!rc) rc = fid_compute(c->ref.mu, c->ref.sigma, c->ref_sqrt, mu, sg, D, &r->fid, &r->eig_ratio, e);
    if (!rc)
        rc = kid_compute(c->ref.feat, c->ref.n_feat, g->ordered, p->N, D, c->kid_subset_size, c->kid_subsets, p->seed,
                         &r->kid, &r->kid_std, e);
    r->clip_score = 100.0 * g->head[1] / g->head[0];
    r->n = (long)g->head[0];
    free(mu);
    free(sg);
    return rc;
}

// ---------------------------------------------------------------- one evaluation

int eval_run(EvalCtx *c, const Gan *gan, int use_ema, const Config *cfg, Dataset *test, EvalResult *out, Err *e) {
    double t0 = MPI_Wtime();
    SamplePlan p;
    if (plan_make(c, gan, use_ema, cfg, test, &p, e)) return -1;
    c->grid.n = 0;
    Share sh = {0};
    Gathered g = {0};
    int rc = share_embed(c, &p, test, &sh, e);
    if (!rc) rc = gathered_alloc(&p, &g, e);
    // a local failure must not leave the others waiting in the reductions: agree on it first
    rc = dp_agree(rc, dp_get_timeout(), e) ? -1 : gather(&p, &sh, &g, e);
    EvalResult r = {0};
    int score_rc = 0;
    if (!rc && p.rank == 0) {
        score_rc = score(c, &p, &sh.fs, &g, &r, e);
        r.improved = !score_rc && r.fid < c->best_fid;
        r.random_weights = c->random_weights;
        r.ranks = p.world;
        r.seconds = MPI_Wtime() - t0;
    }
    share_free(&sh);
    gathered_free(&g);
    // everyone learns rank 0's outcome: its error, or the result
    if (rc || bcast_status(score_rc, e) || dp_bcast_bytes(&r, (int)sizeof r, 0, "eval: outcome broadcast", e))
        return -1;
    if (r.improved) c->best_fid = r.fid;
    *out = r;
    return 0;
}
