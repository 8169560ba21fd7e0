// onednn: convolutions through oneDNN 2.6 (see onednn.h). Float core with RATLIP_ONEDNN only; the
// stubs at the end stand in everywhere else.
#include "core/onednn.h"
#include "core/kernels.h"

#if defined(RATLIP_ONEDNN) && !defined(RATLIP_F64)
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_init;       // environment read and engine created (once)
static int g_ok;         // engine and stream exist
static int g_enabled;    // convolutions go through oneDNN
static int g_bf16;       // opt-in bf16 inputs
static long g_count;
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static char g_name[128];

static void init(void) {
    if (g_init) return;
    g_init = 1;
    g_ok = dnnl_engine_create(&g_engine, dnnl_cpu, 0) == dnnl_success &&
           dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags) == dnnl_success;
    const char *k = getenv("RATLIP_KERNELS"), *b = getenv("RATLIP_CONV_BF16");
    g_enabled = g_ok && !(k && !strcmp(k, "openblas"));
    g_bf16 = b && *b && strcmp(b, "0") != 0;
}

// A failed execute after a successful create is a broken invariant (or out of memory), not bad input:
// a backward may already have accumulated part of its result, so falling back would double-count.
static void must(dnnl_status_t st, const char *what) {
    if (st == dnnl_success) return;
    fprintf(stderr, "ratlip: core/onednn.c: %s failed (oneDNN status %d); rerun with RATLIP_KERNELS=openblas\n",
            what, (int)st);
    abort();
}

// ---------------------------------------------------------------- ports: caller layout <-> primitive layout
// A tensor argument of a primitive. The caller's buffer is plain f32 (NCHW / OIHW); the primitive may
// want a blocked layout or bf16. Then the data goes through a kern_scratch slot and a cached reorder;
// an accumulating output (backward) always does, with a sum post-op that makes the reorder add.
enum { PORT_IN, PORT_OUT, PORT_OUT_ADD };
typedef struct {
    dnnl_memory_t user, prim;  // prim == user when no reorder is needed
    dnnl_primitive_t reorder;  // user→prim (IN) or prim→user (OUT, OUT_ADD); NULL when prim == user
    size_t bytes;              // size of the prim buffer
    int kind, slot;
} Port;

static int port_init(Port *p, const dnnl_memory_desc_t *user_md, const dnnl_memory_desc_t *prim_md, int kind,
                     int slot) {
    memset(p, 0, sizeof *p);
    p->kind = kind, p->slot = slot;
    if (dnnl_memory_create(&p->user, user_md, g_engine, DNNL_MEMORY_NONE) != dnnl_success) return -1;
    if (kind != PORT_OUT_ADD && dnnl_memory_desc_equal(user_md, prim_md)) {
        p->prim = p->user;
        return 0;
    }
    p->bytes = dnnl_memory_desc_get_size(prim_md);
    if (dnnl_memory_create(&p->prim, prim_md, g_engine, DNNL_MEMORY_NONE) != dnnl_success) return -1;
    dnnl_primitive_attr_t attr = NULL;
    if (kind == PORT_OUT_ADD) {  // dst = 1·dst + src
        dnnl_post_ops_t po;
        if (dnnl_primitive_attr_create(&attr) != dnnl_success) return -1;
        if (dnnl_post_ops_create(&po) != dnnl_success) return -1;
        dnnl_status_t st = dnnl_post_ops_append_sum(po, 1.0f);
        if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
        if (st != dnnl_success) return -1;
    }
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = kind == PORT_IN ? dnnl_reorder_primitive_desc_create(&pd, user_md, g_engine, prim_md, g_engine, attr)
                                       : dnnl_reorder_primitive_desc_create(&pd, prim_md, g_engine, user_md, g_engine, attr);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return -1;
    st = dnnl_primitive_create(&p->reorder, pd);
    dnnl_primitive_desc_destroy(pd);
    return st == dnnl_success ? 0 : -1;
}

// Points the port at the caller's buffer (and its prim side at its scratch slot).
static void port_bind(Port *p, const real *user) {
    must(dnnl_memory_set_data_handle(p->user, (void *)user), "set user buffer");
    if (p->prim != p->user)
        must(dnnl_memory_set_data_handle(p->prim, kern_scratch(p->slot, p->bytes / sizeof(real) + 1)),
             "set scratch buffer");
}

static void port_reorder(Port *p) {
    if (!p->reorder) return;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, p->kind == PORT_IN ? p->user : p->prim},
                               {DNNL_ARG_TO, p->kind == PORT_IN ? p->prim : p->user}};
    must(dnnl_primitive_execute(p->reorder, g_stream, 2, args), "reorder");
}

static void port_free(Port *p) {
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
    if (p->prim && p->prim != p->user) dnnl_memory_destroy(p->prim);
    if (p->user) dnnl_memory_destroy(p->user);
    memset(p, 0, sizeof *p);
}

// ---------------------------------------------------------------- primitives per conv shape
// Scratch slots: forward src 0, weights 1, dst 2; backward-data diff_dst 0, weights 1, diff_src 2;
// backward-weights src 4, diff_dst 5 (or bwd-data's slot 0 when the layouts agree), diff_weights 6;
// every primitive's scratchpad 3.
enum { KEY_LEN = 14 };
typedef struct {
    int key[KEY_LEN];
    int failed;                    // oneDNN cannot do this shape: always fall back
    int bwd_state;                 // 0 not built yet, 1 built, -1 failed
    dnnl_primitive_desc_t fwd_pd;  // kept as the backward primitives' hint
    dnnl_primitive_t fwd, bwdd, bwdw;
    Port f_src, f_w, f_dst, d_ddst, d_w, d_dsrc, w_src, w_ddst, w_dw;
    dnnl_memory_t f_bias, w_db, f_pad, d_pad, w_pad;
    int share_ddst;  // bwd-weights reads bwd-data's reordered diff_dst
} Entry;

static Entry **g_entries;
static int g_n_entries, g_cap_entries;

// The caller's plain f32 layouts of src, weights, dst and bias.
typedef struct {
    dnnl_memory_desc_t src, w, dst, bias;
} UserMds;

static int user_mds(UserMds *u, const ConvShape *s) {
    dnnl_dims_t src = {s->N, s->C, s->H, s->W}, w = {s->K, s->C, s->kh, s->kw}, dst = {s->N, s->K, s->OH, s->OW},
                b = {s->K};
    return dnnl_memory_desc_init_by_tag(&u->src, 4, src, dnnl_f32, dnnl_nchw) == dnnl_success &&
                   dnnl_memory_desc_init_by_tag(&u->w, 4, w, dnnl_f32, dnnl_oihw) == dnnl_success &&
                   dnnl_memory_desc_init_by_tag(&u->dst, 4, dst, dnnl_f32, dnnl_nchw) == dnnl_success &&
                   dnnl_memory_desc_init_by_tag(&u->bias, 1, b, dnnl_f32, dnnl_x) == dnnl_success
               ? 0
               : -1;
}

// Primitive attributes shared by the convs: the scratchpad is ours (a kern_scratch slot), so memory
// stays bounded by the largest shape instead of growing with the number of cached primitives.
static dnnl_primitive_attr_t conv_attr(void) {
    dnnl_primitive_attr_t attr;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success) {
        dnnl_primitive_attr_destroy(attr);
        return NULL;
    }
    return attr;
}

static const dnnl_memory_desc_t *md_of(dnnl_primitive_desc_t pd, dnnl_query_t what, int index) {
    return dnnl_primitive_desc_query_md(pd, what, index);
}

// A memory without a buffer for the primitive's scratchpad, or NULL when it needs none.
static int scratchpad_mem(dnnl_memory_t *m, dnnl_primitive_desc_t pd) {
    *m = NULL;
    const dnnl_memory_desc_t *md = md_of(pd, dnnl_query_scratchpad_md, 0);
    if (!md || dnnl_memory_desc_get_size(md) == 0) return 0;
    return dnnl_memory_create(m, md, g_engine, DNNL_MEMORY_NONE) == dnnl_success ? 0 : -1;
}

static void bind_scratchpad(dnnl_memory_t m) {
    if (!m) return;
    const dnnl_memory_desc_t *md;
    must(dnnl_memory_get_memory_desc(m, &md), "scratchpad desc");
    must(dnnl_memory_set_data_handle(m, kern_scratch(3, dnnl_memory_desc_get_size(md) / sizeof(real) + 1)),
         "scratchpad buffer");
}

static int build_forward(Entry *e, const ConvShape *s, int has_bias, int bf16) {
    UserMds u;
    if (user_mds(&u, s)) return -1;
    dnnl_data_type_t in_t = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t src = {s->N, s->C, s->H, s->W}, w = {s->K, s->C, s->kh, s->kw}, dst = {s->N, s->K, s->OH, s->OW};
    dnnl_memory_desc_t src_any, w_any, dst_any;
    dnnl_memory_desc_init_by_tag(&src_any, 4, src, in_t, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w_any, 4, w, in_t, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dst_any, 4, dst, dnnl_f32, dnnl_format_tag_any);
    dnnl_dims_t strides = {s->sh, s->sw}, pad = {s->ph, s->pw};
    dnnl_convolution_desc_t cd;
    if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, &src_any, &w_any,
                                           has_bias ? &u.bias : NULL, &dst_any, strides, pad, pad) != dnnl_success)
        return -1;
    dnnl_primitive_attr_t attr = conv_attr();
    if (!attr) return -1;
    dnnl_status_t st = dnnl_primitive_desc_create(&e->fwd_pd, &cd, attr, g_engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) {
        e->fwd_pd = NULL;
        return -1;
    }
    if (dnnl_primitive_create(&e->fwd, e->fwd_pd) != dnnl_success) return -1;
    if (port_init(&e->f_src, &u.src, md_of(e->fwd_pd, dnnl_query_src_md, 0), PORT_IN, 0) ||
        port_init(&e->f_w, &u.w, md_of(e->fwd_pd, dnnl_query_weights_md, 0), PORT_IN, 1) ||
        port_init(&e->f_dst, &u.dst, md_of(e->fwd_pd, dnnl_query_dst_md, 0), PORT_OUT, 2) ||
        scratchpad_mem(&e->f_pad, e->fwd_pd))
        return -1;
    if (has_bias) {  // the bias is read in place: it must be plain f32
        const dnnl_memory_desc_t *bmd = md_of(e->fwd_pd, dnnl_query_weights_md, 1);
        if (!bmd || !dnnl_memory_desc_equal(bmd, &u.bias)) return -1;
        if (dnnl_memory_create(&e->f_bias, &u.bias, g_engine, DNNL_MEMORY_NONE) != dnnl_success) return -1;
    }
    return 0;
}

static int build_backward(Entry *e, const ConvShape *s, int bf16) {
    UserMds u;
    if (user_mds(&u, s)) return -1;
    dnnl_data_type_t in_t = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t src = {s->N, s->C, s->H, s->W}, w = {s->K, s->C, s->kh, s->kw}, dst = {s->N, s->K, s->OH, s->OW};
    dnnl_memory_desc_t src_in, src_f32, w_in, w_f32, dst_in;  // "in": the dtype the inputs are read in
    dnnl_memory_desc_init_by_tag(&src_in, 4, src, in_t, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&src_f32, 4, src, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w_in, 4, w, in_t, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w_f32, 4, w, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dst_in, 4, dst, in_t, dnnl_format_tag_any);
    dnnl_dims_t strides = {s->sh, s->sw}, pad = {s->ph, s->pw};
    dnnl_convolution_desc_t dd, wd;
    if (dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &src_f32, &w_in, &dst_in, strides, pad,
                                                 pad) != dnnl_success ||
        dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &src_in, &w_f32, &u.bias, &dst_in,
                                                    strides, pad, pad) != dnnl_success)
        return -1;
    dnnl_primitive_attr_t attr = conv_attr();
    if (!attr) return -1;
    dnnl_primitive_desc_t dpd = NULL, wpd = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&dpd, &dd, attr, g_engine, e->fwd_pd);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&wpd, &wd, attr, g_engine, e->fwd_pd);
    dnnl_primitive_attr_destroy(attr);
    int rc = -1;
    if (st != dnnl_success) goto out;
    if (dnnl_primitive_create(&e->bwdd, dpd) != dnnl_success || dnnl_primitive_create(&e->bwdw, wpd) != dnnl_success)
        goto out;
    const dnnl_memory_desc_t *d_ddst = md_of(dpd, dnnl_query_diff_dst_md, 0);
    const dnnl_memory_desc_t *w_ddst = md_of(wpd, dnnl_query_diff_dst_md, 0);
    const dnnl_memory_desc_t *w_db = md_of(wpd, dnnl_query_diff_weights_md, 1);
    if (port_init(&e->d_ddst, &u.dst, d_ddst, PORT_IN, 0) ||
        port_init(&e->d_w, &u.w, md_of(dpd, dnnl_query_weights_md, 0), PORT_IN, 1) ||
        port_init(&e->d_dsrc, &u.src, md_of(dpd, dnnl_query_diff_src_md, 0), PORT_OUT_ADD, 2) ||
        port_init(&e->w_src, &u.src, md_of(wpd, dnnl_query_src_md, 0), PORT_IN, 4) ||
        port_init(&e->w_ddst, &u.dst, w_ddst, PORT_IN, 5) ||
        port_init(&e->w_dw, &u.w, md_of(wpd, dnnl_query_diff_weights_md, 0), PORT_OUT_ADD, 6) ||
        scratchpad_mem(&e->d_pad, dpd) || scratchpad_mem(&e->w_pad, wpd))
        goto out;
    if (!w_db || !dnnl_memory_desc_equal(w_db, &u.bias) ||
        dnnl_memory_create(&e->w_db, &u.bias, g_engine, DNNL_MEMORY_ALLOCATE) != dnnl_success)
        goto out;
    e->share_ddst = e->d_ddst.reorder && e->w_ddst.reorder && dnnl_memory_desc_equal(d_ddst, w_ddst);
    rc = 0;
out:
    if (dpd) dnnl_primitive_desc_destroy(dpd);
    if (wpd) dnnl_primitive_desc_destroy(wpd);
    return rc;
}

static void entry_free(Entry *e) {
    Port *ports[] = {&e->f_src, &e->f_w, &e->f_dst, &e->d_ddst, &e->d_w, &e->d_dsrc, &e->w_src, &e->w_ddst, &e->w_dw};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) port_free(ports[i]);
    dnnl_memory_t mems[] = {e->f_bias, e->w_db, e->f_pad, e->d_pad, e->w_pad};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    dnnl_primitive_t prims[] = {e->fwd, e->bwdd, e->bwdw};
    for (size_t i = 0; i < 3; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    if (e->fwd_pd) dnnl_primitive_desc_destroy(e->fwd_pd);
    int key[KEY_LEN];
    memcpy(key, e->key, sizeof key);
    memset(e, 0, sizeof *e);
    memcpy(e->key, key, sizeof key);
}

// The cached primitives for this shape (created on first use), or NULL when oneDNN is off or cannot
// run it. The thread count is part of the key: oneDNN sizes its work split when a primitive is created.
// has_bias < 0: any entry of this shape (the backward primitives do not depend on the forward's bias).
enum { KEY_BIAS = 11 };
static Entry *lookup(const ConvShape *s, int has_bias) {
    init();
    if (!g_enabled || s->N <= 0 || s->OH <= 0 || s->OW <= 0) return NULL;
    // bf16 only where AMX pays: with under 16 channels (RGB patch embedding, to-RGB) oneDNN 2.6 falls
    // back to a reference bf16 kernel 10x slower than fp32 (measured: patch 3->256 k8 20 ms vs 1.7 ms)
    int bf16 = g_bf16 && s->C >= 16 && s->K >= 16;
    int key[KEY_LEN] = {s->N, s->C, s->H, s->W, s->K, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw, has_bias,
                        omp_get_max_threads(), bf16};
    for (int i = 0; i < g_n_entries; i++) {
        int *k = g_entries[i]->key;
        if (!memcmp(k, key, sizeof(int) * KEY_BIAS) && (has_bias < 0 || k[KEY_BIAS] == has_bias) &&
            !memcmp(k + KEY_BIAS + 1, key + KEY_BIAS + 1, sizeof(int) * (KEY_LEN - KEY_BIAS - 1)))
            return g_entries[i]->failed ? NULL : g_entries[i];
    }
    if (has_bias < 0) key[KEY_BIAS] = has_bias = 0;
    if (g_n_entries == g_cap_entries) {
        int cap = g_cap_entries ? 2 * g_cap_entries : 64;
        Entry **grown = realloc(g_entries, sizeof *grown * cap);
        if (!grown) return NULL;
        g_entries = grown, g_cap_entries = cap;
    }
    Entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    memcpy(e->key, key, sizeof key);
    g_entries[g_n_entries++] = e;
    if (build_forward(e, s, has_bias, bf16)) {
        entry_free(e);
        e->failed = 1;
        return NULL;
    }
    return e;
}

// ---------------------------------------------------------------- the seam's entry points
int onednn_conv_forward(real *out, const real *in, const real *w, const real *b, const ConvShape *s) {
    Entry *e = lookup(s, b != NULL);
    if (!e) return -1;
    port_bind(&e->f_src, in), port_reorder(&e->f_src);
    port_bind(&e->f_w, w), port_reorder(&e->f_w);
    port_bind(&e->f_dst, out);
    bind_scratchpad(e->f_pad);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, e->f_src.prim}, {DNNL_ARG_WEIGHTS, e->f_w.prim},
                               {DNNL_ARG_DST, e->f_dst.prim}};
    int n = 3;
    if (b) {
        must(dnnl_memory_set_data_handle(e->f_bias, (void *)b), "set bias buffer");
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->f_bias};
    }
    if (e->f_pad) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->f_pad};
    must(dnnl_primitive_execute(e->fwd, g_stream, n, args), "conv forward");
    port_reorder(&e->f_dst);
    must(dnnl_stream_wait(g_stream), "stream wait");
    g_count++;
    return 0;
}

// db is only computed here together with dw (backward-weights sums it on the way); conv.c sums it
// itself when dw is NULL.
int onednn_conv_backward(real *din, real *dw, real *db, const real *dout, const real *in, const real *w,
                         const ConvShape *s) {
    if (!din && !dw) return -1;
    Entry *e = lookup(s, -1);
    if (!e) return -1;
    if (e->bwd_state == 0) e->bwd_state = build_backward(e, s, e->key[KEY_LEN - 1]) ? -1 : 1;
    if (e->bwd_state < 0) return -1;
    if (din) {
        port_bind(&e->d_ddst, dout), port_reorder(&e->d_ddst);
        port_bind(&e->d_w, w), port_reorder(&e->d_w);
        port_bind(&e->d_dsrc, din);
        bind_scratchpad(e->d_pad);
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, e->d_ddst.prim}, {DNNL_ARG_WEIGHTS, e->d_w.prim},
                                   {DNNL_ARG_DIFF_SRC, e->d_dsrc.prim}, {DNNL_ARG_SCRATCHPAD, e->d_pad}};
        must(dnnl_primitive_execute(e->bwdd, g_stream, e->d_pad ? 4 : 3, args), "conv backward-data");
        port_reorder(&e->d_dsrc);  // din += diff_src
    }
    if (dw) {
        port_bind(&e->w_src, in), port_reorder(&e->w_src);
        if (din && e->share_ddst) {  // diff_dst already sits in bwd-data's layout in slot 0
            void *h;
            must(dnnl_memory_get_data_handle(e->d_ddst.prim, &h), "get diff_dst buffer");
            must(dnnl_memory_set_data_handle(e->w_ddst.prim, h), "share diff_dst buffer");
        } else {
            port_bind(&e->w_ddst, dout), port_reorder(&e->w_ddst);
        }
        port_bind(&e->w_dw, dw);
        bind_scratchpad(e->w_pad);
        dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, e->w_src.prim}, {DNNL_ARG_DIFF_DST, e->w_ddst.prim},
                                   {DNNL_ARG_DIFF_WEIGHTS, e->w_dw.prim}, {DNNL_ARG_DIFF_BIAS, e->w_db},
                                   {DNNL_ARG_SCRATCHPAD, e->w_pad}};
        must(dnnl_primitive_execute(e->bwdw, g_stream, e->w_pad ? 5 : 4, args), "conv backward-weights");
        port_reorder(&e->w_dw);  // dw += diff_weights
        if (db) {
            void *h;
            must(dnnl_memory_get_data_handle(e->w_db, &h), "get diff_bias buffer");
            const float *g = h;
            for (int k = 0; k < s->K; k++) db[k] += g[k];
        }
    }
    must(dnnl_stream_wait(g_stream), "stream wait");
    g_count++;
    return 0;
}

int onednn_active(void) {
    init();
    return g_enabled;
}

int onednn_enable(int on) {
    init();
    g_enabled = on && g_ok;
    return g_enabled;
}

int onednn_conv_bf16(int on) {
    init();
    g_bf16 = on != 0;  // part of the cache key: f32 and bf16 primitives live side by side
    return g_bf16;
}

long onednn_conv_count(void) { return g_count; }

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_sse41: return "sse41";
    default: return "unknown isa";
    }
}

const char *onednn_describe(void) {
    init();
    const dnnl_version_t *v = dnnl_version();
    snprintf(g_name, sizeof g_name, "oneDNN %d.%d.%d %s%s", v->major, v->minor, v->patch,
             isa_name(dnnl_get_effective_cpu_isa()), g_bf16 ? " bf16" : "");
    return g_name;
}

const char *onednn_isa(void) { return isa_name(dnnl_get_effective_cpu_isa()); }

void onednn_set_threads(int n) { omp_set_num_threads(n > 0 ? n : 1); }

#else  // no oneDNN in this build (or the double core): conv.c always computes itself

int onednn_active(void) { return 0; }
int onednn_enable(int on) {
    (void)on;
    return 0;
}
int onednn_conv_bf16(int on) {
    (void)on;
    return 0;
}
long onednn_conv_count(void) { return 0; }
const char *onednn_describe(void) { return NULL; }
const char *onednn_isa(void) { return NULL; }
void onednn_set_threads(int n) { (void)n; }
int onednn_conv_forward(real *out, const real *in, const real *w, const real *b, const ConvShape *s) {
    (void)out, (void)in, (void)w, (void)b, (void)s;
    return -1;
}
int onednn_conv_backward(real *din, real *dw, real *db, const real *dout, const real *in, const real *w,
                         const ConvShape *s) {
    (void)din, (void)dw, (void)db, (void)dout, (void)in, (void)w, (void)s;
    return -1;
}
#endif
