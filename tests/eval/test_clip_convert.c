// test_clip_convert: a CLIP weight file made by io/tools/convert_clip.py (from an fp16 OpenAI-style
// checkpoint of the reference tower) loads into core/clip.h with the dimensions its attributes name, and
// the C image embedding equals the reference's: compared with its float64 run (/emb_f64) within κ times
// its own float32 run's error (/emb; testutil.h, tu_ref_tol). Used by the CLIP score.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/clip.h"
#include "io/weights.h"
#include "testutil.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_clip_convert REF.h5 CLIP.h5\n");
        return 2;
    }
    ClipDims d = {0};
    d.width = (int)tu_attr_long(argv[2], "/", "width");
    d.layers = (int)tu_attr_long(argv[2], "/", "layers");
    d.heads = (int)tu_attr_long(argv[2], "/", "heads");
    d.patch = (int)tu_attr_long(argv[2], "/", "patch");
    d.image_size = (int)tu_attr_long(argv[2], "/", "image_size");
    d.embed_dim = (int)tu_attr_long(argv[2], "/", "embed_dim");
    d.grid = d.image_size / d.patch;
    d.n_taps = 1;
    d.taps[0] = d.layers - 1;
    d.prompt_first = 0;
    d.prompt_last = 0;
    d.remap_galip = 0;   // the reference file was made with --remap standard
    ClipTower t;
    TU_CHECK(clip_build(&t, &d) == 0, "clip_build");
    Err e = {{0}};
    int n = weights_load(argv[2], "/", &t.ps, 1, &e);
    TU_CHECK(n == t.ps.count, "weights_load: %d of %d: %s", n, t.ps.count, e.msg);
    size_t ni, ne;
    float *img = tu_read_f32(argv[1], "img", &ni);
    float *want = tu_read_f32(argv[1], "emb_f64", &ne);
    double e_ref = tu_ref_err(argv[1], "emb", argv[1], "emb_f64"), tol = tu_ref_tol(e_ref, sizeof(float));
    printf("reference float32 vs float64: %.3e; tolerance %.2e\n", e_ref, tol);
    int B = (int)(ne / d.embed_dim);
    ClipActs *a = clip_acts_new(&t, B, 0);
    float *emb = malloc(ne * sizeof(float));
    clip_encode_forward(&t, a, NULL, emb, img, B);
    char what[96];
    snprintf(what, sizeof what, "CLIP embedding from converted weights (B=%d, width %d)", B, d.width);
    tu_close(what, emb, want, ne, tol);
    clip_acts_free(a);
    clip_free(&t);
    free(img);
    free(want);
    free(emb);
    return tu_done("test_clip_convert");
}
