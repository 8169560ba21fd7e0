// Parity of NetG with the PyTorch reference (tests/reference/ratlip.py, case `netg`): from the
// reference's initial weights (/init/netG) and CLIP tower (/clip), one train-mode forward of z, s
// (image), then the backward of dimg: every trainable parameter gradient, ds, and the BatchNorm
// running statistics after the forward. Dimensions come from the config file plus --set overrides.
// Built twice: with the float core against the float32 reference, and with the double core
// (ratlip_core_f64) against the reference's --double file, where the tolerance says the arithmetic
// is the same and float32 rounding (measured in the report) does not hide a difference.
// usage: test_netg_parity REF.h5 CONFIG.json TOL [section.key=value ...]
#include "core/netg.h"
#include "io/config.h"
#include "io/h5util.h"
#include "io/modeldims.h"
#include "io/weights.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

static double TOL = 1e-4;

// A reference dataset as `real` (float or double, whichever core this test is built with).
static real *read_real(const char *file, const char *name, size_t *n) {
    double *d = tu_read_f64(file, name, n);
    real *r = malloc(*n * sizeof(real));
    for (size_t i = 0; i < *n; i++) r[i] = (real)d[i];
    free(d);
    return r;
}

static int close_real(const char *what, const real *got, size_t n_got, const char *file, const char *name) {
    size_t n;
    double *want = tu_read_f64(file, name, &n), *g = malloc(n * sizeof(double));
    if (n != n_got) {
        TU_CHECK(0, "%s: %zu values in the reference, %zu here", what, n, n_got);
        free(want), free(g);
        return 0;
    }
    for (size_t i = 0; i < n; i++) g[i] = (double)got[i];
    int ok = tu_close_d(what, g, want, n, TOL);
    free(want), free(g);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s REF.h5 CONFIG.json TOL [section.key=value ...]\n", argv[0]);
        return 2;
    }
    const char *ref = argv[1];
    Config cfg;
    Err e = {{0}};
    tu_load_config(&cfg, argv[2], argv + 4, argc - 4);
    TOL = atof(argv[3]);
    NetGDims gd;
    ClipDims cd;
    modeldims_netg(&cfg.model, &gd);
    modeldims_clip(&cfg.model, &cd);
    ClipTower clip;
    NetG net;
    if (clip_build(&clip, &cd) || weights_load(ref, "/clip", &clip.ps, 1, &e) < 0 || netg_build(&net, &gd, &e) ||
        weights_load(ref, "/init/netG", &net.ps, 1, &e) < 0)
        return fprintf(stderr, "%s\n", e.msg), 1;
    printf("rat_mode %s: %d tensors, %zu trainable\n", cfg.model.rat_mode, net.ps.count, net.ps.n_trainable);
    // key order: the reference's state_dict keys minus the frozen CLIP copies and num_batches_tracked
    hid_t f = H5Fopen(ref, H5F_ACC_RDONLY, H5P_DEFAULT), g = H5Gopen2(f, "/init/netG", H5P_DEFAULT);
    char *keys = h5u_attr_read_str(g, "keys");
    H5Gclose(g), H5Fclose(f);
    TU_CHECK(keys != NULL, "/init/netG has no attribute keys");
    int t = 0, order_ok = 1;
    for (char *k = keys ? strtok(keys, "\n") : NULL; k; k = strtok(NULL, "\n")) {
        if (strncmp(k, "mapping.CLIP_ViT.", 17) == 0 || strstr(k, "num_batches_tracked")) continue;
        if (t >= net.ps.count || strcmp(k, net.ps.specs[t].name) != 0) {
            TU_CHECK(0, "state_dict key %d: reference %s, ratlip %s", t, k, t < net.ps.count ? net.ps.specs[t].name : "(none)");
            order_ok = 0;
            break;
        }
        t++;
    }
    TU_CHECK(!order_ok || t == net.ps.count, "ratlip declares %d tensors, the reference %d", net.ps.count, t);
    printf("%-4s state_dict order: %d keys (CLIP copies and num_batches_tracked excluded)\n",
           order_ok && t == net.ps.count ? "ok" : "FAIL", t);
    free(keys);
    int B = (int)tu_attr_long(ref, "/", "batch");
    NetGActs *a = netg_acts_new(&net, &clip, B, &e);
    if (!a) return fprintf(stderr, "%s\n", e.msg), 1;
    size_t n, n_img, n_s;
    real *z = read_real(ref, "/netg/z", &n);
    real *s = read_real(ref, "/netg/s", &n_s);
    real *dimg = read_real(ref, "/netg/dimg", &n_img);
    real *img = malloc(n_img * sizeof(real)), *ds = calloc(n_s, sizeof(real));
    params_zero_grad(&net.ps);
    TU_CHECK(netg_forward(&net, a, &clip, z, s, img, B, 1) == 0, "forward");
    TU_CHECK(netg_backward(&net, a, &clip, dimg, ds, B) == 0, "backward");
    close_real("img", img, n_img, ref, "/netg/img");
    close_real("ds", ds, n_s, ref, "/netg/ds");
    char path[256];
    int n_grad = 0, n_buf = 0;
    for (int t = 0; t < net.ps.count; t++) {
        const ParamSpec *sp = &net.ps.specs[t];
        if (sp->kind == PARAM_TRAINABLE) {
            snprintf(path, sizeof path, "/netg/grad/%s", sp->name);
            close_real(path, params_grad(&net.ps, t), sp->numel, ref, path);
            n_grad++;
        } else if (sp->kind == PARAM_BUFFER) {
            snprintf(path, sizeof path, "/netg/buffers/%s", sp->name);
            close_real(path, params_tensor(&net.ps, t), sp->numel, ref, path);
            n_buf++;
        }
    }
    TU_CHECK(net.bn_batches_tracked == 1, "num_batches_tracked %ld after one train forward", net.bn_batches_tracked);
    printf("checked %d parameter gradients and %d BN buffers\n", n_grad, n_buf);
    free(z), free(s), free(dimg), free(img), free(ds);
    netg_acts_free(a);
    netg_free(&net);
    clip_free(&clip);
    return tu_done("test_netg_parity");
}
