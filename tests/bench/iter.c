// bench_iter: one full training iteration of the tiny config (jobs/configs/tiny.json: D step with MA-GP,
// Adam, G step, Adam, EMA; batch 8, one rank), timed with the kernels ratlip picks (oneDNN convs) and
// with RATLIP_KERNELS=openblas's path (im2col convs), alternating, in the same process. Random CLIP
// weights and inputs: the arithmetic, not the values, is what costs. Not a pass/fail test.
//   usage: bench_iter [threads] [iterations per backend] [config.json] [both|onednn|openblas]
// (the last one, for profiling, times only one backend; "-" as config keeps the built-in tiny defaults).
// Run it with OMP_WAIT_POLICY=passive, as the ratlip command does (core/kernels.h, kern_startup_env).
#include "core/gan.h"
#include "core/kernels.h"
#include "core/rng.h"
#include "io/config.h"
#include "io/modeldims.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Wall ms of one iteration; *cpu_ms: the process's CPU time in it. On a shared machine the CPU time of
// a 1-thread run is the steadier figure (waiting for a core is not counted).
static double iterate(Gan *gan, const float *img, const float *s, const float *s_mis, const float *z, int B,
                      double *cpu_ms) {
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    GanLosses L;
    memset(&L, 0, sizeof L);
    if (gan_d_backward(gan, img, s, s_mis, z, B, &L) || (gan_d_update(gan), 0) || gan_g_backward(gan, s, B, &L)) {
        fprintf(stderr, "bench_iter: a training step failed\n");
        exit(1);
    }
    gan_g_update(gan);
    *cpu_ms = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3;
    return (clock_s(CLOCK_MONOTONIC) - t0) * 1e3;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1, iters = argc > 2 ? atoi(argv[2]) : 5;
    Config cfg;
    Err e = {{0}};
    config_defaults(&cfg);
    if (argc > 3 && strcmp(argv[3], "-") && config_load_file(&cfg, argv[3], &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    const char *only = argc > 4 ? argv[4] : "both";
    int run_backend[2] = {strcmp(only, "onednn") != 0, strcmp(only, "openblas") != 0};
    kern_set_threads(threads);
    NetGDims gd;
    NetDDims dd;
    ClipDims cd;
    GanHyper h;
    modeldims_netg(&cfg.model, &gd);
    modeldims_netd(&cfg.model, &dd);
    modeldims_clip(&cfg.model, &cd);
    modeldims_hyper(&cfg.train, &h);
    int B = cfg.train.batch_per_rank, R = cfg.model.image_size, T = cfg.model.text_dim, Z = cfg.model.z_dim;
    Gan gan;
    if (gan_build(&gan, &gd, &dd, &cd, &h, B, R, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    clip_init_random(&gan.clip, 1);
    gan_init(&gan, 2);
    size_t nimg = (size_t)B * 3 * R * R;
    float *img = malloc(nimg * sizeof(float)), *s = malloc(sizeof(float) * B * T), *z = malloc(sizeof(float) * B * Z);
    float *s_mis = malloc(sizeof(float) * B * T);
    rng_fill_uniform(img, nimg, -1, 1, rng_key(3, RNG_DATA_ORDER), 0);
    rng_fill_normal(s, (size_t)B * T, 0, 1, rng_key(3, RNG_CAPTION), 0);
    rng_fill_normal(z, (size_t)B * Z, 0, 1, rng_key(3, RNG_NOISE), 0);
    for (int b = 0; b < B; b++) memcpy(s_mis + (size_t)b * T, s + (size_t)((b + 1) % B) * T, sizeof(float) * T);

    int have_onednn = kern_use_onednn(1);
    printf("# bench_iter: %s, %d thread(s), batch %d, %dx%d images\n", kern_backend_name(), threads, B, R, R);
    printf("# %s\n", kern_cpu_line());
    double best[2] = {1e30, 1e30}, best_cpu[2] = {1e30, 1e30}, cpu;
    for (int backend = 0; backend < 2; backend++)  // warm-up: primitives, scratch, page faults
        if (run_backend[backend] && kern_use_onednn(backend) == backend) iterate(&gan, img, s, s_mis, z, B, &cpu);
    for (int i = 0; i < iters; i++)
        for (int backend = 0; backend < 2; backend++) {
            if (!run_backend[backend] || kern_use_onednn(backend) != backend) continue;
            double t = iterate(&gan, img, s, s_mis, z, B, &cpu);
            if (t < best[backend]) best[backend] = t;
            if (cpu < best_cpu[backend]) best_cpu[backend] = cpu;
        }
    printf("iteration ms, fastest of %d (wall / CPU): im2col+OpenBLAS %.1f / %.1f", iters, best[0], best_cpu[0]);
    if (have_onednn)
        printf("   oneDNN convs %.1f / %.1f   speed-up %.2fx / %.2fx", best[1], best_cpu[1], best[0] / best[1],
               best_cpu[0] / best_cpu[1]);
    printf("\n");
    gan_free(&gan);
    free(img), free(s), free(z), free(s_mis);
    return 0;
}
