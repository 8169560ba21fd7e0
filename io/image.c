#include "io/image.h"
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>  // jpeglib.h needs size_t and FILE first
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>

// The header says w x h: refuse before decoding when that is more than max pixels.
static int too_big(const char *path, unsigned long w, unsigned long h, long max, Err *e) {
    if ((double)w * (double)h <= (double)max) return 0;
    return err_set(e, "%s: %lux%lu image (%.1f MP) is over the pixel limit of %ld (%.1f MP); refused before "
                      "decoding (raise --max-pixels if the image is meant to be this large)",
                   path, w, h, (double)w * h / 1e6, max, max / 1e6);
}

static int load_png(const char *path, long max, int *w, int *h, uint8_t **rgb, Err *e) {
    png_image im;
    memset(&im, 0, sizeof(im));
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return err_set(e, "%s: not a readable PNG image (%s)", path, im.message);
    if (too_big(path, im.width, im.height, max, e)) {
        png_image_free(&im);
        return -1;
    }
    im.format = PNG_FORMAT_RGB;
    size_t n = PNG_IMAGE_SIZE(im);
    uint8_t *buf = malloc(n);
    if (!buf) {
        png_image_free(&im);
        return err_set(e, "%s: out of memory for a %ux%u image", path, im.width, im.height);
    }
    if (!png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        free(buf);
        int rc = err_set(e, "%s: damaged PNG image (%s)", path, im.message);
        png_image_free(&im);
        return rc;
    }
    *w = (int)im.width;
    *h = (int)im.height;
    *rgb = buf;
    png_image_free(&im);
    return 0;
}

// libjpeg reports fatal errors through error_exit, which must not return: jump back to load_jpeg.
typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} JpegErr;

static void jpeg_fail(j_common_ptr c) {
    JpegErr *je = (JpegErr *)c->err;
    c->err->format_message(c, je->msg);
    longjmp(je->jump, 1);
}

static void jpeg_quiet(j_common_ptr c, int level) { (void)c; (void)level; }  // no warnings on stderr

// One CMYK scanline to RGB. Adobe (Photoshop) stores CMYK inverted, 255 = no ink: R = C*K/255. Plain
// CMYK (0 = no ink): R = (255-C)*(255-K)/255. libjpeg has already turned YCCK into CMYK.
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, size_t w, int inverted) {
    for (size_t x = 0; x < w; x++, in += 4, out += 3) {
        unsigned k = inverted ? in[3] : 255u - in[3];
        for (int c = 0; c < 3; c++) {
            unsigned v = inverted ? in[c] : 255u - in[c];
            out[c] = (uint8_t)((v * k + 127) / 255);
        }
    }
}

static int load_jpeg(const char *path, long max, int *w, int *h, uint8_t **rgb, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    struct jpeg_decompress_struct d;
    JpegErr je;
    uint8_t *volatile buf = NULL;
    uint8_t *volatile row4 = NULL;  // one CMYK scanline
    d.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jpeg_fail;
    je.mgr.emit_message = jpeg_quiet;
    if (setjmp(je.jump)) {
        jpeg_destroy_decompress(&d);
        fclose(f);
        free(buf);
        free(row4);
        return err_set(e, "%s: damaged JPEG image (%s)", path, je.msg);
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    const char *unsupported = NULL;
    int cmyk = 0;
    switch (d.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB: d.out_color_space = JCS_RGB; break;  // converted by the library
    case JCS_CMYK:
    case JCS_YCCK: d.out_color_space = JCS_CMYK; cmyk = 1; break;  // to RGB below
    default: unsupported = "unknown transform";  // 2 channels, or an Adobe transform other than 0-2
    }
    if (unsupported || too_big(path, d.image_width, d.image_height, max, e)) {
        int nc = d.num_components;
        jpeg_destroy_decompress(&d);
        fclose(f);
        if (unsupported)
            return err_set(e, "%s: unsupported JPEG colour space (%s, %d components); convert it to RGB first", path,
                           unsupported, nc);
        return -1;
    }
    jpeg_start_decompress(&d);
    size_t stride = (size_t)d.output_width * 3;
    buf = malloc(stride * d.output_height);
    if (cmyk) row4 = malloc((size_t)d.output_width * 4);
    if (!buf || (cmyk && !row4)) {
        jpeg_destroy_decompress(&d);
        fclose(f);
        free(buf);
        free(row4);
        return err_set(e, "%s: out of memory for a %ux%u image", path, d.output_width, d.output_height);
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = buf + stride * d.output_scanline;
        if (!cmyk) {
            jpeg_read_scanlines(&d, &row, 1);
            continue;
        }
        JSAMPROW r4 = row4;
        jpeg_read_scanlines(&d, &r4, 1);
        cmyk_to_rgb(row4, row, d.output_width, d.saw_Adobe_marker);
    }
    free(row4);
    row4 = NULL;
    jpeg_finish_decompress(&d);
    *w = (int)d.output_width;
    *h = (int)d.output_height;
    jpeg_destroy_decompress(&d);
    fclose(f);
    *rgb = buf;
    return 0;
}

int image_load(const char *path, int *w, int *h, uint8_t **rgb, Err *e) {
    return image_load_max(path, IMAGE_MAX_PIXELS_DEFAULT, w, h, rgb, e);
}

int image_load_max(const char *path, long max_pixels, int *w, int *h, uint8_t **rgb, Err *e) {
    *rgb = NULL;
    if (max_pixels <= 0) max_pixels = IMAGE_MAX_PIXELS_DEFAULT;
    if (max_pixels > IMAGE_MAX_PIXELS_CAP) max_pixels = IMAGE_MAX_PIXELS_CAP;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    if (got >= 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8)) return load_png(path, max_pixels, w, h, rgb, e);
    if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
        return load_jpeg(path, max_pixels, w, h, rgb, e);
    return err_set(e, "%s: not an image (neither PNG nor JPEG signature)", path);
}

// Area weights from a source span of m pixels to n outputs: output o covers [o*m/n, (o+1)*m/n).
// taps[o*T + t] = source index, wts[o*T + t] = weight (sum 1 per output), T taps per output.
static int area_weights(int m, int n, int **taps, float **wts) {
    double scale = (double)m / n;
    int T = (int)scale + 2;
    *taps = calloc((size_t)n * T, sizeof(int));
    *wts = calloc((size_t)n * T, sizeof(float));
    for (int o = 0; o < n; o++) {
        double a = o * scale, b = (o + 1) * scale;
        int t = 0;
        for (int j = (int)a; j < m && j < b && t < T; j++) {
            double lo = a > j ? a : j, hi = b < j + 1 ? b : j + 1;
            if (hi <= lo) continue;
            (*taps)[o * T + t] = j;
            (*wts)[o * T + t] = (float)((hi - lo) / scale);
            t++;
        }
    }
    return T;
}

void image_resize_crop(const uint8_t *src, int w, int h, int S, uint8_t *dst) {
    int m = w < h ? w : h, x0 = (w - m) / 2, y0 = (h - m) / 2;
    int *taps;
    float *wts;
    int T = area_weights(m, S, &taps, &wts);
    float *rows = calloc((size_t)m * S * 3, sizeof(float));  // horizontal pass: [m,S,3]
    for (int y = 0; y < m; y++) {
        const uint8_t *in = src + ((size_t)(y0 + y) * w + x0) * 3;
        for (int o = 0; o < S; o++)
            for (int t = 0; t < T; t++) {
                float wt = wts[o * T + t];
                const uint8_t *px = in + (size_t)taps[o * T + t] * 3;
                for (int c = 0; c < 3; c++) rows[((size_t)y * S + o) * 3 + c] += wt * px[c];
            }
    }
    for (int o = 0; o < S; o++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < 3; c++) {
                float acc = 0;
                for (int t = 0; t < T; t++) acc += wts[o * T + t] * rows[((size_t)taps[o * T + t] * S + x) * 3 + c];
                int v = (int)(acc + 0.5f);
                dst[((size_t)o * S + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    free(rows);
    free(taps);
    free(wts);
}
