// cmd_text_embed: `ratlip text-embed "caption" ... [--out FILE.h5]` — the bow encoder on new captions,
// so users can sample from captions that are not in a dataset.
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/bow.h"
#include "io/fs.h"
#include "jobs/commands.h"

static int write_h5(const char *path, const float *emb, int n, char **caps) {
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return -1;
    hsize_t dims[2] = {(hsize_t)n, BOW_DIM};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "text_emb", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, emb) < 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    H5Tset_cset(st, H5T_CSET_UTF8);
    sp = H5Screate_simple(1, dims, NULL);
    d = H5Dcreate2(f, "captions", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= d < 0 || H5Dwrite(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, caps) < 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(st);
    hid_t at = H5Tcopy(H5T_C_S1);
    H5Tset_size(at, sizeof(BOW_NAME));
    sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "text_encoder", at, sp, H5P_DEFAULT, H5P_DEFAULT);
    bad |= a < 0 || H5Awrite(a, at, BOW_NAME) < 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(at);
    bad |= H5Fclose(f) < 0;
    if (bad) {
        unlink(tmp);
        return -1;
    }
    Err ignore;   // the caller names the file
    return fs_commit(tmp, path, &ignore);
}

int cmd_text_embed(int argc, char **argv) {
    const char *out = NULL;
    OptList cap_list;
    const OptSpec opts[] = {
        OPT_ARGS("CAPTION", &cap_list, OPT_REQ, "a caption (quote it); \"--\" before captions that start with '-'"),
        OPT_PATH("out", 'o', &out, 0, "FILE.h5", "write /text_emb float32 [n, 512] and /captions (root attribute\n"
                                                 "text_encoder = \"bow\"), the format `ratlip data import --text-emb` reads"),
        {0}};
    const OptCommand cmd = {
        "text-embed", NULL,
        "Embeds each caption with the built-in bow encoder (D=512): lower-cased words (split on anything that\n"
        "is not an ASCII letter or digit), each a fixed Gaussian vector from the word's FNV-1a hash, summed\n"
        "and scaled to L2 norm 10. Without --out prints one line of 512 numbers per caption.\n",
        NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    char **caps = cap_list.v;
    int n = cap_list.n;
    float *emb = malloc((size_t)n * BOW_DIM * sizeof(float));
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        if (!bow_embed(NULL, caps[i], emb + (size_t)i * BOW_DIM)) {
            fprintf(stderr, "ratlip text-embed: caption %d ('%s') has no words (letters or digits)\n", i + 1, caps[i]);
            rc = 1;
        }
    if (!rc && out) {
        if (write_h5(out, emb, n, caps)) {
            fprintf(stderr, "ratlip text-embed: %s: cannot write (directory missing or not writable?)\n", out);
            rc = 1;
        } else {
            printf("wrote %d embedding%s [%d, %d] (bow, norm %.0f) to %s\n", n, n == 1 ? "" : "s", n, BOW_DIM,
                   (double)BOW_NORM, out);
        }
    } else if (!rc) {
        for (int i = 0; i < n; i++) {
            for (int d = 0; d < BOW_DIM; d++) printf(d ? " %.7g" : "%.7g", (double)emb[(size_t)i * BOW_DIM + d]);
            printf("\n");
        }
    }
    free(emb);
    free(caps);
    return rc;
}
