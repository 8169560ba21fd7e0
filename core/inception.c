// inception: Inception-v3 forward to pool3. See inception.h. The convolutions are declared from the
// tables below (state_dict order); the forward walks them in that order (a cursor into net->conv), so
// the block functions must consume them in table order. The same walk, run once without arithmetic
// (the sizing walk), sizes the activation plan.
#include "core/par.h"
#include "core/inception.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ops.h"
#include "core/plan.h"
#include "core/rng.h"

#define BN_EPS 0.001

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

// One BasicConv2d of a block, in state_dict order. Channel counts below 0 are the block's own:
// IN its input channels, C7 block C's 7x7 width, PF block A's pool features.
enum { IN = -1, C7 = -2, PF = -3 };
typedef struct {
    const char *name;
    int cin, cout, kh, kw, sh, sw, ph, pw;
} ConvDecl;

static const ConvDecl STEM[] = {
    {"Conv2d_1a_3x3", 3, 32, 3, 3, 2, 2, 0, 0},   {"Conv2d_2a_3x3", 32, 32, 3, 3, 1, 1, 0, 0},
    {"Conv2d_2b_3x3", 32, 64, 3, 3, 1, 1, 1, 1},  {"Conv2d_3b_1x1", 64, 80, 1, 1, 1, 1, 0, 0},
    {"Conv2d_4a_3x3", 80, 192, 3, 3, 1, 1, 0, 0},
};
static const ConvDecl BLOCK_A[] = {   // InceptionA
    {"branch1x1", IN, 64, 1, 1, 1, 1, 0, 0},      {"branch5x5_1", IN, 48, 1, 1, 1, 1, 0, 0},
    {"branch5x5_2", 48, 64, 5, 5, 1, 1, 2, 2},    {"branch3x3dbl_1", IN, 64, 1, 1, 1, 1, 0, 0},
    {"branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1, 1}, {"branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1, 1},
    {"branch_pool", IN, PF, 1, 1, 1, 1, 0, 0},
};
static const ConvDecl BLOCK_B[] = {   // InceptionB
    {"branch3x3", IN, 384, 3, 3, 2, 2, 0, 0},     {"branch3x3dbl_1", IN, 64, 1, 1, 1, 1, 0, 0},
    {"branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1, 1}, {"branch3x3dbl_3", 96, 96, 3, 3, 2, 2, 0, 0},
};
static const ConvDecl BLOCK_C[] = {   // InceptionC
    {"branch1x1", IN, 192, 1, 1, 1, 1, 0, 0},     {"branch7x7_1", IN, C7, 1, 1, 1, 1, 0, 0},
    {"branch7x7_2", C7, C7, 1, 7, 1, 1, 0, 3},    {"branch7x7_3", C7, 192, 7, 1, 1, 1, 3, 0},
    {"branch7x7dbl_1", IN, C7, 1, 1, 1, 1, 0, 0}, {"branch7x7dbl_2", C7, C7, 7, 1, 1, 1, 3, 0},
    {"branch7x7dbl_3", C7, C7, 1, 7, 1, 1, 0, 3}, {"branch7x7dbl_4", C7, C7, 7, 1, 1, 1, 3, 0},
    {"branch7x7dbl_5", C7, 192, 1, 7, 1, 1, 0, 3}, {"branch_pool", IN, 192, 1, 1, 1, 1, 0, 0},
};
static const ConvDecl BLOCK_D[] = {   // InceptionD
    {"branch3x3_1", IN, 192, 1, 1, 1, 1, 0, 0},     {"branch3x3_2", 192, 320, 3, 3, 2, 2, 0, 0},
    {"branch7x7x3_1", IN, 192, 1, 1, 1, 1, 0, 0},   {"branch7x7x3_2", 192, 192, 1, 7, 1, 1, 0, 3},
    {"branch7x7x3_3", 192, 192, 7, 1, 1, 1, 3, 0},  {"branch7x7x3_4", 192, 192, 3, 3, 2, 2, 0, 0},
};
static const ConvDecl BLOCK_E[] = {   // InceptionE
    {"branch1x1", IN, 320, 1, 1, 1, 1, 0, 0},        {"branch3x3_1", IN, 384, 1, 1, 1, 1, 0, 0},
    {"branch3x3_2a", 384, 384, 1, 3, 1, 1, 0, 1},    {"branch3x3_2b", 384, 384, 3, 1, 1, 1, 1, 0},
    {"branch3x3dbl_1", IN, 448, 1, 1, 1, 1, 0, 0},   {"branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1, 1},
    {"branch3x3dbl_3a", 384, 384, 1, 3, 1, 1, 0, 1}, {"branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 1, 0},
    {"branch_pool", IN, 192, 1, 1, 1, 1, 0, 0},
};

#define N_OF(t) (int)(sizeof(t) / sizeof((t)[0]))
static const struct {
    const char *name;   // NULL: the stem (its convs are top-level modules)
    const ConvDecl *convs;
    int n, cin, c7_or_pf;
} BLOCKS[] = {
    {NULL, STEM, N_OF(STEM), 0, 0},
    {"Mixed_5b", BLOCK_A, N_OF(BLOCK_A), 192, 32},   {"Mixed_5c", BLOCK_A, N_OF(BLOCK_A), 256, 64},
    {"Mixed_5d", BLOCK_A, N_OF(BLOCK_A), 288, 64},   {"Mixed_6a", BLOCK_B, N_OF(BLOCK_B), 288, 0},
    {"Mixed_6b", BLOCK_C, N_OF(BLOCK_C), 768, 128},  {"Mixed_6c", BLOCK_C, N_OF(BLOCK_C), 768, 160},
    {"Mixed_6d", BLOCK_C, N_OF(BLOCK_C), 768, 160},  {"Mixed_6e", BLOCK_C, N_OF(BLOCK_C), 768, 192},
    {"Mixed_7a", BLOCK_D, N_OF(BLOCK_D), 768, 0},    {"Mixed_7b", BLOCK_E, N_OF(BLOCK_E), 1280, 0},
    {"Mixed_7c", BLOCK_E, N_OF(BLOCK_E), 2048, 0},
};

static int resolve(int c, int cin, int c7_or_pf) { return c == IN ? cin : c < 0 ? c7_or_pf : c; }

// Random init (inception_init_random): conv N(0, 2/fan_in), BN γ ∈ U(.8,1.2), β, mean ∈ U(±.1), var ∈ U(.8,1.2)
static void declare_conv(Inception *net, const char *block, const ConvDecl *cd, int cin, int c7_or_pf) {
    IncConv *c = &net->conv[net->n_conv++];
    *c = (IncConv){.cin = resolve(cd->cin, cin, c7_or_pf), .cout = resolve(cd->cout, cin, c7_or_pf),
                   .kh = cd->kh, .kw = cd->kw, .sh = cd->sh, .sw = cd->sw, .ph = cd->ph, .pw = cd->pw};
    int wshape[4] = {c->cout, c->cin, c->kh, c->kw}, vshape[1] = {c->cout};
    ParamSet *ps = &net->ps;
    const char *b = block ? block : "", *dot = block ? "." : "";
    real wstd = (real)sqrt(2.0 / ((size_t)c->cin * c->kh * c->kw));
    params_add(ps, &c->w, PARAM_FROZEN, param_normal(0, wstd), 4, wshape, "%s%s%s.conv.weight", b, dot, cd->name);
    params_add(ps, &c->g, PARAM_FROZEN, param_uniform((real)0.8, (real)1.2), 1, vshape, "%s%s%s.bn.weight", b, dot,
               cd->name);
    params_add(ps, &c->b, PARAM_FROZEN, param_uniform((real)-0.1, (real)0.1), 1, vshape, "%s%s%s.bn.bias", b, dot,
               cd->name);
    params_add(ps, &c->rm, PARAM_BUFFER, param_uniform((real)-0.1, (real)0.1), 1, vshape, "%s%s%s.bn.running_mean",
               b, dot, cd->name);
    params_add(ps, &c->rv, PARAM_BUFFER, param_uniform((real)0.8, (real)1.2), 1, vshape, "%s%s%s.bn.running_var", b,
               dot, cd->name);
}

int inception_build(Inception *net, InceptionVariant v, Err *e) {
    memset(net, 0, sizeof *net);
    net->variant = v;
    net->input_size = INCEPTION_SIZE;
    for (int k = 0; k < N_OF(BLOCKS); k++)
        for (int j = 0; j < BLOCKS[k].n && net->n_conv < INCEPTION_NCONV; j++)
            declare_conv(net, BLOCKS[k].name, &BLOCKS[k].convs[j], BLOCKS[k].cin, BLOCKS[k].c7_or_pf);
    if (net->n_conv != INCEPTION_NCONV) return err_set(e, "inception: declared %d convolutions, expected %d", net->n_conv, INCEPTION_NCONV);
    if (params_finalize(&net->ps)) {
        params_free(&net->ps);
        return err_set(e, "inception: out of memory for %s weights", inception_network_name(v));
    }
    size_t nw = 0, nb = 0;
    for (int i = 0; i < net->n_conv; i++) {
        nw += net->ps.specs[net->conv[i].w.i].numel;
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
        wf += net->ps.specs[net->conv[i].w.i].numel;
        bf += net->conv[i].cout;
    }
    return 0;
}

void inception_init_random(Inception *net, uint64_t seed) {
    RngKey key = rng_key(seed, RNG_INIT);
    // counter (conv << 8) + k for the k-th of a conv's five tensors: order-free
    for (int i = 0; i < net->ps.count; i++) params_init_tensor(&net->ps, i, key, ((uint64_t)(i / 5) << 8) + (uint64_t)(i % 5));
    net->prepared = 0;
}

int inception_prepare(Inception *net, Err *e) {
    for (int i = 0; i < net->n_conv; i++) {
        IncConv *c = &net->conv[i];
        const real *w = c->w.v, *g = c->g.v, *b = c->b.v, *rm = c->rm.v, *rv = c->rv.v;
        size_t per = (size_t)c->cin * c->kh * c->kw;
        for (int k = 0; k < c->cout; k++) {
            if (!(rv[k] >= 0)) return err_set(e, "inception: %s[%d] = %g: a variance must be >= 0 (damaged weight file?)",
                                              net->ps.specs[c->rv.i].name, k, (double)rv[k]);
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
    Plan plan;
    int max_batch;
    int input_size;                       // the net->input_size the walk was sized for
    size_t ping_n, scratch_n, argmax_n;   // floats / ints per buffer, from the sizing walk
    real *x, *y;             // ping-pong [ping_n]: the largest activation of the network
    real *scratch;           // block temporaries [scratch_n]: the largest block's branches
    int32_t *argmax;         // max pooling's (unused) argmax [argmax_n]
};

// ---------------------------------------------------------------- forward

// One walk of the network. In the sizing walk (a->x etc. not yet allocated) no arithmetic runs: it
// only measures what the ping-pong buffers, the block scratch and the argmax need (inception_acts_new).
typedef struct {
    const Inception *net;
    IncActs *a;
    int ci;         // next convolution
    int N;
    int sizing;
    size_t used;    // block scratch in use (floats)
    size_t ping, scratch, argmax;   // sizing: the largest need of each (elements)
} Fwd;

static void need(size_t *have, size_t n) {
    if (n > *have) *have = n;
}

static real *tmp(Fwd *f, size_t n) {
    size_t off = f->used;
    f->used += n;
    if (f->sizing) {
        need(&f->scratch, f->used);
        return NULL;
    }
    if (f->used > f->a->scratch_n) {   // the sizing walk measured this forward: a bug, not input
        fprintf(stderr, "inception: block scratch overflow (%zu > %zu)\n", f->used, f->a->scratch_n);
        abort();
    }
    return f->a->scratch + off;
}

// conv → folded BN → ReLU of the next convolution: in[N,cin,H,W] → out[N,cout,OH,OW]. Returns cout.
static int cbr(Fwd *f, real *out, const real *in, int H, int W, int *OH, int *OW) {
    const IncConv *c = &f->net->conv[f->ci++];
    ConvShape s = conv_shape(f->N, c->cin, H, W, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw);
    if (!f->sizing) {
        conv2d_forward(out, in, c->wf, c->bf, &s);
        relu_forward(out, out, (size_t)f->N * c->cout * s.OH * s.OW);
    }
    if (OH) *OH = s.OH;
    if (OW) *OW = s.OW;
    return c->cout;
}

// A stem convolution between the ping-pong buffers. Returns cout; *H becomes the output side.
static int stem_cbr(Fwd *f, real *out, const real *in, int *H) {
    int OH, C = cbr(f, out, in, *H, *H, &OH, NULL);
    need(&f->ping, (size_t)f->N * C * OH * OH);
    *H = OH;
    return C;
}

// max pooling (k, stride s, no padding) of in[N,C,H,H] → out; returns the output side.
static int maxpool(Fwd *f, real *out, const real *in, int C, int H, int k, int s) {
    PoolShape ps = pool_shape(f->N, C, H, H, k, k, s, s, 0, 0, 0);
    need(&f->argmax, (size_t)f->N * C * ps.OH * ps.OW);
    if (!f->sizing) maxpool2d_forward(out, f->a->argmax, in, &ps);
    return ps.OH;
}

// A branch output that the concatenation collects.
typedef struct {
    const real *p;
    int C;
} Part;

// out[N, ΣC, HW] = cat(parts) along channels (a ping-pong buffer)
static void cat_parts(Fwd *f, real *out, const Part *parts, int n, size_t HW) {
    int Ct = 0;
    for (int i = 0; i < n; i++) Ct += parts[i].C;
    need(&f->ping, (size_t)f->N * Ct * HW);
    if (f->sizing) return;
    for (int b = 0; b < f->N; b++) {
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            memcpy(out + ((size_t)b * Ct) * HW + off, parts[i].p + (size_t)b * parts[i].C * HW, parts[i].C * HW * sizeof(real));
            off += parts[i].C * HW;
        }
    }
}

// The next convolution (cbr) of in[N,cin,H,H] into fresh block scratch [N,cout,out_hw].
static real *conv_tmp(Fwd *f, const real *in, int H, size_t out_hw) {
    real *y = tmp(f, (size_t)f->N * f->net->conv[f->ci].cout * out_hw);
    cbr(f, y, in, H, H, NULL, NULL);
    return y;
}

// The same, as a branch output of the block's concatenation.
static Part conv_part(Fwd *f, const real *in, int H, size_t out_hw) {
    int C = f->net->conv[f->ci].cout;
    return (Part){conv_tmp(f, in, H, out_hw), C};
}

// Pool branch of a stride-1 block: 3x3 stride-1 pad-1 pooling of in[N,Cin,H,H] (avg, count_include_pad
// as given, or max), then its 1x1 conv.
static Part pool_part(Fwd *f, const real *in, int Cin, int H, int use_max, int count_pad) {
    size_t HW = (size_t)H * H;
    real *pl = tmp(f, (size_t)f->N * Cin * HW);
    PoolShape ps = pool_shape(f->N, Cin, H, H, 3, 3, 1, 1, 1, 1, count_pad);
    if (use_max) need(&f->argmax, (size_t)f->N * Cin * HW);
    if (!f->sizing) {
        if (use_max) maxpool2d_forward(pl, f->a->argmax, in, &ps);
        else avgpool2d_forward(pl, in, &ps);
    }
    return conv_part(f, pl, H, HW);
}

// Pool branch of a stride-2 block: 3x3 stride-2 max pooling of in[N,Cin,H,H] → [N,Cin,out_hw].
static Part maxpool_s2_part(Fwd *f, const real *in, int Cin, int H, size_t out_hw) {
    real *pl = tmp(f, (size_t)f->N * Cin * out_hw);
    maxpool(f, pl, in, Cin, H, 3, 2);
    return (Part){pl, Cin};
}

// Mixed_5b..d: [N,Cin,H,H] → [N,64+64+96+pool,H,H]
static void block_a(Fwd *f, real *out, const real *in, int Cin, int H) {
    size_t HW = (size_t)H * H;
    f->used = 0;
    Part p[4];
    p[0] = conv_part(f, in, H, HW);                                                    // branch1x1
    p[1] = conv_part(f, conv_tmp(f, in, H, HW), H, HW);                                // branch5x5_1, _2
    p[2] = conv_part(f, conv_tmp(f, conv_tmp(f, in, H, HW), H, HW), H, HW);            // branch3x3dbl_1.._3
    p[3] = pool_part(f, in, Cin, H, 0, f->net->variant == INCEPTION_TV);
    cat_parts(f, out, p, 4, HW);
}

// Mixed_6a: [N,Cin,H,H] → [N,384+96+Cin,OH,OH] with stride 2
static int block_b(Fwd *f, real *out, const real *in, int Cin, int H) {
    size_t HW = (size_t)H * H;
    int OH = (H - 3) / 2 + 1;
    size_t OHW = (size_t)OH * OH;
    f->used = 0;
    Part p[3];
    p[0] = conv_part(f, in, H, OHW);                                                   // branch3x3
    p[1] = conv_part(f, conv_tmp(f, conv_tmp(f, in, H, HW), H, HW), H, OHW);           // branch3x3dbl_1.._3
    p[2] = maxpool_s2_part(f, in, Cin, H, OHW);
    cat_parts(f, out, p, 3, OHW);
    return OH;
}

// Mixed_6b..e: [N,768,H,H] → [N,192·4,H,H]
static void block_c(Fwd *f, real *out, const real *in, int Cin, int H) {
    size_t HW = (size_t)H * H;
    f->used = 0;
    Part p[4];
    p[0] = conv_part(f, in, H, HW);
    const real *x = in;
    for (int k = 0; k < 3; k++) x = conv_tmp(f, x, H, HW);   // branch7x7_1.._3
    p[1] = (Part){x, 192};
    x = in;
    for (int k = 0; k < 5; k++) x = conv_tmp(f, x, H, HW);   // branch7x7dbl_1.._5
    p[2] = (Part){x, 192};
    p[3] = pool_part(f, in, Cin, H, 0, f->net->variant == INCEPTION_TV);
    cat_parts(f, out, p, 4, HW);
}

// Mixed_7a: [N,Cin,H,H] → [N,320+192+Cin,OH,OH], stride 2
static int block_d(Fwd *f, real *out, const real *in, int Cin, int H) {
    size_t HW = (size_t)H * H;
    int OH = (H - 3) / 2 + 1;
    size_t OHW = (size_t)OH * OH;
    f->used = 0;
    Part p[3];
    p[0] = conv_part(f, conv_tmp(f, in, H, HW), H, OHW);   // branch3x3_1, _2
    const real *x = in;
    for (int k = 0; k < 3; k++) x = conv_tmp(f, x, H, HW);   // branch7x7x3_1.._3
    p[1] = conv_part(f, x, H, OHW);                         // branch7x7x3_4
    p[2] = maxpool_s2_part(f, in, Cin, H, OHW);
    cat_parts(f, out, p, 3, OHW);
    return OH;
}

// Mixed_7b, 7c: [N,Cin,H,H] → [N,320+384·2+384·2+192,H,H].
// pool: 0 avg counting padding (torchvision), 1 avg without (FID E_1), 2 max (FID E_2)
static void block_e(Fwd *f, real *out, const real *in, int Cin, int H, int pool) {
    size_t HW = (size_t)H * H;
    f->used = 0;
    Part p[6];
    p[0] = conv_part(f, in, H, HW);                               // branch1x1
    const real *t = conv_tmp(f, in, H, HW);                       // branch3x3_1
    p[1] = conv_part(f, t, H, HW);                                // branch3x3_2a
    p[2] = conv_part(f, t, H, HW);                                // branch3x3_2b
    const real *d = conv_tmp(f, conv_tmp(f, in, H, HW), H, HW);   // branch3x3dbl_1, _2
    p[3] = conv_part(f, d, H, HW);                                // branch3x3dbl_3a
    p[4] = conv_part(f, d, H, HW);                                // branch3x3dbl_3b
    p[5] = pool_part(f, in, Cin, H, pool == 2, pool == 0);
    cat_parts(f, out, p, 6, HW);
}

// img[B,3,S,S] in [-1,1] → x299[B,3,R,R] (R = input_size, 299 by default), the network's input. The
// [0,1] remap of img goes through `tmp` (the other ping-pong buffer) as many image planes at a time as
// fit (the bilinear resize works plane by plane, so chunking changes nothing).
static void preprocess(Fwd *f, real *x299, real *tmp01, const real *img, int S) {
    const Inception *net = f->net;
    int B = f->N, R = net->input_size;
    size_t plane = (size_t)R * R, in_plane = (size_t)S * S;
    need(&f->ping, (size_t)B * 3 * plane);
    if (f->sizing) return;
    size_t planes = (size_t)B * 3, chunk = f->a->ping_n / in_plane;
    if (chunk == 0) {   // one S×S plane is larger than the largest activation (S > ~1176 at batch 1)
        fprintf(stderr, "inception: input images of %dx%d do not fit the activation buffers of batch %d\n", S, S,
                f->a->max_batch);
        abort();
    }
    for (size_t p0 = 0; p0 < planes; p0 += chunk) {
        size_t np = planes - p0 < chunk ? planes - p0 : chunk, n = np * in_plane;
        const real *src = img + p0 * in_plane;
        PAR_FOR_SIMD(n)
        for (size_t i = 0; i < n; i++) tmp01[i] = (real)0.5 * src[i] + (real)0.5;
        resize_bilinear_forward(x299 + p0 * plane, tmp01, 1, (int)np, S, S, R, R);
    }
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++) {
            real *p = x299 + ((size_t)b * 3 + c) * plane;
            // the same float arithmetic as the reference: 2x−1, or x·(std/0.5) + (mean−0.5)/0.5
            real sc = net->variant == INCEPTION_TV ? (real)((real)IMAGENET_STD[c] / (real)0.5) : (real)2;
            real sh = net->variant == INCEPTION_TV ? (real)(((real)IMAGENET_MEAN[c] - (real)0.5) / (real)0.5) : (real)-1;
            PAR_FOR_SIMD(plane)
            for (size_t i = 0; i < plane; i++) p[i] = p[i] * sc + sh;
        }
}

static void walk(Fwd *f, real *feat, const real *img, int S) {
    IncActs *a = f->a;
    real *x = f->sizing ? NULL : a->x, *y = f->sizing ? NULL : a->y;
    int H = f->net->input_size;
    preprocess(f, x, y, img, S);
    // stem (sizes at the default 299)
    stem_cbr(f, y, x, &H);                   // Conv2d_1a 299 → 149
    stem_cbr(f, x, y, &H);                   // 2a → 147
    int C = stem_cbr(f, y, x, &H);           // 2b → 147, 64 ch
    H = maxpool(f, x, y, C, H, 3, 2);        // → 73
    need(&f->ping, (size_t)f->N * C * H * H);
    stem_cbr(f, y, x, &H);                   // 3b
    C = stem_cbr(f, x, y, &H);               // 4a → 71, 192 ch
    H = maxpool(f, y, x, C, H, 3, 2);        // → 35
    need(&f->ping, (size_t)f->N * C * H * H);
    // Mixed blocks, ping-ponging y → x → y …
    real *cur = y, *nxt = x, *sw;
#define SWAP() (sw = cur, cur = nxt, nxt = sw)
    block_a(f, nxt, cur, 192, H), SWAP();   // 5b → 256
    block_a(f, nxt, cur, 256, H), SWAP();   // 5c → 288
    block_a(f, nxt, cur, 288, H), SWAP();   // 5d → 288
    H = block_b(f, nxt, cur, 288, H), SWAP();   // 6a → 768 @ 17
    for (int k = 0; k < 4; k++) block_c(f, nxt, cur, 768, H), SWAP();   // 6b..6e
    H = block_d(f, nxt, cur, 768, H), SWAP();   // 7a → 1280 @ 8
    int fid = f->net->variant == INCEPTION_FID;
    block_e(f, nxt, cur, 1280, H, fid ? 1 : 0), SWAP();   // 7b → 2048
    block_e(f, nxt, cur, 2048, H, fid ? 2 : 0), SWAP();   // 7c
#undef SWAP
    if (!f->sizing) global_avgpool_forward(feat, cur, f->N, INCEPTION_DIM, H * H);
}

static void inc_layout(Plan *p, void *ctx) {
    IncActs *a = ctx;
    a->x = plan_reals(p, PLAN_ACT, a->ping_n);
    a->y = plan_reals(p, PLAN_ACT, a->ping_n);
    a->scratch = plan_reals(p, PLAN_SCRATCH, a->scratch_n);
    a->argmax = plan_take(p, PLAN_SCRATCH, a->argmax_n, sizeof(int32_t));
}

IncActs *inception_acts_new(const Inception *net, int max_batch) {
    if (net->input_size < INCEPTION_SIZE_MIN || net->input_size > INCEPTION_SIZE_MAX) return NULL;
    IncActs *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->max_batch = max_batch;
    a->input_size = net->input_size;
    Fwd f = {.net = net, .a = a, .N = max_batch, .sizing = 1};
    walk(&f, NULL, NULL, net->input_size);
    a->ping_n = f.ping, a->scratch_n = f.scratch, a->argmax_n = f.argmax;
    if (plan_build(&a->plan, inc_layout, a)) {
        free(a);
        return NULL;
    }
    return a;
}

void inception_acts_free(IncActs *a) {
    if (!a) return;
    plan_free(&a->plan);
    free(a);
}

size_t inception_acts_bytes(const IncActs *a) { return plan_bytes(&a->plan); }

void inception_forward(const Inception *net, IncActs *a, real *feat, const real *img, int B, int S) {
    if (a->input_size != net->input_size) {   // activations sized for another input: a bug, not input
        fprintf(stderr, "inception: activations made for %d px, the network now resizes to %d\n", a->input_size,
                net->input_size);
        abort();
    }
    Fwd f = {.net = net, .a = a, .N = B};
    walk(&f, feat, img, S);
}
