// Parity of core ops part B (attention, LSTM, resize, pooling, channel ops, cosine, Adam) with the
// PyTorch reference tests/reference/ops_seq.py. Usage: test_parity_seq ops_seq.h5
// Tolerance: relative error (max abs diff / max abs reference) ≤ 1e-4 for every tensor.
#include "core/ops.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

static const char *FILE_;
static const double TOL = 1e-4;
// The displacement p_t - p_0 is a difference of nearby float32 numbers (|p| ~ 1, |p_t - p_0| ~ 1e-2),
// so its float round-off alone is ~ 1e-7 / 1e-2 = 1e-5 relative: 1e-4 still applies.
static const double ADAM_DISP_TOL = 1e-4;

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
static void check(const char *g, const char *name, const float *got, size_t n) {
    size_t nw;
    float *want = rd(g, name, &nw);
    char what[128];
    snprintf(what, sizeof what, "%s/%s", g, name);
    if (nw != n) {
        TU_CHECK(0, "%s: %zu values, reference has %zu", what, n, nw);
    } else {
        tu_close(what, got, want, n, TOL);
    }
    free(want);
}

static void test_mha(const char *g) {
    int B = at(g, "B"), L = at(g, "L"), D = at(g, "D"), H = at(g, "H");
    size_t nx = (size_t)B * L * D;
    float *x = rd(g, "x", NULL), *w_in = rd(g, "w_in", NULL), *b_in = rd(g, "b_in", NULL);
    float *w_out = rd(g, "w_out", NULL), *b_out = rd(g, "b_out", NULL), *dout = rd(g, "dout", NULL);
    float *out = zeros(nx), *cache = zeros(mha_cache_floats(B, L, D, H));
    mha_forward(out, cache, x, w_in, b_in, w_out, b_out, B, L, D, H);
    check(g, "out", out, nx);
    float *dx = zeros(nx), *dw_in = zeros((size_t)3 * D * D), *db_in = zeros((size_t)3 * D);
    float *dw_out = zeros((size_t)D * D), *db_out = zeros(D);
    mha_backward(dx, dw_in, db_in, dw_out, db_out, dout, x, cache, w_in, w_out, B, L, D, H);
    check(g, "dx", dx, nx);
    check(g, "dw_in", dw_in, (size_t)3 * D * D);
    check(g, "db_in", db_in, (size_t)3 * D);
    check(g, "dw_out", dw_out, (size_t)D * D);
    check(g, "db_out", db_out, D);
    // backward accumulates: a second call doubles every gradient
    mha_backward(dx, NULL, NULL, NULL, db_out, dout, x, cache, w_in, w_out, B, L, D, H);
    float *want = rd(g, "db_out", NULL);
    for (int j = 0; j < D; j++) want[j] *= 2;
    tu_close("mha db_out accumulates (+=) over two calls", db_out, want, D, TOL);
    free(want);
    float *m[] = {x, w_in, b_in, w_out, b_out, dout, out, cache, dx, dw_in, db_in, dw_out, db_out};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) free(m[i]);
}

static void test_lstm_cell(const char *g) {
    int N = at(g, "N"), I = at(g, "I"), H = at(g, "H");
    size_t nh = (size_t)N * H;
    float *x = rd(g, "x", NULL), *h0 = rd(g, "h0", NULL), *c0 = rd(g, "c0", NULL);
    float *w_ih = rd(g, "w_ih", NULL), *w_hh = rd(g, "w_hh", NULL), *b_ih = rd(g, "b_ih", NULL),
          *b_hh = rd(g, "b_hh", NULL), *dh = rd(g, "dh", NULL), *dc = rd(g, "dc", NULL);
    float *h = zeros(nh), *c = zeros(nh), *gates = zeros(4 * nh);
    lstm_cell_forward(h, c, gates, x, h0, c0, w_ih, w_hh, b_ih, b_hh, N, I, H);
    check(g, "h", h, nh);
    check(g, "c", c, nh);
    float *dx = zeros((size_t)N * I), *dh0 = zeros(nh), *dc0 = zeros(nh), *dw_ih = zeros((size_t)4 * H * I),
          *dw_hh = zeros((size_t)4 * H * H), *db_ih = zeros(4 * H), *db_hh = zeros(4 * H);
    lstm_cell_backward(dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dh, dc, gates, c0, c, x, h0, w_ih, w_hh, N, I, H);
    check(g, "dx", dx, (size_t)N * I);
    check(g, "dh0", dh0, nh);
    check(g, "dc0", dc0, nh);
    check(g, "dw_ih", dw_ih, (size_t)4 * H * I);
    check(g, "dw_hh", dw_hh, (size_t)4 * H * H);
    check(g, "db_ih", db_ih, 4 * H);
    check(g, "db_hh", db_hh, 4 * H);
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
    lstm_seq_forward(h_all, c_all, gates, x, h0, c0, w_ih, w_hh, b_ih, b_hh, T, N, I, H);
    check(g, "h_all", h_all, nall);
    check(g, "h_last", h_all + (T - 1) * nh, nh);
    check(g, "c_last", c_all + (T - 1) * nh, nh);
    float *dx = zeros((size_t)T * N * I), *dh0 = zeros(nh), *dc0 = zeros(nh), *dw_ih = zeros((size_t)4 * H * I),
          *dw_hh = zeros((size_t)4 * H * H), *db_ih = zeros(4 * H), *db_hh = zeros(4 * H);
    lstm_seq_backward(dx, st ? dh0 : NULL, st ? dc0 : NULL, dw_ih, dw_hh, db_ih, db_hh, dh_all, dh_last, dc_last,
                      h_all, c_all, gates, x, h0, c0, w_ih, w_hh, T, N, I, H);
    check(g, "dx", dx, (size_t)T * N * I);
    if (st) {
        check(g, "dh0", dh0, nh);
        check(g, "dc0", dc0, nh);
    }
    check(g, "dw_ih", dw_ih, (size_t)4 * H * I);
    check(g, "dw_hh", dw_hh, (size_t)4 * H * H);
    check(g, "db_ih", db_ih, 4 * H);
    check(g, "db_hh", db_hh, 4 * H);
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
    resize_nearest_forward(out, x, N, C, H, W, OH, OW);
    check(g, "nearest", out, nout);
    resize_nearest_backward(dx, dout, N, C, H, W, OH, OW);
    check(g, "dx", dx, nin);
    resize_bilinear_forward(bil, x, N, C, H, W, OH, OW);
    check(g, "bilinear", bil, nout);
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
    check(g, "out", out, nout);
    check(g, "dx", dx, nin);
    free(x), free(dout), free(out), free(dx);
}

static void test_gap(const char *g) {
    int N = at(g, "N"), C = at(g, "C"), HW = at(g, "HW");
    float *x = rd(g, "x", NULL), *dout = rd(g, "dout", NULL), *out = zeros((size_t)N * C),
          *dx = zeros((size_t)N * C * HW);
    global_avgpool_forward(out, x, N, C, HW);
    global_avgpool_backward(dx, dout, N, C, HW);
    check(g, "out", out, (size_t)N * C);
    check(g, "dx", dx, (size_t)N * C * HW);
    free(x), free(dout), free(out), free(dx);
}

static void test_shuffle(const char *g) {
    int N = at(g, "N"), C = at(g, "C"), HW = at(g, "HW"), G = at(g, "groups");
    size_t n = (size_t)N * C * HW;
    float *x = rd(g, "x", NULL), *dout = rd(g, "dout", NULL), *out = zeros(n), *dx = zeros(n);
    channel_shuffle_forward(out, x, N, C, HW, G);
    channel_shuffle_backward(dx, dout, N, C, HW, G);
    check(g, "out", out, n);
    check(g, "dx", dx, n);
    free(x), free(dout), free(out), free(dx);
}

static void test_concat(const char *g) {
    int N = at(g, "N"), Ca = at(g, "Ca"), Cb = at(g, "Cb"), HW = at(g, "HW");
    size_t na = (size_t)N * Ca * HW, nb = (size_t)N * Cb * HW;
    float *a = rd(g, "a", NULL), *b = rd(g, "b", NULL), *dout = rd(g, "dout", NULL);
    float *out = zeros(na + nb), *da = zeros(na), *db = zeros(nb);
    concat_channels_forward(out, a, b, N, Ca, Cb, HW);
    concat_channels_backward(da, db, dout, N, Ca, Cb, HW);
    check(g, "out", out, na + nb);
    check(g, "da", da, na);
    check(g, "db", db, nb);
    free(a), free(b), free(dout), free(out), free(da), free(db);
}

static void test_cosine(const char *g) {
    int N = at(g, "N"), D = at(g, "D");
    float *a = rd(g, "a", NULL), *b = rd(g, "b", NULL), *dout = rd(g, "dout", NULL);
    float *out = zeros(N), *da = zeros((size_t)N * D), *db = zeros((size_t)N * D);
    cosine_similarity_forward(out, a, b, N, D, 1e-8f);
    cosine_similarity_backward(da, db, dout, a, b, N, D, 1e-8f);
    check(g, "out", out, N);
    check(g, "da", da, (size_t)N * D);
    check(g, "db", db, (size_t)N * D);
    free(a), free(b), free(dout), free(out), free(da), free(db);
}

// 10 steps on the reference's gradients; every step's parameters compared, then m and v.
static void test_adam(const char *g) {
    int n = at(g, "n"), steps = at(g, "steps");
    float *grads = rd(g, "grads", NULL), *traj = rd(g, "params", NULL);
    float *p = zeros(n), *m = zeros(n), *v = zeros(n);
    char path[64];
    size_t nh;
    snprintf(path, sizeof path, "/%s/hyper", g);
    double *hy = tu_read_f64(FILE_, path, &nh);  // lr, beta1, beta2, eps
    TU_CHECK(nh == 4, "%s: hyper has %zu values, want lr, beta1, beta2, eps", path, nh);
    memcpy(p, traj, (size_t)n * sizeof(float));
    // the parameters move ~lr per step, so also compare the displacement from the start, which a
    // relative error on the parameters themselves (of size ~1) would barely see
    double worst = 0, worst_disp = 0;
    float *disp = zeros(n), *want_disp = zeros(n);
    for (int t = 1; t <= steps; t++) {
        adam_step(p, grads + (size_t)(t - 1) * n, m, v, n, (float)hy[0], (float)hy[1], (float)hy[2], (float)hy[3], t);
        double r = tu_rel_err(p, traj + (size_t)t * n, n);
        worst = r > worst ? r : worst;
        for (int i = 0; i < n; i++) {
            disp[i] = p[i] - traj[i];
            want_disp[i] = traj[(size_t)t * n + i] - traj[i];
        }
        r = tu_rel_err(disp, want_disp, n);
        worst_disp = r > worst_disp ? r : worst_disp;
    }
    char wd[96];
    snprintf(wd, sizeof wd, "%s displacement p_t - p_0, worst step", g);
    printf("%-4s %-48s rel err %.3e (tol %.0e)\n", worst_disp <= ADAM_DISP_TOL ? "ok" : "FAIL", wd, worst_disp,
           ADAM_DISP_TOL);
    TU_CHECK(worst_disp <= ADAM_DISP_TOL, "%s: displacement differs by %.3e", g, worst_disp);
    TU_CHECK(disp[0] == 0 && want_disp[0] == 0, "%s: a value with zero gradient moved", g);
    free(disp), free(want_disp);
    char what[96];
    snprintf(what, sizeof what, "%s params, worst of %d steps", g, steps);
    float *last = traj + (size_t)steps * n;
    tu_close(what, p, last, n, TOL);
    TU_CHECK(worst <= TOL, "%s: a step before the last differs by %.3e", g, worst);
    check(g, "m", m, n);
    check(g, "v", v, n);
    free(grads), free(traj), free(p), free(m), free(v), free(hy);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_parity_seq ops_seq.h5\n");
        return 2;
    }
    FILE_ = argv[1];
    test_mha("mha_L65");
    test_mha("mha_L66");
    test_lstm_cell("lstm_cell");
    test_lstm_seq("lstm_seq_N1");
    test_lstm_seq("lstm_seq_N3");
    const char *rs[] = {"resize_7to8", "resize_8to16", "resize_128to224", "resize_256to224", "resize_64to299",
                        "resize_7x9to8x5"};
    for (size_t i = 0; i < sizeof rs / sizeof *rs; i++) test_resize(rs[i]);
    const char *ps[] = {"avg3s1p1_pad", "avg3s1p1_nopad", "max3s2p0", "max3s2p1", "avg8"};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) test_pool(ps[i]);
    test_gap("gap");
    test_shuffle("shuffle");
    test_concat("concat");
    test_cosine("cosine");
    test_cosine("cosine_clamped");
    test_adam("adam_b0");
    test_adam("adam_b05");
    return tu_done("test_parity_seq");
}
