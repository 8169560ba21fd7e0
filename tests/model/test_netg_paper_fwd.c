// Paper-size NetG forward parity (spec §1: 7×7 code grid, ViT-B/32 mapper with 8 prompts, G blocks to
// 224×224 incl. the 7→8 and 128→224 upsamplings) against the reference's `forward` case at batch 2
// (fixture ref_paper_fwd, label slow): the generated images (train mode) and every BatchNorm buffer
// after the forward. Compared with the reference's float64 run (fixture ref_paper_fwd_f64: the same weights
// and inputs widened) within κ times the float32 run's own error on these tensors (testutil.h, tu_ref_tol).
// usage: test_netg_paper_fwd REF.h5 REF_F64.h5 CONFIG.json
#include "core/clip.h"
#include "core/netg.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "io/weights.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>


int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s REF.h5 REF_F64.h5 CONFIG.json\n", argv[0]);
        return 2;
    }
    const char *ref32 = argv[1], *ref = argv[2];
    Config cfg;
    Err e = {{0}};
    tu_load_config(&cfg, argv[3], NULL, 0);
    ClipDims cd;
    NetGDims gd;
    modeldims_clip(&cfg.model, &cd);
    modeldims_netg(&cfg.model, &gd);
    ClipTower tw;
    NetG g;
    if (clip_build(&tw, &cd) || weights_load(ref, "/clip", &tw.ps, 1, &e) < 0 || netg_build(&g, &gd, &e) ||
        weights_load(ref, "/init/netG", &g.ps, 1, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    double e_ref = tu_ref_err(ref32, "/forward/img", ref, "/forward/img");
    for (int i = 0; i < g.ps.count; i++) {
        if (g.ps.specs[i].kind != PARAM_BUFFER) continue;
        char name[256];
        snprintf(name, sizeof name, "/forward/buffers/%s", g.ps.specs[i].name);
        e_ref = fmax(e_ref, tu_ref_err(ref32, name, ref, name));
    }
    double TOL = tu_ref_tol(e_ref, sizeof(float));
    printf("reference float32 vs float64: %.3e; tolerance %.2e\n", e_ref, TOL);
    size_t nz, ns, nimg;
    float *z = tu_read_f32(ref, "/forward/z", &nz), *s = tu_read_f32(ref, "/forward/s", &ns);
    float *want = tu_read_f32(ref, "/forward/img", &nimg);
    int B = (int)(nz / (size_t)gd.z_dim);
    TU_CHECK(nimg == (size_t)B * 3 * cfg.model.image_size * cfg.model.image_size, "image size");
    NetGActs *a = netg_acts_new(&g, &tw, B, &e);
    float *img = malloc(nimg * sizeof(float));
    TU_CHECK(a && netg_forward(&g, a, &tw, z, s, img, B, 1) == 0, "forward failed");
    tu_close("paper NetG image (train mode, batch 2)", img, want, nimg, TOL);
    int nbuf = 0;
    for (int i = 0; i < g.ps.count; i++) {
        if (g.ps.specs[i].kind != PARAM_BUFFER) continue;
        char name[256];
        size_t n;
        snprintf(name, sizeof name, "/forward/buffers/%s", g.ps.specs[i].name);
        float *w = tu_read_f32(ref, name, &n);
        TU_CHECK(n == g.ps.specs[i].numel, "%s: size", name);
        tu_close(name, params_tensor(&g.ps, i), w, n, tu_ref_tol_n(TOL, n));
        free(w);
        nbuf++;
    }
    TU_CHECK(nbuf == 32, "%d BatchNorm buffers compared, the paper NetG has 16 BNs x 2", nbuf);
    free(z), free(s), free(want), free(img);
    netg_acts_free(a);
    netg_free(&g);
    clip_free(&tw);
    return tu_done("test_netg_paper_fwd");
}
