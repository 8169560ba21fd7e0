// bench_conv_bf16: the opt-in bf16 convolution path (RATLIP_CONV_BF16; bf16 src/weights/diff_dst, fp32
// accumulation and outputs, AMX) against oneDNN fp32 and the im2col + OpenBLAS path, on the tiny
// config's conv shapes (batch 8): forward+backward ms for each, the speed-up, and the error of the bf16
// results against fp32 (max|diff| / max|fp32|, for out, din, dw). Not a pass/fail test.
//   usage: bench_conv_bf16 [threads] [min seconds per measurement]
#include "core/kernels.h"
#include "core/onednn.h"
#include "core/ops.h"
#include "core/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cpu_clock;  // one thread: process CPU time (steadier on a shared machine), else wall

static double now_s(void) {
    struct timespec t;
    clock_gettime(cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *randn(size_t n, float std) {
    static uint64_t stream = 0;
    float *a = malloc(n * sizeof(float));
    rng_fill_normal(a, n, 0, std, rng_key(5, RNG_INIT), stream++);
    return a;
}

typedef struct {
    ConvShape s;
    float *x, *w, *b, *out, *dx, *dw, *db, *dout;
} Case;

static void step(Case *c) {
    conv2d_forward(c->out, c->x, c->w, c->b, &c->s);
    conv2d_backward(c->dx, c->dw, c->db, c->dout, c->x, c->w, &c->s);
}

static double min_seconds = 0.5;

// fastest forward+backward in ms (the machine is shared: others only ever add time)
static double time_ms(Case *c) {
    step(c), step(c);
    double best = 1e30;
    struct timespec w0, w;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    for (int n = 0; n < 1000; n++) {
        clock_gettime(CLOCK_MONOTONIC, &w);
        if (n >= 5 && (double)(w.tv_sec - w0.tv_sec) + 1e-9 * (double)(w.tv_nsec - w0.tv_nsec) > min_seconds) break;
        double t0 = now_s();
        step(c);
        double t = (now_s() - t0) * 1e3;
        if (t < best) best = t;
    }
    return best;
}

static double rel_err(const float *got, const float *want, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)got[i] - want[i]));
        den = fmax(den, fabs((double)want[i]));
    }
    return num / (den > 0 ? den : 1);
}

// One pass (fresh zero gradients) on the current backend; copies of out, dx, dw.
static void once(Case *c, float *out, float *dx, float *dw, size_t no, size_t nx, size_t nw) {
    memset(c->dx, 0, nx * sizeof(float)), memset(c->dw, 0, nw * sizeof(float));
    memset(c->db, 0, c->s.K * sizeof(float));
    step(c);
    memcpy(out, c->out, no * sizeof(float)), memcpy(dx, c->dx, nx * sizeof(float)), memcpy(dw, c->dw, nw * sizeof(float));
}

static void bench(const char *op, int N, int C, int H, int K, int k, int stride, int pad) {
    Case c = {.s = conv_shape(N, C, H, H, K, k, k, stride, stride, pad, pad)};
    size_t nx = (size_t)N * C * H * H, nw = (size_t)K * C * k * k, no = (size_t)N * K * c.s.OH * c.s.OW;
    c.x = randn(nx, 1), c.w = randn(nw, 0.05f), c.b = randn(K, 0.1f), c.out = malloc(no * sizeof(float));
    c.dout = randn(no, 1), c.dx = calloc(nx, sizeof(float)), c.dw = calloc(nw, sizeof(float));
    c.db = calloc(K, sizeof(float));
    float *o32 = malloc(no * sizeof(float)), *x32 = malloc(nx * sizeof(float)), *w32 = malloc(nw * sizeof(float));
    float *o16 = malloc(no * sizeof(float)), *x16 = malloc(nx * sizeof(float)), *w16 = malloc(nw * sizeof(float));

    kern_use_onednn(0);
    double t_old = time_ms(&c);
    kern_use_onednn(1);
    onednn_conv_bf16(0);
    double t32 = time_ms(&c);
    once(&c, o32, x32, w32, no, nx, nw);
    onednn_conv_bf16(1);
    double t16 = time_ms(&c);
    once(&c, o16, x16, w16, no, nx, nw);
    onednn_conv_bf16(0);

    char shape[96];
    snprintf(shape, sizeof shape, "%d->%d k%d s%d p%d @%dx%d N%d", C, K, k, stride, pad, H, H, N);
    printf("%-10s %-30s %8.3f %8.3f %8.3f %6.2f %9.2e %9.2e %9.2e\n", op, shape, t_old, t32, t16, t32 / t16,
           rel_err(o16, o32, no), rel_err(x16, x32, nx), rel_err(w16, w32, nw));
    fflush(stdout);
    free(c.x), free(c.w), free(c.b), free(c.out), free(c.dout), free(c.dx), free(c.dw), free(c.db);
    free(o32), free(x32), free(w32), free(o16), free(x16), free(w16);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (argc > 2) min_seconds = atof(argv[2]);
    kern_set_threads(threads);
    cpu_clock = threads == 1;
    if (!kern_use_onednn(1)) {
        fprintf(stderr, "bench_conv_bf16: this build has no oneDNN\n");
        return 1;
    }
    onednn_conv_bf16(1);
    printf("# bench_conv_bf16: %s, %d thread(s); forward+backward ms (fastest run, %s time)\n",
           kern_backend_name(), threads, cpu_clock ? "CPU" : "wall");
    printf("# %s\n", kern_cpu_line());
    onednn_conv_bf16(0);
    printf("%-10s %-30s %8s %8s %8s %6s %9s %9s %9s\n", "op", "shape", "im2col", "f32", "bf16", "f32/bf", "err out",
           "err din", "err dw");
    const int N = 8;
    bench("conv3x3", N, 256, 8, 256, 3, 1, 1);
    bench("conv3x3", N, 128, 16, 128, 3, 1, 1);
    bench("conv3x3", N, 64, 32, 64, 3, 1, 1);
    bench("conv3x3", N, 32, 64, 32, 3, 1, 1);
    bench("conv5x5", N, 64, 8, 256, 5, 1, 2);
    bench("conv5x5", N, 256, 8, 256, 5, 1, 2);
    bench("patchconv", N, 3, 64, 256, 8, 8, 0);
    return 0;
}
