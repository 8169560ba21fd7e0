// test_equiv: data-parallel equivalence on the real generator. W ranks × batch B with sync BatchNorm
// (dp_sync_bn_hook) and bucketed gradient averaging (DpGrads) must give what one process computes on
// the whole global batch W·B with local BatchNorm: the same images, the same averaged gradients, the
// same BatchNorm running statistics and the same parameters after one Adam step. RAT mode "sample"
// (per-sample LSTM state; "batch" mode runs its LSTM across the batch axis and cannot be split).
// Every rank also runs the single-process reference itself (the network is tiny) and compares.
// Built against the double program's libraries (RATLIP_F64) where the build has them: there the two
// sides differ only by summation order (per-rank partial sums, then the allreduce), ~1e-16 relative
// per operation, so everything must agree to 1e-10 — an exactness claim with 1e6 margin for the depth of
// the network. In float (the sanitizer build) the same budget is ~1e-7 per operation; 1e-5 leaves a
// factor ~100 for the few dozen layers and the 1/(|g|+eps) of Adam's first step on gradients near zero.
// Loss: L = mean over the global batch of Σ w·img, w fixed; rank r's local loss is the mean over its
// own B samples, so averaging the ranks' gradients gives the gradient of L.
#include <stdlib.h>
#include <string.h>
#include "core/clip.h"
#include "core/netg.h"
#include "core/ops.h"
#include "core/rng.h"
#include "dist/grads.h"
#include "dist/rank.h"
#include "dist/syncbn.h"
#include "testutil.h"

enum { B = 2, S = 8 };

// Builds the tiny generator (and the frozen CLIP tower when clip is not NULL), same seeds everywhere.
static int setup(NetG *net, ClipTower *clip, Err *e) {
    NetGDims d = {.z_dim = 3, .text_dim = 4, .code_ch = 8, .code_size = 3, .mblocks = 2, .mblock_mid = 4,
                  .rat_batch = 0, .rat_hidden = 3, .g_channels = {8, 8, 4}, .g_sizes = {4, S},
                  .n_gblocks = 2, .shuffle_groups = 2, .clip_width = 8, .n_prompts = 2};
    ClipDims cd = {.image_size = 3, .patch = 1, .width = 8, .layers = 2, .heads = 2, .embed_dim = 4,
                   .taps = {0}, .n_taps = 1, .prompt_first = 0, .prompt_last = 1, .remap_galip = 1};
    if (clip) {
        if (clip_build(clip, &cd) != 0) return err_set(e, "clip_build failed");
        clip_init_random(clip, 7);
    }
    if (netg_build(net, &d, e) != 0) return -1;
    netg_init(net, 11);
    // Move away from the init so zero-initialised affine layers and attention gates carry gradient.
    RngKey key = rng_key(99, RNG_SYNTH);
    for (int t = 0; t < net->ps.count; t++) {
        if (net->ps.specs[t].kind != PARAM_TRAINABLE) continue;
        real *p = params_tensor(&net->ps, t);
        for (size_t k = 0; k < net->ps.specs[t].numel; k++) p[k] += (real)(0.4 * (rng_uniform(key, 1000 + t, k) - 0.5));
    }
    return 0;
}

// One training step of G on n samples; dimg = w / n (mean loss). Adam step 1, lr 1e-3.
static int train_step(NetG *net, NetGActs *acts, ClipTower *clip, DpGrads *g, const real *z, const real *s,
                      const real *w, real *img, int n, Err *e) {
    params_zero_grad(&net->ps);
    if (g) dp_grads_begin(g);
    if (netg_forward(net, acts, clip, z, s, img, n, 1) != 0) return err_set(e, "netg_forward: the BN hook failed");
    size_t nimg = (size_t)n * 3 * S * S;
    real *dimg = malloc(nimg * sizeof(real));
    for (size_t i = 0; i < nimg; i++) dimg[i] = w[i] / (real)n;
    int rc = netg_backward(net, acts, clip, dimg, NULL, n);
    free(dimg);
    if (rc != 0) return err_set(e, "netg_backward: the BN hook failed");
    if (g) {
        for (int t = net->ps.count - 1; t >= 0; t--)
            if (dp_grads_mark_ready(g, t, e) != 0) return -1;
        if (dp_grads_finish(g, 60.0, e) != 0) return -1;
    }
    net->ps.adam_step++;
    adam_step(net->ps.data, net->ps.grad, net->ps.adam_m, net->ps.adam_v, net->ps.n_trainable, (real)1e-3, (real)0.9, (real)0.999,
              (real)1e-8, net->ps.adam_step);
    return 0;
}

#ifdef RATLIP_F64
#define EQUIV_TOL 1e-10
#define close_real tu_close_d
#else
#define EQUIV_TOL 1e-5
#define close_real tu_close
#endif

int main(int argc, char **argv) {
    DpInfo info;
    Err e = {{0}};
    if (dp_init(&argc, &argv, 1, &info, &e) != 0) dp_abort(e.msg, 2);
    int r = info.rank, W = info.size, G = W * B;
    NetG dist_net, ref_net;
    ClipTower clip;
    if (setup(&dist_net, &clip, &e) != 0 || setup(&ref_net, NULL, &e) != 0) dp_abort(e.msg, 2);
    // The global batch, drawn per global sample index: rank r takes samples [r·B, (r+1)·B).
    size_t zn = 3, sn = 4, in = 3 * S * S;
    real *z = malloc(G * zn * sizeof(real)), *s = malloc(G * sn * sizeof(real)), *w = malloc(G * in * sizeof(real));
    RngKey key = rng_key(5, RNG_SYNTH);
    rng_fill_normal(z, G * zn, 0, 1, key, 1);
    rng_fill_normal(s, G * sn, 0, 1, key, 2);
    rng_fill_normal(w, G * in, 0, 1, key, 3);
    real *img = malloc(B * in * sizeof(real)), *ref_img = malloc(G * in * sizeof(real));

    DpSyncBn sbn = {0};
    dist_net.bn_hook = dp_sync_bn_hook;
    dist_net.bn_hook_ctx = &sbn;
    DpGrads grads;
    if (dp_grads_init(&grads, &dist_net.ps, MPI_COMM_WORLD, 4.0, &e) != 0) dp_abort(e.msg, 2);
    NetGActs *acts = netg_acts_new(&dist_net, &clip, B, &e), *ref_acts = acts ? netg_acts_new(&ref_net, &clip, G, &e) : NULL;
    if (!ref_acts) dp_abort(e.msg, 2);

    if (train_step(&dist_net, acts, &clip, &grads, z + r * B * zn, s + r * B * sn, w + r * B * in, img, B, &e) != 0)
        dp_abort(sbn.err.msg[0] ? sbn.err.msg : e.msg, 3);
    if (train_step(&ref_net, ref_acts, &clip, NULL, z, s, w, ref_img, G, &e) != 0) dp_abort(e.msg, 3);

    ParamSet *dp = &dist_net.ps, *rp = &ref_net.ps;
    size_t n_buf = dp->total - dp->n_trainable;
    char what[96];
    snprintf(what, sizeof what, "rank %d/%d: images of its slice", r, W);
    close_real(what, img, ref_img + r * B * in, B * in, EQUIV_TOL);
    snprintf(what, sizeof what, "rank %d/%d: averaged gradients", r, W);
    close_real(what, dp->grad, rp->grad, dp->n_trainable, EQUIV_TOL);
    snprintf(what, sizeof what, "rank %d/%d: BN running statistics", r, W);
    close_real(what, dp->data + dp->n_trainable, rp->data + rp->n_trainable, n_buf, EQUIV_TOL);
    snprintf(what, sizeof what, "rank %d/%d: parameters after Adam", r, W);
    close_real(what, dp->data, rp->data, dp->n_trainable, EQUIV_TOL);
    TU_CHECK(sbn.calls > 0, "the sync-BN hook was never called");
    if (r == 0) printf("%ld sync-BN hook calls per step, %d gradient buckets\n", sbn.calls, grads.n_buckets);

    dp_grads_free(&grads);
    netg_acts_free(acts);
    netg_acts_free(ref_acts);
    netg_free(&dist_net);
    netg_free(&ref_net);
    clip_free(&clip);
    free(z), free(s), free(w), free(img), free(ref_img);
    int fails = tu_failures, all = 0;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    tu_failures = all;
    int rc = tu_done("dist_equiv");
    dp_finalize(&info);
    return rc;
}
