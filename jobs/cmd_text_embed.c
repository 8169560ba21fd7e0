// cmd_text_embed: `ratlip text-embed "caption" ... [--out FILE.h5]` — a built-in encoder (ngram, bow) on new
// captions, so users can sample from captions that are not in a dataset. The file format is io/textemb.h's.
#include <stdio.h>
#include <stdlib.h>
#include "io/bow.h"
#include "io/textemb.h"
#include "jobs/commands.h"

int cmd_text_embed(int argc, char **argv) {
    const char *out = NULL, *encoder = NULL;
    OptList cap_list;
    const OptSpec opts[] = {
        OPT_ARGS("CAPTION", &cap_list, OPT_REQ, "a caption (quote it); \"--\" before captions that start with '-'"),
        OPT_PATH("out", 'o', &out, 0, "FILE.h5", "write /text_emb float32 [n, 512] and /captions (root attribute\n"
                                                 "text_encoder = the encoder's name), the format `ratlip data import\n"
                                                 "--text-emb` and `ratlip sample --text-emb` read"),
        OPT_CHOICE("text-encoder", 'e', &encoder, 0, "ngram|bow", NGRAM_NAME,
                   "ngram (words + runs of 2-3 words; `data synth`'s default) or bow (bag of words):\n"
                   "the encoder the dataset was made with (`ratlip data verify DIR` names it)"),
        {0}};
    const OptCommand cmd = {
        "text-embed", NULL,
        "Embeds each caption with a built-in encoder (D=512): lower-cased words (split on anything that is\n"
        "not an ASCII letter or digit), each a fixed Gaussian vector from the word's FNV-1a hash; ngram adds\n"
        "the vectors of runs of 2 and 3 consecutive words within a clause (weights 2, 3); summed and scaled\n"
        "to L2 norm 10. Without --out prints one line of 512 numbers per caption.\n",
        NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    char **caps = cap_list.v;
    int n = cap_list.n;
    float *emb = malloc((size_t)n * BOW_DIM * sizeof(float));
    int rc = 0;
    if (!emb) {
        fprintf(stderr, "ratlip text-embed: out of memory for %d embeddings\n", n);
        rc = 1;
    }
    for (int i = 0; i < n && !rc; i++)
        if (!bow_embed_named(NULL, encoder, caps[i], emb + (size_t)i * BOW_DIM)) {
            fprintf(stderr, "ratlip text-embed: caption %d ('%s') has no words (letters or digits)\n", i + 1, caps[i]);
            rc = 1;
        }
    if (!rc && out) {
        Err e;
        if (textemb_write(out, emb, n, BOW_DIM, (const char *const *)caps, encoder, &e)) {
            fprintf(stderr, "ratlip text-embed: %s\n", e.msg);
            rc = 1;
        } else {
            printf("wrote %d embedding%s [%d, %d] (%s, norm %.0f) to %s\n", n, n == 1 ? "" : "s", n, BOW_DIM, encoder,
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
