// dist_fixture: a small network-shaped ParamSet for the MPI tests: trainable tensors of mixed sizes
// (some smaller, some larger than the bucket sizes tested), a frozen tensor and a buffer in between,
// so bucket boundaries, ordering and the trainable prefix are all exercised.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include "core/params.h"

static inline void fixture_params(ParamSet *ps) {
    struct { const char *name; ParamKind kind; int ndim; int shape[4]; } t[] = {
        {"conv_img.0.weight", PARAM_TRAINABLE, 4, {32, 3, 3, 3}},     // 864
        {"conv_img.0.bias", PARAM_TRAINABLE, 1, {32}},
        {"norm.running_mean", PARAM_BUFFER, 1, {32}},
        {"clip.proj", PARAM_FROZEN, 2, {16, 16}},
        {"fc.weight", PARAM_TRAINABLE, 2, {128, 64}},                 // 8192 floats = 32 KiB
        {"fc.bias", PARAM_TRAINABLE, 1, {128}},
        {"block.0.affine.weight", PARAM_TRAINABLE, 2, {48, 40}},      // 1920
        {"block.0.affine.bias", PARAM_TRAINABLE, 1, {48}},
        {"to_rgb.weight", PARAM_TRAINABLE, 4, {3, 32, 3, 3}},         // 864
        {"to_rgb.bias", PARAM_TRAINABLE, 1, {3}},
    };
    *ps = (ParamSet){0};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) params_declare(ps, t[i].name, t[i].kind, t[i].ndim, t[i].shape);
    if (params_finalize(ps) != 0) {
        fprintf(stderr, "fixture: params_finalize failed\n");
        exit(1);
    }
}
