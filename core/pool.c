// pool: average and max pooling (PyTorch avg_pool2d / max_pool2d, ceil_mode false) and global
// average pooling, forward and backward, over in[N,C,H,W].
#include "core/ops.h"
#include "core/par.h"
#include <string.h>

PoolShape pool_shape(int N, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
                     int count_include_pad) {
    PoolShape s = {N, C, H, W, kh, kw, sh, sw, ph, pw, 0, 0, count_include_pad};
    s.OH = (H + 2 * ph - kh) / sh + 1;
    s.OW = (W + 2 * pw - kw) / sw + 1;
    return s;
}

// The window of output (oy, ox), clipped to the image, and the divisor PyTorch uses: the window
// clipped to the padded image when count_include_pad, else the number of real pixels in it.
typedef struct {
    int y0, y1, x0, x1;
    real inv_count;
} Window;

static Window avg_window(const PoolShape *s, int oy, int ox) {
    int y0 = oy * s->sh - s->ph, x0 = ox * s->sw - s->pw;
    int y1 = y0 + s->kh, x1 = x0 + s->kw;
    if (y1 > s->H + s->ph) y1 = s->H + s->ph;
    if (x1 > s->W + s->pw) x1 = s->W + s->pw;
    int padded = (y1 - y0) * (x1 - x0);
    Window w = {y0 < 0 ? 0 : y0, y1 > s->H ? s->H : y1, x0 < 0 ? 0 : x0, x1 > s->W ? s->W : x1, 0};
    int n = s->count_include_pad ? padded : (w.y1 - w.y0) * (w.x1 - w.x0);
    w.inv_count = (real)1 / (real)(n > 0 ? n : 1);
    return w;
}

void avgpool2d_forward(real *out, const real *in, const PoolShape *s) {
    PAR_FOR((size_t)s->N * s->C * s->H * s->W)  // planes are independent
    for (size_t p = 0; p < (size_t)s->N * s->C; p++) {
        const real *ip = in + p * s->H * s->W;
        real *op = out + p * s->OH * s->OW;
        for (int oy = 0; oy < s->OH; oy++)
            for (int ox = 0; ox < s->OW; ox++) {
                Window w = avg_window(s, oy, ox);
                double sum = 0;
                for (int y = w.y0; y < w.y1; y++)
                    for (int x = w.x0; x < w.x1; x++) sum += ip[(size_t)y * s->W + x];
                op[(size_t)oy * s->OW + ox] = (real)sum * w.inv_count;
            }
    }
}

void avgpool2d_backward(real *din, const real *dout, const PoolShape *s) {
    PAR_FOR((size_t)s->N * s->C * s->H * s->W)  // planes are independent
    for (size_t p = 0; p < (size_t)s->N * s->C; p++) {
        real *ip = din + p * s->H * s->W;
        const real *op = dout + p * s->OH * s->OW;
        for (int oy = 0; oy < s->OH; oy++)
            for (int ox = 0; ox < s->OW; ox++) {
                Window w = avg_window(s, oy, ox);
                real g = op[(size_t)oy * s->OW + ox] * w.inv_count;
                for (int y = w.y0; y < w.y1; y++)
                    for (int x = w.x0; x < w.x1; x++) ip[(size_t)y * s->W + x] += g;
            }
    }
}

// Padding counts as -inf; the first maximum in scan order wins ties; a NaN wins (as in PyTorch).
void maxpool2d_forward(real *out, int32_t *argmax, const real *in, const PoolShape *s) {
    PAR_FOR((size_t)s->N * s->C * s->H * s->W)  // planes are independent
    for (size_t p = 0; p < (size_t)s->N * s->C; p++) {
        const real *ip = in + p * s->H * s->W;
        size_t o = p * s->OH * s->OW;
        for (int oy = 0; oy < s->OH; oy++)
            for (int ox = 0; ox < s->OW; ox++, o++) {
                int y0 = oy * s->sh - s->ph, x0 = ox * s->sw - s->pw;
                int best = -1;
                real mx = 0;
                for (int y = y0 < 0 ? 0 : y0; y < y0 + s->kh && y < s->H; y++)
                    for (int x = x0 < 0 ? 0 : x0; x < x0 + s->kw && x < s->W; x++) {
                        real v = ip[(size_t)y * s->W + x];
                        if (best < 0 || (!isnan(mx) && (v > mx || isnan(v)))) {
                            mx = v;
                            best = y * s->W + x;
                        }
                    }
                out[o] = mx;
                argmax[o] = best;
            }
    }
}

void maxpool2d_backward(real *din, const real *dout, const int32_t *argmax, const PoolShape *s) {
    size_t plane = (size_t)s->OH * s->OW;
    PAR_FOR((size_t)s->N * s->C * s->H * s->W)  // planes are independent
    for (size_t p = 0; p < (size_t)s->N * s->C; p++) {
        real *ip = din + p * s->H * s->W;
        for (size_t o = p * plane; o < (p + 1) * plane; o++)
            if (argmax[o] >= 0) ip[argmax[o]] += dout[o];
    }
}

void global_avgpool_forward(real *out, const real *in, int N, int C, int HW) {
    PAR_FOR((size_t)N * C * HW)  // planes are independent
    for (size_t p = 0; p < (size_t)N * C; p++) {
        double sum = 0;
        for (int i = 0; i < HW; i++) sum += in[p * HW + i];
        out[p] = (real)(sum / HW);
    }
}

void global_avgpool_backward(real *din, const real *dout, int N, int C, int HW) {
    PAR_FOR((size_t)N * C * HW)  // planes are independent
    for (size_t p = 0; p < (size_t)N * C; p++) {
        real g = dout[p] / (real)HW;
        for (int i = 0; i < HW; i++) din[p * HW + i] += g;
    }
}
