// bow encoder: FNV-1a against the published test vectors, determinism, norm 10, tokenisation.
#include <math.h>
#include <string.h>
#include "io/bow.h"
#include "io/synth.h"
#include "testutil.h"

static double norm(const float *v) {
    double s = 0;
    for (int i = 0; i < BOW_DIM; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

static int same(const float *a, const float *b) { return !memcmp(a, b, BOW_DIM * sizeof(float)); }

static double cosine(const float *a, const float *b) {
    double d = 0;
    for (int i = 0; i < BOW_DIM; i++) d += (double)a[i] * b[i];
    return d / (norm(a) * norm(b));
}

// The order-aware encoder on the synthetic set's own captions: two training images whose shape and
// background colours are swapped (same shape, same size) must embed far apart in every phrasing (bow: 1),
// while bow keeps them identical.
static void ngram_swapped_colours(void) {
    enum { N = 4000 };
    static SynthLabel lab[N];
    uint8_t img[8 * 8 * 3];
    for (long i = 0; i < N; i++) synth_sample(3, SYNTH_TRAIN, i, 8, img, &lab[i], NULL);
    int pairs = 0;
    double worst = -1, worst_bow = 2;
    for (long i = 0; i < N && pairs < 20; i++)
        for (long j = i + 1; j < N; j++) {
            SynthLabel a = lab[i], b = lab[j];
            if (a.shape != b.shape || a.size != b.size || a.colour != b.background || a.background != b.colour) continue;
            char ca[SYNTH_K][SYNTH_CAPTION_LEN], cb[SYNTH_K][SYNTH_CAPTION_LEN];
            synth_sample(3, SYNTH_TRAIN, i, 8, img, NULL, ca);
            synth_sample(3, SYNTH_TRAIN, j, 8, img, NULL, cb);
            for (int k = 0; k < SYNTH_K; k++) {
                float ea[BOW_DIM], eb[BOW_DIM];
                // the size words vary by phrase ("large"/"big"): compare captions with the same size word only
                bow_embed(NULL, ca[k], ea);
                bow_embed(NULL, cb[k], eb);
                double cb1 = cosine(ea, eb);
                TU_CHECK(bow_embed_named(NULL, NGRAM_NAME, ca[k], ea) > 0, "ngram word count");
                bow_embed_named(NULL, NGRAM_NAME, cb[k], eb);
                double cn = cosine(ea, eb);
                if (cb1 > 0.9999 && cn > worst) worst = cn;   // same words: bow cannot tell them apart
                if (cb1 < worst_bow) worst_bow = cb1;
            }
            pairs++;
            break;
        }
    TU_CHECK(pairs >= 10, "only %d colour-swapped pairs among %d images", pairs, (int)N);
    TU_CHECK(worst >= 0, "no swapped pair with identical words");
    TU_CHECK(worst < 0.7, "ngram: colour-swapped captions at cosine %.3f (want < 0.7)", worst);
    printf("ngram: %d colour-swapped pairs, worst cosine %.3f (bow 1.000)\n", pairs, worst);
    // a one-attribute change (circle -> square) stays closer than the swap in the reference phrasing
    float a[BOW_DIM], b[BOW_DIM], c[BOW_DIM];
    bow_embed_named(NULL, NGRAM_NAME, "a large red circle on a blue background", a);
    bow_embed_named(NULL, NGRAM_NAME, "a large blue circle on a red background", b);
    bow_embed_named(NULL, NGRAM_NAME, "a large red square on a blue background", c);
    TU_CHECK(cosine(a, b) < cosine(a, c), "swap %.3f not below shape change %.3f", cosine(a, b), cosine(a, c));
    // clauses: runs stop at ',' so "red circle, large" has no run "circle large"
    float d[BOW_DIM], f[BOW_DIM];
    bow_embed_named(NULL, NGRAM_NAME, "red circle, large", d);
    bow_embed_named(NULL, NGRAM_NAME, "red circle large", f);
    TU_CHECK(cosine(d, f) < 0.999, "a comma did not end the word run");
}

// Encoder names: the built-in ones and anything else (precomputed); bow through every entry is bow.
static void encoder_names(void) {
    TU_CHECK(bow_order_of(BOW_NAME) == 1 && bow_order_of(NGRAM_NAME) == NGRAM_ORDER, "built-in orders");
    TU_CHECK(bow_order_of("clip-ViT-B/32") == 0 && bow_order_of("precomputed") == 0 && bow_order_of(NULL) == 0,
             "a precomputed encoder counted as built in");
    TU_CHECK(!strcmp(bow_encoder_name(1), BOW_NAME) && !strcmp(bow_encoder_name(NGRAM_ORDER), NGRAM_NAME) &&
                 !bow_encoder_name(0),
             "encoder names");
    float a[BOW_DIM], b[BOW_DIM], c[BOW_DIM];
    bow_embed(NULL, "a small green triangle, on white", a);
    bow_embed_named(NULL, BOW_NAME, "a small green triangle, on white", b);
    TU_CHECK(same(a, b), "bow by name differs");
    TU_CHECK(bow_embed_named(NULL, "clip", "x", c) == -1, "an unknown encoder embedded");
    // one word: ngram is bow (no runs)
    bow_embed_named(NULL, NGRAM_NAME, "Red!", c);
    bow_embed(NULL, "red", a);
    TU_CHECK(same(a, c), "one-word ngram differs from bow");
    // cached and uncached ngram agree (runs go through the cache too)
    BowCache *cache = bow_cache_new();
    bow_embed_named(cache, NGRAM_NAME, "there is a big blue square in the middle of a black image", a);
    bow_embed_named(cache, NGRAM_NAME, "there is a big blue square in the middle of a black image", b);
    bow_embed_named(NULL, NGRAM_NAME, "there is a big blue square in the middle of a black image", c);
    TU_CHECK(same(a, b) && same(a, c), "cached ngram differs");
    TU_CHECK(fabs(norm(a) - BOW_NORM) <= 2 * BOW_NORM * TU_U_F32, "ngram norm %.9f", norm(a));
    bow_cache_free(cache);
}

int main(void) {
    // published FNV-1a 64 test vectors (isthe.com/chongo/tech/comp/fnv)
    TU_CHECK(bow_fnv1a64("", 0) == 0xcbf29ce484222325ULL, "fnv1a64('')");
    TU_CHECK(bow_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL, "fnv1a64('a')");
    TU_CHECK(bow_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL, "fnv1a64('foobar')");

    float a[BOW_DIM], b[BOW_DIM], c[BOW_DIM], w1[BOW_DIM], w2[BOW_DIM];
    BowCache *cache = bow_cache_new();
    TU_CHECK(bow_embed(NULL, "a large red circle on a blue background", a) == 8, "word count");
    bow_embed(cache, "a large red circle on a blue background", b);
    TU_CHECK(same(a, b), "cached and uncached embeddings differ");
    bow_embed(cache, "a large red circle on a blue background", b);
    TU_CHECK(same(a, b), "second cached call differs");
    // the sum and its scale are double; each element is rounded to float once (u relative): |norm - 10| <=
    // 10·u, 6e-7 (+ the double norm's own ~1e-15); tolerance 2·10·u (was 1e-4)
    TU_CHECK(fabs(norm(a) - BOW_NORM) <= 2 * BOW_NORM * TU_U_F32, "norm %.9f != %g", norm(a), (double)BOW_NORM);
    printf("bow norm %.7f (want %g)\n", norm(a), (double)BOW_NORM);
    // case, punctuation and word order do not matter
    bow_embed(cache, "A LARGE red circle,  on a BLUE background!!", b);
    TU_CHECK(same(a, b), "case/punctuation changed the embedding");
    bow_embed(cache, "background blue a on circle red large a", b);
    TU_CHECK(same(a, b), "word order changed the embedding");
    // different facts give a clearly different vector
    bow_embed(cache, "a large green circle on a blue background", c);
    double dot = 0;
    for (int i = 0; i < BOW_DIM; i++) dot += (double)a[i] * c[i];
    double cosv = dot / (norm(a) * norm(c));
    TU_CHECK(cosv < 0.95 && cosv > 0.5, "cos(red, green caption) = %.3f (want 0.5..0.95: 7 of 8 words shared)", cosv);
    // one word: its Gaussian vector scaled to norm 10
    bow_word_vector("red", 3, w1);
    bow_embed(NULL, "Red", w2);
    double nw = norm(w1);
    int prop = 1;
    // w2 is w1·10/|w1| computed in double and rounded to float once: within u·|value| (+ double rounding)
    for (int i = 0; i < BOW_DIM; i++) prop &= fabs(w2[i] - w1[i] * BOW_NORM / nw) <= 2 * TU_U_F32 * fabs(w1[i] * BOW_NORM / nw);
    TU_CHECK(prop, "single-word embedding is not the scaled word vector");
    // the word vector looks standard normal: mean ~0, variance ~1 over 512 draws
    double m = 0, v = 0;
    for (int i = 0; i < BOW_DIM; i++) m += w1[i];
    m /= BOW_DIM;
    for (int i = 0; i < BOW_DIM; i++) v += (w1[i] - m) * (w1[i] - m);
    v /= BOW_DIM - 1;
    TU_CHECK(fabs(m) < 0.2 && fabs(v - 1) < 0.25, "word vector mean %.3f var %.3f", m, v);
    // no words: zero vector, count 0
    TU_CHECK(bow_embed(cache, " ,.;! ", b) == 0 && norm(b) == 0, "empty caption");
    // many distinct words exercise the cache's growth; results still equal uncached ones
    for (int i = 0; i < 600; i++) {
        char s[32];
        snprintf(s, sizeof(s), "word%d x", i);
        bow_embed(cache, s, b);
        bow_embed(NULL, s, c);
        if (!same(b, c)) { TU_CHECK(0, "cache mismatch at %d", i); break; }
    }
    bow_cache_free(cache);
    encoder_names();
    ngram_swapped_colours();
    return tu_done("io_bow");
}
