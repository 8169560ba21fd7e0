// test_sync: start-up facts, parameter broadcast, replica checksums and cross-rank string checks.
// - dp_init: world/local sizes agree with what mpirun started (single node here), launcher = mpirun;
// - after dp_broadcast_params from root r every rank holds rank r's data, Adam m/v and step, and
//   dp_check_replicas passes; perturbing one rank (or two) makes every rank fail with a message that
//   names exactly the perturbed ranks;
// - dp_check_same_string passes for equal strings and names the rank that sees a different one;
// - dp_broadcast_string delivers the root's string.
#include <stdlib.h>
#include <string.h>
#include "dist/grads.h"
#include "dist/rank.h"
#include "dist/sync.h"
#include "dist_fixture.h"
#include "testutil.h"

static int g_rank, g_size;

static float value_of(int r, size_t i, int which) { return (float)(r * 1000 + which * 100) + (float)(i % 97) * 0.125f; }

static void fill_rank_state(ParamSet *ps, int r) {
    for (size_t i = 0; i < ps->total; i++) ps->data[i] = value_of(r, i, 0);
    for (size_t i = 0; i < ps->n_trainable; i++) {
        ps->adam_m[i] = value_of(r, i, 1);
        ps->adam_v[i] = value_of(r, i, 2);
    }
    ps->adam_step = 5 + r;
}

static void check_holds(const ParamSet *ps, int r) {
    size_t bad = 0;
    for (size_t i = 0; i < ps->total; i++) bad += ps->data[i] != value_of(r, i, 0);
    for (size_t i = 0; i < ps->n_trainable; i++) bad += ps->adam_m[i] != value_of(r, i, 1) || ps->adam_v[i] != value_of(r, i, 2);
    TU_CHECK(bad == 0 && ps->adam_step == 5 + r, "rank %d: %zu values / step %ld differ from root %d's", g_rank, bad,
             ps->adam_step, r);
}

// Every rank must return the same verdict; when it fails, the message must name `want` exactly.
static void expect_replicas(const ParamSet *ps, const char *want, const char *case_name) {
    Err e = {{0}};
    int rc = dp_check_replicas(ps, "G", &e);
    if (!want) {
        TU_CHECK(rc == 0, "%s: replicas reported different: %s", case_name, e.msg);
        return;
    }
    TU_CHECK(rc == -1, "%s: the perturbed replica was not detected", case_name);
    TU_CHECK(strstr(e.msg, want) != NULL, "%s: message does not say '%s': %s", case_name, want, e.msg);
    if (g_rank == 0) printf("%s: %s\n", case_name, e.msg);
}

int main(int argc, char **argv) {
    DpInfo info;
    Err e = {{0}};
    if (dp_init(&argc, &argv, 0, &info, &e) != 0) dp_abort(e.msg, 2);
    g_rank = info.rank;
    g_size = info.size;
    const char *np = getenv("OMPI_COMM_WORLD_SIZE");
    if (np) {
        TU_CHECK(info.launcher == DP_LAUNCH_MPIRUN, "launcher %s under mpirun", dp_launcher_name(info.launcher));
        TU_CHECK(info.size == atoi(np), "world size %d, mpirun started %s", info.size, np);
    }
    TU_CHECK(info.local_size == info.size && info.n_nodes == 1 && info.local_rank == info.rank,
             "single node: local %d/%d, %d nodes", info.local_rank, info.local_size, info.n_nodes);
    TU_CHECK(info.threads >= 1, "threads %d", info.threads);
    char want_start[64];
    snprintf(want_start, sizeof want_start, "%d rank%s on 1 node", info.size, info.size == 1 ? "" : "s");
    TU_CHECK(strstr(info.startup, want_start) != NULL, "start-up line '%s' lacks '%s'", info.startup, want_start);
    if (g_rank == 0) printf("%s\n", info.startup);

    ParamSet ps;
    fixture_params(&ps);
    for (int root = 0; root < g_size; root += (g_size > 1 ? g_size - 1 : 1)) {
        fill_rank_state(&ps, g_rank);
        TU_CHECK(dp_broadcast_params(&ps, root, &e) == 0, "broadcast from %d: %s", root, e.msg);
        check_holds(&ps, root);
        expect_replicas(&ps, NULL, "after broadcast");
    }
    if (g_size > 1) {
        int last = g_size - 1;
        float keep = ps.data[17];
        if (g_rank == last) ps.data[17] += 1.0f;
        char want[32];
        snprintf(want, sizeof want, "rank %d differ", last);
        expect_replicas(&ps, want, "one rank perturbed");
        if (g_rank == last) ps.data[17] = keep;
        // A buffer (BatchNorm statistics) counts too, not only trainable tensors.
        size_t buf_at = ps.total - 1;
        keep = ps.data[buf_at];
        if (g_rank == last) ps.data[buf_at] = -1.0f;
        expect_replicas(&ps, want, "a buffer perturbed");
        if (g_rank == last) ps.data[buf_at] = keep;
        if (g_size > 2) {
            if (g_rank >= 1) ps.data[3] += (float)g_rank;
            expect_replicas(&ps, "ranks 1, 2 differ", "two ranks perturbed");
            if (g_rank >= 1) ps.data[3] -= (float)g_rank;
        }
        expect_replicas(&ps, NULL, "restored");
    }

    // Strings every rank must agree on.
    TU_CHECK(dp_check_same_string("dataset shard list", "train-00000-of-00002.h5\ntrain-00001-of-00002.h5", &e) == 0,
             "equal strings reported different: %s", e.msg);
    if (g_size > 1) {
        const char *mine = g_rank == g_size - 1 ? "train-00000-of-00002.h5" : "train-00000-of-00002.h5\ntrain-00001-of-00002.h5";
        int rc = dp_check_same_string("dataset shard list", mine, &e);
        char want[64];
        snprintf(want, sizeof want, "rank %d sees a different", g_size - 1);
        TU_CHECK(rc == -1 && strstr(e.msg, want) && strstr(e.msg, "dataset shard list"),
                 "differing shard list not named: rc %d, %s", rc, e.msg);
        if (g_rank == 0) printf("differing strings: %s\n", e.msg);
    }
    char *got = NULL;
    const char *cfg = "{\"train\": {\"batch_per_rank\": 8}}";
    TU_CHECK(dp_broadcast_string(g_rank == 0 ? cfg : "ignored", 0, &got, &e) == 0 && got && strcmp(got, cfg) == 0,
             "dp_broadcast_string gave '%s' (%s)", got ? got : "(null)", e.msg);
    free(got);

    params_free(&ps);
    int fails = tu_failures, all_fails = 0;
    MPI_Allreduce(&fails, &all_fails, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    tu_failures = all_fails;
    int rc = tu_done("dist_sync");
    dp_finalize(&info);
    return rc;
}
