// params: one flat buffer of named tensors per network (llm.c style). Each tensor is a view at an
// offset; data, gradients and the two Adam moments are parallel buffers of the same layout, so
// allreduce, Adam, checksums and checkpoint I/O each work on one contiguous range.
// Names are the upstream PyTorch state_dict keys. Buffers (BatchNorm running stats) live in the
// same table, flagged non-trainable, after all trainable tensors, so [0, n_trainable) is what Adam,
// the gradient allreduce and the gradient norm see.
//
// The one way a network declares itself (llm.c's ParameterTensors, generalised): its build function
// calls params_add once per tensor, in state_dict order, with the PyTorch name, shape, kind and init
// rule, and the address of a PTensor field in the network's own struct. params_finalize lays out the
// buffers and fills every such field with the tensor's data and gradient views, so forward and
// backward read `blk->conv_w.v` / `blk->conv_w.g` and never look a name up. Names are for the state
// dict, checkpoints and messages only (params_find is for I/O and tests).
#pragma once
#include <stddef.h>
#include "core/real.h"
#include "core/rng.h"
#include <stdint.h>

#define PARAM_NAME_MAX 128
#define PARAM_MAX_DIMS 4

typedef enum { PARAM_TRAINABLE = 0, PARAM_FROZEN = 1, PARAM_BUFFER = 2 } ParamKind;

// Init rule of a tensor (params_init_tensor): NONE leaves it as it is (zero after params_finalize).
typedef enum { PARAM_INIT_NONE = 0, PARAM_INIT_CONST, PARAM_INIT_UNIFORM, PARAM_INIT_NORMAL } ParamInitRule;
typedef struct {
    ParamInitRule rule;
    real a, b;   // CONST: value a; UNIFORM: [a, b); NORMAL: mean a, std b
} ParamInit;
static inline ParamInit param_const(real v) { return (ParamInit){PARAM_INIT_CONST, v, 0}; }
static inline ParamInit param_uniform(real lo, real hi) { return (ParamInit){PARAM_INIT_UNIFORM, lo, hi}; }
static inline ParamInit param_normal(real mean, real std) { return (ParamInit){PARAM_INIT_NORMAL, mean, std}; }

typedef struct {
    char name[PARAM_NAME_MAX];
    int ndim;
    int shape[PARAM_MAX_DIMS];
    size_t offset;   // in floats, into ParamSet.data
    size_t numel;
    ParamKind kind;
    ParamInit init;
} ParamSpec;

// A declared tensor as forward and backward use it, filled by params_finalize.
typedef struct {
    real *v;   // values, a view into ParamSet.data
    real *g;   // gradient, a view into ParamSet.grad; NULL unless PARAM_TRAINABLE
    int i;     // declaration index (params_mark_ready, the spec for name and shape)
} PTensor;

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
    // declaration state, until params_finalize
    PTensor **bind;      // [cap] the PTensor each tensor fills (NULL: none)
    int decl_failed;     // a declaration failed (out of memory, name too long): finalize fails
} ParamSet;

// Declare a tensor; returns its index, or -1 (out of memory). Call params_finalize once all are
// declared: it orders trainable tensors first (stable), allocates the buffers (zeroed) and fixes offsets.
int params_declare(ParamSet *ps, const char *name, ParamKind kind, int ndim, const int *shape);
// The network idiom: declares the tensor named by fmt (printf) with its init rule, and makes
// params_finalize fill *t (t may be NULL). Returns the index, or -1 when out of memory or the name
// does not fit PARAM_NAME_MAX; a failure is also remembered, and params_finalize then fails, so a
// build may declare everything and check once.
int params_add(ParamSet *ps, PTensor *t, ParamKind kind, ParamInit init, int ndim, const int *shape,
               const char *fmt, ...) __attribute__((format(printf, 7, 8)));
// 0 on success; -1 on allocation failure or when a declaration failed.
int params_finalize(ParamSet *ps);
void params_free(ParamSet *ps);
// Applies tensor i's init rule; random rules draw from (key, counter) (rng_fill_*): each network
// chooses the counter of each tensor (its index, a hash of its name, ...).
void params_init_tensor(ParamSet *ps, int i, RngKey key, uint64_t counter);

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
