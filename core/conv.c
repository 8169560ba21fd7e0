// conv: 2-D convolution (NCHW). Through oneDNN's direct convolutions when the build has it and it is
// switched on (core/onednn.h; 1.2-2.5x faster than the path below in fp32 on this CPU); otherwise, and
// always in the double build, as im2col + one GEMM per chunk of images through kern_gemm.
//
// A chunk of nb images is unfolded into col[C·kh·kw, nb·OH·OW] (row r = (c, ki, kj), column = (image,
// output pixel)), so a whole chunk is one GEMM: out_chunk[K, nb·OHW] = w[K, CKK] @ col. Batching the
// images into the GEMM's N dimension keeps the GEMM large at small resolutions (8×8 maps have only 64
// pixels per image); the chunk is bounded by COL_BUDGET floats so the column buffer stays about the
// size of a core's L2 and is still cached when the GEMM reads it. Measured on the tiny config's convs
// (batch 8, 1 thread): a 2 MiB budget is 1.1-1.9× faster forward than one chunk of all 8 images
// (64→64 at 32×32: 16-20 ms → 10.5 ms).
#include "core/kernels.h"
#include "core/onednn.h"
#include "core/ops.h"
#include <string.h>

#ifndef COL_BUDGET
#define COL_BUDGET ((size_t)1 << 19)  // floats in the column buffer (2 MiB in float)
#endif

ConvShape conv_shape(int N, int C, int H, int W, int K, int kh, int kw, int sh, int sw, int ph, int pw) {
    ConvShape s = {.N = N, .C = C, .H = H, .W = W, .K = K, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .ph = ph,
                   .pw = pw};
    s.OH = (H + 2 * ph - kh) / sh + 1;
    s.OW = (W + 2 * pw - kw) / sw + 1;
    return s;
}

// Images per chunk: as many as fit the column budget (one L2's worth per BLAS thread), at least one.
static int chunk_images(const ConvShape *s) {
    size_t per_image = (size_t)s->C * s->kh * s->kw * s->OH * s->OW;
    int threads = kern_get_threads();
    size_t budget = COL_BUDGET * (size_t)(threads > 1 ? threads : 1);
    size_t nb = per_image ? budget / per_image : (size_t)s->N;
    if (nb < 1) nb = 1;
    if (nb > (size_t)s->N) nb = (size_t)s->N;
    return (int)nb;
}

// Output columns [lo, hi) of row kj whose input column ow·sw - pw + kj lies inside [0, W).
static void valid_range(int kj, int stride, int pad, int in_len, int out_len, int *lo, int *hi) {
    int a = pad - kj;                              // first ow with ow·stride >= pad - kj
    *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    int b = in_len + pad - kj;                     // ow·stride < in_len + pad - kj
    *hi = b <= 0 ? 0 : (b + stride - 1) / stride;
    if (*hi > out_len) *hi = out_len;
    if (*lo > *hi) *lo = *hi;
}

// col[C·kh·kw, nb·OHW] ← images in[nb, C, H, W]; padding reads as zero.
static void im2col(real *col, const real *in, int nb, const ConvShape *s) {
    const int OHW = s->OH * s->OW;
    const size_t ld = (size_t)nb * OHW;
    for (int c = 0; c < s->C; c++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                real *row = col + ((size_t)(c * s->kh + ki) * s->kw + kj) * ld;
                int ow_lo, ow_hi;
                valid_range(kj, s->sw, s->pw, s->W, s->OW, &ow_lo, &ow_hi);
                for (int b = 0; b < nb; b++) {
                    const real *plane = in + ((size_t)b * s->C + c) * s->H * s->W;
                    real *dst_img = row + (size_t)b * OHW;
                    for (int oh = 0; oh < s->OH; oh++) {
                        real *dst = dst_img + (size_t)oh * s->OW;
                        int ih = oh * s->sh - s->ph + ki;
                        if (ih < 0 || ih >= s->H) {
                            memset(dst, 0, sizeof(real) * s->OW);
                            continue;
                        }
                        const real *src = plane + (size_t)ih * s->W;
                        const int off = kj - s->pw;  // input column = ow·sw + off
                        for (int ow = 0; ow < ow_lo; ow++) dst[ow] = 0;
                        if (s->sw == 1)  // a plain loop: rows are short (8 values at 8×8), a memcpy call costs more
                            for (int ow = ow_lo; ow < ow_hi; ow++) dst[ow] = src[ow + off];
                        else
                            for (int ow = ow_lo; ow < ow_hi; ow++) dst[ow] = src[ow * s->sw + off];
                        for (int ow = ow_hi; ow < s->OW; ow++) dst[ow] = 0;
                    }
                }
            }
}

// din[nb, C, H, W] += fold of col[C·kh·kw, nb·OHW] (the adjoint of im2col).
static void col2im_add(real *din, const real *col, int nb, const ConvShape *s) {
    const int OHW = s->OH * s->OW;
    const size_t ld = (size_t)nb * OHW;
    for (int c = 0; c < s->C; c++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                const real *row = col + ((size_t)(c * s->kh + ki) * s->kw + kj) * ld;
                int ow_lo, ow_hi;
                valid_range(kj, s->sw, s->pw, s->W, s->OW, &ow_lo, &ow_hi);
                for (int b = 0; b < nb; b++) {
                    real *plane = din + ((size_t)b * s->C + c) * s->H * s->W;
                    const real *src_img = row + (size_t)b * OHW;
                    for (int oh = 0; oh < s->OH; oh++) {
                        int ih = oh * s->sh - s->ph + ki;
                        if (ih < 0 || ih >= s->H) continue;
                        const real *src = src_img + (size_t)oh * s->OW;
                        real *dst = plane + (size_t)ih * s->W;
                        const int off = kj - s->pw;
                        for (int ow = ow_lo; ow < ow_hi; ow++) dst[ow * s->sw + off] += src[ow];
                    }
                }
            }
}

// out[N,K,OH,OW] = conv(in[N,C,H,W], w[K,C,kh,kw]) + b[K]
void conv2d_forward(real *out, const real *in, const real *w, const real *b, const ConvShape *s) {
    if (onednn_conv_forward(out, in, w, b, s) == 0) return;
    const int OHW = s->OH * s->OW, CKK = s->C * s->kh * s->kw;
    const int nbmax = chunk_images(s);
    for (int n0 = 0; n0 < s->N; n0 += nbmax) {
        int nb = s->N - n0 < nbmax ? s->N - n0 : nbmax;
        const real *in_chunk = in + (size_t)n0 * s->C * s->H * s->W;
        real *out_chunk = out + (size_t)n0 * s->K * OHW;
        real *col = kern_scratch(0, (size_t)CKK * nb * OHW);
        im2col(col, in_chunk, nb, s);
        if (nb == 1) {  // the GEMM's output already is the NCHW image: write it in place
            if (b)
                for (int k = 0; k < s->K; k++)
                    for (int p = 0; p < OHW; p++) out_chunk[(size_t)k * OHW + p] = b[k];
            kern_gemm(0, 0, s->K, OHW, CKK, 1, w, CKK, col, OHW, b ? 1 : 0, out_chunk, OHW);
            continue;
        }
        // tmp[K, nb·OHW] = w @ col, then scatter to out[nb, K, OHW] adding the bias
        real *tmp = kern_scratch(1, (size_t)s->K * nb * OHW);
        kern_gemm(0, 0, s->K, nb * OHW, CKK, 1, w, CKK, col, nb * OHW, 0, tmp, nb * OHW);
        for (int i = 0; i < nb; i++)
            for (int k = 0; k < s->K; k++) {
                const real *src = tmp + (size_t)k * nb * OHW + (size_t)i * OHW;
                real *dst = out_chunk + ((size_t)i * s->K + k) * OHW;
                real bk = b ? b[k] : 0;
                for (int p = 0; p < OHW; p++) dst[p] = src[p] + bk;
            }
    }
}

// din[N,C,H,W] += conv^T(dout, w);  dw[K,C,kh,kw] += Σ_n dout ⋆ in;  db[K] += Σ dout
void conv2d_backward(real *din, real *dw, real *db, const real *dout, const real *in, const real *w,
                     const ConvShape *s) {
    const int OHW = s->OH * s->OW, CKK = s->C * s->kh * s->kw;
    // oneDNN's backward-weights sums db on the way; without dw it is summed below
    if ((din || dw) && onednn_conv_backward(din, dw, dw ? db : NULL, dout, in, w, s) == 0) {
        if (dw) db = NULL;
        din = dw = NULL;
    }
    if (db) {
        for (int k = 0; k < s->K; k++) {
            double acc = 0;
            for (int n = 0; n < s->N; n++) {
                const real *p = dout + ((size_t)n * s->K + k) * OHW;
                for (int i = 0; i < OHW; i++) acc += p[i];
            }
            db[k] += (real)acc;
        }
    }
    if (!din && !dw) return;
    const int nbmax = chunk_images(s);
    for (int n0 = 0; n0 < s->N; n0 += nbmax) {
        int nb = s->N - n0 < nbmax ? s->N - n0 : nbmax;
        const size_t ldc = (size_t)nb * OHW;
        const real *dout_chunk = dout + (size_t)n0 * s->K * OHW;
        // g[K, nb·OHW]: this chunk's upstream gradient in the GEMM layout (the NCHW block itself if nb == 1)
        const real *g = dout_chunk;
        if (nb > 1) {
            real *gt = kern_scratch(1, (size_t)s->K * ldc);
            for (int i = 0; i < nb; i++)
                for (int k = 0; k < s->K; k++)
                    memcpy(gt + (size_t)k * ldc + (size_t)i * OHW, dout_chunk + ((size_t)i * s->K + k) * OHW,
                           sizeof(real) * OHW);
            g = gt;
        }
        if (dw) {  // dw[K, CKK] += g[K, nb·OHW] @ col^T
            real *col = kern_scratch(0, (size_t)CKK * ldc);
            im2col(col, in + (size_t)n0 * s->C * s->H * s->W, nb, s);
            kern_gemm(0, 1, s->K, CKK, (int)ldc, 1, g, (int)ldc, col, (int)ldc, 1, dw, CKK);
        }
        if (din) {  // dcol[CKK, nb·OHW] = w^T @ g, folded back onto din
            real *dcol = kern_scratch(2, (size_t)CKK * ldc);
            kern_gemm(1, 0, CKK, (int)ldc, s->K, 1, w, CKK, g, (int)ldc, 0, dcol, (int)ldc);
            col2im_add(din + (size_t)n0 * s->C * s->H * s->W, dcol, nb, s);
        }
    }
}
