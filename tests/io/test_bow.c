// bow encoder: FNV-1a against the published test vectors, determinism, norm 10, tokenisation.
#include <math.h>
#include <string.h>
#include "io/bow.h"
#include "testutil.h"

static double norm(const float *v) {
    double s = 0;
    for (int i = 0; i < BOW_DIM; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

static int same(const float *a, const float *b) { return !memcmp(a, b, BOW_DIM * sizeof(float)); }

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
    return tu_done("io_bow");
}
