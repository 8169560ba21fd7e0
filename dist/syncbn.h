// syncbn: synchronised BatchNorm across ranks (model.sync_bn). The generator's BatchNorm calls a hook
// on its per-channel double sums (core/netg.h NetgBnHook); this one replaces them, and the sample
// count, by their sums over all ranks, so every rank normalises with the global batch statistics
// and the backward sees the global {Σdy, Σdy·x̂}. With it, W ranks × batch B compute what 1 rank ×
// batch W·B computes.
//
//   DpSyncBn sbn = {0};  net.bn_hook = dp_sync_bn_hook;  net.bn_hook_ctx = &sbn;
//   if (netg_forward(...) != 0) → the message is in sbn.err
#pragma once
#include "core/err.h"

typedef struct {
    Err err;      // filled when the hook fails (a stalled rank: the default timeout of dist/watch.h)
    long calls;   // hook calls so far (forward and backward)
} DpSyncBn;

// Matches NetgBnHook: sums[n] and *count are replaced by their global sums. 0, or -1 with ctx->err.
int dp_sync_bn_hook(void *ctx, double *sums, int n, double *count);
