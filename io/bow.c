#include "io/bow.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"

uint64_t bow_fnv1a64(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void bow_word_vector(const char *word, size_t n, float *out) {
    RngKey key = rng_key(bow_fnv1a64(word, n), BOW_RNG_PURPOSE);
    real tmp[BOW_DIM];
    rng_fill_normal(tmp, BOW_DIM, 0, 1, key, 0);
    for (int i = 0; i < BOW_DIM; i++) out[i] = (float)tmp[i];
}

// Open addressing on the word hash; grows by doubling. Words longer than 63 bytes are not cached.
typedef struct {
    uint64_t hash;
    char word[64];
    float *vec;
} BowSlot;

struct BowCache {
    BowSlot *slots;
    size_t cap, used;
};

BowCache *bow_cache_new(void) {
    BowCache *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->cap = 256;
    c->slots = calloc(c->cap, sizeof(BowSlot));
    if (!c->slots) { free(c); return NULL; }
    return c;
}

void bow_cache_free(BowCache *c) {
    if (!c) return;
    for (size_t i = 0; i < c->cap; i++) free(c->slots[i].vec);
    free(c->slots);
    free(c);
}

static void cache_insert(BowSlot *slots, size_t cap, BowSlot s) {
    size_t i = s.hash & (cap - 1);
    while (slots[i].vec) i = (i + 1) & (cap - 1);
    slots[i] = s;
}

// Returns the cached vector of the word or NULL (not cached / out of memory: caller computes it).
static const float *cache_get(BowCache *c, const char *w, size_t n, uint64_t h) {
    if (!c || n >= 64) return NULL;
    size_t i = h & (c->cap - 1);
    while (c->slots[i].vec) {
        if (c->slots[i].hash == h && strlen(c->slots[i].word) == n && !memcmp(c->slots[i].word, w, n))
            return c->slots[i].vec;
        i = (i + 1) & (c->cap - 1);
    }
    if (2 * (c->used + 1) > c->cap) {  // keep the load factor under 1/2
        size_t ncap = c->cap * 2;
        BowSlot *ns = calloc(ncap, sizeof(BowSlot));
        if (!ns) return NULL;
        for (size_t j = 0; j < c->cap; j++)
            if (c->slots[j].vec) cache_insert(ns, ncap, c->slots[j]);
        free(c->slots);
        c->slots = ns;
        c->cap = ncap;
    }
    BowSlot s = {.hash = h};
    memcpy(s.word, w, n);
    s.word[n] = 0;
    s.vec = malloc(BOW_DIM * sizeof(float));
    if (!s.vec) return NULL;
    bow_word_vector(w, n, s.vec);
    cache_insert(c->slots, c->cap, s);
    c->used++;
    return s.vec;
}

// ASCII letters and digits, and every byte of a multi-byte UTF-8 character (kept as is, not lower-cased).
static int is_word_byte(unsigned char b) { return b >= 0x80 || (b < 0x80 && isalnum(b)); }
// Punctuation that ends a clause: word runs stop there.
static int is_clause_end(unsigned char b) { return b == ',' || b == ';' || b == '.' || b == ':' || b == '!' || b == '?'; }

static void add_vector(BowCache *c, const char *s, size_t n, double weight, double *acc) {
    float tmp[BOW_DIM];
    const float *v = cache_get(c, s, n, bow_fnv1a64(s, n));
    if (!v) {
        bow_word_vector(s, n, tmp);
        v = tmp;
    }
    for (int i = 0; i < BOW_DIM; i++) acc[i] += weight * v[i];
}

#define WORD_MAX 255   // longer words are hashed on their first 255 bytes

int bow_embed_order(BowCache *c, int order, const char *text, float *out) {
    double acc[BOW_DIM] = {0};
    // the last `order` words of the current clause, newest last, each NUL-terminated
    char recent[NGRAM_ORDER][WORD_MAX + 1];
    size_t len[NGRAM_ORDER];
    int in_run = 0, words = 0;
    if (order < 1) order = 1;
    if (order > NGRAM_ORDER) order = NGRAM_ORDER;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        while (*p && !is_word_byte(*p)) {
            if (is_clause_end(*p)) in_run = 0;
            p++;
        }
        size_t n = 0;
        char word[WORD_MAX + 1];
        while (*p && is_word_byte(*p)) {
            if (n < WORD_MAX) word[n++] = (char)tolower(*p);
            p++;
        }
        if (!n) break;
        word[n] = 0;
        words++;
        add_vector(c, word, n, 1.0, acc);
        if (order == 1) continue;
        // shift the run window and add every run that ends in this word
        if (in_run == order) in_run--;
        memmove(recent[1], recent[0], (size_t)in_run * sizeof recent[0]);
        memmove(len + 1, len, (size_t)in_run * sizeof len[0]);
        memcpy(recent[0], word, n + 1);
        len[0] = n;
        in_run++;
        char gram[NGRAM_ORDER * (WORD_MAX + 1)];
        for (int k = 2; k <= in_run; k++) {   // the run recent[k-1] ... recent[0]
            size_t g = 0;
            for (int j = k - 1; j >= 0; j--) {
                memcpy(gram + g, recent[j], len[j]);
                g += len[j];
                if (j) gram[g++] = ' ';
            }
            add_vector(c, gram, g, (double)k, acc);
        }
    }
    double norm = 0;
    for (int i = 0; i < BOW_DIM; i++) norm += acc[i] * acc[i];
    norm = sqrt(norm);
    double scale = norm > 0 ? BOW_NORM / norm : 0;
    for (int i = 0; i < BOW_DIM; i++) out[i] = (float)(acc[i] * scale);
    return words;
}

int bow_embed(BowCache *c, const char *text, float *out) { return bow_embed_order(c, 1, text, out); }

int bow_order_of(const char *encoder) {
    if (!encoder) return 0;
    if (!strcmp(encoder, BOW_NAME)) return 1;
    if (!strcmp(encoder, NGRAM_NAME)) return NGRAM_ORDER;
    return 0;
}

const char *bow_encoder_name(int order) {
    return order == 1 ? BOW_NAME : order == NGRAM_ORDER ? NGRAM_NAME : NULL;
}

int bow_embed_named(BowCache *c, const char *encoder, const char *text, float *out) {
    int order = bow_order_of(encoder);
    return order ? bow_embed_order(c, order, text, out) : -1;
}
