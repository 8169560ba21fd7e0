// image: decoding PNG (libpng) and JPEG (libjpeg-turbo) files to 8-bit RGB, and the importer's
// resize: centre crop to the largest square, then area resampling (each output pixel is the average of
// the source pixels under its footprint, weighted by overlap, like OpenCV's INTER_AREA) to S x S.
// Equivalent to "resize the shorter side to S, centre-crop S x S" up to sub-pixel rounding of the crop.
#pragma once
#include <stdint.h>
#include "core/err.h"

// Default pixel limit (w*h) checked from the header before decoding: a 20000x20000 PNG of one colour is
// a few kB on disk and 1.2 GB decoded. 64 MP = 8000x8000.
#define IMAGE_MAX_PIXELS_DEFAULT 64000000L
// Largest limit accepted: the RGB buffer (3 bytes a pixel) stays under libpng's 32-bit size arithmetic.
#define IMAGE_MAX_PIXELS_CAP 1000000000L

// Decodes path (format from its magic bytes, not its name) into *rgb [h,w,3] (malloc'd; caller frees).
// Grey, palette, alpha and 16-bit PNGs are converted; alpha is dropped. Grey, YCbCr and RGB JPEGs are
// converted by libjpeg; CMYK and YCCK ones here (Adobe's inverted CMYK when the file has an Adobe marker,
// as Photoshop writes it, plain CMYK otherwise). Errors name the file: neither PNG nor JPEG, damaged, an
// unsupported colour space, or more than max_pixels pixels (refused before decoding; 0 = the default).
int image_load_max(const char *path, long max_pixels, int *w, int *h, uint8_t **rgb, Err *e);
// image_load_max with IMAGE_MAX_PIXELS_DEFAULT.
int image_load(const char *path, int *w, int *h, uint8_t **rgb, Err *e);

// src [h,w,3] -> dst [S,S,3] (see above).
void image_resize_crop(const uint8_t *src, int w, int h, int S, uint8_t *dst);
