// Parity of the CLIP tower with the PyTorch reference (tests/reference/ratlip.py, cases clip_encode
// and clip_mapper): taps, embedding and image gradient of encode; map and the fuse/prompt gradients
// of the mapper; weights and inputs from the float64 reference file (the float32 weights widened),
// dimensions from the config file. Built twice, with the float core and with the double core
// (ratlip_core_f64); both are compared with the reference's float64 results, within κ times the
// reference's own float32 error on this case (testutil.h, tu_ref_tol: scaled by 2^-29 in double).
// usage: test_clip_parity REF.h5 [REF_F64.h5] CONFIG.json   (REF_F64 defaults to REF's name + _f64)
#include "core/clip.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "io/weights.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *REF32, *REF64;
static const char *const OUTPUTS[] = {"/clip_encode/taps", "/clip_encode/emb", "/clip_encode/dimg",
                                      "/clip_mapper/map", "/clip_mapper/dfuse", "/clip_mapper/dprompts"};
static double TOL;

// An input of the case: the float build takes the reference's float32 run's (where the case feeds it
// an intermediate, as MA-GP's CLIP taps, the two runs' differ), the double build the float64 run's.
static real *read_real(const char *name, size_t *n) {
    double *d = tu_read_f64(sizeof(real) == 8 ? REF64 : REF32, name, n);
    real *r = malloc(*n * sizeof(real));
    for (size_t i = 0; i < *n; i++) r[i] = (real)d[i];
    free(d);
    return r;
}
static void close_ref(const char *what, const real *got, size_t n_got, const char *name) {
    size_t n;
    double *want = tu_read_f64(REF64, name, &n), *g = malloc(n_got * sizeof(double));
    TU_CHECK(n == n_got, "%s: %zu values in the reference, %zu here", name, n, n_got);
    for (size_t i = 0; i < n_got; i++) g[i] = (double)got[i];
    if (n == n_got) tu_close_d(what, g, want, n, tu_ref_tol_n(TOL, n));
    free(want), free(g);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s REF.h5 [REF_F64.h5] CONFIG.json\n", argv[0]);
        return 2;
    }
    REF32 = argv[1];
    int ic = tu_ref_args(argc, argv, &REF64);
    if (ic >= argc) return fprintf(stderr, "usage: %s REF.h5 [REF_F64.h5] CONFIG.json\n", argv[0]), 2;
    Config cfg;
    Err e;
    tu_load_config(&cfg, argv[ic], NULL, 0);
    double e_ref = 0;
    for (size_t i = 0; i < sizeof OUTPUTS / sizeof *OUTPUTS; i++)
        e_ref = fmax(e_ref, tu_ref_err(REF32, OUTPUTS[i], REF64, OUTPUTS[i]));
    TOL = tu_ref_tol(e_ref, sizeof(real));
    printf("reference float32 vs float64: %.3e; tolerance %.2e (%s build)\n", e_ref, TOL,
           sizeof(real) == 8 ? "double" : "float");
    ClipDims d;
    modeldims_clip(&cfg.model, &d);
    ClipTower tw;
    TU_CHECK(clip_build(&tw, &d) == 0, "clip_build");
    if (weights_load(REF64, "/clip", &tw.ps, 1, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int B = (int)tu_attr_long(REF64, "/", "batch");
    size_t n, n_taps, n_emb, n_img;

    // encode: forward (taps, emb) and backward from random upstream gradients
    real *img = read_real("/clip_encode/img", &n_img);
    real *dtaps = read_real("/clip_encode/dtaps", &n_taps);
    real *demb = read_real("/clip_encode/demb", &n_emb);
    real *taps = malloc(n_taps * sizeof(real)), *emb = malloc(n_emb * sizeof(real));
    real *dimg = calloc(n_img, sizeof(real));
    ClipActs *a = clip_acts_new(&tw, B, 0);
    clip_encode_forward(&tw, a, taps, emb, img, B);
    clip_encode_backward(&tw, a, dimg, dtaps, demb, B);
    close_ref("clip_encode taps", taps, n_taps, "/clip_encode/taps");
    close_ref("clip_encode emb", emb, n_emb, "/clip_encode/emb");
    close_ref("clip_encode d img", dimg, n_img, "/clip_encode/dimg");
    // taps only (the blocks after the last tap are skipped): the same arithmetic, the same bits
    real *taps2 = malloc(n_taps * sizeof(real));
    clip_encode_forward(&tw, a, taps2, NULL, img, B);
    TU_CHECK(memcmp(taps, taps2, n_taps * sizeof(real)) == 0, "clip_encode taps without emb differ from with emb");
    printf("%-4s clip_encode taps (no emb: truncated tower) equal the full tower's bit for bit\n",
           memcmp(taps, taps2, n_taps * sizeof(real)) ? "FAIL" : "ok");
    clip_acts_free(a);

    // mapper
    size_t n_map, n_pr;
    real *fuse = read_real("/clip_mapper/fuse", &n_map);
    real *prompts = read_real("/clip_mapper/prompts", &n_pr);
    real *dmap = read_real("/clip_mapper/dmap", &n);
    real *map = malloc(n_map * sizeof(real)), *dfuse = calloc(n_map, sizeof(real));
    real *dpr = calloc(n_pr, sizeof(real));
    a = clip_acts_new(&tw, B, 1);
    clip_mapper_forward(&tw, a, map, fuse, prompts, B);
    clip_mapper_backward(&tw, a, dfuse, dpr, dmap, B);
    close_ref("clip_mapper map", map, n_map, "/clip_mapper/map");
    close_ref("clip_mapper d fuse", dfuse, n_map, "/clip_mapper/dfuse");
    close_ref("clip_mapper d prompts", dpr, n_pr, "/clip_mapper/dprompts");
    clip_acts_free(a);

    free(img); free(dtaps); free(demb); free(taps); free(taps2); free(emb); free(dimg); free(fuse); free(prompts);
    free(dmap); free(map); free(dfuse); free(dpr);
    clip_free(&tw);
    return tu_done("test_clip_parity");
}
