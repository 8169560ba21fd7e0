// cmd_eval: `ratlip eval` (FID, KID and CLIP score of a checkpoint, distributed, dist/evaluate.h),
// `ratlip fid A.h5 B.h5` (distance between two statistics files) and `ratlip data stats DIR` (reference
// statistics of a dataset split; dispatched from cmd_data.c).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fid.h"
#include "core/kernels.h"
#include "dist/evaluate.h"
#include "dist/rank.h"
#include "io/ckpt.h"
#include "io/config.h"
#include "io/dataset.h"
#include "io/fidstats.h"
#include "io/metrics.h"
#include "io/fsutil.h"
#include "io/runload.h"
#include "jobs/commands.h"


// ------------------------------------------------------------------ eval

static const char *eval_help =
    "usage: ratlip eval --ckpt FILE --data DIR [--n SAMPLES] [--config FILE] [--set key=value ...]\n"
    "                   [--out DIR] [--no-ema] [--threads T]\n"
    "\n"
    "FID, KID and CLIP score of a checkpoint's generator (its EMA copy when it has one, unless --no-ema) on\n"
    "the test split of DIR, under mpirun/srun or alone: rank 0 decides the sample set, every rank generates\n"
    "and embeds its share, rank 0 computes the metrics. The config is the checkpoint's (--config replaces\n"
    "it, --set overrides keys). Reference statistics: eval.ref_stats, else DIR/fid-stats-test-<network>.h5\n"
    "(make them with `ratlip data stats DIR --split test`, same eval.inception_weights). Appends the row to\n"
    "OUT/metrics.h5 /eval (OUT = the checkpoint's directory) and writes OUT/eval-<step>.png.\n"
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
    long n = 0, threads = 0;
    int no_ema = 0, n_sets = 0;
    char **sets = calloc((size_t)argc, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (jobs_is_help(a)) {
            fputs(eval_help, stdout);
            free(sets);
            return 0;
        }
        int bad = 0;
        if (!strcmp(a, "--no-ema")) { no_ema = 1; continue; }
        if (!v) bad = 1;
        else if (!strcmp(a, "--ckpt")) ckpt = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--config")) config_file = v;
        else if (!strcmp(a, "--out")) out_dir = v;
        else if (!strcmp(a, "--set")) sets[n_sets++] = (char *)v;
        else if (!strcmp(a, "--n")) bad = jobs_opt_long("eval", a, v, 2, 100000000, &n);
        else if (!strcmp(a, "--threads")) bad = jobs_opt_long("eval", a, v, 1, 1024, &threads);
        else bad = 1;
        if (bad) {
            fprintf(stderr, "ratlip eval: unknown or incomplete option '%s'\n%s", a, eval_help);
            free(sets);
            return 2;
        }
        i++;
    }
    if (!ckpt || !data) {
        fprintf(stderr, "ratlip eval: --ckpt FILE and --data DIR are required\n%s", eval_help);
        free(sets);
        return 2;
    }
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
    // everyone agrees before the collective parts
    int any = rc ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, dp.world);
    if (any) {
        if (!rc) err_set(&e, "another rank failed to load the checkpoint or dataset");
        rc = -1;
        goto done;
    }
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
    MPI_Bcast(&rc, 1, MPI_INT, 0, dp.world);
    if (rc) goto done;
    if (dp.rank == 0)
        printf("eval: %s step %lld, %s generator, %ld samples on %d rank%s, reference %s (%ld images)\n", ckpt,
               (long long)meta.step, gan.has_ema && !no_ema ? "EMA" : "raw", ctx.n_samples, dp.size,
               dp.size == 1 ? "" : "s", ctx.ref_path, ctx.ref.n);
    EvalResult res;
    rc = eval_run(&ctx, &gan, !no_ema, &cfg, test, meta.step, m, &res, &e);
    if (!rc && dp.rank == 0) {
        printf("FID %.6f\nKID %.8f +- %.8f\nCLIP score %.4f\n", res.fid, res.kid, res.kid_std, res.clip_score);
        if (res.random_weights) printf("note: %s\n", FIDSTATS_RANDOM_NOTE);
        if (random_clip) printf("note: random-weight CLIP (model.clip_weights empty): the CLIP score is not meaningful\n");
    }
done:
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

static const char *fid_help =
    "usage: ratlip fid A.h5 B.h5 [--force]\n"
    "\n"
    "FID (and KID when both files hold /features) between two statistics files of `ratlip data stats`.\n"
    "They must come from the same network and weights; --force compares them anyway.\n";

int cmd_fid(int argc, char **argv) {
    const char *a = NULL, *b = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (jobs_is_help(argv[i])) {
            fputs(fid_help, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--force")) force = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "ratlip fid: unknown option '%s'\n%s", argv[i], fid_help);
            return 2;
        } else if (!a) a = argv[i];
        else if (!b) b = argv[i];
        else {
            fprintf(stderr, "ratlip fid: more than two files\n%s", fid_help);
            return 2;
        }
    }
    if (!a || !b) {
        fprintf(stderr, "ratlip fid: two statistics files are needed\n%s", fid_help);
        return 2;
    }
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

static const char *stats_help =
    "usage: ratlip data stats DIR [--split test] [--out FILE] [--weights INCEPTION.h5] [--config FILE]\n"
    "                             [--threads T]\n"
    "\n"
    "Inception pool3 statistics of every image of a split: /mu, /sigma (float64), /features, attributes n,\n"
    "network, weights_sha256. Written to FILE, default DIR/fid-stats-<split>-<network>.h5 (where `ratlip\n"
    "eval` and training look). Weights: --weights, else eval.inception_weights of --config, else the seeded\n"
    "random network (\"" FIDSTATS_RANDOM_NOTE "\").\n";

int cmd_data_stats(int argc, char **argv) {
    const char *dir = NULL, *split = "test", *out = NULL, *weights = NULL, *config_file = NULL;
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (jobs_is_help(a)) {
            fputs(stats_help, stdout);
            return 0;
        }
        if (a[0] != '-') {
            if (dir) {
                fprintf(stderr, "ratlip data stats: one directory only ('%s')\n%s", a, stats_help);
                return 2;
            }
            dir = a;
            continue;
        }
        int bad = 0;
        if (!v) bad = 1;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--weights")) weights = v;
        else if (!strcmp(a, "--config")) config_file = v;
        else if (!strcmp(a, "--threads")) bad = jobs_opt_long("data stats", a, v, 1, 1024, &threads);
        else bad = 1;
        if (bad) {
            fprintf(stderr, "ratlip data stats: unknown or incomplete option '%s'\n%s", a, stats_help);
            return 2;
        }
        i++;
    }
    if (!dir) {
        fprintf(stderr, "ratlip data stats: DIR is required\n%s", stats_help);
        return 2;
    }
    if (threads > 0) kern_set_threads((int)threads);
    jobs_print_banner("data stats");
    Err e = {{0}};
    Config cfg;
    if (!weights && config_file) {
        if (config_resolve(&cfg, config_file, 0, NULL, &e)) {
            fprintf(stderr, "ratlip data stats: %s\n", e.msg);
            return 1;
        }
        weights = cfg.eval.inception_weights;
    }
    EvalCtx c;
    memset(&c, 0, sizeof c);
    Dataset *ds = NULL;
    float *feat = NULL;
    long n = 0;
    int rc = eval_net_init(&c, weights, &e);
    if (!rc) rc = ds_open(&ds, dir, split, &e);
    if (!rc) rc = eval_dataset_features(&c, ds, &feat, &n, &e);
    if (!rc && n < 2) rc = err_set(&e, "%s: split %s has %ld images: statistics need at least 2", dir, split, n);
    if (!rc) {
        FidStats s = {0};
        s.d = INCEPTION_DIM;
        s.n = n;
        s.n_feat = n;
        s.feat = feat;
        s.mu = malloc(INCEPTION_DIM * sizeof(double));
        s.sigma = malloc((size_t)INCEPTION_DIM * INCEPTION_DIM * sizeof(double));
        snprintf(s.network, sizeof s.network, "%s", inception_network_name(c.net.variant));
        snprintf(s.weights_sha256, sizeof s.weights_sha256, "%s", c.weights_id);
        s.random_weights = c.random_weights;
        snprintf(s.source, sizeof s.source, "%s split %s (%ld images)", dir, split, n);
        char path[1100];
        if (out) snprintf(path, sizeof path, "%s", out);
        else fidstats_default_path(path, sizeof path, dir, split, s.network);
        if (!s.mu || !s.sigma) rc = err_set(&e, "out of memory for the statistics");
        else {
            feat_mean_cov(feat, n, INCEPTION_DIM, s.mu, s.sigma);
            rc = fidstats_write(path, &s, &e);
        }
        if (!rc) {
            printf("wrote %s: %ld images of %s/%s, %s, weights %s\n", path, n, dir, split, s.network, s.weights_sha256);
            if (s.random_weights) printf("note: %s\n", FIDSTATS_RANDOM_NOTE);
        }
        free(s.mu);
        free(s.sigma);
    }
    if (rc) fprintf(stderr, "ratlip data stats: %s\n", e.msg);
    free(feat);
    if (ds) ds_close(ds);
    inception_acts_free(c.acts);
    inception_free(&c.net);
    return rc ? 1 : 0;
}
