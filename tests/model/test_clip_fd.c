// Finite-difference check (double precision, ratlip_core_f64) of the frozen CLIP tower's input
// gradients on a reduced tower (8×8 images, patch 4, width 8, 3 blocks, 2 heads):
//   encode: L = ⟨w_t, taps⟩ + ⟨w_e, emb⟩ → d image, for both remaps, with and without the embedding
//           (without it the blocks after the last tap are skipped, which must not change the taps);
//   mapper: L = ⟨w_m, map⟩ → d fuse, d prompts (prompts in blocks 1–2).
// Every weight (biases, LayerNorm affines included) is perturbed away from its init so each path is live.
#include "core/clip.h"
#include "core/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static const double H = 1e-6, TOL = 1e-6;  // budget: tests/fdcheck.h
// 1e-12 below: the same arithmetic compared with itself (truncated tower, accumulate +=), bit for bit in
// practice; it allows sums regrouped in double, 2·λ·u64·sqrt(K) ~ 1e-13 for K <= 1024 (testutil.h)

static void check(const char *what, const double *got, const double *want, size_t n, double tol) {
    double md = 0, mw = 1e-8;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs(got[i] - want[i]));
        mw = fmax(mw, fabs(want[i]));
    }
    double rel = md / mw;
    int ok = rel <= tol;
    printf("%s %-40s rel %.2e (max|ref| %.2e, n %zu)\n", ok ? "ok  " : "FAIL", what, rel, mw, n);
    failures += !ok;
}

enum { B = 2 };
static ClipTower tw;
static ClipActs *acts;
static int use_emb;
static double *img, *fuse, *prompts, *wt, *we, *wm, *taps, *emb, *map;
static size_t n_img, n_taps, n_emb, n_map, n_prompts;

static double dotp(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
static double loss_encode(void) {
    clip_encode_forward(&tw, acts, taps, use_emb ? emb : NULL, img, B);
    return dotp(wt, taps, n_taps) + (use_emb ? dotp(we, emb, n_emb) : 0);
}
static double loss_mapper(void) {
    clip_mapper_forward(&tw, acts, map, fuse, prompts, B);
    return dotp(wm, map, n_map);
}
static void fd(double (*f)(void), double *x, size_t n, double *out) {
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + H;
        double lp = f();
        x[i] = x0 - H;
        double lm = f();
        x[i] = x0;
        out[i] = (lp - lm) / (2 * H);
    }
}

int main(void) {
    ClipDims d = {.image_size = 8, .patch = 4, .width = 8, .layers = 3, .heads = 2, .embed_dim = 6,
                  .taps = {0, 1}, .n_taps = 2, .prompt_first = 1, .prompt_last = 2, .remap_galip = 1};
    if (clip_build(&tw, &d)) {
        fprintf(stderr, "clip_build failed\n");
        return 1;
    }
    clip_init_random(&tw, 3);
    RngKey key = rng_key(17, RNG_SYNTH);
    for (int t = 0; t < tw.ps.count; t++) {   // perturb everything (biases start at 0, LN at 1/0)
        double *x = params_tensor(&tw.ps, t);
        for (size_t i = 0; i < tw.ps.specs[t].numel; i++) x[i] += 0.2 * (rng_uniform(key, 100 + t, i) - 0.5);
    }
    int G2 = tw.d.grid * tw.d.grid, W = d.width, np = d.prompt_last - d.prompt_first + 1;
    n_img = (size_t)B * 3 * d.image_size * d.image_size;
    n_taps = (size_t)B * d.n_taps * W * G2;
    n_emb = (size_t)B * d.embed_dim;
    n_map = (size_t)B * W * G2;
    n_prompts = (size_t)B * np * W;
    img = malloc(n_img * sizeof(double)); fuse = malloc(n_map * sizeof(double));
    prompts = malloc(n_prompts * sizeof(double));
    wt = malloc(n_taps * sizeof(double)); we = malloc(n_emb * sizeof(double)); wm = malloc(n_map * sizeof(double));
    taps = malloc(n_taps * sizeof(double)); emb = malloc(n_emb * sizeof(double)); map = malloc(n_map * sizeof(double));
    rng_fill_uniform(img, n_img, -1, 1, key, 1);
    rng_fill_normal(fuse, n_map, 0, 1, key, 2);
    rng_fill_normal(prompts, n_prompts, 0, 1, key, 3);
    rng_fill_uniform(wt, n_taps, -1, 1, key, 4);
    rng_fill_uniform(we, n_emb, -1, 1, key, 5);
    rng_fill_uniform(wm, n_map, -1, 1, key, 6);
    double *num = malloc((n_img > n_map ? n_img : n_map) * sizeof(double));

    // encode, both remaps, with and without the embedding
    acts = clip_acts_new(&tw, B, 0);
    double *dimg = malloc(n_img * sizeof(double)), *taps_full = malloc(n_taps * sizeof(double));
    for (int remap = 0; remap < 2; remap++)
        for (use_emb = 1; use_emb >= 0; use_emb--) {
            tw.d.remap_galip = remap;
            loss_encode();
            if (use_emb) memcpy(taps_full, taps, n_taps * sizeof(double));
            else check("encode: taps without emb = taps with emb", taps, taps_full, n_taps, 1e-12);
            memset(dimg, 0, n_img * sizeof(double));
            clip_encode_backward(&tw, acts, dimg, wt, use_emb ? we : NULL, B);
            fd(loss_encode, img, n_img, num);
            char what[96];
            snprintf(what, sizeof what, "encode d image (%s remap%s)", remap ? "galip" : "standard",
                     use_emb ? ", taps+emb" : ", taps only");
            check(what, dimg, num, n_img, TOL);
        }
    // backward accumulates: a second call doubles the gradient
    use_emb = 1;
    loss_encode();
    memset(dimg, 0, n_img * sizeof(double));
    clip_encode_backward(&tw, acts, dimg, wt, we, B);
    double *twice = malloc(n_img * sizeof(double));
    memcpy(twice, dimg, n_img * sizeof(double));
    clip_encode_backward(&tw, acts, twice, wt, we, B);
    for (size_t i = 0; i < n_img; i++) dimg[i] *= 2;
    check("encode backward accumulates (+=)", twice, dimg, n_img, 1e-12);
    clip_acts_free(acts);

    // mapper
    acts = clip_acts_new(&tw, B, 1);
    double *dfuse = calloc(n_map, sizeof(double)), *dprompts = calloc(n_prompts, sizeof(double));
    loss_mapper();
    clip_mapper_backward(&tw, acts, dfuse, dprompts, wm, B);
    fd(loss_mapper, fuse, n_map, num);
    check("mapper d fuse", dfuse, num, n_map, TOL);
    fd(loss_mapper, prompts, n_prompts, num);
    check("mapper d prompts", dprompts, num, n_prompts, TOL);
    clip_acts_free(acts);

    free(num); free(dimg); free(taps_full); free(twice); free(dfuse); free(dprompts);
    free(img); free(fuse); free(prompts); free(wt); free(we); free(wm); free(taps); free(emb); free(map);
    clip_free(&tw);
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
