// image: decoding PNG (libpng) and JPEG (libjpeg-turbo) files to 8-bit RGB, and the importer's
// resize: centre crop to the largest square, then area resampling (each output pixel is the average of
// the source pixels under its footprint, weighted by overlap, like OpenCV's INTER_AREA) to S x S.
// Equivalent to "resize the shorter side to S, centre-crop S x S" up to sub-pixel rounding of the crop.
#pragma once
#include <stdint.h>
#include "core/err.h"

// Decodes path (format from its magic bytes, not its name) into *rgb [h,w,3] (malloc'd; caller frees).
// Grey, palette, alpha and 16-bit PNGs are converted; alpha is dropped. A file that is neither PNG nor
// JPEG, or a damaged one, is an error naming the file.
int image_load(const char *path, int *w, int *h, uint8_t **rgb, Err *e);

// src [h,w,3] -> dst [S,S,3] (see above).
void image_resize_crop(const uint8_t *src, int w, int h, int S, uint8_t *dst);
