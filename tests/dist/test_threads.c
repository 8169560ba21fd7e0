// test_threads: threads-per-rank precedence and launcher detection (no MPI start needed).
#include <stdlib.h>
#include <string.h>
#include "dist/rank.h"
#include "testutil.h"

static void expect(int explicit_threads, const char *slurm, const char *omp, int cores, int local, int want,
                   const char *want_from) {
    int th = -1;
    const char *from = NULL;
    Err e = {{0}};
    int rc = dp_threads_per_rank(explicit_threads, slurm, omp, cores, local, &th, &from, &e);
    TU_CHECK(rc == 0, "threads(%d,%s,%s,%d,%d) failed: %s", explicit_threads, slurm ? slurm : "-", omp ? omp : "-",
             cores, local, e.msg);
    TU_CHECK(th == want, "threads(%d,%s,%s,%d,%d) = %d, want %d", explicit_threads, slurm ? slurm : "-",
             omp ? omp : "-", cores, local, th, want);
    TU_CHECK(from && strcmp(from, want_from) == 0, "source %s, want %s", from ? from : "(null)", want_from);
}

int main(void) {
    expect(3, "8", "4", 16, 2, 3, "--threads");
    expect(0, "8", "4", 16, 2, 8, "SLURM_CPUS_PER_TASK");
    expect(0, NULL, "4", 16, 2, 4, "OMP_NUM_THREADS");
    expect(0, "", "4,2", 16, 2, 4, "OMP_NUM_THREADS");
    expect(0, NULL, NULL, 16, 4, 4, "cores/local ranks");
    expect(0, NULL, NULL, 2, 3, 1, "cores/local ranks");  // oversubscribed: never 0
    expect(0, NULL, "", 7, 2, 3, "cores/local ranks");

    int th = 0;
    const char *from = NULL;
    Err e = {{0}};
    TU_CHECK(dp_threads_per_rank(0, "eight", NULL, 16, 1, &th, &from, &e) == -1, "malformed SLURM value accepted");
    TU_CHECK(strstr(e.msg, "SLURM_CPUS_PER_TASK") != NULL, "message does not name the variable: %s", e.msg);
    TU_CHECK(dp_threads_per_rank(0, NULL, "0", 16, 1, &th, &from, &e) == -1, "OMP_NUM_THREADS=0 accepted");
    TU_CHECK(strstr(e.msg, "OMP_NUM_THREADS") != NULL, "message does not name the variable: %s", e.msg);

    // Launcher detection: mpirun's variables win over an enclosing Slurm job's.
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("SLURM_PROCID");
    unsetenv("SLURM_STEP_ID");
    int expected = -1;
    TU_CHECK(dp_detect_launcher(&expected) == DP_LAUNCH_SINGLETON && expected == 0, "singleton not detected");
    setenv("SLURM_PROCID", "0", 1);
    setenv("SLURM_NTASKS", "4", 1);
    TU_CHECK(dp_detect_launcher(&expected) == DP_LAUNCH_SINGLETON, "a batch script (no step id) is not srun");
    setenv("SLURM_STEP_ID", "0", 1);
    TU_CHECK(dp_detect_launcher(&expected) == DP_LAUNCH_SRUN && expected == 4, "srun not detected (size %d)",
             expected);
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    TU_CHECK(dp_detect_launcher(&expected) == DP_LAUNCH_MPIRUN && expected == 2, "mpirun inside Slurm not detected");
    // dp_tune_malloc sets both malloc thresholds unless the user set one (a glibc tunable or the
    // older MALLOC_*_ variable): then it keeps that one. (Its effect: dist_grads' page-fault check.)
    unsetenv("GLIBC_TUNABLES");
    unsetenv("MALLOC_MMAP_THRESHOLD_");
    unsetenv("MALLOC_TRIM_THRESHOLD_");
    TU_CHECK(dp_tune_malloc() == 2, "malloc thresholds: set %d of 2 with nothing in the environment", dp_tune_malloc());
    setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1048576", 1);
    TU_CHECK(dp_tune_malloc() == 1, "malloc thresholds: the user's trim_threshold tunable was not kept");
    setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536", 1);
    TU_CHECK(dp_tune_malloc() == 1, "malloc thresholds: the user's mmap_threshold tunable was not kept");
    setenv("MALLOC_TRIM_THRESHOLD_", "1048576", 1);
    TU_CHECK(dp_tune_malloc() == 0, "malloc thresholds: MALLOC_TRIM_THRESHOLD_ was not kept");
    return tu_done("dist_threads");
}
