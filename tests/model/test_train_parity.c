// Parity of the whole training iteration (core/gan.c) with the PyTorch reference's `train` case:
// from identical initial weights (/init) and inputs (/train/iter<t>/{real,s,z}), N iterations of
// D step + Adam, G step + Adam + EMA; compares every loss of every iteration and, after the last,
// every parameter, BatchNorm buffer, Adam moment and EMA tensor.
//
// Built against the double-precision core and compared with the reference run in float64
// (ratlip.py --double): in float32 both sides drift ~1e-2 apart after 3 iterations from rounding
// alone (LeakyReLU kinks, Adam's sign-like first steps on tiny gradients), which would hide a real
// bug; in double any disagreement beyond 1e-4 is a bug.
// usage: test_train_parity REF_F64.h5 CONFIG.json [section.key=value ...]
#include "core/gan.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "io/weights.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

static const double TOL = 1e-4;

static double *rd(const char *file, const char *fmt, int t) {
    char name[256];
    snprintf(name, sizeof name, fmt, t);
    size_t n;
    return tu_read_f64(file, name, &n);
}

static void load(const char *ref, const char *group, ParamSet *ps) {
    Err e = {{0}};
    if (weights_load(ref, group, ps, 1, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
}

// Compares every tensor of ps (trainable and buffers; Adam moments when adam) with <group>/<name>.
static void compare_set(const char *ref, const char *group, const ParamSet *ps, int adam, const char *adam_group) {
    for (int i = 0; i < ps->count; i++) {
        const ParamSpec *sp = &ps->specs[i];
        char name[512];
        size_t n;
        snprintf(name, sizeof name, "%s/%s", group, sp->name);
        double *want = tu_read_f64(ref, name, &n);
        TU_CHECK(n == sp->numel, "%s: %zu values, expected %zu", name, n, sp->numel);
        tu_close_d(name, params_tensor(ps, i), want, sp->numel, TOL);
        free(want);
        if (adam && sp->kind == PARAM_TRAINABLE) {
            for (int mv = 0; mv < 2; mv++) {
                snprintf(name, sizeof name, "%s/%s/%s", adam_group, mv ? "v" : "m", sp->name);
                want = tu_read_f64(ref, name, &n);
                tu_close_d(name, (mv ? ps->adam_v : ps->adam_m) + sp->offset, want, sp->numel, TOL);
                free(want);
            }
        }
    }
}

static void check_scalar(const char *what, int t, double got, double want) {
    char name[96];
    snprintf(name, sizeof name, "iter%d %s", t, what);
    tu_close_d(name, &got, &want, 1, TOL);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s REF_F64.h5 CONFIG.json [section.key=value ...]\n", argv[0]);
        return 2;
    }
    const char *ref = argv[1];
    Config cfg;
    Err e = {{0}};
    tu_load_config(&cfg, argv[2], argv + 3, argc - 3);
    int B = (int)tu_attr_long(ref, "/", "batch"), iters = (int)tu_attr_long(ref, "/", "iters");
    Gan gan;
    if (modeldims_gan_build(&gan, &cfg, B, cfg.model.image_size, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    load(ref, "/clip", &gan.clip.ps);
    load(ref, "/init/netG", &gan.g.ps);
    load(ref, "/init/netD", &gan.dc.netd);
    load(ref, "/init/netC", &gan.dc.netc);
    gan_ema_reset(&gan);

    int T = cfg.model.text_dim;
    double *s_mis = malloc(sizeof(double) * (size_t)B * T);
    for (int t = 0; t < iters; t++) {
        double *realx = rd(ref, "/train/iter%d/real", t), *s = rd(ref, "/train/iter%d/s", t);
        double *z = rd(ref, "/train/iter%d/z", t);
        for (int b = 0; b < B; b++) memcpy(s_mis + (size_t)b * T, s + (size_t)((b + 1) % B) * T, sizeof(double) * T);
        GanLosses L;
        memset(&L, 0, sizeof L);
        TU_CHECK(gan_d_backward(&gan, realx, s, s_mis, z, B, &L) == 0, "d step failed");
        gan_d_update(&gan);
        TU_CHECK(gan_g_backward(&gan, s, B, &L) == 0, "g step failed");
        gan_g_update(&gan);
        const char *names[] = {"errD_real", "errD_mis", "errD_fake", "errD_magp", "errD", "errG", "sim"};
        double got[] = {L.d_real, L.d_mis, L.d_fake, L.magp, L.d_total, L.g_total, L.sim};
        for (int k = 0; k < 7; k++) {
            char nm[64];
            snprintf(nm, sizeof nm, "/train/iter%%d/%s", names[k]);
            double *want = rd(ref, nm, t);
            check_scalar(names[k], t, got[k], *want);
            free(want);
        }
        free(realx), free(s), free(z);
    }
    compare_set(ref, "/train/final/netG", &gan.g.ps, 1, "/train/adam/netG");
    compare_set(ref, "/train/final/netD", &gan.dc.netd, 1, "/train/adam/netD");
    compare_set(ref, "/train/final/netC", &gan.dc.netc, 1, "/train/adam/netC");
    TU_CHECK(gan.g.ps.adam_step == tu_attr_long(ref, "/train/adam/netG", "step"), "netG Adam step count");
    TU_CHECK(gan.dc.netd.adam_step == tu_attr_long(ref, "/train/adam/netD", "step"), "netD Adam step count");
    if (gan.has_ema) compare_set(ref, "/train/ema", &gan.g_ema.ps, 0, NULL);
    free(s_mis);
    gan_free(&gan);
    return tu_done("test_train_parity");
}
