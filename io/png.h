// png: sample images and grids as PNG (libpng), written via <path>.tmp + fsync + rename. Captions go
// into tEXt chunks (keyword "caption <i>", Latin-1 by the PNG spec: other bytes are replaced by '?')
// and, for grids, also into a JSON file beside the PNG (<name>.json: rows, cols, cell size and the
// captions in full UTF-8, row-major).
#pragma once
#include <stdint.h>
#include "core/err.h"
#include "core/real.h"

#define PNG_GRID_SEP 2   // pixels of separator between cells

// One RGB image, rgb = [h][w][3] uint8. n_text key/value pairs become tEXt chunks (may be 0).
int png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, int n_text, const char *const *keys,
                  const char *const *texts, Err *e);
// A rows x cols grid of n images (n <= rows*cols; empty cells stay separator-coloured) with a
// PNG_GRID_SEP-pixel white separator between cells. captions: n strings or NULL.
// From core's real (float) NCHW in [-1,1] (3 channels; values clamped, mapped by round((x+1)*127.5)):
int png_write_grid_real(const char *path, const real *nchw, int n, int h, int w, int rows, int cols,
                       const char *const *captions, Err *e);
// From uint8 NHWC (3 channels):
int png_write_grid_u8(const char *path, const uint8_t *nhwc, int n, int h, int w, int rows, int cols,
                      const char *const *captions, Err *e);
