// weights: fill a ParamSet from named HDF5 datasets (`<group>/<state_dict name>`), the layout of
// CLIP/Inception weight files made by io/tools/ converters (group "/") and of the PyTorch reference's
// files (group "/init/netG" …). Shapes are checked tensor by tensor; any numeric dtype is converted.
#pragma once
#include "core/err.h"
#include "core/params.h"

// require_all: every tensor of ps (buffers included) must be present; else missing ones keep their
// values. Returns the number of tensors loaded, or -1 with e naming the file, dataset and shapes.
int weights_load(const char *path, const char *group, ParamSet *ps, int require_all, Err *e);
// Writes every tensor of ps as float32 datasets under group (created) of a new or existing file.
int weights_save(const char *path, const char *group, const ParamSet *ps, Err *e);
