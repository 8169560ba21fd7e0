// attention: multi-head self-attention as in CLIP's residual block (nn.MultiheadAttention, no mask).
// in[B,L,D] → qkv[B,L,3D] (packed in_proj rows q, k, v) → per head softmax(q kᵀ/sqrt(hd)) v → out_proj.
// Every product goes through kern_gemm / kern_gemm_batched; the per-head slices are strided views
// into qkv (row stride 3D), so no head is ever copied out.
#include "core/ops.h"
#include "core/kernels.h"
#include "core/par.h"
#include "core/vmath.h"
#include <string.h>

// cache layout: qkv[B,L,3D] | probs[B,H,L,L] | ctx[B,L,D] (heads concatenated, before out_proj)
size_t mha_cache_floats(int B, int L, int D, int H) {
    return (size_t)B * L * 3 * D + (size_t)B * H * L * L + (size_t)B * L * D;
}

// rows of x[R,D] summed into acc[D] (bias gradients)
static void add_colsum(real *acc, const real *x, int R, int D) {
    for (int r = 0; r < R; r++) {
        const real *row = x + (size_t)r * D;
        for (int j = 0; j < D; j++) acc[j] += row[j];
    }
}

// in-place softmax of each row of p[R,L]
static void softmax_rows(real *p, int R, int L) {
    for (int r = 0; r < R; r++) {
        real *row = p + (size_t)r * L;
        real mx = row[0];
        for (int j = 1; j < L; j++) mx = row[j] > mx ? row[j] : mx;
        SIMD
        for (int j = 0; j < L; j++) row[j] = vexp(row[j] - mx);
        double sum = 0;
        for (int j = 0; j < L; j++) sum += row[j];
        real inv = (real)(1.0 / sum);
        for (int j = 0; j < L; j++) row[j] *= inv;
    }
}

void mha_forward(real *out, real *cache, const real *in, const real *w_in, const real *b_in,
                 const real *w_out, const real *b_out, int B, int L, int D, int H) {
    int hd = D / H, BL = B * L;
    real scale = (real)1 / sqrt((real)hd);
    real *qkv = cache, *probs = qkv + (size_t)BL * 3 * D, *ctx = probs + (size_t)B * H * L * L;

    // qkv[BL,3D] = in[BL,D] @ w_inᵀ + b_in
    for (int r = 0; r < BL; r++) memcpy(qkv + (size_t)r * 3 * D, b_in, (size_t)3 * D * sizeof(real));
    kern_gemm(0, 1, BL, 3 * D, D, 1, in, D, w_in, D, 1, qkv, 3 * D);

    if (kern_gemm_1t_available()) {
        // (sample, head) pairs in parallel, each with its own small products on one thread: too small
        // for the BLAS to thread, and independent of each other, so the result is the same for any
        // thread count
        PAR_FOR((size_t)B * H * L * L * hd)
        for (int bh = 0; bh < B * H; bh++) {
            int b = bh / H, h = bh % H;
            const real *q = qkv + (size_t)b * L * 3 * D + h * hd, *k = q + D, *v = q + 2 * D;
            real *p = probs + (size_t)bh * L * L;
            kern_gemm_1t(0, 1, L, L, hd, scale, q, 3 * D, k, 3 * D, 0, p, L);
            softmax_rows(p, L, L);
            kern_gemm_1t(0, 0, L, hd, L, 1, p, L, v, 3 * D, 0, ctx + (size_t)b * L * D + h * hd, D);
        }
    } else for (int b = 0; b < B; b++) {
        const real *q = qkv + (size_t)b * L * 3 * D, *k = q + D, *v = q + 2 * D;
        real *p = probs + (size_t)b * H * L * L;
        // scores[h][L,L] = scale · q_h[L,hd] @ k_h[L,hd]ᵀ, batched over heads (head h at column offset h·hd)
        kern_gemm_batched(H, 0, 1, L, L, hd, scale, q, 3 * D, hd, k, 3 * D, hd, 0, p, L, (size_t)L * L);
        softmax_rows(p, H * L, L);
        // ctx[b][L, h·hd:(h+1)·hd] = probs_h[L,L] @ v_h[L,hd]
        kern_gemm_batched(H, 0, 0, L, hd, L, 1, p, L, (size_t)L * L, v, 3 * D, hd, 0, ctx + (size_t)b * L * D, D,
                          hd);
    }
    // out[BL,D] = ctx @ w_outᵀ + b_out
    for (int r = 0; r < BL; r++) memcpy(out + (size_t)r * D, b_out, (size_t)D * sizeof(real));
    kern_gemm(0, 1, BL, D, D, 1, ctx, D, w_out, D, 1, out, D);
}

void mha_backward(real *din, real *dw_in, real *db_in, real *dw_out, real *db_out, const real *dout,
                  const real *in, const real *cache, const real *w_in, const real *w_out, int B, int L, int D,
                  int H) {
    int hd = D / H, BL = B * L;
    real scale = (real)1 / sqrt((real)hd);
    const real *qkv = cache, *probs = qkv + (size_t)BL * 3 * D, *ctx = probs + (size_t)B * H * L * L;

    // out_proj
    if (dw_out) kern_gemm(1, 0, D, D, BL, 1, dout, D, ctx, D, 1, dw_out, D);  // dw_out[D,D] += doutᵀ @ ctx
    if (db_out) add_colsum(db_out, dout, BL, D);
    if (!din && !dw_in && !db_in) return;

    real *dctx = kern_scratch(0, (size_t)BL * D);
    real *dqkv = kern_scratch(1, (size_t)BL * 3 * D);
    int par = kern_gemm_1t_available();
    real *dp = kern_scratch(2, (size_t)(par ? B : 1) * H * L * L);
    kern_gemm(0, 0, BL, D, D, 1, dout, D, w_out, D, 0, dctx, D);  // dctx[BL,D] = dout @ w_out

    if (par) {  // (sample, head) pairs in parallel, as in the forward
        PAR_FOR((size_t)B * H * L * L * hd)
        for (int bh = 0; bh < B * H; bh++) {
            int b = bh / H, h = bh % H;
            size_t o = (size_t)b * L * 3 * D + h * hd;
            const real *q = qkv + o, *k = q + D, *v = q + 2 * D;
            const real *p = probs + (size_t)bh * L * L, *dc = dctx + (size_t)b * L * D + h * hd;
            real *dq = dqkv + o, *dk = dq + D, *dv = dq + 2 * D, *ds = dp + (size_t)bh * L * L;
            kern_gemm_1t(1, 0, L, hd, L, 1, p, L, dc, D, 0, dv, 3 * D);
            kern_gemm_1t(0, 1, L, L, hd, 1, dc, D, v, 3 * D, 0, ds, L);
            for (int r = 0; r < L; r++) {
                const real *pr = p + (size_t)r * L;
                real *dr = ds + (size_t)r * L;
                double dot = 0;
                for (int j = 0; j < L; j++) dot += (double)dr[j] * pr[j];
                for (int j = 0; j < L; j++) dr[j] = pr[j] * (dr[j] - (real)dot);
            }
            kern_gemm_1t(0, 0, L, hd, L, scale, ds, L, k, 3 * D, 0, dq, 3 * D);
            kern_gemm_1t(1, 0, L, hd, L, scale, ds, L, q, 3 * D, 0, dk, 3 * D);
        }
    } else for (int b = 0; b < B; b++) {
        const real *q = qkv + (size_t)b * L * 3 * D, *k = q + D, *v = q + 2 * D;
        const real *p = probs + (size_t)b * H * L * L;
        const real *dc = dctx + (size_t)b * L * D;
        real *dq = dqkv + (size_t)b * L * 3 * D, *dk = dq + D, *dv = dq + 2 * D;
        // dv_h[L,hd] = p_hᵀ @ dctx_h ; dp_h[L,L] = dctx_h @ v_hᵀ
        kern_gemm_batched(H, 1, 0, L, hd, L, 1, p, L, (size_t)L * L, dc, D, hd, 0, dv, 3 * D, hd);
        kern_gemm_batched(H, 0, 1, L, L, hd, 1, dc, D, hd, v, 3 * D, hd, 0, dp, L, (size_t)L * L);
        // softmax backward in place: ds = p ⊙ (dp - Σ_j dp·p)
        for (size_t r = 0; r < (size_t)H * L; r++) {
            const real *pr = p + r * L;
            real *dr = dp + r * L;
            double dot = 0;
            for (int j = 0; j < L; j++) dot += (double)dr[j] * pr[j];
            for (int j = 0; j < L; j++) dr[j] = pr[j] * (dr[j] - (real)dot);
        }
        // dq_h = scale · ds_h @ k_h ; dk_h = scale · ds_hᵀ @ q_h
        kern_gemm_batched(H, 0, 0, L, hd, L, scale, dp, L, (size_t)L * L, k, 3 * D, hd, 0, dq, 3 * D, hd);
        kern_gemm_batched(H, 1, 0, L, hd, L, scale, dp, L, (size_t)L * L, q, 3 * D, hd, 0, dk, 3 * D, hd);
    }
    // in_proj
    if (din) kern_gemm(0, 0, BL, D, 3 * D, 1, dqkv, 3 * D, w_in, D, 1, din, D);     // din += dqkv @ w_in
    if (dw_in) kern_gemm(1, 0, 3 * D, D, BL, 1, dqkv, 3 * D, in, D, 1, dw_in, D);  // dw_in += dqkvᵀ @ in
    if (db_in) add_colsum(db_in, dqkv, BL, 3 * D);
}
