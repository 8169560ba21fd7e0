// rat: the recurrent affine transformations of the M-blocks (spec/model.md decision 1, §1.4).
// The recurrence depends on cond only, so every γ, β of the M-blocks is computed before the blocks
// run, and the backward (MLPs, then BPTT) runs after all M-blocks have deposited dγ, dβ.
#include <string.h>
#include "core/gblocks.h"
#include "core/ops.h"

void netg_rat_forward(NetG *net, NetGActs *a, int B) {
    int H = net->d.rat_hidden, I = net->cond_dim, S = 4 * net->d.mblocks;
    size_t BH = (size_t)B * H;
    for (int s = 0; s < S; s++) {
        const NetgMBlock *m = &net->mb[s / 4];
        int q = s % 4;
        real *h = a->rh + s * BH, *c = a->rc + s * BH, *gt = a->rgates + 4 * s * BH;
        if (net->d.rat_batch) {
            // sequence = the batch (T = B, one sequence); γ, β from the last h, shared by the batch
            lstm_seq_forward(h, c, gt, a->cond, NULL, NULL, m->rnn[q].wih.v, m->rnn[q].whh.v, m->rnn[q].bih.v,
                             m->rnn[q].bhh.v, B, 1, I, H);
            netg_mlp_forward(&m->aff[q], &a->rat[s], h + (size_t)(B - 1) * H, 1);
        } else {
            // one step of block j's cell per affine; h, c carried from the previous affine (zero at s = 0)
            lstm_cell_forward(h, c, gt, a->cond, s ? h - BH : NULL, s ? c - BH : NULL, m->cell.wih.v,
                              m->cell.whh.v, m->cell.bih.v, m->cell.bhh.v, B, I, H);
            netg_mlp_forward(&m->aff[q], &a->rat[s], h, B);
        }
    }
}

void netg_rat_backward(NetG *net, NetGActs *a, int B) {
    int H = net->d.rat_hidden, I = net->cond_dim, S = 4 * net->d.mblocks;
    size_t BH = (size_t)B * H;
    if (net->d.rat_batch) {
        for (int s = 0; s < S; s++) {
            const NetgMBlock *m = &net->mb[s / 4];
            int q = s % 4;
            real *h = a->rh + s * BH, *c = a->rc + s * BH, *gt = a->rgates + 4 * s * BH;
            real *dh_last = a->rdh + s * BH;
            memset(dh_last, 0, H * sizeof(real));
            netg_mlp_backward(&m->aff[q], &a->rat[s], dh_last, h + (size_t)(B - 1) * H, 1);
            lstm_seq_backward(a->dcond, NULL, NULL, m->rnn[q].wih.g, m->rnn[q].whh.g, m->rnn[q].bih.g,
                              m->rnn[q].bhh.g, NULL, dh_last, NULL, h, c, gt, a->cond, NULL, NULL,
                              m->rnn[q].wih.v, m->rnn[q].whh.v, B, 1, I, H);
        }
        return;
    }
    // sample mode: dh_s = (from the affine MLP at step s) + (from step s+1); then the cell steps back
    memset(a->rdh, 0, (size_t)S * BH * sizeof(real));
    for (int s = 0; s < S; s++)
        netg_mlp_backward(&net->mb[s / 4].aff[s % 4], &a->rat[s], a->rdh + s * BH, a->rh + s * BH, B);
    real *dh_next = a->carry[0], *dc_next = a->carry[1], *dh_prev = a->carry[2], *dc_prev = a->carry[3];
    memset(dh_next, 0, BH * sizeof(real));
    memset(dc_next, 0, BH * sizeof(real));
    for (int s = S - 1; s >= 0; s--) {
        const NetgMBlock *m = &net->mb[s / 4];
        real *dh = a->rdh + s * BH;
        for (size_t i = 0; i < BH; i++) dh[i] += dh_next[i];
        memset(dh_prev, 0, BH * sizeof(real));
        memset(dc_prev, 0, BH * sizeof(real));
        const real *h_prev = s ? a->rh + (s - 1) * BH : NULL, *c_prev = s ? a->rc + (s - 1) * BH : NULL;
        lstm_cell_backward(a->dcond, s ? dh_prev : NULL, s ? dc_prev : NULL, m->cell.wih.g, m->cell.whh.g,
                           m->cell.bih.g, m->cell.bhh.g, dh, dc_next, a->rgates + 4 * s * BH, c_prev,
                           a->rc + s * BH, a->cond, h_prev, m->cell.wih.v, m->cell.whh.v, B, I, H);
        real *t = dh_next;
        dh_next = dh_prev, dh_prev = t;
        t = dc_next, dc_next = dc_prev, dc_prev = t;
    }
}
