// The paper configuration's generator (jobs/configs/paper.json): trainable parameter counts
// (spec/state-dict.md §2.5: 53,771,379 with rat_mode batch, 51,688,563 with sample), the number of
// tensors of each kind, and names/shapes of the spec's examples (§2.2-§2.4). Builds only (no init),
// so the big buffers stay untouched virtual memory.
// usage: test_netg_paper PAPER.json
#include "core/netg.h"
#include "io/config.h"
#include "io/modeldims.h"
#include "testutil.h"
#include <string.h>

static void expect_shape(const NetG *net, const char *name, int ndim, const int *shape, ParamKind kind) {
    int i = params_find(&net->ps, name);
    TU_CHECK(i >= 0, "%s missing", name);
    if (i < 0) return;
    const ParamSpec *sp = &net->ps.specs[i];
    int ok = sp->ndim == ndim && sp->kind == kind;
    for (int k = 0; ok && k < ndim; k++) ok = sp->shape[k] == shape[k];
    TU_CHECK(ok, "%s: wrong shape or kind", name);
}

static void check_mode(const ModelConfig *m, const char *mode, size_t want_trainable, int want_tensors) {
    NetGDims d;
    modeldims_netg(m, &d);
    d.rat_batch = strcmp(mode, "batch") == 0;   // both modes from the one config
    NetG net;
    Err e = {{0}};
    if (netg_build(&net, &d, &e)) {
        TU_CHECK(0, "netg_build: %s", e.msg);
        return;
    }
    size_t tr = params_count_kind(&net.ps, PARAM_TRAINABLE), bf = params_count_kind(&net.ps, PARAM_BUFFER);
    printf("%-6s trainable %zu (want %zu), %d tensors (want %d), BN buffer floats %zu (want 8448)\n", mode, tr,
           want_trainable, net.ps.count, want_tensors, bf);
    TU_CHECK(tr == want_trainable, "%s: trainable %zu, want %zu", mode, tr, want_trainable);
    TU_CHECK(net.ps.count == want_tensors, "%s: %d tensors, want %d", mode, net.ps.count, want_tensors);
    TU_CHECK(bf == 8448, "%s: BN buffer floats %zu, want 8448", mode, bf);
    TU_CHECK(params_count_kind(&net.ps, PARAM_FROZEN) == 0, "CLIP tensors must not be in NetG's ParamSet");
    const ParamKind T = PARAM_TRAINABLE, Bf = PARAM_BUFFER;
    expect_shape(&net, "fc_code.weight", 2, (int[]){3136, 100}, T);
    expect_shape(&net, "mapping.conv_fuse.weight", 4, (int[]){768, 64, 5, 5}, T);
    expect_shape(&net, "mapping.conv.weight", 4, (int[]){512, 768, 5, 5}, T);
    expect_shape(&net, "mapping.fc_prompt.weight", 2, (int[]){6144, 612}, T);
    expect_shape(&net, "mapping.FBlocks.0.conv2.se.gn.bias", 1, (int[]){4}, T);
    expect_shape(&net, "mapping.FBlocks.3.fuse2.affine1.fc_gamma.2.weight", 2, (int[]){64, 64}, T);
    expect_shape(&net, "mapping.FBlocks.1.fuse1.affine0.fc_beta.0.weight", 2, (int[]){32, 64}, T);
    if (d.rat_batch) {
        expect_shape(&net, "mapping.FBlocks.2.fuse2.affine1.rnn.weight_hh_l0", 2, (int[]){256, 64}, T);
        expect_shape(&net, "mapping.FBlocks.0.fuse1.affine0.rnn.weight_ih_l0", 2, (int[]){256, 612}, T);
        TU_CHECK(params_find(&net.ps, "mapping.FBlocks.0.rat_cell.weight_ih") < 0, "batch mode has no rat_cell");
    } else {
        expect_shape(&net, "mapping.FBlocks.2.rat_cell.weight_ih", 2, (int[]){256, 612}, T);
        expect_shape(&net, "mapping.FBlocks.2.rat_cell.bias_hh", 1, (int[]){256}, T);
        int c = params_find(&net.ps, "mapping.FBlocks.2.rat_cell.weight_ih");
        TU_CHECK(c > 0 && strcmp(net.ps.specs[c - 1].name, "mapping.FBlocks.2.conv1.bias") == 0,
                 "rat_cell is registered right after conv1");
        TU_CHECK(params_find(&net.ps, "mapping.FBlocks.0.fuse1.affine0.rnn.weight_ih_l0") < 0, "sample: no rnn");
    }
    expect_shape(&net, "GBlocks.3.c1.conv.weight", 4, (int[]){256, 512, 3, 3}, T);
    expect_shape(&net, "GBlocks.3.c2.conv.weight", 4, (int[]){256, 256, 3, 3}, T);
    expect_shape(&net, "GBlocks.3.fuse1.affine0.fc_gamma.linear1.weight", 2, (int[]){512, 612}, T);
    expect_shape(&net, "GBlocks.3.fuse2.affine1.fc_beta.linear2.weight", 2, (int[]){256, 256}, T);
    expect_shape(&net, "GBlocks.5.c2.se.cweight", 4, (int[]){1, 4, 1, 1}, T);
    expect_shape(&net, "GBlocks.5.c_sc.weight", 4, (int[]){64, 128, 1, 1}, T);
    expect_shape(&net, "GBlocks.0.c1.bn.running_mean", 1, (int[]){512}, Bf);
    expect_shape(&net, "to_rgb.1.weight", 4, (int[]){3, 64, 3, 3}, T);
    TU_CHECK(params_find(&net.ps, "GBlocks.2.c_sc.weight") < 0, "GBlocks.2 (512→512) has no c_sc");
    // first and last keys of the state_dict order (§2.1)
    TU_CHECK(strcmp(net.ps.specs[0].name, "fc_code.weight") == 0, "first key %s", net.ps.specs[0].name);
    TU_CHECK(strcmp(net.ps.specs[net.ps.count - 1].name, "to_rgb.1.bias") == 0, "last key");
    netg_free(&net);
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: %s PAPER.json\n", argv[0]), 2;
    Config cfg;
    tu_load_config(&cfg, argv[1], NULL, 0);
    // batch: upstream's 552 trainable + 32 float BN buffers (num_batches_tracked is a counter);
    // sample: 12 fewer LSTMs (4 tensors each), 4 rat_cells instead of 16 rnns: 584 - 64 + 16
    check_mode(&cfg.model, "batch", 53771379, 584);
    check_mode(&cfg.model, "sample", 51688563, 536);
    return tu_done("test_netg_paper");
}
