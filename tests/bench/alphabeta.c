// bench_alphabeta: the interconnect constants of the scaling model (issue 16), for whatever transport
// Open MPI picks between the ranks it is started on (shared memory on one node, TCP between the
// namespaced nodes of tests/cluster/cluster.sh):
//   pingpong   rank 0 <-> rank 1, messages of 8 B .. max bytes: one-way time = round trip / 2, fastest
//              of the repetitions; fitted to t(n) = alpha + n * beta (alpha from the small messages,
//              beta from the slope between the two largest)
//   allreduce  MPI_Allreduce (float sum) over every rank, the same sizes: fastest and median time
// Output: one line per measurement ("pingpong BYTES SECONDS", "allreduce RANKS BYTES MIN MEDIAN") and
// "fit alpha_s A beta_s_per_byte B" (rank 0). usage: mpirun -np N bench_alphabeta [max MiB (64)]
#include <mpi.h>
#include <stdio.h>
#include "dist/watch.h"
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// repetitions for a message of n bytes: many for small ones (timer resolution, noise), few for big
static int reps_for(size_t n) { return n <= 4096 ? 200 : n <= (1 << 20) ? 40 : 8; }

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    size_t max = (size_t)(argc > 1 ? atof(argv[1]) : 64) * (1 << 20);
    char *buf = calloc(max, 1), *out = calloc(max, 1);
    double *t = malloc(256 * sizeof(double));
    if (!buf || !out || !t) MPI_Abort(MPI_COMM_WORLD, 1);
    double alpha = 0, t_prev = 0, n_prev = 0, beta = 0;
    for (size_t n = 8; n <= max; n *= 4) {
        if (size >= 2 && rank < 2) {
            int reps = reps_for(n), peer = 1 - rank;
            double best = 1e30;
            for (int r = -2; r < reps; r++) {   // two warm-up round trips
                double t0 = MPI_Wtime();
                if (rank == 0) {
                    MPI_Send(buf, (int)n, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
                    MPI_Recv(out, (int)n, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                } else {
                    MPI_Recv(out, (int)n, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    MPI_Send(buf, (int)n, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
                }
                double dt = (MPI_Wtime() - t0) / 2;
                if (r >= 0 && dt < best) best = dt;
            }
            if (rank == 0) {
                printf("pingpong %zu %.9f\n", n, best);
                if (n == 8) alpha = best;
                if (n_prev > 0) beta = (best - t_prev) / ((double)n - n_prev);   // the last pair wins
                t_prev = best;
                n_prev = (double)n;
            }
        }
        MPI_Barrier(MPI_COMM_WORLD);
        int reps = reps_for(n) < 128 ? reps_for(n) : 128, count = (int)(n / sizeof(float));
        if (count < 1) count = 1;
        for (int r = -2; r < reps; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(buf, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double dt = MPI_Wtime() - t0, slowest;
            MPI_Reduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);   // the collective ends with its last rank
            if (r >= 0) t[r] = slowest;
        }
        if (rank == 0) {
            qsort(t, (size_t)reps, sizeof(double), cmp_double);
            printf("allreduce %d %zu %.9f %.9f\n", size, (size_t)count * sizeof(float), t[0], t[reps / 2]);
        }
    }
    if (rank == 0 && size >= 2) printf("fit alpha_s %.9g beta_s_per_byte %.9g\n", alpha, beta);
    // a wait point as ratlip's collectives have it (dist/watch.c: arrival messages to every peer, deadline
    // polling) against a plain MPI_Wait, on an MPI_Ibarrier: the difference is what stall detection
    // costs per wait point at this rank count
    double per[2];
    for (int watched = 0; watched < 2; watched++) {
        const int reps = 2000;
        Err e = {{0}};
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int r = 0; r < reps; r++) {
            MPI_Request req;
            MPI_Ibarrier(MPI_COMM_WORLD, &req);
            if (watched) {
                if (dp_wait_one(&req, "bench wait point", &e)) MPI_Abort(MPI_COMM_WORLD, 1);
            } else {
                MPI_Wait(&req, MPI_STATUS_IGNORE);
            }
        }
        per[watched] = (MPI_Wtime() - t0) / reps;
    }
    if (rank == 0) printf("waitpoint %d plain_s %.9g watched_s %.9g\n", size, per[0], per[1]);
    dp_watch_shutdown();
    free(buf), free(out), free(t);
    MPI_Finalize();
    return 0;
}
