#define _GNU_SOURCE
#include "jobs/blas_select.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/cpu.h"
#include "core/kernels.h"
#include "io/fault.h"
#include "jobs/run.h"

extern char **environ;

// Debian's OpenBLAS 0.3.21 does not know newer Xeons and falls back to its slow Prescott kernels.
// OpenBLAS reads OPENBLAS_CORETYPE when the library loads (before main), so the only way to change
// it from inside is to set it and re-exec ourselves. A value the user set is never touched; the
// re-exec happens once (guarded) and before MPI_Init, so launchers see one process.
void blas_select_fast_kernel(char **argv) {
    if (getenv("RATLIP_BLAS_SELECTED")) return;
    const char *want = NULL;
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : kern_blas_corename();
    if (core && (!strcmp(core, "Prescott") || !strcmp(core, "Core2") || !strcmp(core, "Nehalem"))) {
        __builtin_cpu_init();  // OpenBLAS did not recognise the CPU: pick its kernel
        want = __builtin_cpu_supports("avx512f") ? "SkylakeX" : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    }
    int env_set = kern_startup_env();  // OMP_WAIT_POLICY for oneDNN's threads (core/kernels.h), when missing
    if (!want && !env_set) return;
    if (want) {
        setenv("OPENBLAS_CORETYPE", want, 1);
        setenv("RATLIP_BLAS_SELECTED", want, 1);
    }
    execv("/proc/self/exe", argv);
    // exec failed: carry on with the slow kernel, the banner will say which one it is
    if (want) unsetenv("OPENBLAS_CORETYPE");
}

// ---- the OpenBLAS core the environment forces, measured against the one the CPU supports ----
// OpenBLAS picks its core when the library loads, so another core can only be timed in another
// process: this binary again, started with RATLIP_GEMM_PROBE=1 and OPENBLAS_CORETYPE=<core>, one
// thread; it prints "probe CORE GFLOPS" and exits (blas_probe_child). main() does this before any
// MPI_Init, only when OPENBLAS_CORETYPE came from the environment and names a slower core than the
// CPU supports, and only in the process that will print the banner (launcher rank 0).
enum { PROBE_N = 256 };
static const double probe_seconds = 0.04, probe_deadline_s = 5.0;
static char g_blas_note[512];  // printed once, under the banner

int blas_probe_child(void) {  // RATLIP_GEMM_PROBE=N:SECONDS
    int n = PROBE_N;
    double secs = probe_seconds;
    sscanf(getenv("RATLIP_GEMM_PROBE"), "%d:%lf", &n, &secs);
    printf("probe %s %.3f\n", kern_blas_corename(), kern_sgemm_gflops(n, secs));
    return 0;
}

// GFLOP/s of one-thread SGEMM with OPENBLAS_CORETYPE=core (NULL: unset, OpenBLAS's own pick) in a
// child process; 0 with `why` filled when it could not be measured. Never waits past the deadline.
static double probe_core(const char *core, int gemm_n, double secs, char *got, size_t ngot, char *why, size_t nwhy) {
    size_t n = 0;
    while (environ[n]) n++;
    char **envp = malloc((n + 5) * sizeof *envp);
    if (!envp) return snprintf(why, nwhy, "out of memory"), 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = environ[i];
        if (!strncmp(v, "OPENBLAS_CORETYPE=", 18) || !strncmp(v, "OPENBLAS_NUM_THREADS=", 21) ||
            !strncmp(v, "OMP_NUM_THREADS=", 16) || !strncmp(v, "RATLIP_GEMM_PROBE=", 18))
            continue;
        envp[k++] = environ[i];
    }
    char ct[96], pr[64];
    snprintf(ct, sizeof ct, "OPENBLAS_CORETYPE=%s", core ? core : "");
    snprintf(pr, sizeof pr, "RATLIP_GEMM_PROBE=%d:%g", gemm_n, secs);
    if (core) envp[k++] = ct;
    envp[k++] = "OPENBLAS_NUM_THREADS=1";
    envp[k++] = "OMP_NUM_THREADS=1";
    envp[k++] = pr;
    envp[k] = NULL;

    double gf = 0;
    int fd[2];
    if (pipe(fd) != 0) {
        free(envp);
        return snprintf(why, nwhy, "no pipe"), 0;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);  // OpenBLAS's complaints
    char *args[] = {"ratlip-gemm-probe", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    free(envp);
    if (rc != 0) {
        close(fd[0]);
        return snprintf(why, nwhy, "cannot start the probe"), 0;
    }
    char buf[256];
    size_t len = 0;
    double deadline = run_now_s() + probe_deadline_s + 2 * secs;
    int timed_out = 0;
    for (;;) {
        double left = deadline - run_now_s();
        if (left <= 0) { timed_out = 1; break; }
        struct pollfd p = {fd[0], POLLIN, 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0) continue;
        if (r == 0) { timed_out = 1; break; }
        ssize_t got_n = read(fd[0], buf + len, sizeof buf - 1 - len);
        if (got_n <= 0) break;
        len += (size_t)got_n;
        if (len >= sizeof buf - 1) break;
    }
    buf[len] = 0;
    close(fd[0]);
    if (timed_out) kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {}
    char name[64] = "";
    if (timed_out) snprintf(why, nwhy, "the probe took over %.0f s", probe_deadline_s + 2 * secs);
    else if (sscanf(buf, "probe %63s %lf", name, &gf) != 2 || !(gf > 0)) {
        snprintf(why, nwhy, "the probe failed");
        gf = 0;
    } else if (core && strcasecmp(name, core)) {
        snprintf(why, nwhy, "this OpenBLAS ran %s when asked for %s", name, core);
        gf = 0;
    }
    if (got) snprintf(got, ngot, "%s", name);
    return gf;
}

// OPENBLAS_CORETYPE from the environment (not ratlip's own choice) that names a slower core than the
// CPU supports: kept, but measured and said once, under the banner, by the process that prints (rank 0,
// or one no launcher started).
void blas_check_forced_core(void) {
    const char *env = getenv("OPENBLAS_CORETYPE"), *sel = getenv("RATLIP_BLAS_SELECTED");
    if (!env || (sel && !strcasecmp(sel, env)) || launcher_rank_from_env() > 0) return;
    CpuInfo ci;
    cpu_detect(&ci);
    const char *best = cpu_best_blas_core(&ci), *cur = kern_blas_corename();
    if (!best || cpu_blas_core_rank(cur) >= cpu_blas_core_rank(best)) return;
    char why[160] = "", measured[256];
    double here = kern_sgemm_gflops(PROBE_N, probe_seconds);
    double there = probe_core(best, PROBE_N, probe_seconds, NULL, 0, why, sizeof why);
    double again = kern_sgemm_gflops(PROBE_N, probe_seconds);  // before and after: the better of two
    if (again > here) here = again;
    if (there > 0 && there < 1.05 * here) {  // no faster: once more, in case a busy machine hid it
        double t2 = probe_core(best, PROBE_N, probe_seconds, NULL, 0, why, sizeof why);
        if (t2 > there) there = t2;
    }
    if (there > 0 && here > 0) {
        double f = there / here;
        if (f >= 1.05)
            snprintf(measured, sizeof measured, "whose SGEMM measured %.2fx faster here (%.0f vs %.0f GFLOP/s, one core)", f,
                     there, here);
        else
            snprintf(measured, sizeof measured, "whose SGEMM measured no faster here (%.2fx: %.0f vs %.0f GFLOP/s, one core)",
                     f, there, here);
    } else {
        snprintf(measured, sizeof measured, "factor not measured (%s)", why[0] ? why : "no timing");
    }
    snprintf(g_blas_note, sizeof g_blas_note,
             "note: OPENBLAS_CORETYPE=%s (from the environment) is kept, so OpenBLAS runs its %s core; this CPU "
             "supports %s, %s. Unset OPENBLAS_CORETYPE or set it to %s to use that one.",
             env, cur, best, measured, best);
}

// `ratlip --bench-blas [N] [seconds]` (hidden): one-thread SGEMM GFLOP/s of the core in use and of
// every core the CPU supports (each in its own process), N x N x N.
int blas_bench(int argc, char **argv) {
    int n = argc > 2 ? atoi(argv[2]) : PROBE_N;
    double secs = argc > 3 ? atof(argv[3]) : 0.3;
    if (n < 16 || n > 8192 || !(secs > 0 && secs < 60)) {
        fprintf(stderr, "usage: ratlip --bench-blas [N 16..8192] [seconds per core]\n");
        return 2;
    }
    printf("%s\n", kern_cpu_line());
    CpuInfo ci;
    cpu_detect(&ci);
    const char *best = cpu_best_blas_core(&ci);
    double here = kern_sgemm_gflops(n, secs);
    printf("SGEMM %dx%dx%d, one thread, fastest of %.2f s:\n", n, n, n, secs);
    printf("  %-16s %8.1f GFLOP/s  (the core in use, %s)\n", kern_blas_corename(), here,
           getenv("OPENBLAS_CORETYPE") ? "OPENBLAS_CORETYPE" : "OpenBLAS's own pick");
    const char *cores[] = {NULL, "Haswell", "SkylakeX"};
    for (int i = 0; i < 3; i++) {
        if (cores[i] && cpu_blas_core_rank(cores[i]) > cpu_blas_core_rank(best)) continue;
        char why[160] = "", got[64] = "";
        double gf = probe_core(cores[i], n, secs, got, sizeof got, why, sizeof why);
        char label[96];
        snprintf(label, sizeof label, "%s", cores[i] ? cores[i] : got[0] ? got : "?");
        if (gf > 0)
            printf("  %-16s %8.1f GFLOP/s  (%s, x%.2f the core in use)\n", label, gf,
                   cores[i] ? "OPENBLAS_CORETYPE" : "OpenBLAS's own pick", here > 0 ? gf / here : 0);
        else
            printf("  %-16s %8s           (%s)\n", label, "-", why);
    }
    return 0;
}

const char *blas_take_note(void) {
    static char once[sizeof g_blas_note];
    snprintf(once, sizeof once, "%s", g_blas_note);
    g_blas_note[0] = 0;
    return once;
}
