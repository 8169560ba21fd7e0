// cmd_sample: `ratlip sample`, images from a trained generator for given captions.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/kernels.h"
#include "core/rng.h"
#include "io/bow.h"
#include "io/fs.h"
#include "io/gridindex.h"
#include "io/png.h"
#include "io/runload.h"
#include "io/textemb.h"
#include "jobs/commands.h"

#define MAX_CAPTIONS 4096

static const char sample_about[] =
    "Writes one PNG per sample (DIR/sample-<caption>-<i>.png), DIR/grid.png (a row per caption, the\n"
    "captions in its text chunks and in grid.json) and DIR/index.html (DIR's grids, captions as text).\n"
    "Uses the EMA generator when the checkpoint has one (--raw: the trained weights), BatchNorm in eval\n"
    "mode, outputs clamped to [-1,1].\n";
static const char sample_epilog[] =
    "Captions are embedded with the built-in encoder the training data was made with (the checkpoint says\n"
    "which: ngram for `ratlip data synth` since 2026-12, bow before; --text-encoder overrides). A model\n"
    "trained on precomputed embeddings (CLIP, `data import --text-emb`) samples from such a file:\n"
    "--text-emb FILE.h5, one sample row per embedding, captions from its /captions.\n";

// The encoder of the training data, from the checkpoint: its run order (1 bow, 3 ngram) or 0 (precomputed).
static int ckpt_encoder_order(const CkptMeta *m) {
    double order = 1;   // checkpoints before 2026-12 do not say: their data was bow (the only built-in encoder)
    ckpt_meta_get_double(m, CKPT_TEXT_ENCODER_ORDER, &order);
    return (int)order;
}

// Fills emb [n, T] from --text-emb (captions from its /captions, else "row i") or by embedding caps.
// On success *n_caps and caps describe the rows.
static int caption_embeddings(const char *emb_file, int order, int T, char **caps, int *n_caps, float **emb_out,
                              Err *e) {
    if (emb_file) {
        float *emb = NULL;
        long n = 0;
        int D = 0;
        char enc[64];
        if (textemb_read(emb_file, &emb, &n, &D, enc, sizeof enc, e)) return -1;
        if (D != T || n > MAX_CAPTIONS) {
            free(emb);
            return D != T ? err_set(e, "%s: /text_emb rows have %d dims, the generator's model.text_dim is %d", emb_file,
                                    D, T)
                          : err_set(e, "%s: %ld rows: at most %d", emb_file, n, MAX_CAPTIONS);
        }
        char **fc = NULL;
        int rc = textemb_read_captions(emb_file, n, &fc, e);
        if (rc < 0) {
            free(emb);
            return -1;
        }
        for (long i = 0; i < n; i++) {
            char row[96];
            snprintf(row, sizeof row, "%s row %ld", enc, i);
            caps[i] = fc ? fc[i] : strdup(row);
        }
        free(fc);
        *n_caps = (int)n;
        *emb_out = emb;
        printf("sample: %ld embeddings from %s (encoder %s)\n", n, emb_file, enc);
        return 0;
    }
    if (!order)
        return err_set(e, "the model was trained on precomputed caption embeddings: give --text-emb FILE.h5 (made by "
                          "the same encoder, e.g. io/tools/clip_text_embed.py)");
    if (T != BOW_DIM) return err_set(e, "model.text_dim is %d but the built-in encoders give %d-d embeddings", T, BOW_DIM);
    float *emb = malloc((size_t)*n_caps * T * sizeof(float));
    if (!emb) return err_set(e, "out of memory for %d embeddings", *n_caps);
    BowCache *bc = bow_cache_new();
    for (int c = 0; c < *n_caps; c++)
        if (bow_embed_order(bc, order, caps[c], emb + (size_t)c * T) == 0) {
            bow_cache_free(bc);
            free(emb);
            return err_set(e, "caption %d (\"%s\") has no words to embed", c + 1, caps[c]);
        }
    bow_cache_free(bc);
    printf("sample: captions embedded with %s\n", bow_encoder_name(order));
    *emb_out = emb;
    return 0;
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
    const char *ckpt = NULL, *out = NULL, *capfile = NULL, *emb_file = NULL, *encoder = NULL;
    int per, raw, threads, n_caps = 0, n_sets;
    long seed;
    OptList cap_list, set_list;
    const OptSpec opts[] = {
        OPT_PATH("ckpt", 'k', &ckpt, OPT_REQ, "FILE", "checkpoint of `ratlip train`"),
        OPT_LIST("caption", 'c', &cap_list, "TEXT", "a caption, embedded with the training data's built-in encoder"),
        OPT_PATH("captions", 'C', &capfile, 0, "FILE", "one caption per line (blank lines skipped)"),
        OPT_PATH("text-emb", 'E', &emb_file, 0, "FILE.h5",
                 "caption embeddings instead of captions: /text_emb [n, text_dim] and /captions, as\n"
                 "`ratlip text-embed --out` and io/tools/clip_text_embed.py write them"),
        OPT_CHOICE("text-encoder", 0, &encoder, 0, "auto|ngram|bow", "auto",
                   "auto: the encoder of the training data, as the checkpoint records it (bow for\n"
                   "checkpoints before 2026-12)"),
        OPT_PATH("out", 'o', &out, OPT_REQ, "DIR", "where the PNGs go"),
        OPT_INT("n", 'n', &per, 0, 1, 4096, "4", "N", "samples per caption"),
        OPT_LONG("seed", 'S', &seed, 0, 0, 2147483647L, "0", "S", "noise seed: the same seed gives the same images"),
        OPT_FLAG("raw", 'r', &raw, "the trained generator, not its EMA copy"),
        OPT_INT("threads", 't', &threads, 0, 1, 1024, NULL, "N", "BLAS threads"),
        OPT_LIST("set", 's', &set_list, "K=V", "override one key of the checkpoint's config"),
        {0}};
    const OptCommand cmd = {"sample", "--ckpt FILE (--caption TEXT ... | --captions FILE | --text-emb FILE.h5) --out DIR [options]",
                            sample_about, sample_epilog, opts};
    int status = opt_parse(&cmd, argc, argv);
    if (status != OPT_CONTINUE) return status;
    char **caps = calloc(MAX_CAPTIONS, sizeof(char *)), **sets = set_list.v;
    n_sets = set_list.n;
    Err e = {{0}};
    status = 2;
    if (!cap_list.n && !capfile && !emb_file) {
        fprintf(stderr, "ratlip sample: give --caption TEXT, --captions FILE or --text-emb FILE.h5 ('ratlip sample --help')\n");
        goto out;
    }
    if (emb_file && (cap_list.n || capfile)) {
        fprintf(stderr, "ratlip sample: --text-emb gives the embeddings: no --caption/--captions with it\n");
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
    CkptMeta meta;
    int random_clip;
    float *emb = NULL;
    RunLoad rl = {.ckpt = ckpt, .sets = sets, .n_sets = n_sets, .max_batch = per};
    if (runload_gan(&rl, &cfg, &gan, &meta, &random_clip, &e)) goto fail;
    int order = strcmp(encoder, "auto") ? bow_order_of(encoder) : ckpt_encoder_order(&meta);
    ckpt_meta_free(&meta);
    int Z = cfg.model.z_dim, T = cfg.model.text_dim, S = cfg.model.image_size;
    if (caption_embeddings(emb_file, order, T, caps, &n_caps, &emb, &e)) {
        char msg[sizeof e.msg];
        snprintf(msg, sizeof msg, "%s", e.msg);
        err_set(&e, "%s: %s", emb_file ? emb_file : ckpt, msg);
        goto fail_gan;
    }
    if (fs_mkdir_p(out, &e)) goto fail_gan;
    int n = n_caps * per;
    printf("sample: %s (%s generator), %d caption%s x %d\n", ckpt, gan.has_ema && !raw ? "EMA" : "raw", n_caps,
           n_caps == 1 ? "" : "s", per);
    real *z = calloc((size_t)per * Z, sizeof(real)), *s = calloc((size_t)per * T, sizeof(real));
    real *img = calloc((size_t)n * 3 * S * S, sizeof(real));
    const char **grid_caps = calloc((size_t)n, sizeof(char *));
    RngKey key = rng_key((uint64_t)seed, RNG_SAMPLE);
    int rc = 0;
    for (int c = 0; c < n_caps && !rc; c++) {
        for (int i = 0; i < per; i++) {
            for (int j = 0; j < T; j++) s[(size_t)i * T + j] = (real)emb[(size_t)c * T + j];
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
        // out/index.html: the grid with its captions as text (a view: its failure is only a warning)
        Err ie = {{0}};
        if (!rc && gridindex_update(out, &ie)) fprintf(stderr, "ratlip sample: warning: %s\n", ie.msg);
        else if (!rc) printf("sample: captions beside the grid in %s/index.html\n", out);
    }
    free(z), free(s), free(img), free(grid_caps);
    if (rc) goto fail_gan;
    free(emb);
    gan_free(&gan);
    status = 0;
    goto out;
fail_gan:
    free(emb);
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
