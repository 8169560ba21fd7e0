// fuzz_image: bytes -> pixels, the decode step of `ratlip data import` (io/image.h): image_load on the
// bytes as a file (PNG or JPEG by magic, libpng / libjpeg-turbo), then image_resize_crop to the
// dataset size, as import_split does. Checks: a refused file has an error naming it and no buffer; a
// decoded one has a positive size and w*h*3 readable bytes (every pixel is read, so ASan sees a
// buffer shorter than the header promised).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/image.h"

#define S 16   // the importer's output side; small, so the resize costs little next to the decode

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("image", data, size);
    int w = -1, h = -1;
    uint8_t *rgb = NULL;
    Err e = {{0}};
    if (image_load(path, &w, &h, &rgb, &e)) {
        FUZZ_CHECK(rgb == NULL, "failed but returned a buffer");
        fuzz_check_err(&e, path);
        return 0;
    }
    FUZZ_CHECK(rgb != NULL && w > 0 && h > 0, "decoded to %dx%d, buffer %p", w, h, (void *)rgb);
    unsigned sum = 0;
    for (size_t i = 0, n = (size_t)w * h * 3; i < n; i++) sum += rgb[i];
    uint8_t out[S * S * 3];
    image_resize_crop(rgb, w, h, S, out);
    for (int i = 0; i < S * S * 3; i++) sum += out[i];
    free(rgb);
    fuzz_sink = sum;
    return 0;
}
