// test_fault: a training-like loop of bucketed gradient reductions in which one rank misbehaves.
//   test_fault stall R T   rank R sleeps 4*T s before its third step; the others' finish has timeout T,
//                          must report "ranks not arrived: R" and end the job (dp_abort, status 3)
//   test_fault check R T   like stall, but rank R stalls before the replica check (dp_check_replicas:
//                          the helpers' path, default timeout T); the others must name R
//   test_fault kill R      rank R sends itself SIGKILL in its third step, after marking half its
//                          tensors; mpirun must end the job (non-zero) and name the rank
//   test_fault order R T   rank R goes one wait point ahead of the others (an extra wait that completes,
//                          then one that never does): the others must report that R waits at another
//                          wait point (collectives called in different orders)
// Run through expect_fail.sh, which asserts the non-zero status, the message and the elapsed time.
//   test_fault quiet R T   no fault: 12 steps of gradient reductions and replica checks, rank R late by
//                          1.5 grace periods once. Exits 0 only if healthy wait points sent no arrival
//                          messages and the one slow wait point sent them on every rank (dist/watch.h).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dist/grads.h"
#include "dist/rank.h"
#include "dist/sync.h"
#include "dist/watch.h"
#include "dist_fixture.h"

int main(int argc, char **argv) {
    DpInfo info;
    Err e = {{0}};
    if (dp_init(&argc, &argv, 1, &info, &e) != 0) dp_abort(e.msg, 2);
    if (argc < 3) dp_abort("usage: test_fault stall|check|kill|order|quiet RANK [TIMEOUT_S]", 2);
    int stall = strcmp(argv[1], "stall") == 0, check = strcmp(argv[1], "check") == 0;
    int order = strcmp(argv[1], "order") == 0, quiet = strcmp(argv[1], "quiet") == 0;
    int bad = atoi(argv[2]);
    double timeout_s = argc > 3 ? atof(argv[3]) : 20.0;
    dp_set_timeout(timeout_s);
    ParamSet ps;
    fixture_params(&ps);
    DpGrads g;
    if (dp_grads_init(&g, &ps, MPI_COMM_WORLD, 4.0, &e) != 0) dp_abort(e.msg, 2);
    if (quiet || order) check = 1;
    int steps = quiet ? 12 : 6;
    DpArrival *world = dp_world_arrival(&e);
    for (int step = 0; step < steps; step++) {
        if (order && info.rank == bad && step == 2) {
            // one wait point that completes at once (a message to itself), then one that never does
            MPI_Request r[2];
            int v = 1, w = 0;
            MPI_Irecv(&w, 1, MPI_INT, info.rank, 99, MPI_COMM_WORLD, &r[0]);
            MPI_Isend(&v, 1, MPI_INT, info.rank, 99, MPI_COMM_WORLD, &r[1]);
            if (dp_wait_one(&r[0], "test_fault: an extra wait point", &e) != 0) dp_abort(e.msg, 3);
            MPI_Wait(&r[1], MPI_STATUS_IGNORE);
            MPI_Irecv(&w, 1, MPI_INT, info.rank, 98, MPI_COMM_WORLD, &r[0]);
            if (dp_wait_one(&r[0], "test_fault: a wait point nobody else is at", &e) != 0) dp_abort(e.msg, 3);
        }
        if (quiet && info.rank == bad && step == 5) usleep((useconds_t)(1.5 * DP_ARRIVAL_GRACE_S * 1e6));
        if (info.rank == bad && step == 2 && stall) {
            fprintf(stderr, "test_fault: rank %d stalls for %.1f s\n", bad, 4 * timeout_s);
            usleep((useconds_t)(4 * timeout_s * 1e6));
        }
        if (check) {
            if (info.rank == bad && step == 2 && !order && !quiet) usleep((useconds_t)(4 * timeout_s * 1e6));
            if (dp_check_replicas(&ps, "G", &e) != 0) dp_abort(e.msg, 3);
        }
        for (size_t i = 0; i < ps.n_trainable; i++) ps.grad[i] = (float)(info.rank + 1);
        dp_grads_begin(&g);
        for (int t = ps.count - 1; t >= 0; t--) {
            if (info.rank == bad && step == 2 && !stall && !check && t == ps.count / 2) {
                fprintf(stderr, "test_fault: rank %d kills itself\n", bad);
                fflush(stderr);
                raise(SIGKILL);
            }
            if (dp_grads_mark_ready(&g, t, &e) != 0) dp_abort(e.msg, 3);
        }
        if (dp_grads_finish(&g, timeout_s, &e) != 0) dp_abort(e.msg, 3);
        if (info.rank == 0) printf("test_fault: step %d done (finish waited %.4f s)\n", step, g.finish_wait_s);
        fflush(stdout);
    }
    if (quiet) {
        // healthy wait points: none posted; the slow replica check at step 5: every rank posted there
        long slow_world = world ? world->n_posted : -1, slow_grads = g.arrival.n_posted;
        printf("test_fault quiet: rank %d: wait points with arrival messages: world %ld (of %ld), gradients %ld "
               "(of %ld)\n", info.rank, slow_world, world ? world->seq : -1, slow_grads, g.arrival.seq);
        int ok = slow_world == 1 && slow_grads == 0, all_ok = 0;
        MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        dp_grads_free(&g);
        params_free(&ps);
        dp_finalize(&info);
        if (info.rank == 0) printf(all_ok ? "test_fault quiet: ok\n" : "test_fault quiet: FAIL\n");
        return all_ok ? 0 : 1;
    }
    dp_grads_free(&g);
    params_free(&ps);
    dp_finalize(&info);
    return 0;  // reaching here means the fault went unnoticed: expect_fail.sh fails the test
}
