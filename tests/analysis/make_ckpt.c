// make_ckpt: writes the fixtures of the analysis tests, built from the real tiny networks (so the
// tensor names are the ones a training run writes), without training:
//   make_ckpt OUTDIR MODE        MODE = batch | sample (model.rat_mode)
//   OUTDIR/clip.h5   the seeded random CLIP tower as a CLIP weight file (visual.* at the root)
//   OUTDIR/a.h5      a checkpoint at step 100: initialised nets, random Adam moments (step 7),
//                    BN num_batches_tracked 11, config naming clip.h5
//   OUTDIR/b.h5      the same at step 200 with two known changes: netG fc_code.weight x 1.5 and
//                    netD main.gamma + 0.25 (so ckpt diff must report |B-A|/|A| = 0.5 and 0.25)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "io/ckpt.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "io/runload.h"
#include "io/weights.h"

static void fill_adam(ParamSet *ps, uint64_t seed) {
    RngKey k = rng_key(seed, RNG_INIT);
    rng_fill_normal(ps->adam_m, ps->n_trainable, 0, 0.01f, k, 101);
    rng_fill_uniform(ps->adam_v, ps->n_trainable, 0, 1e-4f, k, 102);
    ps->adam_step = 7;
}

static int save(const char *path, Gan *g, const Config *c, int64_t step) {
    CkptNet nets[4];
    int n_nets = runload_ckpt_nets(g, nets);
    CkptMeta meta;
    memset(&meta, 0, sizeof meta);
    meta.step = step;
    meta.epoch = step / 50;
    meta.seed = c->train.seed;
    meta.world_size = 2;
    meta.config_json = config_to_json(c);
    snprintf(meta.ratlip_version, sizeof meta.ratlip_version, "test");
    ckpt_meta_set_double(&meta, "netG.num_batches_tracked", 11);
    Err e = {{0}};
    int rc = ckpt_save(path, nets, n_nets, &meta, &e);
    if (rc) fprintf(stderr, "make_ckpt: %s\n", e.msg);
    free(meta.config_json);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: make_ckpt OUTDIR batch|sample\n");
        return 2;
    }
    char clip[4096], path[4200], mode[64];
    snprintf(clip, sizeof clip, "%s/clip.h5", argv[1]);
    snprintf(mode, sizeof mode, "model.rat_mode=%s", argv[2]);
    char *sets[] = {mode};
    Config c;
    Err e = {{0}};
    if (config_resolve(&c, NULL, 1, sets, &e)) {
        fprintf(stderr, "make_ckpt: %s\n", e.msg);
        return 1;
    }
    Gan g;
    if (modeldims_gan_build(&g, &c, 1, c.model.image_size, &e)) {
        fprintf(stderr, "make_ckpt: %s\n", e.msg);
        return 1;
    }
    clip_init_random(&g.clip, 1234);
    remove(clip);
    if (weights_save(clip, "/", &g.clip.ps, &e)) {
        fprintf(stderr, "make_ckpt: %s\n", e.msg);
        return 1;
    }
    char cw[4200];
    snprintf(cw, sizeof cw, "model.clip_weights=%s", clip);
    config_set(&c, cw, &e);
    gan_init(&g, 5);
    fill_adam(&g.g.ps, 1);
    fill_adam(&g.dc.netd, 2);
    fill_adam(&g.dc.netc, 3);
    g.g.bn_batches_tracked = 11;
    snprintf(path, sizeof path, "%s/a.h5", argv[1]);
    if (save(path, &g, &c, 100)) return 1;
    real *w = params_tensor(&g.g.ps, params_find(&g.g.ps, "fc_code.weight"));
    size_t n = g.g.ps.specs[params_find(&g.g.ps, "fc_code.weight")].numel;
    for (size_t i = 0; i < n; i++) w[i] *= 1.5f;
    params_tensor(&g.dc.netd, params_find(&g.dc.netd, "main.gamma"))[0] += 0.25f;
    snprintf(path, sizeof path, "%s/b.h5", argv[1]);
    if (save(path, &g, &c, 200)) return 1;
    gan_free(&g);
    printf("make_ckpt: wrote %s/{clip,a,b}.h5 (rat_mode %s)\n", argv[1], argv[2]);
    return 0;
}
