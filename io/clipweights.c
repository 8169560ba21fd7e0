// clipweights: a trained CLIP tower as a weight file of the converted-OpenAI layout. See clipweights.h.
#include "io/clipweights.h"
#include <stdio.h>
#include <unistd.h>
#include "io/fs.h"
#include "io/h5util.h"
#include "io/weights.h"

int clipweights_save(const char *path, const ParamSet *ps, const ClipDims *d, const ClipProvenance *p, Err *e) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);   // weights_save adds to an existing file
    if (weights_save(tmp, "/", ps, e)) return -1;
    H5Quiet q = h5u_quiet_begin();
    hid_t f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    int rc = f < 0 ? err_set(e, "%s: cannot reopen to write the attributes", tmp) : 0;
    const char *names[] = {"width", "layers", "heads", "patch", "image_size", "embed_dim"};
    int vals[] = {d->width, d->layers, d->heads, d->patch, d->image_size, d->embed_dim};
    for (int i = 0; !rc && i < 6; i++)
        if (h5u_attr_write_i64(f, names[i], vals[i])) rc = err_set(e, "%s: cannot write attribute %s", tmp, names[i]);
    if (!rc && (h5u_attr_write_f64(f, "logit_scale", p->logit_scale) ||
                h5u_attr_write_i64(f, "lit_steps", p->lit_steps) ||
                h5u_attr_write_str(f, "trained_by", p->trained_by) ||
                h5u_attr_write_str(f, "config_json", p->config_json)))
        rc = err_set(e, "%s: cannot write the provenance attributes", tmp);
    if (f >= 0 && H5Fclose(f) < 0 && !rc) rc = err_set(e, "%s: closing failed", tmp);
    h5u_quiet_end(q);
    if (rc) {
        unlink(tmp);
        return -1;
    }
    return fs_commit(tmp, path, e);
}
