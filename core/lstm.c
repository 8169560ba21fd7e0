// lstm: PyTorch nn.LSTM arithmetic (gate order i, f, g, o; both biases b_ih + b_hh), one cell step and a
// whole sequence with backpropagation through time. The sequence batches the input projection of all
// T steps into one GEMM and keeps only the recurrent h_{t-1} @ w_hhᵀ product inside the time loop;
// the backward does the mirror image (one GEMM each for dx, dw_ih and dw_hh after the loop).
#include "core/ops.h"
#include "core/kernels.h"
#include <string.h>

static real sigm(real x) { return 1 / (1 + exp(-x)); }

// pre[N,4H] holds pre-activations on entry; on return the activated gates (σi, σf, tanh g, σo).
// Then c = f⊙c_prev + i⊙g and h = o⊙tanh(c). c_prev NULL = zeros.
static void lstm_pointwise(real *h, real *c, real *pre, const real *c_prev, int N, int H) {
    for (int n = 0; n < N; n++) {
        real *gt = pre + (size_t)n * 4 * H;
        for (int j = 0; j < H; j++) {
            real i = sigm(gt[j]), f = sigm(gt[H + j]), g = tanh(gt[2 * H + j]), o = sigm(gt[3 * H + j]);
            gt[j] = i, gt[H + j] = f, gt[2 * H + j] = g, gt[3 * H + j] = o;
            real cp = c_prev ? c_prev[(size_t)n * H + j] : 0;
            real cn = f * cp + i * g;
            c[(size_t)n * H + j] = cn;
            h[(size_t)n * H + j] = o * tanh(cn);
        }
    }
}

// dpre[N,4H] = gradient at the gate pre-activations, from dh, dc (dc NULL = none) at this step's
// outputs. dc_prev (may be NULL) receives += the gradient flowing to c_prev.
static void lstm_pointwise_backward(real *dpre, real *dc_prev, const real *dh, const real *dc, const real *gates,
                                    const real *c_prev, const real *c, int N, int H) {
    for (int n = 0; n < N; n++) {
        const real *gt = gates + (size_t)n * 4 * H;
        real *dg = dpre + (size_t)n * 4 * H;
        for (int j = 0; j < H; j++) {
            size_t e = (size_t)n * H + j;
            real i = gt[j], f = gt[H + j], g = gt[2 * H + j], o = gt[3 * H + j];
            real tc = tanh(c[e]), cp = c_prev ? c_prev[e] : 0;
            real dct = (dc ? dc[e] : 0) + dh[e] * o * (1 - tc * tc);  // total gradient at c
            dg[j] = dct * g * i * (1 - i);
            dg[H + j] = dct * cp * f * (1 - f);
            dg[2 * H + j] = dct * i * (1 - g * g);
            dg[3 * H + j] = dh[e] * tc * o * (1 - o);
            if (dc_prev) dc_prev[e] += dct * f;
        }
    }
}

// pre[R,4H] = b_ih + b_hh broadcast over rows
static void fill_bias(real *pre, const real *b_ih, const real *b_hh, int R, int H) {
    for (int r = 0; r < R; r++)
        for (int j = 0; j < 4 * H; j++) pre[(size_t)r * 4 * H + j] = b_ih[j] + b_hh[j];
}

static void add_colsum(real *acc, const real *x, int R, int C) {
    for (int r = 0; r < R; r++)
        for (int j = 0; j < C; j++) acc[j] += x[(size_t)r * C + j];
}

void lstm_cell_forward(real *h, real *c, real *gates, const real *x, const real *h_prev, const real *c_prev,
                       const real *w_ih, const real *w_hh, const real *b_ih, const real *b_hh, int N, int I,
                       int H) {
    fill_bias(gates, b_ih, b_hh, N, H);
    kern_gemm(0, 1, N, 4 * H, I, 1, x, I, w_ih, I, 1, gates, 4 * H);                       // += x @ w_ihᵀ
    if (h_prev) kern_gemm(0, 1, N, 4 * H, H, 1, h_prev, H, w_hh, H, 1, gates, 4 * H);    // += h @ w_hhᵀ
    lstm_pointwise(h, c, gates, c_prev, N, H);
}

void lstm_cell_backward(real *dx, real *dh_prev, real *dc_prev, real *dw_ih, real *dw_hh, real *db_ih,
                        real *db_hh, const real *dh, const real *dc, const real *gates, const real *c_prev,
                        const real *c, const real *x, const real *h_prev, const real *w_ih, const real *w_hh,
                        int N, int I, int H) {
    real *dpre = kern_scratch(0, (size_t)N * 4 * H);
    lstm_pointwise_backward(dpre, dc_prev, dh, dc, gates, c_prev, c, N, H);
    if (dx) kern_gemm(0, 0, N, I, 4 * H, 1, dpre, 4 * H, w_ih, I, 1, dx, I);
    if (dh_prev) kern_gemm(0, 0, N, H, 4 * H, 1, dpre, 4 * H, w_hh, H, 1, dh_prev, H);
    if (dw_ih) kern_gemm(1, 0, 4 * H, I, N, 1, dpre, 4 * H, x, I, 1, dw_ih, I);
    if (dw_hh && h_prev) kern_gemm(1, 0, 4 * H, H, N, 1, dpre, 4 * H, h_prev, H, 1, dw_hh, H);
    if (db_ih) add_colsum(db_ih, dpre, N, 4 * H);
    if (db_hh) add_colsum(db_hh, dpre, N, 4 * H);
}

void lstm_seq_forward(real *h_all, real *c_all, real *gates_all, const real *x, const real *h0,
                      const real *c0, const real *w_ih, const real *w_hh, const real *b_ih, const real *b_hh,
                      int T, int N, int I, int H) {
    size_t step = (size_t)N * 4 * H, st = (size_t)N * H;
    // input projection of every step at once: gates_all[T·N,4H] = x[T·N,I] @ w_ihᵀ + b_ih + b_hh
    fill_bias(gates_all, b_ih, b_hh, T * N, H);
    kern_gemm(0, 1, T * N, 4 * H, I, 1, x, I, w_ih, I, 1, gates_all, 4 * H);
    for (int t = 0; t < T; t++) {
        const real *hp = t ? h_all + (t - 1) * st : h0, *cp = t ? c_all + (t - 1) * st : c0;
        real *gt = gates_all + t * step;
        if (hp) kern_gemm(0, 1, N, 4 * H, H, 1, hp, H, w_hh, H, 1, gt, 4 * H);
        lstm_pointwise(h_all + t * st, c_all + t * st, gt, cp, N, H);
    }
}

void lstm_seq_backward(real *dx, real *dh0, real *dc0, real *dw_ih, real *dw_hh, real *db_ih, real *db_hh,
                       const real *dh_all, const real *dh_last, const real *dc_last, const real *h_all,
                       const real *c_all, const real *gates_all, const real *x, const real *h0, const real *c0,
                       const real *w_ih, const real *w_hh, int T, int N, int I, int H) {
    size_t step = (size_t)N * 4 * H, st = (size_t)N * H;
    real *dpre = kern_scratch(0, (size_t)T * step);  // [T,N,4H] gradients at the gate pre-activations
    real *dh = kern_scratch(1, st), *dc = kern_scratch(2, st), *dc_next = kern_scratch(3, st);
    // dh, dc: gradient reaching h_t, c_t from later steps and the final-state gradients
    if (dh_last) memcpy(dh, dh_last, st * sizeof(real)); else memset(dh, 0, st * sizeof(real));
    if (dc_last) memcpy(dc, dc_last, st * sizeof(real)); else memset(dc, 0, st * sizeof(real));
    for (int t = T - 1; t >= 0; t--) {
        if (dh_all)
            for (size_t e = 0; e < st; e++) dh[e] += dh_all[t * st + e];
        const real *cp = t ? c_all + (t - 1) * st : c0;
        real *dg = dpre + t * step;
        memset(dc_next, 0, st * sizeof(real));
        lstm_pointwise_backward(dg, dc_next, dh, dc, gates_all + t * step, cp, c_all + t * st, N, H);
        // the gradient reaching h_{t-1}: dh = dg @ w_hh
        kern_gemm(0, 0, N, H, 4 * H, 1, dg, 4 * H, w_hh, H, 0, dh, H);
        memcpy(dc, dc_next, st * sizeof(real));
    }
    if (dh0) for (size_t e = 0; e < st; e++) dh0[e] += dh[e];
    if (dc0) for (size_t e = 0; e < st; e++) dc0[e] += dc[e];
    // parameter and input gradients, all steps in one GEMM each
    if (dx) kern_gemm(0, 0, T * N, I, 4 * H, 1, dpre, 4 * H, w_ih, I, 1, dx, I);
    if (dw_ih) kern_gemm(1, 0, 4 * H, I, T * N, 1, dpre, 4 * H, x, I, 1, dw_ih, I);
    if (dw_hh) {
        // h_{t-1} for t ≥ 1 is h_all[t-1]: one GEMM over steps 1..T-1, plus step 0 against h0
        if (T > 1) kern_gemm(1, 0, 4 * H, H, (T - 1) * N, 1, dpre + step, 4 * H, h_all, H, 1, dw_hh, H);
        if (h0) kern_gemm(1, 0, 4 * H, H, N, 1, dpre, 4 * H, h0, H, 1, dw_hh, H);
    }
    if (db_ih) add_colsum(db_ih, dpre, T * N, 4 * H);
    if (db_hh) add_colsum(db_hh, dpre, T * N, 4 * H);
}
