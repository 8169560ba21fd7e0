// cmd_sample: `ratlip sample`, images from a trained generator for given captions.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/kernels.h"
#include "core/rng.h"
#include "io/bow.h"
#include "io/fs.h"
#include "io/png.h"
#include "io/runload.h"
#include "jobs/commands.h"

#define MAX_CAPTIONS 4096

static const char sample_about[] =
    "Writes one PNG per sample (DIR/sample-<caption>-<i>.png) and DIR/grid.png (a row per caption, the\n"
    "captions in its text chunks and in grid.json). Uses the EMA generator when the checkpoint has one\n"
    "(--raw: the trained weights), BatchNorm in eval mode, outputs clamped to [-1,1].\n";
static const char sample_epilog[] =
    "Captions are embedded with `bow`, the encoder of `ratlip data synth`; for a dataset imported with\n"
    "precomputed CLIP embeddings, sample from those embeddings instead (not supported here yet).\n";

static int read_caption_file(const char *path, char **caps, int *n, Err *e) {
    FILE *f = fopen(path, "r");
    if (!f) return err_set(e, "%s: cannot open the captions file", path);
    char line[1024];
    while (fgets(line, sizeof line, f) && *n < MAX_CAPTIONS) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[strspn(line, " \t")]) caps[(*n)++] = strdup(line);
    }
    fclose(f);
    return *n ? 0 : err_set(e, "%s: no captions (one per line expected)", path);
}

int cmd_sample(int argc, char **argv) {
    const char *ckpt = NULL, *out = NULL, *capfile = NULL;
    int per, raw, threads, n_caps = 0, n_sets;
    long seed;
    OptList cap_list, set_list;
    const OptSpec opts[] = {
        OPT_PATH("ckpt", 'k', &ckpt, OPT_REQ, "FILE", "checkpoint of `ratlip train`"),
        OPT_LIST("caption", 'c', &cap_list, "TEXT", "a caption, embedded with the built-in `bow` encoder"),
        OPT_PATH("captions", 'C', &capfile, 0, "FILE", "one caption per line (blank lines skipped)"),
        OPT_PATH("out", 'o', &out, OPT_REQ, "DIR", "where the PNGs go"),
        OPT_INT("n", 'n', &per, 0, 1, 4096, "4", "N", "samples per caption"),
        OPT_LONG("seed", 'S', &seed, 0, 0, 2147483647L, "0", "S", "noise seed: the same seed gives the same images"),
        OPT_FLAG("raw", 'r', &raw, "the trained generator, not its EMA copy"),
        OPT_INT("threads", 't', &threads, 0, 1, 1024, NULL, "N", "BLAS threads"),
        OPT_LIST("set", 's', &set_list, "K=V", "override one key of the checkpoint's config"),
        {0}};
    const OptCommand cmd = {"sample", "--ckpt FILE (--caption TEXT ... | --captions FILE) --out DIR [options]",
                            sample_about, sample_epilog, opts};
    int status = opt_parse(&cmd, argc, argv);
    if (status != OPT_CONTINUE) return status;
    char **caps = calloc(MAX_CAPTIONS, sizeof(char *)), **sets = set_list.v;
    n_sets = set_list.n;
    Err e = {{0}};
    status = 2;
    if (!cap_list.n && !capfile) {
        fprintf(stderr, "ratlip sample: give --caption TEXT or --captions FILE ('ratlip sample --help')\n");
        goto out;
    }
    if (cap_list.n > MAX_CAPTIONS) {
        fprintf(stderr, "ratlip sample: %d captions: at most %d\n", cap_list.n, MAX_CAPTIONS);
        goto out;
    }
    for (int i = 0; i < cap_list.n; i++) caps[n_caps++] = strdup(cap_list.v[i]);
    status = 1;
    if (capfile && read_caption_file(capfile, caps, &n_caps, &e)) goto fail;
    if (threads > 0) kern_set_threads(threads);
    jobs_print_banner("sample");

    Config cfg;
    Gan gan;
    int random_clip;
    RunLoad rl = {.ckpt = ckpt, .sets = sets, .n_sets = n_sets, .max_batch = per};
    if (runload_gan(&rl, &cfg, &gan, NULL, &random_clip, &e)) goto fail;
    if (fs_mkdir_p(out, &e)) goto fail_gan;
    int Z = cfg.model.z_dim, T = cfg.model.text_dim, S = cfg.model.image_size, n = n_caps * per;
    if (T != BOW_DIM) {
        err_set(&e, "%s: model.text_dim is %d but the bow encoder gives %d-d embeddings", ckpt, T, BOW_DIM);
        goto fail_gan;
    }
    printf("sample: %s (%s generator), %d caption%s x %d\n", ckpt, gan.has_ema && !raw ? "EMA" : "raw", n_caps,
           n_caps == 1 ? "" : "s", per);
    real *z = calloc((size_t)per * Z, sizeof(real)), *s = calloc((size_t)per * T, sizeof(real));
    real *img = calloc((size_t)n * 3 * S * S, sizeof(real));
    const char **grid_caps = calloc((size_t)n, sizeof(char *));
    BowCache *bc = bow_cache_new();
    RngKey key = rng_key((uint64_t)seed, RNG_SAMPLE);
    int rc = 0;
    for (int c = 0; c < n_caps && !rc; c++) {
        float emb[BOW_DIM];
        if (bow_embed(bc, caps[c], emb) == 0) {
            rc = err_set(&e, "caption %d (\"%s\") has no words to embed", c + 1, caps[c]);
            break;
        }
        for (int i = 0; i < per; i++) {
            for (int j = 0; j < T; j++) s[(size_t)i * T + j] = (real)emb[j];
            // noise by (caption, sample) index: adding captions does not change earlier images
            rng_fill_normal(z + (size_t)i * Z, Z, 0, 1, key, ((uint64_t)c << 20) | (uint64_t)i);
            grid_caps[c * per + i] = caps[c];
        }
        real *dst = img + (size_t)c * per * 3 * S * S;
        if (gan_generate(&gan, !raw, z, s, dst, per)) rc = err_set(&e, "generator failed");
        for (int i = 0; i < per && !rc; i++) {
            char path[1200];
            snprintf(path, sizeof path, "%s/sample-%03d-%02d.png", out, c, i);
            rc = png_write_grid_real(path, dst + (size_t)i * 3 * S * S, 1, S, S, 1, 1, (const char *const *)&caps[c], &e);
        }
    }
    if (!rc) {
        char path[1200];
        snprintf(path, sizeof path, "%s/grid.png", out);
        rc = png_write_grid_real(path, img, n, S, S, n_caps, per, grid_caps, &e);
        if (!rc) printf("sample: wrote %d images and %s%s\n", n, path,
                        random_clip ? " (note: trained with a random-weight CLIP)" : "");
    }
    bow_cache_free(bc);
    free(z), free(s), free(img), free(grid_caps);
    if (rc) goto fail_gan;
    gan_free(&gan);
    status = 0;
    goto out;
fail_gan:
    gan_free(&gan);
fail:
    fprintf(stderr, "ratlip sample: %s\n", e.msg);
out:
    for (int i = 0; i < n_caps; i++) free(caps[i]);
    free(caps);
    free(sets);
    free(cap_list.v);
    return status;
}
