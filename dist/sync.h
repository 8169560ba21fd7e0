// sync: keeping replicas identical. Rank 0's state is broadcast at start (or resume); checksums of
// every rank's parameters are compared at start and every N steps; strings that must agree across
// ranks (the dataset shard list, the resolved config) are compared by hash. All over MPI_COMM_WORLD,
// with the default timeout of dist/watch.h; every rank gets the same verdict, so all stop together.
#pragma once
#include <stdint.h>
#include "core/err.h"
#include "core/params.h"

// Broadcasts from root: data (trainable, frozen and buffers), Adam m, v and step.
int dp_broadcast_params(ParamSet *ps, int root, Err *e);
// Allgathers params_checksum; a mismatch names the ranks that differ from rank 0 (`name`: "G", "D").
int dp_check_replicas(const ParamSet *ps, const char *name, Err *e);
// The same over trainable and frozen values only: per-rank BatchNorm statistics (model.sync_bn off,
// upstream's default) legitimately differ between ranks.
int dp_check_replicas_values(const ParamSet *ps, const char *name, Err *e);
// Same for a string (hash and length): "what" names it in the error, e.g. "dataset shard list".
int dp_check_same_string(const char *what, const char *s, Err *e);
// Broadcasts a string from root into a malloc'd copy on every rank (*out; the root gets a copy too).
int dp_broadcast_string(const char *s, int root, char **out, Err *e);
// FNV-1a 64 of n bytes (exposed for tests).
uint64_t dp_hash_bytes(const void *p, size_t n);
