#include "io/modeldims.h"
#include <string.h>

void modeldims_clip(const ModelConfig *m, ClipDims *c) {
    memset(c, 0, sizeof(*c));
    c->image_size = m->clip_image_size, c->patch = m->clip_patch, c->width = m->clip_width;
    c->layers = m->clip_layers, c->heads = m->clip_heads, c->embed_dim = m->clip_embed_dim;
    c->grid = m->clip_image_size / m->clip_patch;
    c->n_taps = m->n_clip_taps, c->prompt_first = m->prompt_first, c->prompt_last = m->prompt_last;
    c->remap_galip = strcmp(m->clip_remap, "galip") == 0;
    memcpy(c->taps, m->clip_taps, sizeof(int) * (size_t)m->n_clip_taps);
}

void modeldims_netg(const ModelConfig *m, NetGDims *g) {
    memset(g, 0, sizeof(*g));
    g->z_dim = m->z_dim, g->text_dim = m->text_dim, g->code_ch = m->code_ch, g->code_size = m->code_size;
    g->mblocks = m->mblocks, g->mblock_mid = m->mblock_mid, g->rat_batch = strcmp(m->rat_mode, "batch") == 0;
    g->rat_hidden = m->rat_hidden, g->n_gblocks = m->n_gblocks, g->shuffle_groups = m->shuffle_groups;
    memcpy(g->g_channels, m->g_channels, sizeof(int) * (size_t)(m->n_gblocks + 1));
    memcpy(g->g_sizes, m->g_sizes, sizeof(int) * (size_t)m->n_gblocks);
    g->clip_width = m->clip_width, g->n_prompts = m->prompt_last - m->prompt_first + 1;
}

void modeldims_netd(const ModelConfig *m, NetDDims *d) {
    memset(d, 0, sizeof(*d));
    d->width = m->clip_width, d->grid = m->clip_image_size / m->clip_patch, d->n_taps = m->n_clip_taps;
    d->d_out_ch = m->d_out_ch, d->text_dim = m->text_dim, d->netc_mid = m->netc_mid;
    d->netc_k1 = m->netc_k1, d->netc_k2 = m->netc_k2;
}

void modeldims_hyper(const TrainConfig *t, GanHyper *h) {
    memset(h, 0, sizeof(*h));
    h->lr_g = t->lr_g, h->lr_d = t->lr_d, h->beta1 = t->beta1, h->beta2 = t->beta2, h->adam_eps = t->adam_eps;
    h->sim_weight = t->sim_weight, h->magp_weight = t->magp_weight, h->magp_p = t->magp_p;
    h->ema_decay = t->ema_decay;
}

int modeldims_gan_build(Gan *gan, const Config *cfg, int max_batch, int real_size, Err *e) {
    NetGDims gd;
    NetDDims dd;
    ClipDims cd;
    GanHyper h;
    modeldims_netg(&cfg->model, &gd);
    modeldims_netd(&cfg->model, &dd);
    modeldims_clip(&cfg->model, &cd);
    modeldims_hyper(&cfg->train, &h);
    return gan_build(gan, &gd, &dd, &cd, &h, max_batch, real_size, e);
}
