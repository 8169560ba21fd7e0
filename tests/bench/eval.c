// bench_eval: Inception-v3 (FID network, seeded weights) pool3 images/s in C at batch B from SxS input;
// tests/bench/eval.sh runs it beside the PyTorch reference (tests/reference/inception_ref.py --bench).
//   bench_eval [batch 4] [threads 2] [size 64] [reps 3]
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "core/inception.h"
#include "core/kernels.h"
#include "core/rng.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    int B = argc > 1 ? atoi(argv[1]) : 4, threads = argc > 2 ? atoi(argv[2]) : 2;
    int S = argc > 3 ? atoi(argv[3]) : 64, reps = argc > 4 ? atoi(argv[4]) : 3;
    kern_set_threads(threads);
    printf("%s\n", kern_cpu_line());
    Inception net;
    Err e;
    if (inception_build(&net, INCEPTION_FID, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    inception_init_random(&net, 1);
    inception_prepare(&net, &e);
    IncActs *a = inception_acts_new(&net, B);
    real *img = malloc((size_t)B * 3 * S * S * sizeof(real)), *feat = malloc((size_t)B * INCEPTION_DIM * sizeof(real));
    rng_fill_uniform(img, (size_t)B * 3 * S * S, -1, 1, rng_key(1, RNG_SAMPLE), 0);
    inception_forward(&net, a, feat, img, B, S);   // warm-up (scratch buffers)
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = now_s();
        inception_forward(&net, a, feat, img, B, S);
        t = now_s() - t;
        if (t < best) best = t;
    }
    printf("C images/s %.3f (batch %d, %d threads, %s, best of %d)\n", B / best, B, threads, kern_backend_name(), reps);
    inception_acts_free(a);
    inception_free(&net);
    free(img);
    free(feat);
    return 0;
}
