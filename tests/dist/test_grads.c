// test_grads: bucketed, overlapped gradient averaging (run with 1, 2 and 3 ranks).
// - the bucket layout tiles [0, n_trainable) backwards on tensor boundaries, for a bucket smaller than
//   a tensor, a medium one, and one larger than the whole buffer;
// - every rank ends with exactly the average of the ranks' buffers (values chosen so the sum is exact
//   in float: the only rounding is the final 1/W scale, ≤ 1 ulp; bit-exact for W = 1, 2), and the
//   replicas' buffers are bitwise identical;
// - marking tensors ready in reverse order starts every bucket before finish is called (overlap);
//   forward order, partial marking, repeated marks and non-trainable marks also give the right result.
// - in the steady state, averaging a multi-MiB buffer takes (almost) no page faults per step: Open MPI's
//   non-blocking allreduce mallocs a bucket-sized scratch buffer per call, and with glibc's default
//   thresholds every one was a fresh mmap whose pages faulted in and were unmapped again (17 % of a
//   2-rank demo step, issue 14); dp_init keeps such blocks in the heap (dp_tune_malloc).
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include "dist/grads.h"
#include "dist/rank.h"
#include "dist/sync.h"
#include "dist_fixture.h"
#include "testutil.h"

static int g_rank, g_size;

// Rank r's gradient value at i: a multiple of 1/4 with |.| < 2^10, so sums over ≤ 8 ranks are exact.
// Not proportional to one pattern, so the average over 3 ranks is not exactly representable.
static float grad_value(int r, size_t i) {
    return (float)((r * r + 1) * ((long)((i * 7 + 3) % 201) - 100)) * 0.25f + (float)r;
}

static void fill(ParamSet *ps) {
    for (size_t i = 0; i < ps->n_trainable; i++) ps->grad[i] = grad_value(g_rank, i);
}

static void check_average(const ParamSet *ps, const char *what) {
    size_t bad = 0, first_bad = 0;
    double worst_ulps = 0;
    for (size_t i = 0; i < ps->n_trainable; i++) {
        double sum = 0;
        for (int r = 0; r < g_size; r++) sum += grad_value(r, i);
        float want = (float)(sum / g_size);  // correctly rounded average
        double ulp = want == 0 ? 0 : ldexp(1.0, ilogb(want) - 23);
        double diff = fabs((double)ps->grad[i] - (double)want);
        double ulps = ulp > 0 ? diff / ulp : (diff > 0 ? 1e9 : 0);
        if (ulps > worst_ulps) worst_ulps = ulps;
        // W = 1, 2: the 1/W scale is exact, so the result must be too.
        int ok = (g_size <= 2 || (g_size & (g_size - 1)) == 0) ? diff == 0 : ulps <= 1.0;
        if (!ok && bad++ == 0) first_bad = i;
    }
    TU_CHECK(bad == 0, "%s: %zu of %zu values wrong (first at %zu: got %g); worst %.2f ulp", what, bad,
             ps->n_trainable, first_bad, bad ? ps->grad[first_bad] : 0.0f, worst_ulps);
    // Replicas must agree bit for bit, or they drift apart after the optimizer step.
    uint64_t h = dp_hash_bytes(ps->grad, ps->n_trainable * sizeof(float)), h0 = h;
    MPI_Bcast(&h0, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    TU_CHECK(h == h0, "%s: rank %d's averaged gradients differ from rank 0's", what, g_rank);
    if (g_rank == 0) printf("%s: average ok on %d rank(s), worst %.2f ulp\n", what, g_size, worst_ulps);
}

static void check_layout(const DpGrads *g, const ParamSet *ps, double kib) {
    size_t target = (size_t)(kib * 1024 / sizeof(float));
    TU_CHECK(g->n_buckets >= 1, "no buckets");
    TU_CHECK(g->buckets[0].end == ps->n_trainable, "bucket 0 ends at %zu, want %zu (the last tensors first)",
             g->buckets[0].end, ps->n_trainable);
    TU_CHECK(g->buckets[g->n_buckets - 1].begin == 0, "the last bucket does not start at 0");
    int tensors = 0;
    for (int b = 0; b < g->n_buckets; b++) {
        const DpBucket *k = &g->buckets[b];
        tensors += k->n_tensors;
        if (b + 1 < g->n_buckets)
            TU_CHECK(g->buckets[b + 1].end == k->begin, "bucket %d does not continue bucket %d", b + 1, b);
        if (b + 1 < g->n_buckets)
            TU_CHECK(k->end - k->begin >= target, "bucket %d has %zu floats, under the target %zu", b,
                     k->end - k->begin, target);
        // Boundaries fall on tensor starts.
        int starts_on_tensor = 0;
        for (int i = 0; i < ps->count; i++)
            if (ps->specs[i].kind == PARAM_TRAINABLE && ps->specs[i].offset == k->begin) starts_on_tensor = 1;
        TU_CHECK(starts_on_tensor, "bucket %d begins at %zu, inside a tensor", b, k->begin);
    }
    int trainable = 0;
    for (int i = 0; i < ps->count; i++) trainable += ps->specs[i].kind == PARAM_TRAINABLE;
    TU_CHECK(tensors == trainable, "buckets hold %d tensors, %d trainable", tensors, trainable);
}

// Stand-in for a layer's backward: enough arithmetic that the bucket reductions have time to run.
static volatile double sink;
static void busy(int iters) {
    double s = 0;
    for (int i = 0; i < iters; i++) s += sqrt((double)i + sink);
    sink = s * 1e-30;
}

// One step: mark tensors in `order` (-1: reverse, +1: forward, 0: only the trainable tensors with odd index)
static void step(DpGrads *g, ParamSet *ps, int order, const char *what) {
    Err e = {{0}};
    fill(ps);
    dp_grads_begin(g);
    if (order == -1)
        for (int i = ps->count - 1; i >= 0; i--) {
            busy(20000);
            TU_CHECK(dp_grads_mark_ready(g, i, &e) == 0, "%s: mark %d: %s", what, i, e.msg);
        }
    else if (order == 1)
        for (int i = 0; i < ps->count; i++) {
            TU_CHECK(dp_grads_mark_ready(g, i, &e) == 0, "%s: mark %d: %s", what, i, e.msg);
            TU_CHECK(dp_grads_mark_ready(g, i, &e) == 0, "%s: repeated mark %d: %s", what, i, e.msg);
        }
    else
        for (int i = 1; i < ps->count; i += 2) TU_CHECK(dp_grads_mark_ready(g, i, &e) == 0, "%s: %s", what, e.msg);
    TU_CHECK(dp_grads_mark_ready(g, ps->count, &e) == -1, "%s: an out-of-range index was accepted", what);
    int rc = dp_grads_finish(g, 60.0, &e);
    TU_CHECK(rc == 0, "%s: finish: %s", what, e.msg);
    if (rc == 0) check_average(ps, what);
}

int main(int argc, char **argv) {
    DpInfo info;
    Err e = {{0}};
    if (dp_init(&argc, &argv, 1, &info, &e) != 0) dp_abort(e.msg, 2);
    g_rank = info.rank;
    g_size = info.size;
    ParamSet ps;
    fixture_params(&ps);
    if (g_rank == 0) printf("%s\n%zu trainable floats (%.1f KiB)\n", info.startup, ps.n_trainable,
                            ps.n_trainable * 4 / 1024.0);

    const double sizes_kib[] = {1.0, 16.0, 100000.0};  // < one tensor, mid, > whole buffer
    for (int s = 0; s < 3; s++) {
        DpGrads g;
        if (dp_grads_init(&g, &ps, MPI_COMM_WORLD, sizes_kib[s], &e) != 0) dp_abort(e.msg, 2);
        char what[64];
        check_layout(&g, &ps, sizes_kib[s]);
        if (sizes_kib[s] > 1000) TU_CHECK(g.n_buckets == 1, "a bucket larger than the buffer gave %d buckets", g.n_buckets);
        // 1 KiB (256 floats) is smaller than 4 of the tensors: those are buckets of their own, and no
        // bucket overshoots the target by more than its first tensor.
        if (sizes_kib[s] < 2) {
            TU_CHECK(g.n_buckets == 4, "1 KiB buckets: %d, want 4", g.n_buckets);
            for (int b = 0; b < g.n_buckets; b++)
                TU_CHECK(g.buckets[b].n_tensors <= 2, "1 KiB bucket %d holds %d tensors", b, g.buckets[b].n_tensors);
        }

        snprintf(what, sizeof what, "%.0f KiB buckets, reverse order", sizes_kib[s]);
        step(&g, &ps, -1, what);
        // Overlap: in reverse order every bucket is complete before finish and must have started.
        TU_CHECK(g.started_before_finish == g.n_buckets, "%s: %d of %d buckets started before finish", what,
                 g.started_before_finish, g.n_buckets);
        for (int b = 0; b < g.n_buckets; b++) {
            TU_CHECK(g.buckets[b].t_start >= 0 && g.buckets[b].t_start < g.t_finish,
                     "%s: bucket %d started at %.4f s, backward ended at %.4f s", what, b, g.buckets[b].t_start,
                     g.t_finish);
            if (b > 0)
                TU_CHECK(g.buckets[b].t_start >= g.buckets[b - 1].t_start, "%s: bucket %d started before bucket %d",
                         what, b, b - 1);
        }
        if (g_rank == 0) {
            printf("%s: %d buckets; started before backward end: %d, complete before it: %d; backward %.4f s, "
                   "finish waited %.5f s\n", what, g.n_buckets, g.started_before_finish, g.done_before_finish,
                   g.t_finish, g.finish_wait_s);
            for (int b = 0; b < g.n_buckets && b < 8; b++)
                printf("  bucket %d: floats [%zu, %zu) %d tensors, start %.4f s, done %.4f s\n", b,
                       g.buckets[b].begin, g.buckets[b].end, g.buckets[b].n_tensors, g.buckets[b].t_start,
                       g.buckets[b].t_done);
        }

        snprintf(what, sizeof what, "%.0f KiB buckets, forward order + repeated marks", sizes_kib[s]);
        step(&g, &ps, 1, what);
        TU_CHECK(g.started_before_finish == g.n_buckets, "%s: %d of %d started", what, g.started_before_finish,
                 g.n_buckets);
        // Buckets start in bucket order on every rank (an MPI rule for collectives on one
        // communicator): in forward order none may start before bucket 0, which is ready last.
        for (int b = 1; b < g.n_buckets; b++)
            TU_CHECK(g.buckets[b].t_start >= g.buckets[0].t_start, "%s: bucket %d started before bucket 0", what, b);
        snprintf(what, sizeof what, "%.0f KiB buckets, half the tensors marked", sizes_kib[s]);
        step(&g, &ps, 0, what);
        TU_CHECK(g.steps == 3, "steps counted %ld, want 3", g.steps);
        dp_grads_free(&g);
    }

    // The plain fallbacks.
    size_t n = ps.n_trainable;
    fill(&ps);
    TU_CHECK(dp_allreduce_mean(ps.grad, n, &e) == 0, "dp_allreduce_mean: %s", e.msg);
    check_average(&ps, "dp_allreduce_mean");
    double v[3] = {g_rank, (double)g_rank * g_rank, 1.5};
    TU_CHECK(dp_mean_doubles(v, 3, &e) == 0, "dp_mean_doubles: %s", e.msg);
    // integers summed exactly; the mean is one division (or a multiplication by 1/W: two roundings), so it
    // is within 2·u64·(W-1)² ~ 1e-15 of m/W; 1e-12 absolute
    double m0 = 0, m1 = 0;
    for (int r = 0; r < g_size; r++) m0 += r, m1 += (double)r * r;
    TU_CHECK(fabs(v[0] - m0 / g_size) < 1e-12 && fabs(v[1] - m1 / g_size) < 1e-12 && v[2] == 1.5,
             "dp_mean_doubles gave %g %g %g", v[0], v[1], v[2]);
    double s[2] = {1.0, (double)g_rank};
    TU_CHECK(dp_allreduce_sum_doubles(s, 2, &e) == 0 && s[0] == g_size && s[1] == m0,
             "dp_allreduce_sum_doubles gave %g %g", s[0], s[1]);

    params_free(&ps);

    // Steady state: 4 tensors of 4 MiB in 4 MiB buckets, 3 warm-up steps, then page faults over 8 steps.
    ParamSet big = {0};
    for (int t = 0; t < 4; t++) {
        char name[32];
        snprintf(name, sizeof name, "big.%d.weight", t);
        params_declare(&big, name, PARAM_TRAINABLE, 2, (int[]){1024, 1024});
    }
    if (params_finalize(&big) != 0) dp_abort("big: params_finalize failed", 2);
    DpGrads gb;
    if (dp_grads_init(&gb, &big, MPI_COMM_WORLD, 4096, &e) != 0) dp_abort(e.msg, 2);
    long faults = 0;
    for (int it = 0; it < 11; it++) {
        struct rusage r0, r1;
        getrusage(RUSAGE_SELF, &r0);
        for (size_t i = 0; i < big.n_trainable; i++) big.grad[i] = (float)(i % 7);
        dp_grads_begin(&gb);
        for (int t = big.count - 1; t >= 0; t--) TU_CHECK(dp_grads_mark_ready(&gb, t, &e) == 0, "big: %s", e.msg);
        TU_CHECK(dp_grads_finish(&gb, 60.0, &e) == 0, "big: finish: %s", e.msg);
        getrusage(RUSAGE_SELF, &r1);
        if (it >= 3) faults += r1.ru_minflt - r0.ru_minflt + r1.ru_majflt - r0.ru_majflt;
    }
    TU_CHECK(big.grad[5] == 5.0f, "big: average of equal buffers is %g, want 5", big.grad[5]);
    // One step's buckets are 4096 pages: faulting them in anew every step would be ~32768 here.
    TU_CHECK(faults < 2048, "rank %d: %ld page faults in 8 steady steps of 16 MiB gradient averaging (want < 2048: "
             "a per-step scratch buffer is being mapped and unmapped)", g_rank, faults);
    if (g_rank == 0) printf("steady state: %ld page faults in 8 steps of 16 MiB averaging on rank 0\n", faults);
    dp_grads_free(&gb);
    params_free(&big);

    int fails = tu_failures, all_fails = 0;
    MPI_Allreduce(&fails, &all_fails, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    tu_failures = all_fails;
    int rc = tu_done("dist_grads");
    dp_finalize(&info);
    return rc;
}
