// cmd_sample: `ratlip sample`, images from a trained generator for given captions.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/kernels.h"
#include "core/rng.h"
#include "io/bow.h"
#include "io/fsutil.h"
#include "io/png.h"
#include "io/runload.h"
#include "jobs/commands.h"

#define MAX_CAPTIONS 4096

static void usage(FILE *f) {
    fprintf(f,
            "usage: ratlip sample --ckpt FILE (--caption TEXT ... | --captions FILE) --out DIR\n"
            "                     [--n PER_CAPTION] [--seed S] [--raw] [--threads N] [--set k=v ...]\n"
            "\n"
            "Writes one PNG per sample (DIR/sample-<caption>-<i>.png) and DIR/grid.png (a row per caption, the\n"
            "captions in its text chunks and in grid.json). Uses the EMA generator when the checkpoint has one\n"
            "(--raw: the trained weights), BatchNorm in eval mode, outputs clamped to [-1,1].\n"
            "\n"
            "  --caption TEXT   a caption (repeatable), embedded with the built-in `bow` encoder\n"
            "  --captions FILE  one caption per line (blank lines skipped)\n"
            "  --n N            samples per caption (default 4)\n"
            "  --seed S         noise seed (default 0): the same seed gives the same images\n"
            "Captions are embedded with `bow`, the encoder of `ratlip data synth`; for a dataset imported with\n"
            "precomputed CLIP embeddings, sample from those embeddings instead (not supported here yet).\n");
}

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
    int per = 4, raw = 0, threads = 0, n_caps = 0, n_sets = 0;
    long seed = 0;
    char **caps = calloc(MAX_CAPTIONS, sizeof(char *)), **sets = calloc((size_t)argc + 1, sizeof(char *));
    static const struct option opts[] = {{"ckpt", required_argument, 0, 'k'},   {"caption", required_argument, 0, 'c'},
                                         {"captions", required_argument, 0, 'C'}, {"out", required_argument, 0, 'o'},
                                         {"n", required_argument, 0, 'n'},       {"seed", required_argument, 0, 'S'},
                                         {"raw", no_argument, 0, 'r'},           {"threads", required_argument, 0, 't'},
                                         {"set", required_argument, 0, 's'},     {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o, status = 2;
    optind = 1;
    while ((o = getopt_long(argc, argv, "k:c:C:o:n:S:rt:s:h", opts, NULL)) != -1) {
        switch (o) {
        case 'k': ckpt = optarg; break;
        case 'c': if (n_caps < MAX_CAPTIONS) caps[n_caps++] = strdup(optarg); break;
        case 'C': capfile = optarg; break;
        case 'o': out = optarg; break;
        case 'n': per = atoi(optarg); break;
        case 'S': seed = atol(optarg); break;
        case 'r': raw = 1; break;
        case 't': threads = atoi(optarg); break;
        case 's': sets[n_sets++] = optarg; break;
        case 'h': usage(stdout); status = 0; goto out;
        default: usage(stderr); goto out;
        }
    }
    Err e = {{0}};
    if (!ckpt || !out || (!n_caps && !capfile) || per < 1 || optind < argc) {
        fprintf(stderr, "ratlip sample: %s\n", !ckpt ? "--ckpt FILE is required" : !out ? "--out DIR is required"
                                               : per < 1 ? "--n must be at least 1"
                                               : optind < argc ? "unexpected argument"
                                                               : "give --caption TEXT or --captions FILE");
        usage(stderr);
        goto out;
    }
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
            memcpy(s + (size_t)i * T, emb, sizeof(float) * T);
            // noise by (caption, sample) index: adding captions does not change earlier images
            rng_fill_normal(z + (size_t)i * Z, Z, 0, 1, key, ((uint64_t)c << 20) | (uint64_t)i);
            grid_caps[c * per + i] = caps[c];
        }
        real *dst = img + (size_t)c * per * 3 * S * S;
        if (gan_generate(&gan, !raw, z, s, dst, per)) rc = err_set(&e, "generator failed");
        for (int i = 0; i < per && !rc; i++) {
            char path[1200];
            snprintf(path, sizeof path, "%s/sample-%03d-%02d.png", out, c, i);
            rc = png_write_grid_f32(path, dst + (size_t)i * 3 * S * S, 1, S, S, 1, 1, (const char *const *)&caps[c], &e);
        }
    }
    if (!rc) {
        char path[1200];
        snprintf(path, sizeof path, "%s/grid.png", out);
        rc = png_write_grid_f32(path, img, n, S, S, n_caps, per, grid_caps, &e);
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
    return status;
}
