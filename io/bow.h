// bow: the built-in "bag of words" text encoder, a stand-in for CLIP's text tower. A caption is
// lower-cased (ASCII) and split on bytes that are not ASCII
// letters/digits (non-ASCII UTF-8 bytes belong to words); each word maps to a fixed pseudo-random Gaussian
// vector (Philox keyed by the word's 64-bit FNV-1a hash, purpose BOW_RNG_PURPOSE), the vectors are summed
// and the sum is scaled to norm BOW_NORM. Same caption -> same vector on every machine; word order is
// ignored. A caption without words embeds to the zero vector (bow_embed returns 0 words).
#pragma once
#include <stddef.h>
#include <stdint.h>

#define BOW_DIM 512
#define BOW_NORM 10.0f             // every non-empty caption's embedding has this L2 norm
#define BOW_RNG_PURPOSE 0x626f77u  // "bow": a key stream of its own, apart from core/rng.h's purposes
#define BOW_NAME "bow"

uint64_t bow_fnv1a64(const char *s, size_t n);
// The unit-variance Gaussian vector of one (already lower-cased) word, out[BOW_DIM].
void bow_word_vector(const char *word, size_t n, float *out);

// A small cache of word vectors (the synthetic captions use ~40 distinct words). Optional: NULL works.
typedef struct BowCache BowCache;
BowCache *bow_cache_new(void);
void bow_cache_free(BowCache *c);

// Embeds `text` into out[BOW_DIM]; returns the number of words (0: out is all zeros).
int bow_embed(BowCache *c, const char *text, float *out);
