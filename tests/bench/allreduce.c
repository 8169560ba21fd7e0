// bench_allreduce: the communication half of tests/bench/scaling, runnable before `ratlip train`:
//   mpirun -np 2 build/tests/bench/bench_allreduce [MiB=16] [bucket_kib=4096] [backward_ms=200]
// on a gradient buffer of MiB cut into 64 tensors, prints
//   1. plain MPI_Allreduce of the whole buffer vs DpGrads (bucketed MPI_Iallreduce + deadline polling)
//      with nothing to overlap: time and algorithm bandwidth (bytes / time), and their ratio;
//   2. a simulated backward of backward_ms (busy arithmetic, per tensor in proportion to its size):
//      serial (backward, then reduce everything) vs overlapped (mark_ready per tensor): step time and
//      the share of the step spent waiting in dp_grads_finish (the exposed allreduce).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/kernels.h"
#include "core/params.h"
#include "dist/grads.h"
#include "dist/rank.h"

enum { TENSORS = 64, REPS = 5 };
static volatile double sink;

// Busy "backward" work: a fixed amount of arithmetic (not a wall-clock spin, which on a shared,
// oversubscribed machine overshoots by a scheduler slice per call and penalises many short calls).
static double blocks_per_ms = 0;
static void work(long blocks) {
    double s = sink;
    for (long b = 0; b < blocks; b++)
        for (int i = 0; i < 1000; i++) s += sqrt((double)i + s * 1e-30);
    sink = s;
}
static void calibrate(void) {
    long blocks = 64;
    for (;;) {
        double t0 = MPI_Wtime();
        work(blocks);
        double ms = (MPI_Wtime() - t0) * 1e3;
        if (ms > 50) {
            blocks_per_ms = blocks / ms;
            return;
        }
        blocks *= 2;
    }
}
static void spin_ms(double ms) { work((long)(ms * blocks_per_ms)); }

static int cmp(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }
static double median(double *v, int n) { qsort(v, (size_t)n, sizeof(double), cmp); return v[n / 2]; }

int main(int argc, char **argv) {
    DpInfo info;
    Err e = {{0}};
    if (dp_init(&argc, &argv, 1, &info, &e) != 0) dp_abort(e.msg, 2);
    double mib = argc > 1 ? atof(argv[1]) : 16, kib = argc > 2 ? atof(argv[2]) : 4096, bwd_ms = argc > 3 ? atof(argv[3]) : 200;
    ParamSet ps = {0};
    int per = (int)(mib * 1024 * 1024 / sizeof(float) / TENSORS);
    for (int t = 0; t < TENSORS; t++) {
        char name[32];
        snprintf(name, sizeof name, "layer%02d.weight", t);
        params_declare(&ps, name, PARAM_TRAINABLE, 1, &per);
    }
    if (params_finalize(&ps) != 0) dp_abort("out of memory", 2);
    size_t n = ps.n_trainable;
    double bytes = (double)n * sizeof(float);
    calibrate();
    DpGrads g;
    if (dp_grads_init(&g, &ps, MPI_COMM_WORLD, kib, &e) != 0) dp_abort(e.msg, 2);
    double t_plain[REPS], t_dp[REPS], t_serial[REPS], t_over[REPS], w_serial[REPS], w_over[REPS];
    for (int r = 0; r < REPS; r++) {
        for (size_t i = 0; i < n; i++) ps.grad[i] = 1.0f;
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, ps.grad, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        t_plain[r] = MPI_Wtime() - t0;

        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        dp_grads_begin(&g);
        for (int t = TENSORS - 1; t >= 0; t--) dp_grads_mark_ready(&g, t, &e);
        if (dp_grads_finish(&g, 300, &e) != 0) dp_abort(e.msg, 3);
        t_dp[r] = MPI_Wtime() - t0;

        MPI_Barrier(MPI_COMM_WORLD);  // serial: the whole backward, then every bucket
        t0 = MPI_Wtime();
        dp_grads_begin(&g);
        spin_ms(bwd_ms);
        if (dp_grads_finish(&g, 300, &e) != 0) dp_abort(e.msg, 3);
        t_serial[r] = MPI_Wtime() - t0;
        w_serial[r] = g.finish_wait_s;

        MPI_Barrier(MPI_COMM_WORLD);  // overlapped: each tensor's share of the backward, then mark it
        t0 = MPI_Wtime();
        dp_grads_begin(&g);
        for (int t = TENSORS - 1; t >= 0; t--) {
            spin_ms(bwd_ms / TENSORS);
            dp_grads_mark_ready(&g, t, &e);
        }
        if (dp_grads_finish(&g, 300, &e) != 0) dp_abort(e.msg, 3);
        t_over[r] = MPI_Wtime() - t0;
        w_over[r] = g.finish_wait_s;
    }
    if (info.rank == 0) {
        double tp = median(t_plain, REPS), td = median(t_dp, REPS);
        double ts = median(t_serial, REPS), to = median(t_over, REPS);
        double ws = median(w_serial, REPS), wo = median(w_over, REPS);
        printf("%s\n%s\n", kern_cpu_line(), info.startup);
        printf("buffer %.1f MiB in %d tensors, %d buckets of ~%.0f KiB, backward %.0f ms, median of %d\n", bytes / 1048576,
               TENSORS, g.n_buckets, kib, bwd_ms, REPS);
        printf("%-34s %10s %12s\n", "reduction", "time ms", "algbw GB/s");
        printf("%-34s %10.2f %12.2f\n", "plain MPI_Allreduce", tp * 1e3, bytes / tp / 1e9);
        printf("%-34s %10.2f %12.2f   (%.2fx plain's bandwidth)\n", "DpGrads (bucketed, no overlap)", td * 1e3,
               bytes / td / 1e9, tp / td);
        printf("%-34s %10s %12s\n", "step", "time ms", "wait share");
        printf("%-34s %10.2f %11.1f%%\n", "backward then reduce (serial)", ts * 1e3, 100 * ws / ts);
        printf("%-34s %10.2f %11.1f%%\n", "overlapped (mark_ready per tensor)", to * 1e3, 100 * wo / to);
    }
    dp_grads_free(&g);
    params_free(&ps);
    dp_finalize(&info);
    return 0;
}
