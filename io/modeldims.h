// modeldims: the one translation from the resolved config (io/config.h) to the dimension structs
// the networks in core/ take (core never sees the config).
#pragma once
#include "core/gan.h"
#include "io/config.h"

void modeldims_clip(const ModelConfig *m, ClipDims *c);
void modeldims_netg(const ModelConfig *m, NetGDims *g);
void modeldims_netd(const ModelConfig *m, NetDDims *d);
void modeldims_hyper(const TrainConfig *t, GanHyper *h);
// gan_build with all four translations of cfg: activations for max_batch samples, real images of
// real_size pixels. The CLIP tower is built but not initialised (see gan_build).
int modeldims_gan_build(Gan *gan, const Config *cfg, int max_batch, int real_size, Err *e);
