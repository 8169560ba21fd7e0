// test_syncbn: the sync-BatchNorm hook turns per-rank BatchNorm sums into global ones. Ranks hold
// different numbers of samples (rank r: r + 2 rows of C channels); after the hook, the mean and
// variance every rank derives equal those of all rows together, computed here directly from the
// regenerated data of every rank (relative error ≤ 1e-12), and the count is the global row count.
// Budget (double, u64 = 2^-53): sums of <= 9 rows of |x| <= 6.3 in another grouping, then E[x²] - mean²
// against the two-pass formula: <= 2·9·u64·(E[x²] + mean²) <= 2·9·u64·80 = 1.6e-13 of max(var, 1).
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "dist/rank.h"
#include "dist/syncbn.h"
#include "testutil.h"

enum { C = 5 };
static double x_of(int r, int row, int c) { return sin(1.0 + r * 7.3 + row * 1.7 + c * 0.9) * (1 + c) + 0.1 * r; }

int main(int argc, char **argv) {
    DpInfo info;
    Err e = {{0}};
    if (dp_init(&argc, &argv, 1, &info, &e) != 0) dp_abort(e.msg, 2);
    int r = info.rank, W = info.size, rows = r + 2;
    double sums[2 * C] = {0}, count = rows;
    for (int i = 0; i < rows; i++)
        for (int c = 0; c < C; c++) {
            sums[c] += x_of(r, i, c);
            sums[C + c] += x_of(r, i, c) * x_of(r, i, c);
        }
    DpSyncBn sbn = {0};
    TU_CHECK(dp_sync_bn_hook(&sbn, sums, 2 * C, &count) == 0, "hook failed: %s", sbn.err.msg);
    TU_CHECK(sbn.calls == 1, "calls %ld", sbn.calls);
    double want_count = 0;
    for (int q = 0; q < W; q++) want_count += q + 2;
    TU_CHECK(count == want_count, "count %g, want %g", count, want_count);
    double worst = 0;
    for (int c = 0; c < C; c++) {
        // Two-pass statistics over every rank's rows: an independent route to the same numbers.
        double mean = 0, var = 0;
        for (int q = 0; q < W; q++)
            for (int i = 0; i < q + 2; i++) mean += x_of(q, i, c);
        mean /= want_count;
        for (int q = 0; q < W; q++)
            for (int i = 0; i < q + 2; i++) var += (x_of(q, i, c) - mean) * (x_of(q, i, c) - mean);
        var /= want_count;
        double got_mean = sums[c] / count, got_var = sums[C + c] / count - got_mean * got_mean;
        double em = fabs(got_mean - mean) / fmax(fabs(mean), 1.0), ev = fabs(got_var - var) / fmax(var, 1.0);
        worst = fmax(worst, fmax(em, ev));
    }
    TU_CHECK(worst <= 1e-12, "global mean/var relative error %.3g > 1e-12", worst);
    if (r == 0) printf("sync BN on %d ranks: %g rows, mean/var relative error %.3g\n", W, count, worst);
    int fails = tu_failures, all = 0;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    tu_failures = all;
    int rc = tu_done("dist_syncbn");
    dp_finalize(&info);
    return rc;
}
