// clipweights: writing a CLIP image-tower weight file in the layout io/tools/convert_clip.py makes, so
// model.clip_weights takes a trained tower as it takes converted OpenAI weights (read with
// io/weights.h's weights_load): the tower's tensors as float32 datasets at the root, named as in
// OpenAI's state_dict (visual.*); the dims as root attributes width, layers, heads, patch, image_size,
// embed_dim; and what made it (ClipProvenance). Written to <path>.tmp and committed (io/fs.h).
#pragma once
#include <stdint.h>
#include "core/clip.h"
#include "core/err.h"
#include "core/params.h"

typedef struct {
    double logit_scale;        // attribute logit_scale: the learned temperature, log(1/T)
    int64_t lit_steps;         // attribute lit_steps: LiT steps trained
    const char *trained_by;    // attribute trained_by
    const char *config_json;   // attribute config_json: the resolved config of the run
} ClipProvenance;

// ps: the tower's parameters (ClipTower.ps), d: its dims.
int clipweights_save(const char *path, const ParamSet *ps, const ClipDims *d, const ClipProvenance *p, Err *e);
