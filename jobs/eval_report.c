// eval_report: the printed line, metrics.h5 /eval and the sample grid of an evaluation. See eval_report.h.
#include "jobs/eval_report.h"
#include <stdio.h>
#include "io/fidstats.h"
#include "io/png.h"

static void print_line(const EvalCtx *c, const EvalResult *r, int64_t step) {
    const char *note = c->random_weights ? " | " FIDSTATS_RANDOM_NOTE : "";
    const char *net = inception_network_name(c->feat.net.variant);
    printf("eval step %lld: FID %.4f  KID %.6f +- %.6f  CLIP score %.3f  (%ld samples, %s %s, %s CLIP, %d "
           "rank%s, %.1f s)%s\n",
           (long long)step, r->fid, r->kid, r->kid_std, r->clip_score, r->n, net, c->weights_id,
           c->random_clip ? "random-weight" : "loaded", r->ranks, r->ranks == 1 ? "" : "s", r->seconds, note);
    fflush(stdout);
    if (r->eig_ratio < -1e-6)
        printf("eval: warning: min/max eigenvalue of the FID product is %.2e (ill-conditioned)\n", r->eig_ratio);
}

// The /eval row, and attributes saying what the numbers are (network, weights, reference, variants).
static int append_metrics(const EvalCtx *c, const EvalResult *r, const char *clip_remap, int64_t step, Metrics *m,
                          Err *e) {
    const char *names[] = {"fid", "kid", "kid_std", "clip_score", "n_samples"};
    double vals[] = {r->fid, r->kid, r->kid_std, r->clip_score, (double)r->n};
    char clipv[160];
    snprintf(clipv, sizeof clipv, "mean cos(CLIP image embedding, sentence embedding) x100, clip_remap %s, %s",
             clip_remap, c->random_clip ? "random-weight CLIP" : "CLIP from model.clip_weights");
    const char *attrs[][2] = {
        {"network", inception_network_name(c->feat.net.variant)},
        {"weights_sha256", c->weights_id},
        {"features_note", c->random_weights ? FIDSTATS_RANDOM_NOTE : ""},
        {"clip_score_variant", clipv},
        {"reference", c->ref_path},
        {"kid_variant", "unbiased MMD^2, k(x,y)=(x.y/d+1)^3, subsets of min(1000,N) without replacement"},
    };
    if (metrics_append(m, "eval", step, 5, names, vals, e)) return -1;
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
    return png_write_grid_real(path, g->img, g->n, g->size, g->size, (g->n + cols - 1) / cols, cols, caps, e);
}

int eval_report(const EvalCtx *c, const EvalResult *r, const char *clip_remap, int64_t step, Metrics *m, Err *e) {
    print_line(c, r, step);
    if (m && append_metrics(c, r, clip_remap, step, m, e)) return -1;
    if (c->grid.n > 0 && c->out_dir[0]) return write_grid(&c->grid, c->out_dir, step, e);
    return 0;
}
