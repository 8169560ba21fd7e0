// Finite-difference checks, in double precision (ratlip_core_f64), of every backward of core ops part B:
// attention, LSTM cell and sequence (BPTT), nearest resize (and its adjoint property), average/max/global
// pooling, concat, channel shuffle, cosine similarity; plus Adam's first-step identity.
// Usage: test_fd_seq [FAMILY] (tests/opfamily.h; ctest runs each family as op_<family>_fd).
// Each op: L = Σ wout·f(θ) with random wout; the backward run with dout = wout must equal dL/dθ.
#include "core/ops.h"
#include "fdcheck.h"
#include "opfamily.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double EPS = 1e-5, TOL = 1e-6;  // budget: tests/fdcheck.h
static const size_t MAX_CHECKS = 300;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void) {  // xorshift64*, uniform in [-1, 1)
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0 * 2 - 1;
}
static double *rnd(size_t n, double scale) {
    double *x = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) x[i] = scale * urand();
    return x;
}
static double *zeros(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

// The op families (tests/opfamily.h), the same as test_parity_seq's. A family left out by the filter
// still draws its random inputs (fd_skip: only the checks are skipped), so that every case sees the
// same data whatever the filter.
static const char *const families[] = {"attention", "lstm", "resize", "pool", "channel", "cosine", "adam"};
static void family(const char *name) { fd_skip = !of_want(name); }

// One checked op: its forward as an fd_forward_fn, the output size, and a scratch buffer for it.
static void check_grad(const char *what, fd_forward_fn f, void *ctx, double *theta, const double *grad, size_t n,
                       const double *wout, size_t n_out) {
    double *scratch = zeros(n_out);
    fd_check(what, f, ctx, theta, grad, n, wout, n_out, scratch, EPS, TOL, MAX_CHECKS);
    free(scratch);
}

// ------------------------------------------------------------------ attention
typedef struct {
    int B, L, D, H;
    double *x, *w_in, *b_in, *w_out, *b_out, *cache;
} Mha;
static void mha_f(void *c, double *out) {
    Mha *m = c;
    mha_forward(out, m->cache, m->x, m->w_in, m->b_in, m->w_out, m->b_out, m->B, m->L, m->D, m->H);
}
static void fd_mha(int B, int L, int D, int H) {
    Mha m = {B, L, D, H, rnd((size_t)B * L * D, 1), rnd((size_t)3 * D * D, 0.5), rnd((size_t)3 * D, 0.5),
             rnd((size_t)D * D, 0.5), rnd(D, 0.5), zeros(mha_cache_floats(B, L, D, H))};
    size_t n = (size_t)B * L * D;
    double *wout = rnd(n, 1), *out = zeros(n);
    double *dx = zeros(n), *dw_in = zeros((size_t)3 * D * D), *db_in = zeros((size_t)3 * D),
           *dw_out = zeros((size_t)D * D), *db_out = zeros(D);
    mha_f(&m, out);
    mha_backward(dx, dw_in, db_in, dw_out, db_out, wout, m.x, m.cache, m.w_in, m.w_out, B, L, D, H);
    char w[64];
#define CHK(name, theta, grad, cnt)                                                  \
    snprintf(w, sizeof w, "mha B%d L%d D%d H%d %s", B, L, D, H, name);               \
    check_grad(w, mha_f, &m, theta, grad, cnt, wout, n)
    CHK("dx", m.x, dx, n);
    CHK("dw_in", m.w_in, dw_in, (size_t)3 * D * D);
    CHK("db_in", m.b_in, db_in, (size_t)3 * D);
    CHK("dw_out", m.w_out, dw_out, (size_t)D * D);
    CHK("db_out", m.b_out, db_out, D);
#undef CHK
    double *ptrs[] = {m.x, m.w_in, m.b_in, m.w_out, m.b_out, m.cache, wout, out, dx, dw_in, db_in, dw_out, db_out};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) free(ptrs[i]);
}

// ------------------------------------------------------------------ LSTM cell: f = [h, c]
typedef struct {
    int N, I, H;
    double *x, *h0, *c0, *w_ih, *w_hh, *b_ih, *b_hh, *gates;
} Cell;
static void cell_f(void *p, double *out) {
    Cell *c = p;
    size_t nh = (size_t)c->N * c->H;
    lstm_cell_forward(out, out + nh, c->gates, c->x, c->h0, c->c0, c->w_ih, c->w_hh, c->b_ih, c->b_hh, c->N, c->I,
                      c->H);
}
static void fd_lstm_cell(int N, int I, int H, int with_state) {
    size_t nh = (size_t)N * H;
    Cell c = {N, I, H, rnd((size_t)N * I, 1), with_state ? rnd(nh, 1) : NULL, with_state ? rnd(nh, 1) : NULL, rnd((size_t)4 * H * I, 0.5),
              rnd((size_t)4 * H * H, 0.5), rnd(4 * H, 0.5), rnd(4 * H, 0.5), zeros(4 * nh)};
    double *wout = rnd(2 * nh, 1), *out = zeros(2 * nh);
    double *dx = zeros((size_t)N * I), *dh0 = zeros(nh), *dc0 = zeros(nh), *dw_ih = zeros((size_t)4 * H * I),
           *dw_hh = zeros((size_t)4 * H * H), *db_ih = zeros(4 * H), *db_hh = zeros(4 * H);
    cell_f(&c, out);
    lstm_cell_backward(dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, wout, wout + nh, c.gates, c.c0, out + nh, c.x, c.h0,
                       c.w_ih, c.w_hh, N, I, H);
    const char *tag = with_state ? "" : " zero state";
    char w[64];
#define CHK(name, theta, grad, cnt)                          \
    snprintf(w, sizeof w, "lstm cell%s %s", tag, name);      \
    check_grad(w, cell_f, &c, theta, grad, cnt, wout, 2 * nh)
    CHK("dx", c.x, dx, (size_t)N * I);
    if (with_state) {
        CHK("dh_prev", c.h0, dh0, nh);
        CHK("dc_prev", c.c0, dc0, nh);
    }
    CHK("dw_ih", c.w_ih, dw_ih, (size_t)4 * H * I);
    CHK("dw_hh", c.w_hh, dw_hh, (size_t)4 * H * H);
    CHK("db_ih", c.b_ih, db_ih, 4 * H);
    CHK("db_hh", c.b_hh, db_hh, 4 * H);
#undef CHK
    double *ptrs[] = {c.x, c.h0, c.c0, c.w_ih, c.w_hh, c.b_ih, c.b_hh, c.gates, wout, out,
                      dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) free(ptrs[i]);
}

// ------------------------------------------------------------------ LSTM sequence (BPTT): f = [h_all, h_T, c_T]
typedef struct {
    int T, N, I, H;
    double *x, *h0, *c0, *w_ih, *w_hh, *b_ih, *b_hh, *h_all, *c_all, *gates;
} Seq;
static void seq_f(void *p, double *out) {
    Seq *s = p;
    size_t nh = (size_t)s->N * s->H, nall = (size_t)s->T * nh;
    lstm_seq_forward(s->h_all, s->c_all, s->gates, s->x, s->h0, s->c0, s->w_ih, s->w_hh, s->b_ih, s->b_hh, s->T,
                     s->N, s->I, s->H);
    memcpy(out, s->h_all, nall * sizeof(double));
    memcpy(out + nall, s->h_all + nall - nh, nh * sizeof(double));
    memcpy(out + nall + nh, s->c_all + nall - nh, nh * sizeof(double));
}
static void fd_lstm_seq(int T, int N, int I, int H, int with_state) {
    size_t nh = (size_t)N * H, nall = (size_t)T * nh, n_out = nall + 2 * nh;
    Seq s = {T, N, I, H, rnd((size_t)T * N * I, 1), with_state ? rnd(nh, 1) : NULL, with_state ? rnd(nh, 1) : NULL,
             rnd((size_t)4 * H * I, 0.5), rnd((size_t)4 * H * H, 0.5), rnd(4 * H, 0.5), rnd(4 * H, 0.5),
             zeros(nall), zeros(nall), zeros(4 * nall)};
    double *wout = rnd(n_out, 1), *out = zeros(n_out);
    double *dx = zeros((size_t)T * N * I), *dh0 = zeros(nh), *dc0 = zeros(nh), *dw_ih = zeros((size_t)4 * H * I),
           *dw_hh = zeros((size_t)4 * H * H), *db_ih = zeros(4 * H), *db_hh = zeros(4 * H);
    seq_f(&s, out);
    lstm_seq_backward(dx, with_state ? dh0 : NULL, with_state ? dc0 : NULL, dw_ih, dw_hh, db_ih, db_hh, wout,
                      wout + nall, wout + nall + nh, s.h_all, s.c_all, s.gates, s.x, s.h0, s.c0, s.w_ih, s.w_hh, T, N,
                      I, H);
    char w[80];
#define CHK(name, theta, grad, cnt)                                                                    \
    snprintf(w, sizeof w, "lstm seq T%d N%d%s %s", T, N, with_state ? " h0,c0" : "", name);            \
    check_grad(w, seq_f, &s, theta, grad, cnt, wout, n_out)
    CHK("dx", s.x, dx, (size_t)T * N * I);
    if (with_state) {
        CHK("dh0", s.h0, dh0, nh);
        CHK("dc0", s.c0, dc0, nh);
    }
    CHK("dw_ih", s.w_ih, dw_ih, (size_t)4 * H * I);
    CHK("dw_hh", s.w_hh, dw_hh, (size_t)4 * H * H);
    CHK("db_ih", s.b_ih, db_ih, 4 * H);
    CHK("db_hh", s.b_hh, db_hh, 4 * H);
#undef CHK
    double *ptrs[] = {s.x, s.h0, s.c0, s.w_ih, s.w_hh, s.b_ih, s.b_hh, s.h_all, s.c_all, s.gates, wout, out,
                      dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) free(ptrs[i]);
}

// ------------------------------------------------------------------ nearest resize
typedef struct {
    int N, C, H, W, OH, OW;
    double *x;
} Rs;
static void rs_f(void *p, double *out) {
    Rs *r = p;
    resize_nearest_forward(out, r->x, r->N, r->C, r->H, r->W, r->OH, r->OW);
}
static void fd_resize(int H, int W, int OH, int OW) {
    Rs r = {2, 2, H, W, OH, OW, rnd((size_t)4 * H * W, 1)};
    size_t nin = (size_t)4 * H * W, nout = (size_t)4 * OH * OW;
    double *wout = rnd(nout, 1), *dx = zeros(nin), *out = zeros(nout), *back = zeros(nin);
    resize_nearest_backward(dx, wout, 2, 2, H, W, OH, OW);
    char w[64];
    snprintf(w, sizeof w, "resize nearest %dx%d->%dx%d dx", H, W, OH, OW);
    check_grad(w, rs_f, &r, r.x, dx, nin, wout, nout);
    // adjoint: <resize(x), y> = <x, resize_adjoint(y)> for random x, y
    rs_f(&r, out);
    resize_nearest_backward(back, wout, 2, 2, H, W, OH, OW);
    double lhs = 0, rhs = 0, mag = 0;
    for (size_t i = 0; i < nout; i++) lhs += out[i] * wout[i], mag += fabs(out[i] * wout[i]);
    for (size_t i = 0; i < nin; i++) rhs += r.x[i] * back[i];
    // two double sums of the same n products in other orders (the adjoint regroups them), random signs: they
    // differ by <= 2·λ·u64·sqrt(n·Σt²) (testutil.h's model), ~2·λ·u64·1.3 = 2.3e-15 of Σ|t| for Gaussian
    // terms (sqrt(n·Σt²) ~ 1.25·Σ|t|); tolerance 1e-12
    double rel = fabs(lhs - rhs) / (mag > 1e-300 ? mag : 1);
    int ok = rel <= 1e-12;
    snprintf(w, sizeof w, "resize nearest %dx%d->%dx%d", H, W, OH, OW);
    if (!fd_skip) {
        printf("%-4s adjoint %-39s |<Rx,y>-<x,R*y>|/Σ|.| %.3e (tol 1e-12)\n", ok ? "ok" : "FAIL", w, rel);
        if (!ok) fd_failures++;
    }
    free(r.x), free(wout), free(dx), free(out), free(back);
}

// ------------------------------------------------------------------ pooling
typedef struct {
    PoolShape s;
    int is_max;
    double *x;
    int32_t *am;
} Pool;
static void pool_f(void *p, double *out) {
    Pool *q = p;
    if (q->is_max)
        maxpool2d_forward(out, q->am, q->x, &q->s);
    else
        avgpool2d_forward(out, q->x, &q->s);
}
static void fd_pool(const char *name, int is_max, int H, int k, int s, int p, int include_pad) {
    Pool q = {pool_shape(2, 3, H, H, k, k, s, s, p, p, include_pad), is_max, rnd((size_t)6 * H * H, 1), NULL};
    size_t nin = (size_t)6 * H * H, nout = (size_t)6 * q.s.OH * q.s.OW;
    q.am = calloc(nout, sizeof(int32_t));
    double *wout = rnd(nout, 1), *dx = zeros(nin), *out = zeros(nout);
    pool_f(&q, out);
    if (is_max)
        maxpool2d_backward(dx, wout, q.am, &q.s);
    else
        avgpool2d_backward(dx, wout, &q.s);
    check_grad(name, pool_f, &q, q.x, dx, nin, wout, nout);
    free(q.x), free(q.am), free(wout), free(dx), free(out);
}

typedef struct {
    int N, C, HW;
    double *x;
} Gap;
static void gap_f(void *p, double *out) {
    Gap *g = p;
    global_avgpool_forward(out, g->x, g->N, g->C, g->HW);
}

// ------------------------------------------------------------------ concat, shuffle, cosine
typedef struct {
    int N, Ca, Cb, HW, groups;
    double *a, *b;
    real eps;
} Two;
static void concat_f(void *p, double *out) {
    Two *t = p;
    concat_channels_forward(out, t->a, t->b, t->N, t->Ca, t->Cb, t->HW);
}
static void shuffle_f(void *p, double *out) {
    Two *t = p;
    channel_shuffle_forward(out, t->a, t->N, t->Ca, t->HW, t->groups);
}
static void cosine_f(void *p, double *out) {
    Two *t = p;
    cosine_similarity_forward(out, t->a, t->b, t->N, t->Ca, t->eps);
}

// global average pool (family pool), concat and channel shuffle (channel), cosine similarity (cosine)
static void fd_small_ops(void) {
    family("pool");
    Gap g = {2, 3, 10, rnd(60, 1)};
    double *wout = rnd(6, 1), *dx = zeros(60);
    global_avgpool_backward(dx, wout, 2, 3, 10);
    check_grad("global_avgpool dx", gap_f, &g, g.x, dx, 60, wout, 6);
    free(g.x), free(wout), free(dx);

    family("channel");
    Two c = {2, 3, 4, 5, 0, rnd(30, 1), rnd(40, 1), 0};
    double *w2 = rnd(70, 1), *da = zeros(30), *db = zeros(40);
    concat_channels_backward(da, db, w2, 2, 3, 4, 5);
    check_grad("concat da", concat_f, &c, c.a, da, 30, w2, 70);
    check_grad("concat db", concat_f, &c, c.b, db, 40, w2, 70);
    free(c.a), free(c.b), free(w2), free(da), free(db);
    for (int groups = 2; groups <= 4; groups += 2) {
        Two s = {2, 8, 0, 3, groups, rnd(48, 1), NULL, 0};
        double *w3 = rnd(48, 1), *ds = zeros(48);
        channel_shuffle_backward(ds, w3, 2, 8, 3, groups);
        char w[48];
        snprintf(w, sizeof w, "channel_shuffle groups %d dx", groups);
        check_grad(w, shuffle_f, &s, s.a, ds, 48, w3, 48);
        free(s.a), free(w3), free(ds);
    }

    family("cosine");   // norms well above eps, where the op is differentiable as written
    Two k = {4, 7, 0, 0, 0, rnd(28, 1), rnd(28, 1), (real)1e-8};
    double *w4 = rnd(4, 1), *dka = zeros(28), *dkb = zeros(28);
    cosine_similarity_backward(dka, dkb, w4, k.a, k.b, 4, 7, k.eps);
    check_grad("cosine_similarity da", cosine_f, &k, k.a, dka, 28, w4, 4);
    check_grad("cosine_similarity db", cosine_f, &k, k.b, dkb, 28, w4, 4);
    free(k.a), free(k.b), free(w4), free(dka), free(dkb);
}

// ------------------------------------------------------------------ Adam
// After the first step m/(1-β1) = g and v/(1-β2) = g², so p1 = p0 - lr·g/(|g| + eps) for any betas.
// Budget, in double: both sides round p (|p| <= 4 here) once, u64·|p| each, and the update by ~6 roundings:
// (2·u64·4 + 12·u64·lr)/lr = 8.9e-13 relative to lr (rounding of the update: ~1e-15); tolerance 1e-12.
static void check_adam(double b1, double b2) {
    enum { n = 16 };
    double *p = rnd(n, 1), *g = rnd(n, 1), *m = zeros(n), *v = zeros(n), p0[n];
    memcpy(p0, p, sizeof p0);
    adam_step(p, g, m, v, n, 1e-3, b1, b2, 1e-8, 1);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double want = p0[i] - 1e-3 * g[i] / (fabs(g[i]) + 1e-8);
        double d = fabs((p[i] - p0[i]) - (want - p0[i])) / 1e-3;
        worst = d > worst ? d : worst;
    }
    int ok = worst <= 1e-12;
    if (!fd_skip) {
        printf("%-4s adam step 1 = -lr·g/(|g|+eps), betas (%.1f, %.3f)      rel err %.3e (tol 1e-12)\n",
               ok ? "ok" : "FAIL", b1, b2, worst);
        if (!ok) fd_failures++;
    }
    free(p), free(g), free(m), free(v);
}

int main(int argc, char **argv) {
    int st = of_parse(argc, argv, 0, families, sizeof families / sizeof *families);
    if (st >= 0) return st;
    family("attention");
    fd_mha(2, 5, 8, 2);
    fd_mha(1, 6, 12, 3);
    family("lstm");
    fd_lstm_cell(3, 5, 4, 1);
    fd_lstm_cell(2, 5, 4, 0);
    fd_lstm_seq(4, 2, 3, 4, 1);
    fd_lstm_seq(5, 1, 3, 4, 0);
    family("resize");
    fd_resize(7, 7, 8, 8);
    fd_resize(8, 8, 16, 16);
    fd_resize(9, 6, 4, 11);
    fd_resize(64, 64, 299, 299);
    family("pool");
    fd_pool("avgpool 3x3 s1 p1 count_include_pad", 0, 7, 3, 1, 1, 1);
    fd_pool("avgpool 3x3 s1 p1 exclude pad", 0, 7, 3, 1, 1, 0);
    fd_pool("avgpool 3x3 s2 p1 exclude pad", 0, 8, 3, 2, 1, 0);
    fd_pool("maxpool 3x3 s2 p0", 1, 9, 3, 2, 0, 0);
    fd_pool("maxpool 3x3 s2 p1", 1, 8, 3, 2, 1, 0);
    fd_pool("avgpool 8x8", 0, 8, 8, 8, 0, 1);
    fd_small_ops();
    family("adam");
    check_adam(0.0, 0.9);
    check_adam(0.5, 0.999);
    return fd_done("test_fd_seq");
}
