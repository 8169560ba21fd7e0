// cmd_eval: `ratlip eval` (FID, KID and CLIP score of a checkpoint, distributed: dist/evaluate.h, reported
// by jobs/eval_report.h),
// `ratlip fid A.h5 B.h5` (distance between two statistics files) and `ratlip data stats DIR` (reference
// statistics of a dataset split; dispatched from cmd_data.c).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fid.h"
#include "core/kernels.h"
#include "dist/agree.h"
#include "dist/evaluate.h"
#include "dist/rank.h"
#include "dist/watch.h"
#include "io/ckpt.h"
#include "io/config.h"
#include "io/dataset.h"
#include "io/fidstats.h"
#include "io/metrics.h"
#include "io/fs.h"
#include "io/runload.h"
#include "jobs/commands.h"
#include "jobs/eval_report.h"


// ------------------------------------------------------------------ eval

static const char eval_about[] =
    "FID, KID and CLIP score of a checkpoint's generator (its EMA copy when it has one, unless --no-ema) on\n"
    "the test split of DIR, under mpirun/srun or alone: rank 0 decides the sample set, every rank generates\n"
    "and embeds its share, rank 0 computes the metrics. The config is the checkpoint's (--config replaces\n"
    "it, --set overrides keys). Reference statistics: eval.ref_stats, else DIR/fid-stats-test-<network>.h5\n"
    "(make them with `ratlip data stats DIR --split test`, same eval.inception_weights). Appends the row to\n"
    "OUT/metrics.h5 /eval (OUT = the checkpoint's directory) and writes OUT/eval-<step>.png. Samples: --n,\n"
    "else eval.samples_per_caption x test images (upstream's recipe: 12), else eval.n_samples; Inception sees\n"
    "them resized to eval.inception_size (299, pytorch-fid's; the statistics must be of the same size).\n"
    "Without eval.inception_weights the Inception network is seeded: the values are then labelled\n"
    "\"" FIDSTATS_RANDOM_NOTE "\".\n";

static void dirname_of(char *out, size_t n, const char *path) {
    snprintf(out, n, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash) snprintf(out, n, ".");
    else if (slash == out) out[1] = 0;
    else *slash = 0;
}

int cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *data = NULL, *config_file = NULL, *out_dir = NULL;
    long n, threads;
    int no_ema, n_sets;
    OptList set_list;
    const OptSpec opts[] = {
        OPT_PATH("ckpt", 0, &ckpt, OPT_REQ, "FILE", "checkpoint to evaluate"),
        OPT_PATH("data", 0, &data, OPT_REQ, "DIR", "dataset whose test split is the reference"),
        OPT_LONG("n", 0, &n, 0, 2, 100000000L, NULL, "SAMPLES",
                 "generated samples (default: eval.samples_per_caption x test images, or eval.n_samples)"),
        OPT_PATH("config", 0, &config_file, 0, "FILE", "config replacing the checkpoint's"),
        OPT_LIST("set", 's', &set_list, "K=V", "override one config key"),
        OPT_PATH("out", 0, &out_dir, 0, "DIR", "where metrics.h5 and eval-<step>.png go (default: the checkpoint's directory)"),
        OPT_FLAG("no-ema", 0, &no_ema, "evaluate the trained generator, not its EMA copy"),
        OPT_LONG("threads", 't', &threads, 0, 1, 1024, NULL, "T", "BLAS threads per rank"),
        {0}};
    const OptCommand cmd = {"eval", NULL, eval_about, NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);  // before MPI starts
    if (prc != OPT_CONTINUE) return prc;
    char **sets = set_list.v;
    n_sets = set_list.n;
    DpInfo dp;
    Err e = {{0}};
    if (dp_init(&argc, &argv, (int)threads, &dp, &e)) {
        fprintf(stderr, "ratlip eval: %s\n", e.msg);
        free(sets);
        return 1;
    }
    kern_set_threads(dp.threads);
    if (dp.rank == 0) jobs_print_banner("eval");
    int rc = 0;
    Config cfg;
    CkptMeta meta = {0};
    Gan gan;
    int gan_built = 0, ctx_built = 0, random_clip = 0;
    Dataset *test = NULL;
    EvalCtx ctx;
    Metrics *m = NULL;
    char outd[1024];
    // config (the checkpoint's, or --config; --set on top) and networks, built as the trainer builds
    // them; eval_run keeps its own activations, so the GAN's are for one sample
    RunLoad rl = {.ckpt = ckpt, .config_file = config_file, .sets = sets, .n_sets = n_sets, .max_batch = 1};
    rc = runload_gan(&rl, &cfg, &gan, &meta, &random_clip, &e);
    gan_built = !rc;
    if (!rc) rc = ds_open(&test, data, "test", &e);
    if (!rc)
        rc = ds_check_test_split(data, ds_info(test), cfg.model.image_size, "model.image_size", cfg.model.text_dim,
                                 "model.text_dim", &e);
    // everyone agrees before the collective parts (dist/agree.h: with the deadline)
    if ((rc = dp_agree(rc, dp_get_timeout(), &e))) goto done;
    if (out_dir) snprintf(outd, sizeof outd, "%s", out_dir);
    else dirname_of(outd, sizeof outd, ckpt);
    rc = eval_ctx_init(&ctx, &cfg, data, outd, n, &e);
    ctx_built = !rc;
    if (rc) goto done;
    ctx.random_clip = random_clip;
    if (dp.rank == 0) {
        char path[1100];
        snprintf(path, sizeof path, "%s/metrics.h5", outd);
        rc = fs_mkdir_p(outd, &e);
        if (!rc && !(m = metrics_open(path, &e))) rc = -1;
    }
    if ((rc = dp_agree(rc, dp_get_timeout(), &e))) goto done;
    if (dp.rank == 0)
        printf("eval: %s step %lld, %s generator, %ld samples%s on %d rank%s, Inception at %d px, reference %s "
               "(%ld images)\n", ckpt, (long long)meta.step, gan.has_ema && !no_ema ? "EMA" : "raw",
               eval_sample_count(&ctx, test),
               ctx.samples_per_caption > 0 ? " (eval.samples_per_caption x test images)" : "",
               dp.size, dp.size == 1 ? "" : "s", ctx.feat.net.input_size, ctx.ref_path, ctx.ref.n);
    EvalResult res;
    rc = eval_run(&ctx, &gan, !no_ema, &cfg, test, &res, &e);
    if (!rc) {   // rank 0's report (line, metrics, grid) may fail alone: everyone agrees on it
        int report_rc = dp.rank == 0 ? eval_report(&ctx, &res, cfg.model.clip_remap, meta.step, m, NULL, &e) : 0;
        rc = dp_agree(report_rc, dp_get_timeout(), &e);
    }
    if (!rc && dp.rank == 0) {
        printf("FID %.6f\nKID %.8f +- %.8f\nCLIP score %.4f\n", res.fid, res.kid, res.kid_std, res.clip_score);
        printf("R-precision %.6f +- %.6f\nR-precision real %.6f +- %.6f\nR-precision chance %.6f\n", res.rprec,
               res.rprec_std, res.rprec_real, res.rprec_real_std, 1.0 / (1 + res.rprec_candidates));
        if (ctx.div_samples > 0) printf("diversity %.6f\ndiversity real %.6f (%ld pairs)\n", res.div_gen, res.div_real,
                                        res.div_real_pairs);
        for (int a = 0; a <= res.n_attrs && res.n_attrs; a++)
            printf("accuracy %s %.6f (real images %.6f)\n", a < res.n_attrs ? ctx.probe_rep.names[a] : "all",
                   a < res.n_attrs ? res.attr_acc[a] : res.attr_all,
                   a < res.n_attrs ? ctx.probe_rep.test_accuracy[a] : ctx.probe_rep.test_all);
        if (!res.n_attrs && ctx.probe_note[0]) printf("note: %s\n", ctx.probe_note);
        if (res.random_weights) printf("note: %s\n", FIDSTATS_RANDOM_NOTE);
        if (random_clip) printf("note: random-weight CLIP (model.clip_weights empty): the CLIP score is not meaningful\n");
    }
done:
    if (rc && dp_stalled()) dp_stall_abort(e.msg);   // MPI cannot finish after a timed-out collective
    if (rc && (dp.rank == 0 || e.msg[0])) fprintf(stderr, "ratlip eval: rank %d: %s\n", dp.rank, e.msg);
    if (m) {
        Err ce;
        if (metrics_close(m, &ce) && !rc) {
            fprintf(stderr, "ratlip eval: %s\n", ce.msg);
            rc = -1;
        }
    }
    if (ctx_built) eval_ctx_free(&ctx);
    if (test) ds_close(test);
    if (gan_built) gan_free(&gan);
    ckpt_meta_free(&meta);
    free(sets);
    dp_finalize(&dp);
    return rc ? 1 : 0;
}

// ------------------------------------------------------------------ fid

int cmd_fid(int argc, char **argv) {
    const char *a = NULL, *b = NULL;
    int force;
    const OptSpec opts[] = {
        OPT_ARG("A.h5", &a, OPT_REQ, "statistics file of `ratlip data stats` (or of `ratlip eval`)"),
        OPT_ARG("B.h5", &b, OPT_REQ, "the other one"),
        OPT_FLAG("force", 0, &force, "compare files of different networks or weights anyway"),
        {0}};
    const OptCommand cmd = {"fid", NULL,
                            "FID (and KID when both files hold /features) between two statistics files of `ratlip data\n"
                            "stats`. They must come from the same network and weights; --force compares them anyway.\n",
                            NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    jobs_print_banner("fid");
    FidStats sa, sb;
    Err e = {{0}};
    if (fidstats_read(a, &sa, &e)) {
        fprintf(stderr, "ratlip fid: %s\n", e.msg);
        return 1;
    }
    if (fidstats_read(b, &sb, &e)) {
        fprintf(stderr, "ratlip fid: %s\n", e.msg);
        fidstats_free(&sa);
        return 1;
    }
    int rc = 0;
    char why[512];
    if (!fidstats_comparable(&sa, &sb, why, sizeof why)) {
        if (!force || sa.d != sb.d) {
            fprintf(stderr, "ratlip fid: %s and %s are not comparable: %s%s\n", a, b, why,
                    sa.d != sb.d ? "" : " (--force compares them anyway)");
            rc = 1;
        } else {
            printf("warning: %s (--force)\n", why);
        }
    }
    if (!rc) {
        double fid = NAN, ratio = 0;
        if (fid_compute(sa.mu, sa.sigma, NULL, sb.mu, sb.sigma, sa.d, &fid, &ratio, &e)) {
            fprintf(stderr, "ratlip fid: %s\n", e.msg);
            rc = 1;
        } else {
            printf("FID %.6f  (%s: %ld, %s: %ld feature vectors, %s)\n", fid, a, sa.n, b, sb.n, sa.network);
            if (sa.feat && sb.feat) {
                double km, ks;
                if (kid_compute(sa.feat, sa.n_feat, sb.feat, sb.n_feat, sa.d, 1000, 10, 0, &km, &ks, &e) == 0)
                    printf("KID %.8f +- %.8f\n", km, ks);
            }
            if (sa.random_weights || sb.random_weights) printf("note: %s\n", FIDSTATS_RANDOM_NOTE);
        }
    }
    fidstats_free(&sa);
    fidstats_free(&sb);
    return rc;
}

// ------------------------------------------------------------------ data stats

static const char stats_about[] =
    "Inception pool3 statistics of every image of a split: /mu, /sigma (float64), /features, attributes n,\n"
    "network, weights_sha256, inception_size. Written to FILE, default DIR/fid-stats-<split>-<network>.h5\n"
    "(-<size>px.h5 at an Inception input size other than 299; where `ratlip eval` and training look).\n"
    "Weights: --weights, else eval.inception_weights of --config, else the seeded random network\n"
    "(\"" FIDSTATS_RANDOM_NOTE "\"). Input size: --inception-size, else eval.inception_size of --config,\n"
    "else 299 (pytorch-fid's); evaluation refuses statistics of another size.\n";

// The side statistics of ds are taken at: its own, but the test split's for a train split stored larger
// (for the training's random crop, `data import --train-size`): its images' centre, as the model's images.
static int stats_side(const char *dir, Dataset *ds) {
    Dataset *test = NULL;
    Err ignore;
    int S = ds_info(ds)->image_size;
    if (!strcmp(ds_info(ds)->split, "train") && ds_has_split(dir, "test", &ignore) == 1 &&
        !ds_open(&test, dir, "test", &ignore)) {
        int St = ds_info(test)->image_size;
        ds_close(test);
        if (St < S) {
            printf("data stats: the train images are stored at %dx%d (for the random crop): their centre %dx%d, the "
                   "test split's side\n", S, S, St, St);
            S = St;
        }
    }
    return S;
}

// Inception features of every image of ds (its centre SxS), in dataset order: feat [n, 2048] malloc'd. One process.
static int dataset_features(EvalFeat *f, Dataset *ds, int S, real **feat, long *n, Err *e) {
    long N = ds_size(ds);
    int B = f->batch;
    real *out = malloc(((size_t)N + 1) * INCEPTION_DIM * sizeof(real));
    uint8_t *hwc = malloc((size_t)B * S * S * 3);
    int rc = (!out || !hwc) ? err_set(e, "eval: out of memory for %ld features", N) : 0;
    for (long i0 = 0; i0 < N && !rc; i0 += B) {
        int nb = (int)(i0 + B <= N ? B : N - i0);
        for (int b = 0; b < nb && !rc; b++) rc = ds_read_centre(ds, i0 + b, S, hwc + (size_t)b * S * S * 3, e);
        if (!rc) rc = evalfeat_images_u8(f, hwc, nb, S, out + (size_t)i0 * INCEPTION_DIM, e);
    }
    free(hwc);
    if (rc) {
        free(out);
        return -1;
    }
    *feat = out;
    *n = N;
    return 0;
}

int cmd_data_stats(int argc, char **argv) {
    const char *dir = NULL, *split = NULL, *out = NULL, *weights = NULL, *config_file = NULL;
    long threads, size;
    const OptSpec opts[] = {
        OPT_ARG("DIR", &dir, OPT_REQ, "dataset directory"),
        OPT_CHOICE("split", 0, &split, 0, "train|test", "test", "which split"),
        OPT_PATH("out", 0, &out, 0, "FILE", "statistics file (default DIR/fid-stats-<split>-<network>.h5)"),
        OPT_PATH("weights", 0, &weights, 0, "INCEPTION.h5", "Inception weights (io/tools/convert_inception.py)"),
        OPT_LONG("inception-size", 0, &size, 0, INCEPTION_SIZE_MIN, INCEPTION_SIZE_MAX, NULL, "PX",
                 "side the images are resized to for Inception (default: eval.inception_size of --config, else 299)"),
        OPT_PATH("config", 0, &config_file, 0, "FILE", "take the weights and input size from its eval.* keys"),
        OPT_LONG("threads", 't', &threads, 0, 1, 1024, NULL, "T", "BLAS threads"),
        {0}};
    const OptCommand cmd = {"data stats", NULL, stats_about, NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    if (threads > 0) kern_set_threads((int)threads);
    jobs_print_banner("data stats");
    Err e = {{0}};
    Config cfg;
    config_defaults(&cfg);
    if (config_file && config_resolve(&cfg, config_file, 0, NULL, &e)) {
        fprintf(stderr, "ratlip data stats: %s\n", e.msg);
        return 1;
    }
    if (!weights && config_file) weights = cfg.eval.inception_weights;
    if (size <= 0) size = cfg.eval.inception_size;   // the config's, or the default 299
    EvalCtx c;
    memset(&c, 0, sizeof c);
    Dataset *ds = NULL;
    real *feat = NULL;
    long n = 0;
    int rc = eval_net_init(&c, weights, (int)size, &e);
    if (!rc) rc = ds_open(&ds, dir, split, &e);
    if (!rc) rc = dataset_features(&c.feat, ds, stats_side(dir, ds), &feat, &n, &e);
    if (!rc && n < 2) rc = err_set(&e, "%s: split %s has %ld images: statistics need at least 2", dir, split, n);
    if (!rc) {
        FidStats s = {0};
        s.d = INCEPTION_DIM;
        s.n = n;
        s.n_feat = n;
        s.feat = feat;
        s.mu = malloc(INCEPTION_DIM * sizeof(double));
        s.sigma = malloc((size_t)INCEPTION_DIM * INCEPTION_DIM * sizeof(double));
        snprintf(s.network, sizeof s.network, "%s", inception_network_name(c.feat.net.variant));
        snprintf(s.weights_sha256, sizeof s.weights_sha256, "%s", c.weights_id);
        s.random_weights = c.random_weights;
        s.inception_size = c.feat.net.input_size;
        size_t src_len = strlen(dir) + strlen(split) + 64;
        s.source = malloc(src_len);
        if (s.source) snprintf(s.source, src_len, "%s split %s (%ld images)", dir, split, n);
        char path[1100];
        if (out) snprintf(path, sizeof path, "%s", out);
        else fidstats_default_path(path, sizeof path, dir, split, s.network, s.inception_size);
        if (!s.mu || !s.sigma || !s.source) rc = err_set(&e, "out of memory for the statistics");
        else {
            feat_mean_cov(feat, n, INCEPTION_DIM, s.mu, s.sigma);
            rc = fidstats_write(path, &s, &e);
        }
        if (!rc) {
            printf("wrote %s: %ld images of %s/%s, %s at %d px, weights %s\n", path, n, dir, split, s.network,
                   s.inception_size, s.weights_sha256);
            if (s.random_weights) printf("note: %s\n", FIDSTATS_RANDOM_NOTE);
        }
        free(s.mu);
        free(s.sigma);
        free(s.source);
    }
    if (rc) fprintf(stderr, "ratlip data stats: %s\n", e.msg);
    free(feat);
    if (ds) ds_close(ds);
    eval_ctx_free(&c);
    return rc ? 1 : 0;
}
