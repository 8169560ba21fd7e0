// activation: elementwise nonlinearities and the row softmax, forward and backward (backward adds).
#include "core/ops.h"
#include "core/par.h"
#include "core/vmath.h"

void relu_forward(real *out, const real *in, size_t n) {
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0;
}
// PyTorch's convention: the gradient at exactly 0 is 0
void relu_backward(real *din, const real *dout, const real *in, size_t n) {
    if (!din) return;
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) din[i] += in[i] > 0 ? dout[i] : 0;
}

void leaky_relu_forward(real *out, const real *in, size_t n, real slope) {
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : in[i] * slope;
}
void leaky_relu_backward(real *din, const real *dout, const real *in, size_t n, real slope) {
    if (!din) return;
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) din[i] += in[i] > 0 ? dout[i] : dout[i] * slope;
}

void sigmoid_forward(real *out, const real *in, size_t n) {
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) out[i] = vsigmoid(in[i]);
}
// dσ/dx = y·(1-y), from the output y
void sigmoid_backward(real *din, const real *dout, const real *out, size_t n) {
    if (!din) return;
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * out[i] * (1 - out[i]);
}

void tanh_forward(real *out, const real *in, size_t n) {
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) out[i] = tanh(in[i]);
}
// dtanh/dx = 1 - y², from the output y
void tanh_backward(real *din, const real *dout, const real *out, size_t n) {
    if (!din) return;
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * (1 - out[i] * out[i]);
}

// QuickGELU (CLIP): x·σ(1.702x)
#define QUICKGELU_A ((real)1.702)
void quickgelu_forward(real *out, const real *in, size_t n) {
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) out[i] = in[i] * vsigmoid(QUICKGELU_A * in[i]);
}
// d/dx x·σ(ax) = σ(ax) + a·x·σ(ax)·(1-σ(ax))
void quickgelu_backward(real *din, const real *dout, const real *in, size_t n) {
    if (!din) return;
    PAR_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) {
        real s = vsigmoid(QUICKGELU_A * in[i]);
        din[i] += dout[i] * (s + QUICKGELU_A * in[i] * s * (1 - s));
    }
}

// softmax over each row of in[R,D]; the row maximum is subtracted first, the sum kept in double
void softmax_forward(real *out, const real *in, int R, int D) {
    PAR_FOR((size_t)R * D)
    for (int r = 0; r < R; r++) {
        const real *x = in + (size_t)r * D;
        real *y = out + (size_t)r * D;
        real mx = x[0];
        for (int j = 1; j < D; j++) mx = x[j] > mx ? x[j] : mx;
        SIMD
        for (int j = 0; j < D; j++) y[j] = vexp(x[j] - mx);
        double s = 0;
        for (int j = 0; j < D; j++) s += y[j];
        real inv = (real)(1.0 / s);
        for (int j = 0; j < D; j++) y[j] *= inv;
    }
}
// din = y ⊙ (dout - Σ dout·y), per row, from the output y
void softmax_backward(real *din, const real *dout, const real *out, int R, int D) {
    if (!din) return;
    PAR_FOR((size_t)R * D)
    for (int r = 0; r < R; r++) {
        const real *g = dout + (size_t)r * D, *y = out + (size_t)r * D;
        double dot = 0;
        for (int j = 0; j < D; j++) dot += (double)g[j] * y[j];
        real d = (real)dot;
        real *dx = din + (size_t)r * D;
        for (int j = 0; j < D; j++) dx[j] += y[j] * (g[j] - d);
    }
}
