// Parity of the CLIP tower with the PyTorch reference (tests/reference/ratlip.py, cases clip_encode
// and clip_mapper): taps, embedding and image gradient of encode; map and the fuse/prompt gradients
// of the mapper; weights from the reference file's /clip group, dimensions from the config file.
// usage: test_clip_parity REF.h5 CONFIG.json
#include "core/clip.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "io/weights.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

static const double TOL = 1e-4;

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s REF.h5 CONFIG.json\n", argv[0]);
        return 2;
    }
    const char *ref = argv[1];
    Config cfg;
    Err e;
    tu_load_config(&cfg, argv[2], NULL, 0);
    ClipDims d;
    modeldims_clip(&cfg.model, &d);
    ClipTower tw;
    TU_CHECK(clip_build(&tw, &d) == 0, "clip_build");
    if (weights_load(ref, "/clip", &tw.ps, 1, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int B = (int)tu_attr_long(ref, "/", "batch");
    size_t n;

    // encode: forward (taps, emb) and backward from random upstream gradients
    float *img = tu_read_f32(ref, "/clip_encode/img", &n);
    float *taps_ref = tu_read_f32(ref, "/clip_encode/taps", &n);
    size_t n_taps = n;
    float *emb_ref = tu_read_f32(ref, "/clip_encode/emb", &n);
    size_t n_emb = n;
    float *dtaps = tu_read_f32(ref, "/clip_encode/dtaps", &n);
    float *demb = tu_read_f32(ref, "/clip_encode/demb", &n);
    float *dimg_ref = tu_read_f32(ref, "/clip_encode/dimg", &n);
    size_t n_img = n;
    float *taps = malloc(n_taps * sizeof(float)), *emb = malloc(n_emb * sizeof(float));
    float *dimg = calloc(n_img, sizeof(float));
    ClipActs *a = clip_acts_new(&tw, B, 0);
    clip_encode_forward(&tw, a, taps, emb, img, B);
    clip_encode_backward(&tw, a, dimg, dtaps, demb, B);
    tu_close("clip_encode taps", taps, taps_ref, n_taps, TOL);
    tu_close("clip_encode emb", emb, emb_ref, n_emb, TOL);
    tu_close("clip_encode d img", dimg, dimg_ref, n_img, TOL);
    // taps only (the blocks after the last tap are skipped): same taps
    clip_encode_forward(&tw, a, taps, NULL, img, B);
    tu_close("clip_encode taps (no emb: truncated tower)", taps, taps_ref, n_taps, TOL);
    clip_acts_free(a);

    // mapper
    float *fuse = tu_read_f32(ref, "/clip_mapper/fuse", &n);
    size_t n_map = n;
    float *prompts = tu_read_f32(ref, "/clip_mapper/prompts", &n);
    size_t n_pr = n;
    float *map_ref = tu_read_f32(ref, "/clip_mapper/map", &n);
    float *dmap = tu_read_f32(ref, "/clip_mapper/dmap", &n);
    float *dfuse_ref = tu_read_f32(ref, "/clip_mapper/dfuse", &n);
    float *dpr_ref = tu_read_f32(ref, "/clip_mapper/dprompts", &n);
    float *map = malloc(n_map * sizeof(float)), *dfuse = calloc(n_map, sizeof(float));
    float *dpr = calloc(n_pr, sizeof(float));
    a = clip_acts_new(&tw, B, 1);
    clip_mapper_forward(&tw, a, map, fuse, prompts, B);
    clip_mapper_backward(&tw, a, dfuse, dpr, dmap, B);
    tu_close("clip_mapper map", map, map_ref, n_map, TOL);
    tu_close("clip_mapper d fuse", dfuse, dfuse_ref, n_map, TOL);
    tu_close("clip_mapper d prompts", dpr, dpr_ref, n_pr, TOL);
    clip_acts_free(a);

    free(img); free(taps_ref); free(emb_ref); free(dtaps); free(demb); free(dimg_ref); free(taps); free(emb);
    free(dimg); free(fuse); free(prompts); free(map_ref); free(dmap); free(dfuse_ref); free(dpr_ref); free(map);
    free(dfuse); free(dpr);
    clip_free(&tw);
    return tu_done("test_clip_parity");
}
