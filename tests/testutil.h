// testutil: what the C tests share: reading the PyTorch reference's HDF5 files, comparing arrays
// with a stated tolerance, and a failure counter that decides the exit status.
#pragma once
#include <stddef.h>
#include <stdio.h>
#include "io/config.h"

extern int tu_failures;

// Reads dataset `name` of `file` as float32 (any numeric type is converted); n = element count.
// Aborts the test (exit 1) with a message when missing. Caller frees.
float *tu_read_f32(const char *file, const char *name, size_t *n);
double *tu_read_f64(const char *file, const char *name, size_t *n);
int tu_has(const char *file, const char *name);
// Integer attribute `attr` of object `obj` (a dataset or group) of `file`.
long tu_attr_long(const char *file, const char *obj, const char *attr);

// max|got-want| / max(max|want|, floor): one figure per tensor, printed with its name.
double tu_rel_err(const float *got, const float *want, size_t n);
// Checks rel_err <= tol; prints "ok"/"FAIL" with the figure; counts failures. Returns 1 when ok.
int tu_close(const char *what, const float *got, const float *want, size_t n, double tol);
int tu_close_d(const char *what, const double *got, const double *want, size_t n, double tol);
// ---- Rounding budgets: what a float comparison may legitimately differ by (issue 11) ----
// Unit roundoff u = 2^-p for p significand bits: float32 (p = 24), bfloat16 (p = 8), double (p = 53).
#define TU_U_F32 0x1p-24
#define TU_U_BF16 0x1p-8
#define TU_U_F64 0x1p-53
// Two implementations that sum in different orders (oneDNN vs im2col + SGEMM, one SGEMM kernel vs another, ours
// vs PyTorch) each make a first-order error e = Σ_j δ_j·v_j over their roundings: |δ_j| <= u, v_j the value
// rounded (a product, or a partial sum over some subset of the terms). The probabilistic model (Higham & Mary,
// SIAM J. Sci. Comput. 41(5), 2019; Ipsen & Zhou 2020) takes the δ_j independent with mean zero; Hoeffding's
// inequality then gives |e| <= λ·u·sqrt(Σ_j v_j²) except with probability 2·exp(-λ²/2), 2.5e-14 for λ = 8 (so
// ~1e-7 over every value the suite checks). A sum of K terms t_k has at most 2K-1 roundings; on the random,
// mean-zero data these tests use, E[v²] of a partial sum is the Σ t_k² of its subset, so E[Σ_j v_j²] <= K·q with
// q = Σ_k t_k², whatever the order (blocked, SIMD, FMA, pairwise or sequential). The worst-case bound
// (Higham 2002, §3.1: K·u·Σ|t_k|) holds without the model but is ~sqrt(K) looser and would hide bf16 rounding.
#define TU_LAMBDA 8.0
// Bound on |a - b| for two evaluations, in unit roundoff u and in any orders, of one sum of K terms whose squares
// add up to q: 2·λ·u·sqrt(K·q). For a bilinear op (conv, matmul) q is the same op applied to the squared inputs.
double tu_sum_bound(double K, double q, double u);
// The same bound relative to the result, for a tensor whose entries are sums of K mean-zero terms and whose
// max |entry| is at least the rms one (sqrt(q) of a random sum is its rms size): 2·λ·u·sqrt(K).
double tu_sum_tol(double K, double u);
// Like tu_close, but passes when max|got - want| <= bound (an absolute bound derived from a rounding budget);
// prints the figure and the tolerance (bound / max|want|) in tu_close's format.
int tu_close_abs(const char *what, const float *got, const float *want, size_t n, double bound);
// max over i of |x[i]| (of q: the q of a per-element budget when one bound covers a whole tensor)
double tu_max_abs_f32(const float *x, size_t n);

// ---- Whole networks against PyTorch ----
// No per-op budget survives a whole network (LeakyReLU kinks, normalisations over few values and the
// backward through them pass rounding on with gains nobody bounds), but the reference measures its own:
// the case run in float32 and in float64 from the same float32 inputs and weights differ by e_ref, the
// largest tu_rel_err over the case's tensors (tu_ref_err). Ours is one more evaluation in other summation
// orders; it is compared with the float64 result within TU_REF_KAPPA·e_ref, times u_f64/u_f32 = 2^-29 where
// ours runs in double (to first order rounding errors scale with u). κ = 8: ours may sum in a worse order
// than the reference (one long chain over channel blocks against pairwise-like trees: sqrt(K/log2 K), 3-14
// for K = 64..2304, in the worst case); measured: ours / the reference's up to 3.1 (NetG's image with oneDNN
// limited to AVX2) on the five kernel setups of issue 11. A tensor of fewer than 64 values (a BatchNorm
// scale's gradient, a loss) is no maximum over many errors but a few draws of its error, and the ratio of
// two draws is heavy-tailed (Cauchy for one against one): 4κ there (tu_ref_tol_n; measured up to 4.5 for
// NetD's main.gamma gradient, one value, with oneDNN limited to AVX2).
#define TU_REF_KAPPA 8.0
// tu_rel_err of dataset name32 of file32 (float32 run) against name64 of file64 (float64 run), in double.
double tu_ref_err(const char *file32, const char *name32, const char *file64, const char *name64);
// the tolerance for a result of the compute type (float or double, real_size = sizeof(real)) given e_ref
double tu_ref_tol(double e_ref, size_t real_size);
// that tolerance for a tensor of n values: 4x for n < 64
double tu_ref_tol_n(double tol, size_t n);
// Arguments "REF.h5 REF_F64.h5 CONFIG.json ..." or the older "REF.h5 CONFIG.json ...": sets *ref64 (in the
// older form REF's name with _f64 before .h5, the pyref fixtures' naming) and returns the index of
// CONFIG.json in argv.
int tu_ref_args(int argc, char **argv, const char **ref64);

#define TU_CHECK(cond, ...)                                                     \
    do {                                                                        \
        if (!(cond)) {                                                          \
            tu_failures++;                                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
        }                                                                       \
    } while (0)
// A test's config: defaults, then file (NULL: none), then n_sets "section.key=value" overrides.
// Prints the error and exits 1 when one fails, as the readers above do.
void tu_load_config(Config *cfg, const char *file, char *const *sets, int n_sets);
// Prints a summary and returns the exit status for main.
int tu_done(const char *test);
// Runs `prog args` through the shell with stdout+stderr captured in dir/cmd.log, then read into out
// (NUL-terminated, truncated to size); returns the exit status (128 when it did not exit).
int tu_run_capture(const char *prog, const char *args, const char *dir, char *out, size_t size);

// ---- A small GAN for whole-iteration tests (tiny config) ----
#include "core/gan.h"
// The networks of cfg for batch B from seed 7 with a random-weight CLIP, and random inputs from fixed
// seeds (images U[-1,1] at CLIP's size, captions and noise N(0,1), the mismatched captions the next
// sample's); caller frees the four arrays and gan_free's. Exits the test on failure.
typedef struct {
    real *img, *s, *z, *s_mis;
} TuGanInputs;
// n values N(0,1) from RNG stream (seed, stream); exits the test when out of memory. Caller frees.
real *tu_randn(size_t n, uint64_t seed, uint64_t stream);
void tu_gan_build(Gan *gan, TuGanInputs *in, const Config *cfg, int B);
void tu_gan_inputs_free(TuGanInputs *in);

// A network's whole state for checkpoint tests: values N(0,1), Adam moments (m N(0,0.1), v U[0,0.01))
// and adam_step from seed.
void tu_fill_param_state(ParamSet *ps, uint64_t seed);
// 1 when the values (and, with_adam, the Adam moments and step) are equal byte for byte.
int tu_same_param_state(const ParamSet *a, const ParamSet *b, int with_adam);

// Entry (i, j) of op(A)·op(B) in double for a row-major GEMM as kern_gemm takes it (trans flags, leading
// dimensions), each input first passed through round_in when given (e.g. to bf16); *sumsq (may be NULL)
// = Σ (a·b)², the q of tu_sum_bound.
double tu_gemm_entry(int ta, int tb, int i, int j, int K, const float *A, int lda, const float *B, int ldb,
                     float (*round_in)(float), double *sumsq);
