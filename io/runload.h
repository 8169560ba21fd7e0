// runload: rebuild a trained GAN from a checkpoint file, as `ratlip train` built it: the config stored
// in the checkpoint (or a given file) with --set overrides, the CLIP tower (weight file or the seeded
// random tower), then every network's tensors. Used by `ratlip sample` and `ratlip eval`.
#pragma once
#include "core/gan.h"
#include "io/ckpt.h"
#include "io/config.h"

// The checkpoint's extra scalar naming the text encoder of the training data: io/bow.h's run order
// (1 bow, 3 ngram), 0 for precomputed embeddings (CLIP ...). Absent in checkpoints before 2026-12: bow.
#define CKPT_TEXT_ENCODER_ORDER "text_encoder_order"

typedef struct {
    const char *ckpt;          // checkpoint file
    const char *config_file;   // NULL: the config stored in the checkpoint
    char *const *sets;         // "section.key=value" overrides (n_sets of them)
    int n_sets;
    int max_batch;             // activations are allocated for this many samples
} RunLoad;

// On success cfg, gan (built; gan_free it) and meta (ckpt_meta_free it; may be NULL) are filled and
// *random_clip says whether the tower is the seeded random one.
int runload_gan(const RunLoad *r, Config *cfg, Gan *gan, CkptMeta *meta, int *random_clip, Err *e);

// The checkpoint layout `ratlip train` writes: netG, netD, netC, then netG_ema (no Adam moments) when
// the GAN has one. Fills nets[0..3] and returns how many of them the GAN has.
int runload_ckpt_nets(Gan *gan, CkptNet nets[4]);
