// png: sample images and grids as PNG (libpng), written via <path>.tmp + fsync + rename. Text goes
// into text chunks: plain ASCII as tEXt, valid UTF-8 with other characters as iTXt (UTF-8 by the PNG
// spec), anything else as tEXt with the offending bytes replaced by '?'; control characters other than
// newline become '?' everywhere. A grid with captions carries keyword "caption <i>" per image
// (row-major) and keyword "grid" with its geometry ("rows=R cols=C n=N cell_height=H cell_width=W
// separator=S"), so the PNG alone says which caption is on which row (png_read_grid_info). Grids also
// get a JSON file beside the PNG (<name>.json: the same geometry and captions, row-major).
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

// ---- reading back (the header and the text chunks only: no pixels are decoded) ----

// An image's size and its text chunks (tEXt, zTXt, iTXt) in file order, keys and texts UTF-8
// (Latin-1 tEXt/zTXt converted; invalid bytes of an iTXt become '?').
typedef struct {
    int width, height;
    int n_text;
    char **keys, **texts;
} PngText;
// Reads the text chunks that precede the image data (where png_write_rgb puts them) and checks that the
// file ends with the IEND chunk, so a truncated file is an error rather than half an image. Errors
// name the file: not a PNG, unreadable header, truncated. On success free with png_text_free.
int png_read_text_chunks(const char *path, PngText *out, Err *e);
void png_text_free(PngText *t);

// What a grid PNG says about itself (png_write_grid_*).
typedef struct {
    int width, height;                // the whole image
    int rows, cols, n, cell_h, cell_w, sep;  // from the "grid" chunk; rows == 0: none, or it does not fit the image
    int n_captions;                   // entries of captions: n with a grid chunk, else up to the last "caption <i>"
    char **captions;                  // [n_captions], image i's caption (UTF-8), NULL where no chunk gives one
} PngGridInfo;
int png_read_grid_info(const char *path, PngGridInfo *g, Err *e);
void png_grid_info_free(PngGridInfo *g);
