// Parity of NetG with the PyTorch reference (tests/reference/ratlip.py, case `netg`): from the
// reference's initial weights (/init/netG) and CLIP tower (/clip), one train-mode forward of z, s
// (image), then the backward of dimg: every trainable parameter gradient, ds, and the BatchNorm
// running statistics after the forward. Dimensions come from the config file plus --set overrides.
// Weights and inputs come from the float64 reference file (the float32 ones widened), and every result
// is compared with its float64 results. Built twice: with the float core and with the double core
// (ratlip_core_f64). Tolerance: κ times the reference's own float32 error on this case (testutil.h,
// tu_ref_tol; 2^-29 of it in double). In float32 this generator's gradients are only good to a few 1e-2
// (the reference's float32 run is that far from its float64 one: LeakyReLU kinks, BatchNorm over 4
// samples), so the float build checks the float kernels' wiring; the double build checks the arithmetic.
// usage: test_netg_parity REF.h5 [REF_F64.h5] CONFIG.json [section.key=value ...]
//        (REF_F64 defaults to REF's name + _f64; an older TOL argument after CONFIG is ignored)
#include "core/netg.h"
#include "io/config.h"
#include "io/h5util.h"
#include "io/modeldims.h"
#include "io/weights.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double TOL;
static const char *REF32;

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
    int ok = tu_close_d(what, g, want, n, tu_ref_tol_n(TOL, n));
    free(want), free(g);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s REF.h5 [REF_F64.h5] CONFIG.json [section.key=value ...]\n", argv[0]);
        return 2;
    }
    REF32 = argv[1];
    const char *ref;
    int ic = tu_ref_args(argc, argv, &ref), is = ic + 1;
    if (ic >= argc) return fprintf(stderr, "usage: %s REF.h5 [REF_F64.h5] CONFIG.json [sets]\n", argv[0]), 2;
    // the older form's TOL after CONFIG: the tolerance now comes from the reference (tu_ref_tol)
    if (is < argc && !strchr(argv[is], '=')) printf("(tolerance argument %s ignored: see tu_ref_tol)\n", argv[is++]);
    Config cfg;
    Err e = {{0}};
    tu_load_config(&cfg, argv[ic], argv + is, argc - is);
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
    // The reference's float32 error over every tensor compared below. The float build compares the
    // gradients as one vector instead (see the end): through LeakyReLU kinks and BatchNorm over 4 samples
    // single tensors' float32 gradients jump (the reference's own worst: 7e-3 to 6e-2 from run to run).
    int per_tensor_grads = sizeof(real) == 8;
    double e_ref = tu_ref_err(REF32, "/netg/img", ref, "/netg/img");
    if (per_tensor_grads) e_ref = fmax(e_ref, tu_ref_err(REF32, "/netg/ds", ref, "/netg/ds"));
    for (int t = 0; t < net.ps.count; t++) {
        const ParamSpec *sp = &net.ps.specs[t];
        char path[256];
        if (sp->kind == PARAM_FROZEN || (sp->kind == PARAM_TRAINABLE && !per_tensor_grads)) continue;
        snprintf(path, sizeof path, "/netg/%s/%s", sp->kind == PARAM_TRAINABLE ? "grad" : "buffers", sp->name);
        e_ref = fmax(e_ref, tu_ref_err(REF32, path, ref, path));
    }
    TOL = tu_ref_tol(e_ref, sizeof(real));
    printf("reference float32 vs float64: %.3e; tolerance %.2e (%s build)\n", e_ref, TOL,
           sizeof(real) == 8 ? "double" : "float");
    int B = (int)tu_attr_long(ref, "/", "batch");
    NetGActs *a = netg_acts_new(&net, &clip, B, &e);
    if (!a) return fprintf(stderr, "%s\n", e.msg), 1;
    size_t n, n_img, n_s;
    const char *in = sizeof(real) == 8 ? ref : REF32;   // inputs of the run of our precision
    real *z = read_real(in, "/netg/z", &n);
    real *s = read_real(in, "/netg/s", &n_s);
    real *dimg = read_real(in, "/netg/dimg", &n_img);
    real *img = malloc(n_img * sizeof(real)), *ds = calloc(n_s, sizeof(real));
    params_zero_grad(&net.ps);
    TU_CHECK(netg_forward(&net, a, &clip, z, s, img, B, 1) == 0, "forward");
    TU_CHECK(netg_backward(&net, a, &clip, dimg, ds, B) == 0, "backward");
    close_real("img", img, n_img, ref, "/netg/img");
    // float build: ds and every parameter gradient as one vector, relative L2 error against the float64
    // reference. It is set by a few such jumps (the reference's own: 1e-3 to 7e-3 between runs of the
    // case; ours 1e-4 to 8.5e-3 on the kernel setups of issue 11), so it is a few draws, not a maximum over
    // many: 4κ times the reference's own, as tu_ref_tol_n allows tensors of few values.
    double l2_c = 0, l2_t = 0, l2_w = 0;
    size_t l2_n = 0;
    if (per_tensor_grads) close_real("ds", ds, n_s, ref, "/netg/ds");
    char path[256];
    int n_grad = 0, n_buf = 0;
    for (int t = -1; t < net.ps.count; t++) {
        const ParamSpec *sp = t >= 0 ? &net.ps.specs[t] : NULL;
        if (!per_tensor_grads && (t < 0 || sp->kind == PARAM_TRAINABLE)) {
            snprintf(path, sizeof path, t < 0 ? "/netg/ds" : "/netg/grad/%s", t < 0 ? "" : sp->name);
            size_t n64, n32, ng = t < 0 ? n_s : sp->numel;
            const real *got = t < 0 ? ds : params_grad(&net.ps, t);
            double *w64 = tu_read_f64(ref, path, &n64), *w32 = tu_read_f64(REF32, path, &n32);
            TU_CHECK(n64 == ng && n32 == ng, "%s: %zu/%zu values in the references, %zu here", path, n32, n64, ng);
            for (size_t i = 0; i < ng && i < n64 && i < n32; i++) {
                double dc = (double)got[i] - w64[i], dt = w32[i] - w64[i];
                l2_c += dc * dc, l2_t += dt * dt, l2_w += w64[i] * w64[i];
            }
            l2_n += ng;
            free(w64), free(w32);
            if (t >= 0) n_grad++;
            continue;
        }
        if (t < 0) continue;
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
    if (!per_tensor_grads) {
        double e_c = sqrt(l2_c / l2_w), e_t = sqrt(l2_t / l2_w), tol = tu_ref_tol_n(tu_ref_tol(e_t, sizeof(real)), 1);
        int ok = e_c <= tol;
        printf("%-4s %-48s rel err %.3e (tol %.1e, %zu values; L2, the reference's own %.2e)\n", ok ? "ok" : "FAIL",
               "ds and every parameter gradient", e_c, tol, l2_n, e_t);
        if (!ok) tu_failures++;
    }
    TU_CHECK(net.bn_batches_tracked == 1, "num_batches_tracked %ld after one train forward", net.bn_batches_tracked);
    printf("checked %d parameter gradients and %d BN buffers\n", n_grad, n_buf);
    free(z), free(s), free(dimg), free(img), free(ds);
    netg_acts_free(a);
    netg_free(&net);
    clip_free(&clip);
    return tu_done("test_netg_parity");
}
