// Parity of core ops part B (attention, LSTM, resize, pooling, channel ops, cosine, Adam) with the
// PyTorch reference tests/reference/ops_seq.py. Usage: test_parity_seq ops_seq.h5 [FAMILY]
// (tests/opfamily.h; ctest runs each family as op_<family>_parity)
// Figure: relative error (max abs diff / max abs reference) per tensor, against the rounding budget of
// the op (the reference computes in float32 too; testutil.h has the model, λ = 8, u = 2^-24):
// - copies (shuffle, concat, nearest resize, max pool forward) are exact: tolerance 0.
// - sums of K random terms, in any order on either side: tu_sum_tol(K) = 2·λ·u·sqrt(K) relative.
// - a value through n such sums in sequence (attention, LSTM): 2·λ·u·sqrt(n·K) relative (chain_tol): the
//   errors of all the roundings add as independent ones, passed on with gain <= 1 (1/sqrt(fan_in)
//   initialisation, softmax, sigmoid, tanh).
// - cosine and Adam: budgets derived per element below.
#include "core/ops.h"
#include "opfamily.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define U TU_U_F32
static const char *FILE_;
static double chain_tol(double K, double n) { return tu_sum_tol(n * K, U); }

// dataset `name` of group `g`; n (may be NULL) receives the element count
static float *rd(const char *g, const char *name, size_t *n) {
    char path[256];
    size_t cnt;
    snprintf(path, sizeof path, "/%s/%s", g, name);
    float *x = tu_read_f32(FILE_, path, &cnt);
    if (n) *n = cnt;
    return x;
}
static int at(const char *g, const char *attr) {
    char path[256];
    snprintf(path, sizeof path, "/%s", g);
    return (int)tu_attr_long(FILE_, path, attr);
}
static float *zeros(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
// tol: relative to max|want|; abs: an absolute bound added to it
static void check_b(const char *g, const char *name, const float *got, size_t n, double tol, double abs) {
    size_t nw;
    float *want = rd(g, name, &nw);
    char what[128];
    snprintf(what, sizeof what, "%s/%s", g, name);
    if (nw != n) {
        TU_CHECK(0, "%s: %zu values, reference has %zu", what, n, nw);
    } else {
        tu_close_abs(what, got, want, n, tol * tu_max_abs_f32(want, n) + abs);
    }
    free(want);
}
static void check(const char *g, const char *name, const float *got, size_t n, double tol) {
    check_b(g, name, got, n, tol, 0);
}

static void test_mha(const char *g) {
    int B = at(g, "B"), L = at(g, "L"), D = at(g, "D"), H = at(g, "H");
    size_t nx = (size_t)B * L * D;
    float *x = rd(g, "x", NULL), *w_in = rd(g, "w_in", NULL), *b_in = rd(g, "b_in", NULL);
    float *w_out = rd(g, "w_out", NULL), *b_out = rd(g, "b_out", NULL), *dout = rd(g, "dout", NULL);
    float *out = zeros(nx), *cache = zeros(mha_cache_floats(B, L, D, H));
    // forward: in-projection (D + 1 terms), scores (D/H), softmax (L), attention·V (L), out-projection (D + 1);
    // backward: the same sums back, plus the weight gradients' B·L and the input's 3·D: 10 sums of <= K
    double tol = chain_tol(fmax(3.0 * D, (double)B * L), 10);
    mha_forward(out, cache, x, w_in, b_in, w_out, b_out, B, L, D, H);
    check(g, "out", out, nx, tol);
    float *dx = zeros(nx), *dw_in = zeros((size_t)3 * D * D), *db_in = zeros((size_t)3 * D);
    float *dw_out = zeros((size_t)D * D), *db_out = zeros(D);
    mha_backward(dx, dw_in, db_in, dw_out, db_out, dout, x, cache, w_in, w_out, B, L, D, H);
    check(g, "dx", dx, nx, tol);
    check(g, "dw_in", dw_in, (size_t)3 * D * D, tol);
    check(g, "db_in", db_in, (size_t)3 * D, tol);
    check(g, "dw_out", dw_out, (size_t)D * D, tol);
    check(g, "db_out", db_out, D, tol);
    // backward accumulates: a second call doubles every gradient
    mha_backward(dx, NULL, NULL, NULL, db_out, dout, x, cache, w_in, w_out, B, L, D, H);
    float *want = rd(g, "db_out", NULL);
    for (int j = 0; j < D; j++) want[j] *= 2;
    tu_close_abs("mha db_out accumulates (+=) over two calls", db_out, want, D, tol * tu_max_abs_f32(want, D));
    free(want);
    float *m[] = {x, w_in, b_in, w_out, b_out, dout, out, cache, dx, dw_in, db_in, dw_out, db_out};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) free(m[i]);
}

// The four weight gradients of an LSTM (cell or sequence) against the reference's.
static void check_lstm_weight_grads(const char *g, const float *dw_ih, const float *dw_hh, const float *db_ih,
                                    const float *db_hh, int I, int H, double tol) {
    check(g, "dw_ih", dw_ih, (size_t)4 * H * I, tol);
    check(g, "dw_hh", dw_hh, (size_t)4 * H * H, tol);
    check(g, "db_ih", db_ih, 4 * H, tol);
    check(g, "db_hh", db_hh, 4 * H, tol);
}

static void test_lstm_cell(const char *g) {
    int N = at(g, "N"), I = at(g, "I"), H = at(g, "H");
    size_t nh = (size_t)N * H;
    float *x = rd(g, "x", NULL), *h0 = rd(g, "h0", NULL), *c0 = rd(g, "c0", NULL);
    float *w_ih = rd(g, "w_ih", NULL), *w_hh = rd(g, "w_hh", NULL), *b_ih = rd(g, "b_ih", NULL),
          *b_hh = rd(g, "b_hh", NULL), *dh = rd(g, "dh", NULL), *dc = rd(g, "dc", NULL);
    float *h = zeros(nh), *c = zeros(nh), *gates = zeros(4 * nh);
    // gates: I + H + 2 terms; backward: dx, dh0 sum 4H, the weight gradients N: 4 sums in sequence
    double tol = chain_tol(fmax(I + H + 2.0, 4.0 * H), 4);
    lstm_cell_forward(h, c, gates, x, h0, c0, w_ih, w_hh, b_ih, b_hh, N, I, H);
    check(g, "h", h, nh, tol);
    check(g, "c", c, nh, tol);
    float *dx = zeros((size_t)N * I), *dh0 = zeros(nh), *dc0 = zeros(nh), *dw_ih = zeros((size_t)4 * H * I),
          *dw_hh = zeros((size_t)4 * H * H), *db_ih = zeros(4 * H), *db_hh = zeros(4 * H);
    lstm_cell_backward(dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dh, dc, gates, c0, c, x, h0, w_ih, w_hh, N, I, H);
    check(g, "dx", dx, (size_t)N * I, tol);
    check(g, "dh0", dh0, nh, tol);
    check(g, "dc0", dc0, nh, tol);
    check_lstm_weight_grads(g, dw_ih, dw_hh, db_ih, db_hh, I, H, tol);
    float *m[] = {x, h0, c0, w_ih, w_hh, b_ih, b_hh, dh, dc, h, c, gates, dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) free(m[i]);
}

static void test_lstm_seq(const char *g) {
    int T = at(g, "T"), N = at(g, "N"), I = at(g, "I"), H = at(g, "H"), st = at(g, "with_state");
    size_t nh = (size_t)N * H, nall = (size_t)T * nh;
    float *x = rd(g, "x", NULL), *w_ih = rd(g, "w_ih", NULL), *w_hh = rd(g, "w_hh", NULL),
          *b_ih = rd(g, "b_ih", NULL), *b_hh = rd(g, "b_hh", NULL), *dh_all = rd(g, "dh_all", NULL),
          *dh_last = rd(g, "dh_last", NULL), *dc_last = rd(g, "dc_last", NULL);
    float *h0 = st ? rd(g, "h0", NULL) : NULL, *c0 = st ? rd(g, "c0", NULL) : NULL;
    float *h_all = zeros(nall), *c_all = zeros(nall), *gates = zeros(4 * nall);
    // T steps of the cell forward and back (<= 4H, I + H + 2 or N·T terms each), weight gradients last
    double tol = chain_tol(fmax(fmax(I + H + 2.0, 4.0 * H), (double)N * T), 2.0 * T + 2);
    lstm_seq_forward(h_all, c_all, gates, x, h0, c0, w_ih, w_hh, b_ih, b_hh, T, N, I, H);
    check(g, "h_all", h_all, nall, tol);
    check(g, "h_last", h_all + (T - 1) * nh, nh, tol);
    check(g, "c_last", c_all + (T - 1) * nh, nh, tol);
    float *dx = zeros((size_t)T * N * I), *dh0 = zeros(nh), *dc0 = zeros(nh), *dw_ih = zeros((size_t)4 * H * I),
          *dw_hh = zeros((size_t)4 * H * H), *db_ih = zeros(4 * H), *db_hh = zeros(4 * H);
    lstm_seq_backward(dx, st ? dh0 : NULL, st ? dc0 : NULL, dw_ih, dw_hh, db_ih, db_hh, dh_all, dh_last, dc_last,
                      h_all, c_all, gates, x, h0, c0, w_ih, w_hh, T, N, I, H);
    check(g, "dx", dx, (size_t)T * N * I, tol);
    if (st) {
        check(g, "dh0", dh0, nh, tol);
        check(g, "dc0", dc0, nh, tol);
    }
    check_lstm_weight_grads(g, dw_ih, dw_hh, db_ih, db_hh, I, H, tol);
    float *m[] = {x, w_ih, w_hh, b_ih, b_hh, dh_all, dh_last, dc_last, h0, c0, h_all, c_all, gates,
                  dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) free(m[i]);
}

static void test_resize(const char *g) {
    int N = at(g, "N"), C = at(g, "C"), H = at(g, "H"), W = at(g, "W"), OH = at(g, "OH"), OW = at(g, "OW");
    size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C * OH * OW;
    float *x = rd(g, "x", NULL), *dout = rd(g, "dout", NULL);
    float *out = zeros(nout), *dx = zeros(nin), *bil = zeros(nout);
    // the index map: resize an image whose pixels hold their own row (col) index, compare exactly
    float *idx = zeros((size_t)H * W), *map = zeros((size_t)OH * OW);
    size_t nr, nc;
    float *rows = rd(g, "src_rows", &nr), *cols = rd(g, "src_cols", &nc);
    for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++) idx[y * W + xx] = (float)(y * W + xx);
    resize_nearest_forward(map, idx, 1, 1, H, W, OH, OW);
    int bad = 0;
    for (int y = 0; y < OH; y++)
        for (int xx = 0; xx < OW; xx++) bad += map[y * OW + xx] != rows[y] * W + cols[xx];
    TU_CHECK(nr == (size_t)OH && nc == (size_t)OW && bad == 0, "%s: nearest index map differs from torch at %d pixels",
             g, bad);
    printf("%-4s %-48s %d of %d source indices differ\n", bad ? "FAIL" : "ok", g, bad, OH * OW);
    // nearest: a copy (exact); its backward sums the <= ceil(OH/H)·ceil(OW/W) outputs each input feeds.
    // bilinear: both sides take the same float source coordinates and weights (the index maps agree above);
    // each output is 4 weighted terms: 4 products and 3 sums, absolute <= tu_sum_tol(8)·max|x|.
    resize_nearest_forward(out, x, N, C, H, W, OH, OW);
    check(g, "nearest", out, nout, 0);
    resize_nearest_backward(dx, dout, N, C, H, W, OH, OW);
    check(g, "dx", dx, nin, tu_sum_tol((double)((OH + H - 1) / H) * ((OW + W - 1) / W), U));
    resize_bilinear_forward(bil, x, N, C, H, W, OH, OW);
    check_b(g, "bilinear", bil, nout, 0, tu_sum_tol(8, U) * tu_max_abs_f32(x, nin));
    float *m[] = {x, dout, out, dx, bil, idx, map, rows, cols};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) free(m[i]);
}

static void test_pool(const char *g) {
    int N = at(g, "N"), C = at(g, "C"), H = at(g, "H"), W = at(g, "W"), k = at(g, "k"), s = at(g, "s"),
        p = at(g, "p");
    PoolShape ps = pool_shape(N, C, H, W, k, k, s, s, p, p, at(g, "include_pad"));
    size_t nout = (size_t)N * C * ps.OH * ps.OW, nin = (size_t)N * C * H * W, nw;
    float *x = rd(g, "x", NULL), *dout = rd(g, "dout", &nw), *out = zeros(nout), *dx = zeros(nin);
    TU_CHECK(nw == nout, "%s: pool_shape gives %dx%d, torch's output has %zu values", g, ps.OH, ps.OW, nw);
    if (nw != nout) return;
    if (at(g, "is_max")) {
        int32_t *am = calloc(nout, sizeof(int32_t));
        maxpool2d_forward(out, am, x, &ps);
        maxpool2d_backward(dx, dout, am, &ps);
        free(am);
    } else {
        avgpool2d_forward(out, x, &ps);
        avgpool2d_backward(dx, dout, &ps);
    }
    // max: the output is a copy (exact); an input's gradient sums the <= ceil(k/s)² windows that chose it.
    // avg: k² terms (+ the division); its backward sums <= k² shares. Both within tu_sum_tol(k² + 1).
    double tol = tu_sum_tol((double)k * k + 1, U);
    check(g, "out", out, nout, at(g, "is_max") ? 0 : tol);
    check(g, "dx", dx, nin, tol);
    free(x), free(dout), free(out), free(dx);
}

static void test_gap(const char *g) {
    int N = at(g, "N"), C = at(g, "C"), HW = at(g, "HW");
    float *x = rd(g, "x", NULL), *dout = rd(g, "dout", NULL), *out = zeros((size_t)N * C),
          *dx = zeros((size_t)N * C * HW);
    global_avgpool_forward(out, x, N, C, HW);
    global_avgpool_backward(dx, dout, N, C, HW);
    check(g, "out", out, (size_t)N * C, tu_sum_tol(HW + 1.0, U));  // HW terms and the division
    check(g, "dx", dx, (size_t)N * C * HW, tu_sum_tol(1, U));       // dout / HW: one rounding
    free(x), free(dout), free(out), free(dx);
}

static void test_shuffle(const char *g) {
    int N = at(g, "N"), C = at(g, "C"), HW = at(g, "HW"), G = at(g, "groups");
    size_t n = (size_t)N * C * HW;
    float *x = rd(g, "x", NULL), *dout = rd(g, "dout", NULL), *out = zeros(n), *dx = zeros(n);
    channel_shuffle_forward(out, x, N, C, HW, G);
    channel_shuffle_backward(dx, dout, N, C, HW, G);
    check(g, "out", out, n, 0);  // permutations: exact
    check(g, "dx", dx, n, 0);
    free(x), free(dout), free(out), free(dx);
}

static void test_concat(const char *g) {
    int N = at(g, "N"), Ca = at(g, "Ca"), Cb = at(g, "Cb"), HW = at(g, "HW");
    size_t na = (size_t)N * Ca * HW, nb = (size_t)N * Cb * HW;
    float *a = rd(g, "a", NULL), *b = rd(g, "b", NULL), *dout = rd(g, "dout", NULL);
    float *out = zeros(na + nb), *da = zeros(na), *db = zeros(nb);
    concat_channels_forward(out, a, b, N, Ca, Cb, HW);
    concat_channels_backward(da, db, dout, N, Ca, Cb, HW);
    check(g, "out", out, na + nb, 0);  // copies: exact
    check(g, "da", da, na, 0);
    check(g, "db", db, nb, 0);
    free(a), free(b), free(dout), free(out), free(da), free(db);
}

// cosine, per row (sa = max(Σa², eps²), sb likewise, y = Σab / sqrt(sa·sb)), both sides together:
//   y: the dot of D random terms errs by <= λ·u·sqrt(D·Σa²b²), the norms (positive terms, any order) by
//      <= λ·u·sqrt(D) relative, sqrt, product and division 3u: δy = 2·(λu·sqrt(D·Σa²b²)/sqrt(sa·sb)
//      + (λu·sqrt(D) + 3u)·|y|).
//   da = dout·(b/sqrt(sa·sb) - y·a/sa): (λu·sqrt(D) + 3u) relative on each part plus δy·|a|/sa, times 2
//      (db likewise with a, b swapped).
static void test_cosine(const char *g) {
    int N = at(g, "N"), D = at(g, "D");
    float *a = rd(g, "a", NULL), *b = rd(g, "b", NULL), *dout = rd(g, "dout", NULL);
    float *out = zeros(N), *da = zeros((size_t)N * D), *db = zeros((size_t)N * D);
    cosine_similarity_forward(out, a, b, N, D, 1e-8f);
    cosine_similarity_backward(da, db, dout, a, b, N, D, 1e-8f);
    double bo = 0, bda = 0, bdb = 0, lu = TU_LAMBDA * U, e2 = 1e-8 * 1e-8;
    for (int r = 0; r < N; r++) {
        const float *ar = a + (size_t)r * D, *br = b + (size_t)r * D;
        double sa = 0, sb = 0, dot = 0, q = 0, ma = 0, mb = 0;
        for (int j = 0; j < D; j++) {
            sa += (double)ar[j] * ar[j], sb += (double)br[j] * br[j], dot += (double)ar[j] * br[j];
            q += (double)ar[j] * ar[j] * br[j] * br[j];
            ma = fmax(ma, fabs(ar[j])), mb = fmax(mb, fabs(br[j]));
        }
        sa = fmax(sa, e2), sb = fmax(sb, e2);
        double inv = 1 / sqrt(sa * sb), y = dot * inv, rel = lu * sqrt(D) + 3 * U, gr = fabs(dout[r]);
        double dy = 2 * (lu * sqrt(D * q) * inv + rel * fabs(y));
        bo = fmax(bo, dy);
        bda = fmax(bda, gr * (2 * rel * (mb * inv + fabs(y) * ma / sa) + dy * ma / sa));
        bdb = fmax(bdb, gr * (2 * rel * (ma * inv + fabs(y) * mb / sb) + dy * mb / sb));
    }
    check_b(g, "out", out, N, 0, bo);
    check_b(g, "da", da, (size_t)N * D, 0, bda);
    check_b(g, "db", db, (size_t)N * D, 0, bdb);
    free(a), free(b), free(dout), free(out), free(da), free(db);
}

// ulp of |x| in float32
static double ulp_f32(double x) { return x > 0 ? ldexp(1.0, ilogb(x) - 23) : 0; }

// 10 steps on the reference's gradients; every step's parameters compared, then m and v. Budget, per
// tensor, both sides together:
// - each side rounds p once per step: t steps, <= t·ulp(max|p|) apart; and each update (lr·m̂/(sqrt(v̂) +
//   eps)) carries <= 8 roundings a side plus C's float β: ours takes 1 - β from β rounded to float
//   (<= ulp(β)/2 absolute), PyTorch from the double: <= ulp(β)/(2·(1 - β)) relative on m (β1) and v (β2),
//   in their bias corrections, and so on the update: ε = 16u + ulp(β1)/(1 - β1) + ulp(β2)/(1 - β2)
//   relative to Σ_s |update_s| (the reference's own steps).
// - m: 3 roundings a step, decaying by β1: 2·(3u + ulp(β1)/(2(1 - β1)))·max|g|/(1 - β1).
// - v (positive terms): relative error grows <= 2u a step, plus ulp(β2)/(2(1 - β2)) from β2:
//   4u·(t + 1) + ulp(β2)/(2(1 - β2)) relative.
static void test_adam(const char *g) {
    int n = at(g, "n"), steps = at(g, "steps");
    float *grads = rd(g, "grads", NULL), *traj = rd(g, "params", NULL);
    float *p = zeros(n), *m = zeros(n), *v = zeros(n);
    char path[64];
    size_t nh;
    snprintf(path, sizeof path, "/%s/hyper", g);
    double *hy = tu_read_f64(FILE_, path, &nh);  // lr, beta1, beta2, eps
    TU_CHECK(nh == 4, "%s: hyper has %zu values, want lr, beta1, beta2, eps", path, nh);
    float b1 = (float)hy[1], b2 = (float)hy[2];
    double eps_upd = 16 * U + ulp_f32(b1) / (1 - b1) + ulp_f32(b2) / (1 - b2);
    memcpy(p, traj, (size_t)n * sizeof(float));
    // the parameters move ~lr per step, so also compare the displacement from the start, which a
    // relative error on the parameters themselves (of size ~1) would barely see
    double worst = 0, worst_tol = 0, worst_disp = 0, worst_disp_tol = 0, maxp = 0, maxg = 0;
    int ok = 1;
    float *disp = zeros(n), *want_disp = zeros(n);
    double *moved = calloc((size_t)n, sizeof(double));  // Σ_s |p_s - p_{s-1}| of the reference, per value
    for (int i = 0; i < n; i++) maxp = fmax(maxp, fabs(traj[i]));
    for (size_t i = 0; i < (size_t)steps * n; i++) maxg = fmax(maxg, fabs(grads[i]));
    for (int t = 1; t <= steps; t++) {
        adam_step(p, grads + (size_t)(t - 1) * n, m, v, n, (float)hy[0], b1, b2, (float)hy[3], t);
        const float *want = traj + (size_t)t * n;
        double maxmoved = 0;
        for (int i = 0; i < n; i++) {
            maxp = fmax(maxp, fabs(want[i]));
            moved[i] += fabs((double)want[i] - traj[(size_t)(t - 1) * n + i]);
            maxmoved = fmax(maxmoved, moved[i]);
        }
        double bound = t * ulp_f32(maxp) + eps_upd * maxmoved;
        double maxdiff = 0, maxdisp = 0;
        for (int i = 0; i < n; i++) {
            disp[i] = p[i] - traj[i];
            want_disp[i] = want[i] - traj[i];
            maxdiff = fmax(maxdiff, fabs((double)p[i] - want[i]));
            maxdisp = fmax(maxdisp, fabs(want_disp[i]));
        }
        ok &= maxdiff <= bound;
        worst = fmax(worst, tu_rel_err(p, want, n)), worst_tol = fmax(worst_tol, bound / maxp);
        worst_disp = fmax(worst_disp, tu_rel_err(disp, want_disp, n));
        worst_disp_tol = fmax(worst_disp_tol, maxdisp > 0 ? bound / maxdisp : 0);
    }
    char wd[96];
    snprintf(wd, sizeof wd, "%s displacement p_t - p_0, worst step", g);
    printf("%-4s %-48s rel err %.3e (tol %.1e)\n", ok ? "ok" : "FAIL", wd, worst_disp, worst_disp_tol);
    snprintf(wd, sizeof wd, "%s params, worst of %d steps", g, steps);
    printf("%-4s %-48s rel err %.3e (tol %.1e, %d values)\n", ok ? "ok" : "FAIL", wd, worst, worst_tol, n);
    TU_CHECK(ok, "%s: a step differs from the reference by more than t·ulp(max|p|) + ε·Σ|update|", g);
    TU_CHECK(disp[0] == 0 && want_disp[0] == 0, "%s: a value with zero gradient moved", g);
    free(disp), free(want_disp), free(moved);
    check_b(g, "m", m, n, 0, 2 * (3 * U + ulp_f32(b1) / (2 * (1 - b1))) * maxg / (1 - b1));
    check(g, "v", v, n, 4 * U * (steps + 1) + ulp_f32(b2) / (2 * (1 - b2)));
    free(grads), free(traj), free(p), free(m), free(v), free(hy);
}

// The op families (tests/opfamily.h), the same as test_fd_seq's.
static const char *const families[] = {"attention", "lstm", "resize", "pool", "channel", "cosine", "adam"};

int main(int argc, char **argv) {
    int st = of_parse(argc, argv, 1, families, sizeof families / sizeof *families);
    if (st >= 0) return st;
    FILE_ = argv[1];
    if (of_want("attention")) {
        test_mha("mha_L65");
        test_mha("mha_L66");
    }
    if (of_want("lstm")) {
        test_lstm_cell("lstm_cell");
        test_lstm_seq("lstm_seq_N1");
        test_lstm_seq("lstm_seq_N3");
    }
    const char *rs[] = {"resize_7to8", "resize_8to16", "resize_128to224", "resize_256to224", "resize_64to299",
                        "resize_7x9to8x5"};
    if (of_want("resize"))
        for (size_t i = 0; i < sizeof rs / sizeof *rs; i++) test_resize(rs[i]);
    const char *ps[] = {"avg3s1p1_pad", "avg3s1p1_nopad", "max3s2p0", "max3s2p1", "avg8"};
    if (of_want("pool")) {
        for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) test_pool(ps[i]);
        test_gap("gap");
    }
    if (of_want("channel")) {
        test_shuffle("shuffle");
        test_concat("concat");
    }
    if (of_want("cosine")) {
        test_cosine("cosine");
        test_cosine("cosine_clamped");
    }
    if (of_want("adam")) {
        test_adam("adam_b0");
        test_adam("adam_b05");
    }
    return tu_done("test_parity_seq");
}
