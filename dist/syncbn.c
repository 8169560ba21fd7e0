#include "dist/syncbn.h"
#include <stdlib.h>
#include <string.h>
#include "core/netg.h"
#include "dist/grads.h"

// The compiler checks that the hook keeps matching what netg calls.
static const NetgBnHook hook_type_check __attribute__((unused)) = dp_sync_bn_hook;

int dp_sync_bn_hook(void *ctx, double *sums, int n, double *count) {
    DpSyncBn *s = ctx;
    // One reduction for the sums and the count: [sums..., count]. n is 2·C (≤ a few thousand).
    double stack[1025];
    double *buf = n + 1 <= 1025 ? stack : malloc((size_t)(n + 1) * sizeof(double));
    if (!buf) return err_set(s ? &s->err : NULL, "dist/syncbn: out of memory for %d sums", n);
    memcpy(buf, sums, (size_t)n * sizeof(double));
    buf[n] = *count;
    int rc = dp_allreduce_sum_doubles(buf, n + 1, s ? &s->err : NULL);
    if (rc == 0) {
        memcpy(sums, buf, (size_t)n * sizeof(double));
        *count = buf[n];
    }
    if (buf != stack) free(buf);
    if (s) s->calls++;
    return rc;
}
