#include "io/runload.h"
#include <stdlib.h>
#include <string.h>
#include "io/modeldims.h"
#include "io/weights.h"

static int stop_at_first(const char *name, int ndim, const int64_t *shape, const double *data, size_t n, void *u) {
    (void)name, (void)ndim, (void)shape, (void)data, (void)n, (void)u;
    return 1;   // only the meta data is wanted
}

int runload_gan(const RunLoad *r, Config *cfg, Gan *gan, CkptMeta *meta, int *random_clip, Err *e) {
    CkptMeta m;
    memset(&m, 0, sizeof m);
    memset(gan, 0, sizeof *gan);
    if (ckpt_visit(r->ckpt, stop_at_first, NULL, &m, e)) return -1;
    config_defaults(cfg);
    int rc = 0;
    if (r->config_file) rc = config_load_file(cfg, r->config_file, e);
    else if (m.config_json) rc = config_from_json_string(cfg, m.config_json, r->ckpt, e);
    else rc = err_set(e, "%s: the checkpoint holds no config_json (pass --config FILE)", r->ckpt);
    for (int i = 0; i < r->n_sets && !rc; i++) rc = config_set(cfg, r->sets[i], e);
    if (!rc) rc = config_validate(cfg, e);
    if (rc) {
        ckpt_meta_free(&m);
        return -1;
    }
    rc = modeldims_gan_build(gan, cfg, r->max_batch, cfg->model.clip_image_size, e);
    *random_clip = 0;
    if (!rc && cfg->model.clip_weights[0]) {
        rc = weights_load(cfg->model.clip_weights, "/", &gan->clip.ps, 1, e) < 0 ? -1 : 0;
    } else if (!rc) {
        clip_init_random(&gan->clip, CLIP_RANDOM_SEED);
        *random_clip = 1;
    }
    if (!rc) {
        CkptNet nets[4];
        int n_nets = runload_ckpt_nets(gan, nets);
        rc = ckpt_load(r->ckpt, nets, n_nets, NULL, e);
        double tracked = 0;
        ckpt_meta_get_double(&m, "netG.num_batches_tracked", &tracked);
        gan->g.bn_batches_tracked = gan->g_ema.bn_batches_tracked = (long)tracked;
    }
    if (rc && gan->buf) gan_free(gan);
    if (meta && !rc) *meta = m;
    else ckpt_meta_free(&m);
    return rc;
}

int runload_ckpt_nets(Gan *gan, CkptNet nets[4]) {
    nets[0] = (CkptNet){"netG", &gan->g.ps, 0};
    nets[1] = (CkptNet){"netD", &gan->dc.netd, 0};
    nets[2] = (CkptNet){"netC", &gan->dc.netc, 0};
    nets[3] = (CkptNet){"netG_ema", &gan->g_ema.ps, 1};
    return gan->has_ema ? 4 : 3;
}
