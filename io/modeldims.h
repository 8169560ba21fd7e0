// modeldims: the one translation from the resolved config (io/config.h) to the dimension structs
// the networks in core/ take (core never sees the config).
#pragma once
#include "core/gan.h"
#include "io/config.h"

void modeldims_clip(const ModelConfig *m, ClipDims *c);
void modeldims_netg(const ModelConfig *m, NetGDims *g);
void modeldims_netd(const ModelConfig *m, NetDDims *d);
void modeldims_hyper(const TrainConfig *t, GanHyper *h);
