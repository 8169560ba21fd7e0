// resize: nearest (forward and its adjoint) and bilinear (forward) resizing of in[N,C,H,W] to
// out[N,C,OH,OW], with PyTorch F.interpolate's index rules. The scale in/out is computed in float32
// in both precisions, as PyTorch does, so the f64 build picks the same source pixels as the float one.
#include "core/ops.h"
#include "core/par.h"
#include <stdlib.h>

// src index of each dst index for nearest: min(floor(dst · (float)in/out), in-1)
static void nearest_index(int *src, int in, int out) {
    float scale = (float)in / (float)out;
    for (int d = 0; d < out; d++) {
        int s = (int)floorf((float)d * scale);
        src[d] = s < in - 1 ? s : in - 1;
    }
}

void resize_nearest_forward(real *out, const real *in, int N, int C, int H, int W, int OH, int OW) {
    int *sy = malloc((size_t)(OH + OW) * sizeof(int)), *sx = sy + OH;
    nearest_index(sy, H, OH);
    nearest_index(sx, W, OW);
    PAR_FOR((size_t)N * C * OH * OW)  // planes are independent
    for (size_t p = 0; p < (size_t)N * C; p++) {
        const real *ip = in + p * H * W;
        real *op = out + p * OH * OW;
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++) op[(size_t)y * OW + x] = ip[(size_t)sy[y] * W + sx[x]];
    }
    free(sy);
}

// adjoint of the forward: each output gradient is added to the source pixel it was copied from
void resize_nearest_backward(real *din, const real *dout, int N, int C, int H, int W, int OH, int OW) {
    int *sy = malloc((size_t)(OH + OW) * sizeof(int)), *sx = sy + OH;
    nearest_index(sy, H, OH);
    nearest_index(sx, W, OW);
    PAR_FOR((size_t)N * C * OH * OW)  // planes are independent
    for (size_t p = 0; p < (size_t)N * C; p++) {
        real *ip = din + p * H * W;
        const real *op = dout + p * OH * OW;
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++) ip[(size_t)sy[y] * W + sx[x]] += op[(size_t)y * OW + x];
    }
    free(sy);
}

// bilinear taps for align_corners=False: src = (dst + 0.5)·scale - 0.5 clamped at 0; i0 = floor,
// i1 = i0 + 1 unless at the last pixel; weight of i1 = src - i0.
typedef struct {
    int i0, i1;
    real w0, w1;
} Tap;

static void bilinear_taps(Tap *t, int in, int out) {
    // PyTorch's CPU kernel: the scale is a float32, the source coordinate is then computed in double
    double scale = (double)((float)in / (float)out);
    for (int d = 0; d < out; d++) {
        double s = scale * (d + 0.5) - 0.5;
        if (s < 0) s = 0;
        int i0 = (int)s;
        t[d].i0 = i0;
        t[d].i1 = i0 + (i0 < in - 1 ? 1 : 0);
        t[d].w1 = (real)(s - i0);
        t[d].w0 = 1 - t[d].w1;
    }
}

void resize_bilinear_forward(real *out, const real *in, int N, int C, int H, int W, int OH, int OW) {
    Tap *ty = malloc((size_t)(OH + OW) * sizeof(Tap)), *tx = ty + OH;
    bilinear_taps(ty, H, OH);
    bilinear_taps(tx, W, OW);
    PAR_FOR((size_t)N * C * OH * OW)  // planes are independent
    for (size_t p = 0; p < (size_t)N * C; p++) {
        const real *ip = in + p * H * W;
        real *op = out + p * OH * OW;
        for (int y = 0; y < OH; y++) {
            const real *r0 = ip + (size_t)ty[y].i0 * W, *r1 = ip + (size_t)ty[y].i1 * W;
            for (int x = 0; x < OW; x++) {
                const Tap *a = &tx[x];
                op[(size_t)y * OW + x] = ty[y].w0 * (a->w0 * r0[a->i0] + a->w1 * r0[a->i1]) +
                                         ty[y].w1 * (a->w0 * r1[a->i0] + a->w1 * r1[a->i1]);
            }
        }
    }
    free(ty);
}
