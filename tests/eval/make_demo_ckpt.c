// make_demo_ckpt: writes a checkpoint of a freshly initialised tiny RATLIP (config defaults, seed from
// argv) in the trainer's layout (netG, netD, netC, netG_ema), for the `ratlip eval` and `sample` tests.
// A third argument records the training data's text encoder as the trainer does (CKPT_TEXT_ENCODER_ORDER:
// 1 bow, 3 ngram, 0 precomputed); without it the checkpoint looks like one from before 2026-12.
#include <stdio.h>
#include <stdlib.h>
#include "core/gan.h"
#include "io/ckpt.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "io/runload.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: make_demo_ckpt OUT.h5 [seed [text encoder order]]\n");
        return 2;
    }
    Config cfg;
    Err e;
    config_defaults(&cfg);
    if (argc > 2) cfg.train.seed = atol(argv[2]);
    Gan gan;
    if (modeldims_gan_build(&gan, &cfg, 1, cfg.model.image_size, &e)) {
        fprintf(stderr, "make_demo_ckpt: %s\n", e.msg);
        return 1;
    }
    gan_init(&gan, (uint64_t)cfg.train.seed);
    CkptNet nets[4];
    int n_nets = runload_ckpt_nets(&gan, nets);
    CkptMeta meta = {0};
    meta.step = 5;
    meta.seed = cfg.train.seed;
    meta.config_json = config_to_json(&cfg);
    meta.world_size = 1;
    if (argc > 3) ckpt_meta_set_int(&meta, CKPT_TEXT_ENCODER_ORDER, atol(argv[3]));
    int rc = ckpt_save(argv[1], nets, n_nets, &meta, &e);
    if (rc) fprintf(stderr, "make_demo_ckpt: %s\n", e.msg);
    else printf("make_demo_ckpt: %s (step 5, seed %ld, %s)\n", argv[1], cfg.train.seed, gan.has_ema ? "with EMA" : "no EMA");
    free(meta.config_json);
    gan_free(&gan);
    return rc ? 1 : 0;
}
