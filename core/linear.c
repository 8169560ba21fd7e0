// linear: a fully connected layer, out = in @ w^T + b, on row-major matrices through kern_gemm.
#include "core/kernels.h"
#include "core/ops.h"

// out[N,OUT] = in[N,IN] @ w[OUT,IN]^T + b[OUT]
void linear_forward(real *out, const real *in, const real *w, const real *b, int N, int IN, int OUT) {
    // bias first, then accumulate the product onto it (beta = 1): one pass over out
    if (b) {
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OUT; o++) out[(size_t)n * OUT + o] = b[o];
    }
    kern_gemm(0, 1, N, OUT, IN, 1, in, IN, w, IN, b ? 1 : 0, out, OUT);
}

// din[N,IN] += dout[N,OUT] @ w[OUT,IN];  dw[OUT,IN] += dout^T @ in;  db[OUT] += Σ_n dout
void linear_backward(real *din, real *dw, real *db, const real *dout, const real *in, const real *w,
                     int N, int IN, int OUT) {
    if (din) kern_gemm(0, 0, N, IN, OUT, 1, dout, OUT, w, IN, 1, din, IN);
    if (dw) kern_gemm(1, 0, OUT, IN, N, 1, dout, OUT, in, IN, 1, dw, IN);
    if (db) {
        for (int o = 0; o < OUT; o++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += dout[(size_t)n * OUT + o];
            db[o] += (real)s;
        }
    }
}
