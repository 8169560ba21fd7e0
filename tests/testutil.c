#include "testutil.h"
#include "core/rng.h"
#include "io/modeldims.h"
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int tu_failures = 0;

static void *read_as(const char *file, const char *name, size_t *n, hid_t memtype, size_t elsize) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "testutil: cannot open %s (did the reference fixture run?)\n", file);
        exit(1);
    }
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) {
        fprintf(stderr, "testutil: %s has no dataset %s\n", file, name);
        exit(1);
    }
    hid_t sp = H5Dget_space(d);
    hssize_t cnt = H5Sget_simple_extent_npoints(sp);
    void *buf = malloc((size_t)(cnt > 0 ? cnt : 1) * elsize);
    if (cnt > 0 && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        fprintf(stderr, "testutil: reading %s:%s failed\n", file, name);
        exit(1);
    }
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    *n = (size_t)cnt;
    return buf;
}

float *tu_read_f32(const char *file, const char *name, size_t *n) {
    return read_as(file, name, n, H5T_NATIVE_FLOAT, sizeof(float));
}
double *tu_read_f64(const char *file, const char *name, size_t *n) {
    return read_as(file, name, n, H5T_NATIVE_DOUBLE, sizeof(double));
}

int tu_has(const char *file, const char *name) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 0;
    int ok = H5Lexists(f, name, H5P_DEFAULT) > 0;
    H5Fclose(f);
    return ok;
}

long tu_attr_long(const char *file, const char *obj, const char *attr) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    long v = 0;
    if (f < 0 || H5Aexists_by_name(f, obj, attr, H5P_DEFAULT) <= 0) {
        fprintf(stderr, "testutil: %s has no attribute %s on %s\n", file, attr, obj);
        exit(1);
    }
    hid_t a = H5Aopen_by_name(f, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_LONG, &v);
    H5Aclose(a);
    H5Fclose(f);
    return v;
}

double tu_rel_err(const float *got, const float *want, size_t n) {
    double maxdiff = 0, maxref = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= maxdiff)) maxdiff = d;  // NaN propagates as a failure
        if (fabs((double)want[i]) > maxref) maxref = fabs((double)want[i]);
    }
    return maxdiff / (maxref > 1e-6 ? maxref : 1e-6);
}

int tu_close(const char *what, const float *got, const float *want, size_t n, double tol) {
    double r = tu_rel_err(got, want, n);
    int ok = r <= tol;
    printf("%-4s %-48s rel err %.3e (tol %.1e, %zu values)\n", ok ? "ok" : "FAIL", what, r, tol, n);
    if (!ok) tu_failures++;
    return ok;
}

double tu_sum_bound(double K, double q, double u) { return 2 * TU_LAMBDA * u * sqrt(K * q); }
double tu_sum_tol(double K, double u) { return 2 * TU_LAMBDA * u * sqrt(K); }

double tu_max_abs_f32(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)x[i]) > m) m = fabs((double)x[i]);
    return m;
}

int tu_close_abs(const char *what, const float *got, const float *want, size_t n, double bound) {
    double maxdiff = 0, maxref = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= maxdiff)) maxdiff = d;  // NaN propagates as a failure
        if (fabs((double)want[i]) > maxref) maxref = fabs((double)want[i]);
    }
    double scale = maxref > 1e-30 ? maxref : 1e-30;
    int ok = maxdiff <= bound;
    printf("%-4s %-48s rel err %.3e (tol %.1e, %zu values)\n", ok ? "ok" : "FAIL", what, maxdiff / scale,
           bound / scale, n);
    if (!ok) tu_failures++;
    return ok;
}

double tu_ref_err(const char *file32, const char *name32, const char *file64, const char *name64) {
    size_t n32, n64;
    double *a = tu_read_f64(file32, name32, &n32), *b = tu_read_f64(file64, name64, &n64);
    if (n32 != n64) {
        fprintf(stderr, "testutil: %s:%s has %zu values, %s:%s %zu\n", file32, name32, n32, file64, name64, n64);
        exit(1);
    }
    double maxdiff = 0, maxref = 0;
    for (size_t i = 0; i < n32; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= maxdiff)) maxdiff = d;
        if (fabs(b[i]) > maxref) maxref = fabs(b[i]);
    }
    free(a), free(b);
    return maxref > 0 ? maxdiff / maxref : maxdiff;
}

int tu_ref_args(int argc, char **argv, const char **ref64) {
    size_t l2 = argc > 2 ? strlen(argv[2]) : 0;
    if (l2 > 3 && strcmp(argv[2] + l2 - 3, ".h5") == 0) {
        *ref64 = argv[2];
        return 3;
    }
    size_t l1 = strlen(argv[1]);
    char *p = malloc(l1 + 8);   // kept for the test's lifetime
    if (l1 > 3 && strcmp(argv[1] + l1 - 3, ".h5") == 0)
        snprintf(p, l1 + 8, "%.*s_f64.h5", (int)(l1 - 3), argv[1]);
    else
        snprintf(p, l1 + 8, "%s_f64", argv[1]);
    *ref64 = p;
    return 2;
}

double tu_ref_tol_n(double tol, size_t n) { return n < 64 ? 4 * tol : tol; }

double tu_ref_tol(double e_ref, size_t real_size) {
    return TU_REF_KAPPA * e_ref * (real_size == sizeof(double) ? TU_U_F64 / TU_U_F32 : 1.0);
}

int tu_close_d(const char *what, const double *got, const double *want, size_t n, double tol) {
    double maxdiff = 0, maxref = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        if (!(d <= maxdiff)) maxdiff = d;
        if (fabs(want[i]) > maxref) maxref = fabs(want[i]);
    }
    double r = maxdiff / (maxref > 1e-12 ? maxref : 1e-12);
    int ok = r <= tol;
    printf("%-4s %-48s rel err %.3e (tol %.1e, %zu values)\n", ok ? "ok" : "FAIL", what, r, tol, n);
    if (!ok) tu_failures++;
    return ok;
}

int tu_done(const char *test) {
    if (tu_failures) {
        printf("%s: %d check(s) FAILED\n", test, tu_failures);
        return 1;
    }
    printf("%s: all checks passed\n", test);
    return 0;
}

void tu_load_config(Config *cfg, const char *file, char *const *sets, int n_sets) {
    Err e = {{0}};
    config_defaults(cfg);
    int rc = file ? config_load_file(cfg, file, &e) : 0;
    for (int i = 0; i < n_sets && !rc; i++) rc = config_set(cfg, sets[i], &e);
    if (rc) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
}

int tu_run_capture(const char *prog, const char *args, const char *dir, char *out, size_t size) {
    char cmd[8192], log[1100];
    snprintf(log, sizeof log, "%s/cmd.log", dir);
    snprintf(cmd, sizeof cmd, "%s %s > %s 2>&1", prog, args, log);
    int st = system(cmd);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(out, 1, size - 1, f) : 0;
    out[n] = 0;
    if (f) fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void tu_gan_build(Gan *gan, TuGanInputs *in, const Config *cfg, int B) {
    NetGDims gd;
    NetDDims dd;
    ClipDims cd;
    GanHyper h;
    Err e = {{0}};
    modeldims_netg(&cfg->model, &gd);
    modeldims_netd(&cfg->model, &dd);
    modeldims_clip(&cfg->model, &cd);
    modeldims_hyper(&cfg->train, &h);
    int S = cfg->model.clip_image_size, T = cfg->model.text_dim, Z = cfg->model.z_dim;
    if (gan_build(gan, &gd, &dd, &cd, &h, B, S, &e)) printf("FAIL gan_build: %s\n", e.msg), exit(1);
    clip_init_random(&gan->clip, CLIP_RANDOM_SEED);
    gan_init(gan, 7);
    size_t nimg = (size_t)B * 3 * S * S;
    in->img = malloc(nimg * sizeof(real)), in->s = malloc((size_t)B * T * sizeof(real));
    in->z = malloc((size_t)B * Z * sizeof(real)), in->s_mis = malloc((size_t)B * T * sizeof(real));
    if (!in->img || !in->s || !in->z || !in->s_mis) printf("FAIL out of memory\n"), exit(1);
    rng_fill_uniform(in->img, nimg, -1, 1, rng_key(3, RNG_DATA_ORDER), 0);
    rng_fill_normal(in->s, (size_t)B * T, 0, 1, rng_key(3, RNG_CAPTION), 0);
    rng_fill_normal(in->z, (size_t)B * Z, 0, 1, rng_key(3, RNG_NOISE), 0);
    for (int b = 0; b < B; b++) memcpy(in->s_mis + (size_t)b * T, in->s + (size_t)((b + 1) % B) * T, sizeof(real) * T);
}

void tu_gan_inputs_free(TuGanInputs *in) { free(in->img), free(in->s), free(in->z), free(in->s_mis); }

real *tu_randn(size_t n, uint64_t seed, uint64_t stream) {
    real *p = malloc((n ? n : 1) * sizeof(real));
    if (!p) printf("FAIL out of memory\n"), exit(1);
    rng_fill_normal(p, n, 0, 1, rng_key(seed, RNG_INIT), stream);
    return p;
}

double tu_gemm_entry(int ta, int tb, int i, int j, int K, const float *A, int lda, const float *B, int ldb,
                     float (*round_in)(float), double *sumsq) {
    double s = 0, q = 0;
    for (int k = 0; k < K; k++) {
        float a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        float b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
        if (round_in) a = round_in(a), b = round_in(b);
        double p = (double)a * b;
        s += p, q += p * p;
    }
    if (sumsq) *sumsq = q;
    return s;
}

void tu_fill_param_state(ParamSet *ps, uint64_t seed) {
    RngKey k = rng_key(seed, RNG_INIT);
    rng_fill_normal(ps->data, ps->total, 0, 1, k, 1);
    rng_fill_normal(ps->adam_m, ps->n_trainable, 0, 0.1f, k, 2);
    rng_fill_uniform(ps->adam_v, ps->n_trainable, 0, 0.01f, k, 3);
    ps->adam_step = (long)seed * 3 + 1;
}

int tu_same_param_state(const ParamSet *a, const ParamSet *b, int with_adam) {
    int ok = a->total == b->total && !memcmp(a->data, b->data, a->total * sizeof(real));
    if (with_adam)
        ok = ok && !memcmp(a->adam_m, b->adam_m, a->n_trainable * sizeof(real)) &&
             !memcmp(a->adam_v, b->adam_v, a->n_trainable * sizeof(real)) && a->adam_step == b->adam_step;
    return ok;
}
