// synth: the built-in synthetic dataset. Each image is one shape (circle, square, triangle) of one
// palette colour, small (~30% of the side) or large (~60%), on a plain background of another palette
// colour, its centre jittered by up to 10% of the side, with mild per-pixel noise (uniform +-SYNTH_NOISE).
// K = 5 captions per image state the same facts in different phrasings; labels are (shape, colour,
// background, size). Everything about image i is a pure function of (seed, split, i) through Philox
// (purpose RNG_SYNTH), so images can be drawn in any order or in parallel.
#pragma once
#include <stdint.h>
#include "core/err.h"

#define SYNTH_K 5
#define SYNTH_CAPTION_LEN 128
#define SYNTH_COLOURS 8
#define SYNTH_SHAPES 3
#define SYNTH_NOISE 6

enum { SYNTH_TRAIN = 0, SYNTH_TEST = 1 };

typedef struct {
    int shape;       // 0 circle, 1 square, 2 triangle
    int colour;      // palette index of the shape
    int background;  // palette index of the background (!= colour)
    int size;        // 0 small, 1 large
} SynthLabel;

#define SYNTH_LABEL_NAMES "shape,colour,background,size"   // the /labels columns, in SynthLabel's order

extern const uint8_t synth_palette[SYNTH_COLOURS][3];
extern const char *const synth_colour_names[SYNTH_COLOURS];
extern const char *const synth_shape_names[SYNTH_SHAPES];

// Image i of split: img [S,S,3] uint8 (HWC), its label and K captions.
void synth_sample(uint64_t seed, int split, long i, int S, uint8_t *img, SynthLabel *label,
                  char captions[SYNTH_K][SYNTH_CAPTION_LEN]);

// The plain caption of a label, out[SYNTH_CAPTION_LEN]: "a small red circle on a blue background"
// (the first caption's phrasing with the size words "small"/"large").
void synth_caption_of(const SynthLabel *label, char *out);

#define SYNTH_ENCODER "ngram"   // the default text encoder (io/bow.h): bow cannot tell shape from background colour

// Writes the dataset into dir (created if missing): ntrain/ntest images of side S, each split in
// min(shards, n) shards, captions embedded with the built-in encoder `encoder` ("bow" or "ngram";
// NULL: SYNTH_ENCODER). A split with 0 images is not written.
int synth_write(const char *dir, int S, long ntrain, long ntest, uint64_t seed, int shards, const char *encoder, Err *e);
