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
#include "core/ops.h"
#include "core/rng.h"
#include "io/png.h"
#include "io/weights.h"

#define EVAL_BATCH 8
#define EVAL_KID_SUBSETS 10
#define EVAL_KID_SUBSET 1000
#define EVAL_GRID_MAX 16

// ---------------------------------------------------------------- set-up

int eval_net_init(EvalCtx *c, const char *inception_weights, Err *e) {
    if (c->batch <= 0 || c->batch > 64) c->batch = EVAL_BATCH;   // per-batch index arrays hold 64
    InceptionVariant v = INCEPTION_FID;
    char network[64] = "", sha[128] = "";
    if (inception_weights && *inception_weights) {
        if (fidstats_weights_info(inception_weights, network, sizeof network, sha, sizeof sha, e)) return -1;
        if (inception_variant_from_name(network, &v))
            return err_set(e, "%s: network '%s' is not inception_fid or inception_tv", inception_weights, network);
    }
    if (inception_build(&c->net, v, e)) return -1;
    if (inception_weights && *inception_weights) {
        if (weights_load(inception_weights, "/", &c->net.ps, 1, e) < 0) return -1;
        c->random_weights = 0;
        snprintf(c->weights_id, sizeof c->weights_id, "%s", sha);
    } else {
        inception_init_random(&c->net, EVAL_INCEPTION_SEED);
        c->random_weights = 1;
        snprintf(c->weights_id, sizeof c->weights_id, "random-seed-%u", EVAL_INCEPTION_SEED);
    }
    if (inception_prepare(&c->net, e)) return -1;
    c->acts = inception_acts_new(&c->net, c->batch);
    if (!c->acts) return err_set(e, "eval: out of memory for Inception activations (batch %d)", c->batch);
    return 0;
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
    if (rank == 0) {
        if (cfg->eval.ref_stats[0]) snprintf(c->ref_path, sizeof c->ref_path, "%s", cfg->eval.ref_stats);
        else fidstats_default_path(c->ref_path, sizeof c->ref_path, data_dir, "test", inception_network_name(c->net.variant));
        rc = fidstats_read(c->ref_path, &c->ref, e);
        if (!rc && strcmp(c->ref.network, inception_network_name(c->net.variant)))
            rc = err_set(e, "%s: statistics of network %s, evaluation uses %s (remake them with `ratlip data stats`)",
                         c->ref_path, c->ref.network, inception_network_name(c->net.variant));
        else if (!rc && strcmp(c->ref.weights_sha256, c->weights_id))
            rc = err_set(e, "%s: statistics made with weights %s, evaluation uses %s (remake them with `ratlip data "
                            "stats` and the same eval.inception_weights)", c->ref_path, c->ref.weights_sha256, c->weights_id);
        else if (!rc && c->ref.n_feat < 2)
            rc = err_set(e, "%s: no /features (KID needs them): remake with `ratlip data stats`", c->ref_path);
        if (!rc) {
            c->ref_sqrt = malloc((size_t)c->ref.d * c->ref.d * sizeof(double));
            if (!c->ref_sqrt) rc = err_set(e, "eval: out of memory for the reference statistics");
            else rc = fid_sqrtm_psd(c->ref.sigma, c->ref.d, c->ref_sqrt, e);
        }
    }
    return bcast_status(rc, e);
}

void eval_ctx_free(EvalCtx *c) {
    inception_acts_free(c->acts);
    inception_free(&c->net);
    fidstats_free(&c->ref);
    free(c->ref_sqrt);
    netg_acts_free(c->gacts);
    clip_acts_free(c->cacts);
    memset(c, 0, sizeof *c);
}

// ---------------------------------------------------------------- the sample set

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

// ---------------------------------------------------------------- one evaluation

typedef struct {
    double fid, kid, kid_std, clip_score, n, improved, seconds;
    int rc;
} Outcome;

int eval_run(EvalCtx *c, Gan *gan, int use_ema, const Config *cfg, Dataset *test, int64_t step, Metrics *m,
             EvalResult *out, Err *e) {
    int rank = 0, world = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    double t0 = MPI_Wtime();
    // 1. rank 0 decides the sample set
    long long plan[2] = {c->n_samples, (long long)c->seed};
    if (dp_bcast_bytes(plan, (int)sizeof plan, 0, "eval: sample plan broadcast", e)) return -1;
    long N = (long)plan[0];
    uint64_t seed = (uint64_t)plan[1];
    const NetG *G = (use_ema && gan->has_ema) ? &gan->g_ema : &gan->g;
    const ClipTower *clip = &gan->clip;
    int B = c->batch, Z = G->d.z_dim, T = G->d.text_dim, S = cfg->model.image_size, Sc = clip->d.image_size;
    int E = clip->d.embed_dim, D = INCEPTION_DIM;
    int rc = 0;
    if (N < 2) rc = err_set(e, "eval: eval.n_samples = %ld: FID needs at least 2 samples", N);
    else if (E != T) rc = err_set(e, "eval: CLIP embed_dim %d != text_dim %d: the CLIP score compares them", E, T);
    else if (ds_info(test)->embed_dim != T)
        rc = err_set(e, "eval: test split embeddings have %d dims, the generator wants %d", ds_info(test)->embed_dim, T);
    if (rc) return -1;   // every rank sees the same config, so every rank fails the same way
    if (c->gacts_for != G || !c->gacts) {
        netg_acts_free(c->gacts);
        c->gacts = netg_acts_new(G, clip, B, e);
        if (!c->gacts) return -1;
        c->gacts_for = G;
    }
    if (!c->cacts && !(c->cacts = clip_acts_new(clip, B, 0))) return err_set(e, "eval: out of memory for CLIP activations");
    long n_batches = (N + B - 1) / B, my_batches = 0;
    for (long j = rank; j < n_batches; j += world) my_batches++;
    real *z = malloc((size_t)B * Z * sizeof(real)), *img = malloc((size_t)B * 3 * S * S * sizeof(real));
    real *s = malloc((size_t)B * T * sizeof(real));
    real *imgc = malloc((size_t)B * 3 * Sc * Sc * sizeof(real)), *emb = malloc((size_t)B * E * sizeof(real));
    real *cosv = malloc((size_t)B * sizeof(real));
    real *myfeat = malloc(((size_t)my_batches * B + 1) * D * sizeof(real));
    long long *myidx = malloc(((size_t)my_batches * B + 1) * sizeof(long long));
    real *grid = NULL;
    char **caps = NULL;
    int n_grid = 0;
    FeatSums fs = {0};
    if (!z || !img || !s || !imgc || !emb || !cosv || !myfeat || !myidx || featsums_init(&fs, D))
        rc = err_set(e, "eval: out of memory for a batch of %d", B);
    // 2. generate and embed this rank's batches
    double clip_sum = 0;
    long n_local = 0;
    for (long j = rank; j < n_batches && !rc; j += world) {
        int nb = (int)((j + 1) * B <= N ? B : N - j * B);
        long img_index[EVAL_BATCH > 64 ? EVAL_BATCH : 64];
        int cap_index[EVAL_BATCH > 64 ? EVAL_BATCH : 64];
        for (int b = 0; b < nb && !rc; b++)
            rc = eval_sample(test, seed, j * B + b, Z, z + (size_t)b * Z, s + (size_t)b * T, &img_index[b], &cap_index[b], e);
        if (rc) break;
        if (netg_forward((NetG *)G, c->gacts, clip, z, s, img, nb, 0)) {
            rc = err_set(e, "eval: generator forward failed");
            break;
        }
        for (size_t i = 0; i < (size_t)nb * 3 * S * S; i++)   // clamp(-1,1), nan_to_num as upstream
            img[i] = isnan(img[i]) ? 0 : img[i] > 1 ? 1 : img[i] < -1 ? -1 : img[i];
        real *f = myfeat + (size_t)n_local * D;
        inception_forward(&c->net, c->acts, f, img, nb, S);
        featsums_add(&fs, f, nb);
        for (int b = 0; b < nb; b++) myidx[n_local + b] = j * B + b;
        n_local += nb;
        const real *ci = img;
        if (S != Sc) {
            resize_nearest_forward(imgc, img, nb, 3, S, S, Sc, Sc);
            ci = imgc;
        }
        clip_encode_forward(clip, c->cacts, NULL, emb, ci, nb);
        cosine_similarity_forward(cosv, emb, s, nb, T, (real)1e-8);
        for (int b = 0; b < nb; b++) clip_sum += cosv[b];
        if (j == 0 && c->out_dir[0]) {   // rank 0 (batch 0 is always its): the first images for the grid
            n_grid = nb < EVAL_GRID_MAX ? nb : EVAL_GRID_MAX;
            grid = malloc((size_t)n_grid * 3 * S * S * sizeof(real));
            caps = calloc((size_t)n_grid, sizeof(char *));
            if (grid && caps) {
                for (size_t i = 0; i < (size_t)n_grid * 3 * S * S; i++) grid[i] = img[i];
                for (int b = 0; b < n_grid; b++) {
                    caps[b] = calloc(512, 1);
                    if (caps[b]) ds_read_caption(test, img_index[b], cap_index[b], caps[b], 512, e);
                }
            }
        }
    }
    // A local failure must not leave the others waiting in the reductions: agree on it first.
    Outcome o = {0};
    if (dp_agree(rc, dp_get_timeout(), e)) {
        rc = -1;
        goto done;
    }
    // 3. reduce the sums, gather the features (rank 0)
    double head[2] = {fs.n, clip_sum};
    MPI_Request q;
    MPI_Comm w = MPI_COMM_WORLD;
    rc = waited(MPI_Ireduce(rank ? head : MPI_IN_PLACE, head, 2, MPI_DOUBLE, MPI_SUM, 0, w, &q), &q, "eval: sums", e);
    if (!rc) rc = waited(MPI_Ireduce(rank ? fs.s : MPI_IN_PLACE, fs.s, D, MPI_DOUBLE, MPI_SUM, 0, w, &q), &q,
                         "eval: feature sums", e);
    if (!rc) rc = waited(MPI_Ireduce(rank ? fs.q : MPI_IN_PLACE, fs.q, D * D, MPI_DOUBLE, MPI_SUM, 0, w, &q), &q,
                         "eval: feature products", e);
    if (rc) goto done;
    int cnt = (int)n_local, *counts = NULL, *displs = NULL, *fcounts = NULL, *fdispls = NULL;
    real *allfeat = NULL, *ordered = NULL;
    long long *allidx = NULL;
    if (rank == 0) {
        counts = calloc(world, sizeof(int));
        displs = calloc(world, sizeof(int));
        fcounts = calloc(world, sizeof(int));
        fdispls = calloc(world, sizeof(int));
        allfeat = malloc((size_t)N * D * sizeof(real));
        ordered = malloc((size_t)N * D * sizeof(real));
        allidx = malloc((size_t)N * sizeof(long long));
    }
    rc = waited(MPI_Igather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, w, &q), &q, "eval: feature counts", e);
    if (rank == 0 && !rc)
        for (int r = 0, off = 0; r < world; r++) {
            displs[r] = off;
            fcounts[r] = counts[r] * D;
            fdispls[r] = off * D;
            off += counts[r];
        }
    if (!rc) rc = waited(MPI_Igatherv(myidx, cnt, MPI_LONG_LONG, allidx, counts, displs, MPI_LONG_LONG, 0, w, &q), &q,
                         "eval: sample indices", e);
    if (!rc) rc = waited(MPI_Igatherv(myfeat, cnt * D, DP_MPI_REAL, allfeat, fcounts, fdispls, DP_MPI_REAL, 0, w, &q),
                         &q, "eval: features", e);
    // 4. rank 0 computes and reports
    if (rank == 0 && !rc) {
        fs.n = head[0];
        for (long i = 0; i < N; i++) memcpy(ordered + (size_t)allidx[i] * D, allfeat + (size_t)i * D, D * sizeof(real));
        double *mu = malloc((size_t)D * sizeof(double)), *sg = malloc((size_t)D * D * sizeof(double));
        double ratio = 0;
        o.rc = (!mu || !sg) ? err_set(e, "eval: out of memory for the statistics") : featsums_stats(&fs, mu, sg, e);
        if (!o.rc) o.rc = fid_compute(c->ref.mu, c->ref.sigma, c->ref_sqrt, mu, sg, D, &o.fid, &ratio, e);
        if (!o.rc)
            o.rc = kid_compute(c->ref.feat, c->ref.n_feat, ordered, N, D, c->kid_subset_size, c->kid_subsets, seed,
                               &o.kid, &o.kid_std, e);
        o.clip_score = 100.0 * head[1] / head[0];
        o.n = head[0];
        o.improved = !o.rc && o.fid < c->best_fid;
        o.seconds = MPI_Wtime() - t0;
        free(mu);
        free(sg);
        if (!o.rc) {
            const char *note = c->random_weights ? " | " FIDSTATS_RANDOM_NOTE : "";
            printf("eval step %lld: FID %.4f  KID %.6f +- %.6f  CLIP score %.3f  (%ld samples, %s %s, %s CLIP, %d "
                   "rank%s, %.1f s)%s\n",
                   (long long)step, o.fid, o.kid, o.kid_std, o.clip_score, N, inception_network_name(c->net.variant),
                   c->weights_id, c->random_clip ? "random-weight" : "loaded", world, world == 1 ? "" : "s", o.seconds,
                   note);
            fflush(stdout);
            if (ratio < -1e-6) printf("eval: warning: min/max eigenvalue of the FID product is %.2e (ill-conditioned)\n", ratio);
        }
        if (!o.rc && m) {
            const char *names[] = {"fid", "kid", "kid_std", "clip_score", "n_samples"};
            double vals[] = {o.fid, o.kid, o.kid_std, o.clip_score, (double)N};
            char clipv[160];
            snprintf(clipv, sizeof clipv, "mean cos(CLIP image embedding, sentence embedding) x100, clip_remap %s, %s",
                     cfg->model.clip_remap, c->random_clip ? "random-weight CLIP" : "CLIP from model.clip_weights");
            o.rc = metrics_append(m, "eval", step, 5, names, vals, e);
            if (!o.rc) o.rc = metrics_set_attr(m, "eval", "network", inception_network_name(c->net.variant), e);
            if (!o.rc) o.rc = metrics_set_attr(m, "eval", "weights_sha256", c->weights_id, e);
            if (!o.rc) o.rc = metrics_set_attr(m, "eval", "features_note", c->random_weights ? FIDSTATS_RANDOM_NOTE : "", e);
            if (!o.rc) o.rc = metrics_set_attr(m, "eval", "clip_score_variant", clipv, e);
            if (!o.rc) o.rc = metrics_set_attr(m, "eval", "reference", c->ref_path, e);
            if (!o.rc)
                o.rc = metrics_set_attr(m, "eval", "kid_variant",
                                        "unbiased MMD^2, k(x,y)=(x.y/d+1)^3, subsets of min(1000,N) without replacement", e);
        }
        if (!o.rc && grid && caps) {
            char path[1200];
            snprintf(path, sizeof path, "%s/eval-%08lld.png", c->out_dir, (long long)step);
            int cols = n_grid < 4 ? n_grid : 4;
            o.rc = png_write_grid_real(path, grid, n_grid, S, S, (n_grid + cols - 1) / cols, cols,
                                      (const char *const *)caps, e);
        }
    }
    free(counts);
    free(displs);
    free(fcounts);
    free(fdispls);
    free(allfeat);
    free(ordered);
    free(allidx);
    // everyone learns the outcome (and rank 0's error)
    if (rc || dp_bcast_bytes(&o, (int)sizeof o, 0, "eval: outcome broadcast", e)) {
        rc = -1;
        goto done;
    }
    if (o.rc) {
        dp_bcast_bytes(e->msg, (int)sizeof e->msg, 0, "eval: error broadcast", e);   // rank 0's message
        rc = -1;
        goto done;
    }
    if (o.improved) c->best_fid = o.fid;
    *out = (EvalResult){o.fid, o.kid, o.kid_std, o.clip_score, (long)o.n, (int)o.improved, c->random_weights, o.seconds};
done:
    free(z);
    free(img);
    free(s);
    free(imgc);
    free(emb);
    free(cosv);
    free(myfeat);
    free(myidx);
    free(grid);
    if (caps)
        for (int b = 0; b < n_grid; b++) free(caps[b]);
    free(caps);
    featsums_free(&fs);
    return rc;
}

// ---------------------------------------------------------------- reference features

int eval_dataset_features(EvalCtx *c, Dataset *ds, real **feat, long *n, Err *e) {
    long N = ds_size(ds);
    int S = ds_info(ds)->image_size, B = c->batch;
    real *f = malloc(((size_t)N + 1) * INCEPTION_DIM * sizeof(real));
    uint8_t *u8 = malloc((size_t)S * S * 3);
    real *img = malloc((size_t)B * 3 * S * S * sizeof(real));
    int rc = 0;
    if (!f || !u8 || !img) rc = err_set(e, "eval: out of memory for %ld features", N);
    for (long i0 = 0; i0 < N && !rc; i0 += B) {
        int nb = (int)(i0 + B <= N ? B : N - i0);
        for (int b = 0; b < nb && !rc; b++) {
            rc = ds_read_image(ds, i0 + b, u8, e);
            // HWC uint8 → CHW in [-1,1] (the reader's convention: pixel/127.5 − 1)
            for (int y = 0; y < S && !rc; y++)
                for (int x = 0; x < S; x++)
                    for (int ch = 0; ch < 3; ch++)
                        img[(((size_t)b * 3 + ch) * S + y) * S + x] = (real)(u8[((size_t)y * S + x) * 3 + ch] / 127.5 - 1.0);
        }
        if (!rc) inception_forward(&c->net, c->acts, f + (size_t)i0 * INCEPTION_DIM, img, nb, S);
    }
    free(u8);
    free(img);
    if (rc) {
        free(f);
        return -1;
    }
    *feat = f;
    *n = N;
    return 0;
}
