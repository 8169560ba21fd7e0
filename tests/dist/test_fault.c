// test_fault: a training-like loop of bucketed gradient reductions in which one rank misbehaves.
//   test_fault stall R T   rank R sleeps 4*T s before its third step; the others' finish has timeout T,
//                          must report "ranks not arrived: R" and end the job (dp_abort, status 3)
//   test_fault check R T   like stall, but rank R stalls before the replica check (dp_check_replicas:
//                          the helpers' path, default timeout T); the others must name R
//   test_fault kill R      rank R sends itself SIGKILL in its third step, after marking half its
//                          tensors; mpirun must end the job (non-zero) and name the rank
// Run through expect_fail.sh, which asserts the non-zero status, the message and the elapsed time.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dist/grads.h"
#include "dist/rank.h"
#include "dist/sync.h"
#include "dist_fixture.h"

int main(int argc, char **argv) {
    DpInfo info;
    Err e = {{0}};
    if (dp_init(&argc, &argv, 1, &info, &e) != 0) dp_abort(e.msg, 2);
    if (argc < 3) dp_abort("usage: test_fault stall|kill RANK [TIMEOUT_S]", 2);
    int stall = strcmp(argv[1], "stall") == 0, check = strcmp(argv[1], "check") == 0;
    int bad = atoi(argv[2]);
    double timeout_s = argc > 3 ? atof(argv[3]) : 20.0;
    dp_set_timeout(timeout_s);
    ParamSet ps;
    fixture_params(&ps);
    DpGrads g;
    if (dp_grads_init(&g, &ps, MPI_COMM_WORLD, 4.0, &e) != 0) dp_abort(e.msg, 2);
    for (int step = 0; step < 6; step++) {
        if (info.rank == bad && step == 2 && stall) {
            fprintf(stderr, "test_fault: rank %d stalls for %.1f s\n", bad, 4 * timeout_s);
            usleep((useconds_t)(4 * timeout_s * 1e6));
        }
        if (check) {
            if (info.rank == bad && step == 2) usleep((useconds_t)(4 * timeout_s * 1e6));
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
    dp_grads_free(&g);
    params_free(&ps);
    dp_finalize(&info);
    return 0;  // reaching here means the fault went unnoticed: expect_fail.sh fails the test
}
