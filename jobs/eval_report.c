// eval_report: the printed line, metrics.h5 /eval and the sample grid of an evaluation. See eval_report.h.
#include "jobs/eval_report.h"
#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include "io/fidstats.h"
#include "io/gridindex.h"
#include "io/png.h"

// To stdout and, when there is one, the run's log (train.log: the lines a person looks for later).
static void say(FILE *log, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (!log) return;
    va_start(ap, fmt);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fflush(log);
}

static void print_line(const EvalCtx *c, const EvalResult *r, int64_t step, FILE *log) {
    const char *note = c->random_weights ? " | " FIDSTATS_RANDOM_NOTE : "";
    const char *net = inception_network_name(c->feat.net.variant);
    char kid[96] = "KID n/a (reference statistics without features)";
    if (!isnan(r->kid)) snprintf(kid, sizeof kid, "KID %.6f +- %.6f", r->kid, r->kid_std);
    char per[48] = "";
    if (c->samples_per_caption > 0) snprintf(per, sizeof per, " = %d per test image", c->samples_per_caption);
    say(log, "eval step %lld: FID %.4f  %s  CLIP score %.3f  (%ld samples%s, %s %s at %d px, %s CLIP, %d "
        "rank%s, %.1f s)%s\n",
        (long long)step, r->fid, kid, r->clip_score, r->n, per, net, c->weights_id, c->feat.net.input_size,
        c->random_clip ? "random-weight" : "loaded", r->ranks, r->ranks == 1 ? "" : "s", r->seconds, note);
    if (r->eig_ratio < -1e-6)
        say(log, "eval: warning: min/max eigenvalue of the FID product is %.2e (ill-conditioned)\n", r->eig_ratio);
    // does it follow the captions: R-precision beside its real-image ceiling and chance, diversity beside real
    say(log, "eval step %lld: R-precision %.3f +- %.3f (real images %.3f, chance %.3f: 1 of %d, %s CLIP)",
        (long long)step, r->rprec, r->rprec_std, r->rprec_real, 1.0 / (1 + r->rprec_candidates),
        1 + r->rprec_candidates, c->random_clip ? "random-weight" : "loaded");
    if (c->div_samples > 0) {
        say(log, "  diversity %.3f", r->div_gen);
        if (r->div_real_pairs)
            say(log, " (real images of equal labels %.3f: %.2fx, %ld pairs)", r->div_real, r->div_gen / r->div_real,
                r->div_real_pairs);
        else say(log, " (no real reference: the dataset has no labels or no two test images share them)");
    }
    say(log, "\n");
    // attribute accuracy of the samples, each beside the probe's accuracy on real test images
    if (r->n_attrs) {
        say(log, "eval step %lld: attributes as captioned (probe; real images in brackets):", (long long)step);
        for (int a = 0; a < r->n_attrs; a++)
            say(log, " %s %.3f (%.3f)", c->probe_rep.names[a], r->attr_acc[a], c->probe_rep.test_accuracy[a]);
        say(log, "  all %.3f (%.3f)\n", r->attr_all, c->probe_rep.test_all);
    } else if (c->probe_note[0]) {
        say(log, "eval step %lld: %s\n", (long long)step, c->probe_note);
    }
}

// The /eval row, and attributes saying what the numbers are (network, weights, reference, variants).
static int append_metrics(const EvalCtx *c, const EvalResult *r, const char *clip_remap, int64_t step, Metrics *m,
                          Err *e) {
    enum { BASE = 10, MAXC = BASE + 2 * (PROBE_MAX_ATTRS + 1) };
    const char *names[MAXC] = {"fid",       "kid",         "kid_std",         "clip_score",       "n_samples",
                               "r_precision", "r_precision_std", "r_precision_real", "diversity", "diversity_real"};
    double vals[MAXC] = {r->fid,   r->kid,    r->kid_std,   r->clip_score, (double)r->n, r->rprec, r->rprec_std,
                         r->rprec_real, r->div_gen, r->div_real};
    // acc_<attribute>, acc_all and their _real ceilings (the probe on real test images)
    char cols[2 * (PROBE_MAX_ATTRS + 1)][PROBE_NAME_LEN + 16];
    int nc = BASE;
    for (int a = 0; r->n_attrs && a <= r->n_attrs; a++) {
        const char *name = a < r->n_attrs ? c->probe_rep.names[a] : "all";
        for (int real_img = 0; real_img < 2; real_img++) {
            char *col = cols[nc - BASE];
            snprintf(col, sizeof cols[0], "acc_%s%s", name, real_img ? "_real" : "");
            for (char *q = col; *q; q++)   // a column name is [A-Za-z0-9_.-]+ (io/metrics.h)
                if (!isalnum((unsigned char)*q) && *q != '_' && *q != '.' && *q != '-') *q = '_';
            names[nc] = col;
            vals[nc++] = real_img ? (a < r->n_attrs ? c->probe_rep.test_accuracy[a] : c->probe_rep.test_all)
                                  : (a < r->n_attrs ? r->attr_acc[a] : r->attr_all);
        }
    }
    char rprecv[200], divv[200];
    snprintf(rprecv, sizeof rprecv,
             "top-1 rate of the own caption among it and %d captions of other test images, ranked by cos(CLIP image, "
             "caption embedding), mean +- std over %d draws; _real: the samples' dataset images",
             r->rprec_candidates, c->rprec_repeats);
    snprintf(divv, sizeof divv,
             "mean pairwise L2 distance of Inception pool3 features, %d captions x %d noise vectors; _real: pairs of "
             "test images with equal /labels",
             c->div_captions, c->div_samples);
    char clipv[160];
    snprintf(clipv, sizeof clipv, "mean cos(CLIP image embedding, sentence embedding) x100, clip_remap %s, %s",
             clip_remap, c->random_clip ? "random-weight CLIP" : "CLIP from model.clip_weights");
    char sizev[16], planv[96];
    snprintf(sizev, sizeof sizev, "%d", c->feat.net.input_size);
    if (c->samples_per_caption > 0)
        snprintf(planv, sizeof planv, "eval.samples_per_caption %d: every test image's captions sampled %d times",
                 c->samples_per_caption, c->samples_per_caption);
    else snprintf(planv, sizeof planv, "n_samples over the test images in order");
    const char *attrs[][2] = {
        {"network", inception_network_name(c->feat.net.variant)},
        {"inception_size", sizev},
        {"sample_plan", planv},
        {"weights_sha256", c->weights_id},
        {"features_note", c->random_weights ? FIDSTATS_RANDOM_NOTE : ""},
        {"clip_score_variant", clipv},
        {"reference", c->ref_path},
        {"kid_variant", "unbiased MMD^2, k(x,y)=(x.y/d+1)^3, subsets of min(1000,N) without replacement"},
        {"r_precision_variant", rprecv},
        {"diversity_variant", divv},
    };
    if (metrics_append(m, "eval", step, nc, names, vals, e)) return -1;
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        if (metrics_set_attr(m, "eval", attrs[i][0], attrs[i][1], e)) return -1;
    return 0;
}

// Up to 4 columns, as many rows as it takes.
static int write_grid(const EvalGrid *g, const char *out_dir, int64_t step, Err *e) {
    char path[1200];
    snprintf(path, sizeof path, "%s/eval-%08lld.png", out_dir, (long long)step);
    const char *caps[EVAL_GRID_MAX];
    for (int b = 0; b < g->n; b++) caps[b] = g->caption[b];
    int cols = g->n < 4 ? g->n : 4;
    if (png_write_grid_real(path, g->img, g->n, g->size, g->size, (g->n + cols - 1) / cols, cols, caps, e)) return -1;
    // out_dir/index.html: every grid there with its captions as text. Only a view: never fails the evaluation.
    Err ie = {{0}};
    if (gridindex_update(out_dir, &ie)) {
        printf("eval: warning: %s\n", ie.msg);
        fflush(stdout);
    }
    return 0;
}

int eval_report(const EvalCtx *c, const EvalResult *r, const char *clip_remap, int64_t step, Metrics *m, FILE *log,
                Err *e) {
    print_line(c, r, step, log);
    if (m && append_metrics(c, r, clip_remap, step, m, e)) return -1;
    if (c->grid.n > 0 && c->out_dir[0]) return write_grid(&c->grid, c->out_dir, step, e);
    return 0;
}
