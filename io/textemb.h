// textemb: the caption-embedding file, one row per caption in order. `ratlip text-embed --out` writes
// it (jobs/cmd_text_embed.c), io/tools/clip_text_embed.py writes it with CLIP, and `ratlip data import
// --text-emb` reads it:
//   /text_emb      float32 [n, D]
//   /captions      variable-length UTF-8 strings [n] (written here; readers do not need them)
//   text_encoder   root attribute, a string: the encoder's name ("bow", "clip-…"); absent: "precomputed"
// Written whole to <path>.tmp and committed (io/fs.h: fsync + rename). Errors name the file and the
// dataset or attribute.
#pragma once
#include <stddef.h>
#include "core/err.h"

#define TEXTEMB_UNNAMED "precomputed"   // the encoder of a file without a text_encoder attribute

// emb [n, D] (n >= 1), captions [n] (NULL: no /captions), encoder: the attribute's value.
int textemb_write(const char *path, const float *emb, long n, int D, const char *const *captions, const char *encoder,
                  Err *e);

// *emb [*n, *D] malloc'd, every value checked finite; encoder[encoder_size] = the attribute or TEXTEMB_UNNAMED.
int textemb_read(const char *path, float **emb, long *n, int *D, char *encoder, size_t encoder_size, Err *e);

// /captions [n] into *captions (n malloc'd strings in a malloc'd array; free each, then the array).
// Returns 1 with *captions NULL when the file has no /captions (files from other tools), -1 on error
// (wrong type or row count: the file and dataset are named), 0 on success.
int textemb_read_captions(const char *path, long n, char ***captions, Err *e);
