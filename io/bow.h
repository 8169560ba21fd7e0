// bow: the built-in "bag of words" text encoder, a stand-in for CLIP's text tower. A caption is
// lower-cased (ASCII) and split on bytes that are not ASCII
// letters/digits (non-ASCII UTF-8 bytes belong to words); each word maps to a fixed pseudo-random Gaussian
// vector (Philox keyed by the word's 64-bit FNV-1a hash, purpose BOW_RNG_PURPOSE), the vectors are summed
// and the sum is scaled to norm BOW_NORM. Same caption -> same vector on every machine; word order is
// ignored. A caption without words embeds to the zero vector (bow_embed returns 0 words).
//
// ngram: the order-aware variant, the synthetic set's default since 2026-12. A bag of words cannot say who
// is what: "a red circle on a blue background" and "a blue circle on a red background" embed the same. The
// ngram encoder adds, to the same word vectors, the vectors of every run of 2 and 3 consecutive words
// (the run's words joined by one space, hashed and drawn like a word: a word never holds a space), weighted
// 2 and 3, then scales to BOW_NORM. Those two captions then share their words but only 3 of 7 bigrams and
// 1 of 6 trigrams: cosine ~0.35 (bow: 1). Runs do not cross a clause (',' ';' '.' ':' '!' '?'), so a
// listing like "red circle, large, on blue" keeps its parts.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define BOW_DIM 512
#define BOW_NORM 10.0f             // every non-empty caption's embedding has this L2 norm
#define BOW_RNG_PURPOSE 0x626f77u  // "bow": a key stream of its own, apart from core/rng.h's purposes
#define BOW_NAME "bow"
#define NGRAM_NAME "ngram"
#define NGRAM_ORDER 3              // the longest word run ngram embeds

uint64_t bow_fnv1a64(const char *s, size_t n);
// The unit-variance Gaussian vector of one (already lower-cased) word, out[BOW_DIM].
void bow_word_vector(const char *word, size_t n, float *out);

// A small cache of word vectors (the synthetic captions use ~40 distinct words). Optional: NULL works.
typedef struct BowCache BowCache;
BowCache *bow_cache_new(void);
void bow_cache_free(BowCache *c);

// Embeds `text` into out[BOW_DIM]; returns the number of words (0: out is all zeros).
int bow_embed(BowCache *c, const char *text, float *out);
// The same with word runs up to `order` words (1: bow_embed, NGRAM_ORDER: ngram).
int bow_embed_order(BowCache *c, int order, const char *text, float *out);

// The built-in encoders by name: the run order of "bow" (1) and "ngram" (NGRAM_ORDER); 0 for any other
// name (a precomputed encoder such as CLIP's). bow_encoder_name is the inverse (NULL for 0).
int bow_order_of(const char *encoder);
const char *bow_encoder_name(int order);
// Embeds with the built-in encoder `name`; -1 when it is not built in, else the word count.
int bow_embed_named(BowCache *c, const char *encoder, const char *text, float *out);
