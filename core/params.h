// params: one flat buffer of named tensors per network (llm.c style). Each tensor is a view at an
// offset; data, gradients and the two Adam moments are parallel buffers of the same layout, so
// allreduce, Adam, checksums and checkpoint I/O each work on one contiguous range.
// Names are the upstream PyTorch state_dict keys. Buffers (BatchNorm running stats) live in the
// same table, flagged non-trainable, after all trainable tensors, so [0, n_trainable) is what Adam,
// the gradient allreduce and the gradient norm see.
#pragma once
#include <stddef.h>
#include "core/real.h"
#include <stdint.h>

#define PARAM_NAME_MAX 128
#define PARAM_MAX_DIMS 4

typedef enum { PARAM_TRAINABLE = 0, PARAM_FROZEN = 1, PARAM_BUFFER = 2 } ParamKind;

typedef struct {
    char name[PARAM_NAME_MAX];
    int ndim;
    int shape[PARAM_MAX_DIMS];
    size_t offset;   // in floats, into ParamSet.data
    size_t numel;
    ParamKind kind;
} ParamSpec;

typedef struct {
    ParamSpec *specs;
    int count, cap;
    size_t total;        // floats in data (all kinds)
    size_t n_trainable;  // floats of trainable tensors, a prefix of data after params_finalize
    real *data;         // [total]
    real *grad;         // [n_trainable] (NULL until params_finalize)
    real *adam_m, *adam_v;  // [n_trainable]
    long adam_step;
    // Called by a network's backward when a tensor's gradient is final (dist/ starts that bucket's
    // allreduce while the rest of the backward runs). NULL = nobody listens.
    void (*ready_hook)(void *ctx, int tensor_index);
    void *ready_ctx;
} ParamSet;

// Declare a tensor; returns its index. Call params_finalize once all are declared: it orders
// trainable tensors first (stable), allocates the buffers (zeroed) and fixes offsets.
int params_declare(ParamSet *ps, const char *name, ParamKind kind, int ndim, const int *shape);
int params_finalize(ParamSet *ps);   // 0 on success, -1 on allocation failure
void params_free(ParamSet *ps);

int params_find(const ParamSet *ps, const char *name);          // index or -1
real *params_tensor(const ParamSet *ps, int idx);              // data view
real *params_grad(const ParamSet *ps, int idx);                // gradient view (NULL unless trainable)
size_t params_count_kind(const ParamSet *ps, ParamKind kind);   // number of floats of that kind
void params_zero_grad(ParamSet *ps);
// Gradient of tensors [first, last] (declaration indices, inclusive) is final: tell the hook.
void params_mark_ready(const ParamSet *ps, int first, int last);
// FNV-1a 64 over the bytes of all data (trainable, frozen and buffers): equal replicas ⇔ equal sums
uint64_t params_checksum(const ParamSet *ps);
// The same over trainable and frozen tensors only (buffers excluded).
uint64_t params_checksum_values(const ParamSet *ps);
