// inception: Inception-v3 forward to pool3. See inception.h. The forward walks the convolutions in
// declaration order (a cursor into net->conv), so the block functions below must consume them in the
// order build declares them: that is the state_dict order of each block.
#include "core/inception.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ops.h"
#include "core/rng.h"

#define BN_EPS 0.001
// Per-image capacities (floats): the ping-pong buffers hold the largest activation (Conv2d_2b:
// 64x147x147); the arena the temporaries of one Inception block (Mixed_5d: 784 channels at 35x35).
#define PING_PER_IMAGE ((size_t)64 * 147 * 147)
#define ARENA_PER_IMAGE ((size_t)1000000)

static const double IMAGENET_MEAN[3] = {0.485, 0.456, 0.406};
static const double IMAGENET_STD[3] = {0.229, 0.224, 0.225};

const char *inception_network_name(InceptionVariant v) { return v == INCEPTION_TV ? "inception_tv" : "inception_fid"; }

int inception_variant_from_name(const char *name, InceptionVariant *v) {
    if (!strcmp(name, "inception_fid") || !strcmp(name, "fid")) *v = INCEPTION_FID;
    else if (!strcmp(name, "inception_tv") || !strcmp(name, "tv")) *v = INCEPTION_TV;
    else return -1;
    return 0;
}

// ---------------------------------------------------------------- build

static int declare_conv(Inception *net, const char *prefix, int cin, int cout, int kh, int kw, int sh, int sw, int ph,
                        int pw) {
    if (net->n_conv >= INCEPTION_NCONV) return -1;
    IncConv *c = &net->conv[net->n_conv++];
    *c = (IncConv){cin, cout, kh, kw, sh, sw, ph, pw, 0, 0, 0, 0, 0, NULL, NULL};
    char name[PARAM_NAME_MAX];
    int wshape[4] = {cout, cin, kh, kw}, vshape[1] = {cout};
    snprintf(name, sizeof name, "%s.conv.weight", prefix);
    c->w = params_declare(&net->ps, name, PARAM_FROZEN, 4, wshape);
    snprintf(name, sizeof name, "%s.bn.weight", prefix);
    c->g = params_declare(&net->ps, name, PARAM_FROZEN, 1, vshape);
    snprintf(name, sizeof name, "%s.bn.bias", prefix);
    c->b = params_declare(&net->ps, name, PARAM_FROZEN, 1, vshape);
    snprintf(name, sizeof name, "%s.bn.running_mean", prefix);
    c->rm = params_declare(&net->ps, name, PARAM_BUFFER, 1, vshape);
    snprintf(name, sizeof name, "%s.bn.running_var", prefix);
    c->rv = params_declare(&net->ps, name, PARAM_BUFFER, 1, vshape);
    return 0;
}

#define CONV(prefix, cin, cout, kh, kw, sh, sw, ph, pw) declare_conv(net, prefix, cin, cout, kh, kw, sh, sw, ph, pw)

static void declare_a(Inception *net, const char *n, int cin, int pf) {
    char p[96];
#define B(x) (snprintf(p, sizeof p, "%s.%s", n, x), p)
    CONV(B("branch1x1"), cin, 64, 1, 1, 1, 1, 0, 0);
    CONV(B("branch5x5_1"), cin, 48, 1, 1, 1, 1, 0, 0);
    CONV(B("branch5x5_2"), 48, 64, 5, 5, 1, 1, 2, 2);
    CONV(B("branch3x3dbl_1"), cin, 64, 1, 1, 1, 1, 0, 0);
    CONV(B("branch3x3dbl_2"), 64, 96, 3, 3, 1, 1, 1, 1);
    CONV(B("branch3x3dbl_3"), 96, 96, 3, 3, 1, 1, 1, 1);
    CONV(B("branch_pool"), cin, pf, 1, 1, 1, 1, 0, 0);
}

static void declare_b(Inception *net, const char *n, int cin) {
    char p[96];
    CONV(B("branch3x3"), cin, 384, 3, 3, 2, 2, 0, 0);
    CONV(B("branch3x3dbl_1"), cin, 64, 1, 1, 1, 1, 0, 0);
    CONV(B("branch3x3dbl_2"), 64, 96, 3, 3, 1, 1, 1, 1);
    CONV(B("branch3x3dbl_3"), 96, 96, 3, 3, 2, 2, 0, 0);
}

static void declare_c(Inception *net, const char *n, int cin, int c7) {
    char p[96];
    CONV(B("branch1x1"), cin, 192, 1, 1, 1, 1, 0, 0);
    CONV(B("branch7x7_1"), cin, c7, 1, 1, 1, 1, 0, 0);
    CONV(B("branch7x7_2"), c7, c7, 1, 7, 1, 1, 0, 3);
    CONV(B("branch7x7_3"), c7, 192, 7, 1, 1, 1, 3, 0);
    CONV(B("branch7x7dbl_1"), cin, c7, 1, 1, 1, 1, 0, 0);
    CONV(B("branch7x7dbl_2"), c7, c7, 7, 1, 1, 1, 3, 0);
    CONV(B("branch7x7dbl_3"), c7, c7, 1, 7, 1, 1, 0, 3);
    CONV(B("branch7x7dbl_4"), c7, c7, 7, 1, 1, 1, 3, 0);
    CONV(B("branch7x7dbl_5"), c7, 192, 1, 7, 1, 1, 0, 3);
    CONV(B("branch_pool"), cin, 192, 1, 1, 1, 1, 0, 0);
}

static void declare_d(Inception *net, const char *n, int cin) {
    char p[96];
    CONV(B("branch3x3_1"), cin, 192, 1, 1, 1, 1, 0, 0);
    CONV(B("branch3x3_2"), 192, 320, 3, 3, 2, 2, 0, 0);
    CONV(B("branch7x7x3_1"), cin, 192, 1, 1, 1, 1, 0, 0);
    CONV(B("branch7x7x3_2"), 192, 192, 1, 7, 1, 1, 0, 3);
    CONV(B("branch7x7x3_3"), 192, 192, 7, 1, 1, 1, 3, 0);
    CONV(B("branch7x7x3_4"), 192, 192, 3, 3, 2, 2, 0, 0);
}

static void declare_e(Inception *net, const char *n, int cin) {
    char p[96];
    CONV(B("branch1x1"), cin, 320, 1, 1, 1, 1, 0, 0);
    CONV(B("branch3x3_1"), cin, 384, 1, 1, 1, 1, 0, 0);
    CONV(B("branch3x3_2a"), 384, 384, 1, 3, 1, 1, 0, 1);
    CONV(B("branch3x3_2b"), 384, 384, 3, 1, 1, 1, 1, 0);
    CONV(B("branch3x3dbl_1"), cin, 448, 1, 1, 1, 1, 0, 0);
    CONV(B("branch3x3dbl_2"), 448, 384, 3, 3, 1, 1, 1, 1);
    CONV(B("branch3x3dbl_3a"), 384, 384, 1, 3, 1, 1, 0, 1);
    CONV(B("branch3x3dbl_3b"), 384, 384, 3, 1, 1, 1, 1, 0);
    CONV(B("branch_pool"), cin, 192, 1, 1, 1, 1, 0, 0);
#undef B
}

int inception_build(Inception *net, InceptionVariant v, Err *e) {
    memset(net, 0, sizeof *net);
    net->variant = v;
    CONV("Conv2d_1a_3x3", 3, 32, 3, 3, 2, 2, 0, 0);
    CONV("Conv2d_2a_3x3", 32, 32, 3, 3, 1, 1, 0, 0);
    CONV("Conv2d_2b_3x3", 32, 64, 3, 3, 1, 1, 1, 1);
    CONV("Conv2d_3b_1x1", 64, 80, 1, 1, 1, 1, 0, 0);
    CONV("Conv2d_4a_3x3", 80, 192, 3, 3, 1, 1, 0, 0);
    declare_a(net, "Mixed_5b", 192, 32);
    declare_a(net, "Mixed_5c", 256, 64);
    declare_a(net, "Mixed_5d", 288, 64);
    declare_b(net, "Mixed_6a", 288);
    declare_c(net, "Mixed_6b", 768, 128);
    declare_c(net, "Mixed_6c", 768, 160);
    declare_c(net, "Mixed_6d", 768, 160);
    declare_c(net, "Mixed_6e", 768, 192);
    declare_d(net, "Mixed_7a", 768);
    declare_e(net, "Mixed_7b", 1280);
    declare_e(net, "Mixed_7c", 2048);
#undef CONV
    if (net->n_conv != INCEPTION_NCONV) return err_set(e, "inception: declared %d convolutions, expected %d", net->n_conv, INCEPTION_NCONV);
    if (params_finalize(&net->ps)) return err_set(e, "inception: out of memory for %s weights", inception_network_name(v));
    size_t nw = 0, nb = 0;
    for (int i = 0; i < net->n_conv; i++) {
        const ParamSpec *s = &net->ps.specs[net->conv[i].w];
        nw += s->numel;
        nb += net->conv[i].cout;
    }
    real *wf = malloc(nw * sizeof(real)), *bf = malloc(nb * sizeof(real));
    if (!wf || !bf) {
        free(wf);
        free(bf);
        params_free(&net->ps);
        return err_set(e, "inception: out of memory for the folded weights");
    }
    for (int i = 0; i < net->n_conv; i++) {   // one allocation each; conv[0] owns it
        net->conv[i].wf = wf;
        net->conv[i].bf = bf;
        wf += net->ps.specs[net->conv[i].w].numel;
        bf += net->conv[i].cout;
    }
    return 0;
}

void inception_init_random(Inception *net, uint64_t seed) {
    RngKey key = rng_key(seed, RNG_INIT);
    for (int i = 0; i < net->n_conv; i++) {
        IncConv *c = &net->conv[i];
        uint64_t ctr = (uint64_t)i << 8;   // one counter stream per tensor: order-free
        size_t fan_in = (size_t)c->cin * c->kh * c->kw;
        rng_fill_normal(params_tensor(&net->ps, c->w), net->ps.specs[c->w].numel, 0, (real)sqrt(2.0 / fan_in), key, ctr);
        rng_fill_uniform(params_tensor(&net->ps, c->g), c->cout, (real)0.8, (real)1.2, key, ctr + 1);
        rng_fill_uniform(params_tensor(&net->ps, c->b), c->cout, (real)-0.1, (real)0.1, key, ctr + 2);
        rng_fill_uniform(params_tensor(&net->ps, c->rm), c->cout, (real)-0.1, (real)0.1, key, ctr + 3);
        rng_fill_uniform(params_tensor(&net->ps, c->rv), c->cout, (real)0.8, (real)1.2, key, ctr + 4);
    }
    net->prepared = 0;
}

int inception_prepare(Inception *net, Err *e) {
    for (int i = 0; i < net->n_conv; i++) {
        IncConv *c = &net->conv[i];
        const real *w = params_tensor(&net->ps, c->w), *g = params_tensor(&net->ps, c->g);
        const real *b = params_tensor(&net->ps, c->b), *rm = params_tensor(&net->ps, c->rm);
        const real *rv = params_tensor(&net->ps, c->rv);
        size_t per = (size_t)c->cin * c->kh * c->kw;
        for (int k = 0; k < c->cout; k++) {
            if (!(rv[k] >= 0)) return err_set(e, "inception: %s[%d] = %g: a variance must be >= 0 (damaged weight file?)",
                                              net->ps.specs[c->rv].name, k, (double)rv[k]);
            double s = (double)g[k] / sqrt((double)rv[k] + BN_EPS);
            for (size_t j = 0; j < per; j++) c->wf[k * per + j] = (real)(w[k * per + j] * s);
            c->bf[k] = (real)(b[k] - rm[k] * s);
        }
    }
    net->prepared = 1;
    return 0;
}

void inception_free(Inception *net) {
    if (net->n_conv > 0) {
        free(net->conv[0].wf);
        free(net->conv[0].bf);
    }
    params_free(&net->ps);
    memset(net, 0, sizeof *net);
}

// ---------------------------------------------------------------- activations

struct IncActs {
    int max_batch;
    real *x, *y;             // ping-pong [max_batch * PING_PER_IMAGE]
    real *arena;             // block temporaries
    size_t used, cap;
    int32_t *argmax;         // max pooling's (unused) argmax
    real *in01;              // [B,3,S,S] remapped input
    size_t in01_cap;
};

IncActs *inception_acts_new(int max_batch) {
    IncActs *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->max_batch = max_batch;
    a->x = malloc(max_batch * PING_PER_IMAGE * sizeof(real));
    a->y = malloc(max_batch * PING_PER_IMAGE * sizeof(real));
    a->cap = max_batch * ARENA_PER_IMAGE;
    a->arena = malloc(a->cap * sizeof(real));
    a->argmax = malloc(max_batch * PING_PER_IMAGE * sizeof(int32_t));
    if (!a->x || !a->y || !a->arena || !a->argmax) {
        inception_acts_free(a);
        return NULL;
    }
    return a;
}

void inception_acts_free(IncActs *a) {
    if (!a) return;
    free(a->x);
    free(a->y);
    free(a->arena);
    free(a->argmax);
    free(a->in01);
    free(a);
}

static real *tmp(IncActs *a, size_t n) {
    if (a->used + n > a->cap) {   // the capacities above are sized for Inception-v3: a bug, not input
        fprintf(stderr, "inception: arena overflow (%zu + %zu > %zu)\n", a->used, n, a->cap);
        abort();
    }
    real *p = a->arena + a->used;
    a->used += n;
    return p;
}

// ---------------------------------------------------------------- forward

typedef struct {
    const Inception *net;
    IncActs *a;
    int ci;   // next convolution
    int N;
} Fwd;

// conv → folded BN → ReLU of the next convolution: in[N,cin,H,W] → out[N,cout,OH,OW]. Returns cout.
static int cbr(Fwd *f, real *out, const real *in, int H, int W, int *OH, int *OW) {
    const IncConv *c = &f->net->conv[f->ci++];
    ConvShape s = conv_shape(f->N, c->cin, H, W, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw);
    conv2d_forward(out, in, c->wf, c->bf, &s);
    relu_forward(out, out, (size_t)f->N * c->cout * s.OH * s.OW);
    if (OH) *OH = s.OH;
    if (OW) *OW = s.OW;
    return c->cout;
}

// A branch output that the concatenation collects.
typedef struct {
    const real *p;
    int C;
} Part;

// out[N, ΣC, HW] = cat(parts) along channels
static void cat_parts(real *out, const Part *parts, int n, int N, size_t HW) {
    int Ct = 0;
    for (int i = 0; i < n; i++) Ct += parts[i].C;
    for (int b = 0; b < N; b++) {
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            memcpy(out + ((size_t)b * Ct) * HW + off, parts[i].p + (size_t)b * parts[i].C * HW, parts[i].C * HW * sizeof(real));
            off += parts[i].C * HW;
        }
    }
}

// The next convolution (cbr) of in[N,cin,H,H] into fresh block scratch [N,cout,out_hw].
static real *conv_tmp(Fwd *f, const real *in, int H, size_t out_hw) {
    real *y = tmp(f->a, (size_t)f->N * f->net->conv[f->ci].cout * out_hw);
    cbr(f, y, in, H, H, NULL, NULL);
    return y;
}

// The same, as a branch output of the block's concatenation.
static Part conv_part(Fwd *f, const real *in, int H, size_t out_hw) {
    int C = f->net->conv[f->ci].cout;
    return (Part){conv_tmp(f, in, H, out_hw), C};
}

// 3x3 stride-1 pad-1 pooling of a block's pool branch: avg (count_include_pad as given) or max.
static void pool3_s1(Fwd *f, real *out, const real *in, int C, int H, int W, int use_max, int count_pad) {
    PoolShape ps = pool_shape(f->N, C, H, W, 3, 3, 1, 1, 1, 1, count_pad);
    if (use_max) maxpool2d_forward(out, f->a->argmax, in, &ps);
    else avgpool2d_forward(out, in, &ps);
}

// Pool branch of a stride-1 block: 3x3 pooling of in[N,Cin,H,H], then its 1x1 conv.
static Part pool_part(Fwd *f, const real *in, int Cin, int H, int use_max, int count_pad) {
    size_t HW = (size_t)H * H;
    real *pl = tmp(f->a, (size_t)f->N * Cin * HW);
    pool3_s1(f, pl, in, Cin, H, H, use_max, count_pad);
    return conv_part(f, pl, H, HW);
}

// Pool branch of a stride-2 block: 3x3 stride-2 max pooling of in[N,Cin,H,H] → [N,Cin,out_hw].
static Part maxpool_s2_part(Fwd *f, const real *in, int Cin, int H, size_t out_hw) {
    real *pl = tmp(f->a, (size_t)f->N * Cin * out_hw);
    PoolShape ps = pool_shape(f->N, Cin, H, H, 3, 3, 2, 2, 0, 0, 0);
    maxpool2d_forward(pl, f->a->argmax, in, &ps);
    return (Part){pl, Cin};
}

// Mixed_5b..d: [N,Cin,H,H] → [N,64+64+96+pool,H,H]
static void block_a(Fwd *f, real *out, const real *in, int Cin, int H) {
    size_t HW = (size_t)H * H;
    f->a->used = 0;
    Part p[4];
    p[0] = conv_part(f, in, H, HW);                                                    // branch1x1
    p[1] = conv_part(f, conv_tmp(f, in, H, HW), H, HW);                                // branch5x5_1, _2
    p[2] = conv_part(f, conv_tmp(f, conv_tmp(f, in, H, HW), H, HW), H, HW);            // branch3x3dbl_1.._3
    p[3] = pool_part(f, in, Cin, H, 0, f->net->variant == INCEPTION_TV);
    cat_parts(out, p, 4, f->N, HW);
}

// Mixed_6a: [N,Cin,H,H] → [N,384+96+Cin,OH,OH] with stride 2
static int block_b(Fwd *f, real *out, const real *in, int Cin, int H) {
    size_t HW = (size_t)H * H;
    int OH = (H - 3) / 2 + 1;
    size_t OHW = (size_t)OH * OH;
    f->a->used = 0;
    Part p[3];
    p[0] = conv_part(f, in, H, OHW);                                                   // branch3x3
    p[1] = conv_part(f, conv_tmp(f, conv_tmp(f, in, H, HW), H, HW), H, OHW);           // branch3x3dbl_1.._3
    p[2] = maxpool_s2_part(f, in, Cin, H, OHW);
    cat_parts(out, p, 3, f->N, OHW);
    return OH;
}

// Mixed_6b..e: [N,768,H,H] → [N,192·4,H,H]
static void block_c(Fwd *f, real *out, const real *in, int Cin, int H) {
    size_t HW = (size_t)H * H;
    f->a->used = 0;
    Part p[4];
    p[0] = conv_part(f, in, H, HW);
    const real *x = in;
    for (int k = 0; k < 3; k++) x = conv_tmp(f, x, H, HW);   // branch7x7_1.._3
    p[1] = (Part){x, 192};
    x = in;
    for (int k = 0; k < 5; k++) x = conv_tmp(f, x, H, HW);   // branch7x7dbl_1.._5
    p[2] = (Part){x, 192};
    p[3] = pool_part(f, in, Cin, H, 0, f->net->variant == INCEPTION_TV);
    cat_parts(out, p, 4, f->N, HW);
}

// Mixed_7a: [N,Cin,H,H] → [N,320+192+Cin,OH,OH], stride 2
static int block_d(Fwd *f, real *out, const real *in, int Cin, int H) {
    size_t HW = (size_t)H * H;
    int OH = (H - 3) / 2 + 1;
    size_t OHW = (size_t)OH * OH;
    f->a->used = 0;
    Part p[3];
    p[0] = conv_part(f, conv_tmp(f, in, H, HW), H, OHW);   // branch3x3_1, _2
    const real *x = in;
    for (int k = 0; k < 3; k++) x = conv_tmp(f, x, H, HW);   // branch7x7x3_1.._3
    p[1] = conv_part(f, x, H, OHW);                         // branch7x7x3_4
    p[2] = maxpool_s2_part(f, in, Cin, H, OHW);
    cat_parts(out, p, 3, f->N, OHW);
    return OH;
}

// Mixed_7b, 7c: [N,Cin,H,H] → [N,320+384·2+384·2+192,H,H].
// pool: 0 avg counting padding (torchvision), 1 avg without (FID E_1), 2 max (FID E_2)
static void block_e(Fwd *f, real *out, const real *in, int Cin, int H, int pool) {
    size_t HW = (size_t)H * H;
    f->a->used = 0;
    Part p[6];
    p[0] = conv_part(f, in, H, HW);                               // branch1x1
    const real *t = conv_tmp(f, in, H, HW);                       // branch3x3_1
    p[1] = conv_part(f, t, H, HW);                                // branch3x3_2a
    p[2] = conv_part(f, t, H, HW);                                // branch3x3_2b
    const real *d = conv_tmp(f, conv_tmp(f, in, H, HW), H, HW);   // branch3x3dbl_1, _2
    p[3] = conv_part(f, d, H, HW);                                // branch3x3dbl_3a
    p[4] = conv_part(f, d, H, HW);                                // branch3x3dbl_3b
    p[5] = pool_part(f, in, Cin, H, pool == 2, pool == 0);
    cat_parts(out, p, 6, f->N, HW);
}

static void preprocess(const Inception *net, IncActs *a, real *x299, const real *img, int B, int S) {
    size_t n = (size_t)B * 3 * S * S;
    if (n > a->in01_cap) {
        free(a->in01);
        a->in01 = malloc(n * sizeof(real));
        if (!a->in01) abort();
        a->in01_cap = n;
    }
    for (size_t i = 0; i < n; i++) a->in01[i] = (real)0.5 * img[i] + (real)0.5;
    resize_bilinear_forward(x299, a->in01, B, 3, S, S, INCEPTION_SIZE, INCEPTION_SIZE);
    size_t plane = (size_t)INCEPTION_SIZE * INCEPTION_SIZE;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++) {
            real *p = x299 + ((size_t)b * 3 + c) * plane;
            // the same float arithmetic as the reference: 2x−1, or x·(std/0.5) + (mean−0.5)/0.5
            real sc = net->variant == INCEPTION_TV ? (real)((real)IMAGENET_STD[c] / (real)0.5) : (real)2;
            real sh = net->variant == INCEPTION_TV ? (real)(((real)IMAGENET_MEAN[c] - (real)0.5) / (real)0.5) : (real)-1;
            for (size_t i = 0; i < plane; i++) p[i] = p[i] * sc + sh;
        }
}

void inception_forward(const Inception *net, IncActs *a, real *feat, const real *img, int B, int S) {
    Fwd f = {net, a, 0, B};
    real *x = a->x, *y = a->y;
    int H = INCEPTION_SIZE, OH, C;
    preprocess(net, a, x, img, B, S);
    // stem
    C = cbr(&f, y, x, H, H, &OH, NULL);   // Conv2d_1a 299 → 149
    H = OH;
    C = cbr(&f, x, y, H, H, &OH, NULL);   // 2a → 147
    H = OH;
    C = cbr(&f, y, x, H, H, &OH, NULL);   // 2b → 147, 64 ch
    H = OH;
    PoolShape ps = pool_shape(B, C, H, H, 3, 3, 2, 2, 0, 0, 0);
    maxpool2d_forward(x, a->argmax, y, &ps);   // → 73
    H = ps.OH;
    C = cbr(&f, y, x, H, H, &OH, NULL);   // 3b
    C = cbr(&f, x, y, H, H, &OH, NULL);   // 4a → 71, 192 ch
    H = OH;
    ps = pool_shape(B, C, H, H, 3, 3, 2, 2, 0, 0, 0);
    maxpool2d_forward(y, a->argmax, x, &ps);   // → 35
    H = ps.OH;
    // Mixed blocks, ping-ponging y → x → y …
    real *cur = y, *nxt = x, *sw;
#define SWAP() (sw = cur, cur = nxt, nxt = sw)
    block_a(&f, nxt, cur, 192, H), SWAP();   // 5b → 256
    block_a(&f, nxt, cur, 256, H), SWAP();   // 5c → 288
    block_a(&f, nxt, cur, 288, H), SWAP();   // 5d → 288
    H = block_b(&f, nxt, cur, 288, H), SWAP();   // 6a → 768 @ 17
    for (int k = 0; k < 4; k++) block_c(&f, nxt, cur, 768, H), SWAP();   // 6b..6e
    H = block_d(&f, nxt, cur, 768, H), SWAP();   // 7a → 1280 @ 8
    int fid = net->variant == INCEPTION_FID;
    block_e(&f, nxt, cur, 1280, H, fid ? 1 : 0), SWAP();   // 7b → 2048
    block_e(&f, nxt, cur, 2048, H, fid ? 2 : 0), SWAP();   // 7c
#undef SWAP
    global_avgpool_forward(feat, cur, B, INCEPTION_DIM, H * H);
}
