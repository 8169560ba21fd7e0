#include "io/png.h"
#include <png.h>   // libpng (angle brackets: never this directory's png.h)
#include <cjson/cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/fs.h"

// libpng reports errors by longjmp; its message goes to our buffer instead of stderr
typedef struct { char msg[200]; } PngErr;

static void on_png_error(png_structp p, png_const_charp msg) {
    PngErr *pe = png_get_error_ptr(p);
    if (pe) snprintf(pe->msg, sizeof pe->msg, "%s", msg);
    png_longjmp(p, 1);
}

static void on_png_warning(png_structp p, png_const_charp msg) {
    (void)p;
    (void)msg;
}

// PNG tEXt is Latin-1 without NUL or control characters other than newline.
static char *latin1(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n > max) n = max;
    char *o = malloc(n + 1);
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        o[i] = (c >= 32 && c < 127) || c == '\n' ? (char)c : '?';
    }
    o[n] = 0;
    return o;
}

static int write_png_file(FILE *fp, const uint8_t *rgb, int w, int h, int n_text, const char *const *keys,
                          const char *const *texts, PngErr *pe) {
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, pe, on_png_error, on_png_warning);
    if (!p) return -1;
    png_infop info = png_create_info_struct(p);
    png_textp tx = calloc((size_t)(n_text > 0 ? n_text : 1), sizeof(png_text));
    char **owned = calloc((size_t)(n_text > 0 ? n_text : 1) * 2, sizeof(char *));
    int rc = -1;
    if (info && tx && owned && !setjmp(png_jmpbuf(p))) {
        png_init_io(p, fp);
        png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        for (int i = 0; i < n_text; i++) {
            owned[2 * i] = latin1(keys[i], 79);
            owned[2 * i + 1] = latin1(texts[i] ? texts[i] : "", 1u << 20);
            tx[i].compression = PNG_TEXT_COMPRESSION_NONE;
            tx[i].key = owned[2 * i];
            tx[i].text = owned[2 * i + 1];
        }
        if (n_text > 0) png_set_text(p, info, tx, n_text);
        png_write_info(p, info);
        for (int y = 0; y < h; y++) png_write_row(p, (png_const_bytep)(rgb + (size_t)y * (size_t)w * 3));
        png_write_end(p, info);
        rc = 0;
    }
    png_destroy_write_struct(&p, info ? &info : NULL);
    for (int i = 0; owned && i < 2 * n_text; i++) free(owned[i]);
    free(owned);
    free(tx);
    return rc;
}

int png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, int n_text, const char *const *keys,
                  const char *const *texts, Err *e) {
    if (w <= 0 || h <= 0 || w > 1000000 || h > 1000000) return err_set(e, "%s: bad image size %dx%d", path, w, h);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return err_set(e, "%s: path too long", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) return err_set(e, "%s: cannot create (directory missing or not writable?)", tmp);
    PngErr pe = {{0}};
    int rc = write_png_file(fp, rgb, w, h, n_text, keys, texts, &pe);
    if (fclose(fp) != 0) rc = -1;
    if (rc) {
        unlink(tmp);
        return err_set(e, "%s: writing PNG failed: %s", path, pe.msg[0] ? pe.msg : "disk full?");
    }
    return fs_commit(tmp, path, e);
}

static int write_json_beside(const char *png_path, int n, int h, int w, int rows, int cols,
                             const char *const *captions, Err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s", png_path);
    char *dot = strrchr(path, '.');
    char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash) && !strcmp(dot, ".png")) *dot = 0;
    size_t len = strlen(path);
    if (len + 6 >= sizeof path) return err_set(e, "%s: path too long", png_path);
    strcat(path, ".json");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "image", strrchr(png_path, '/') ? strrchr(png_path, '/') + 1 : png_path);
    cJSON_AddNumberToObject(o, "rows", rows);
    cJSON_AddNumberToObject(o, "cols", cols);
    cJSON_AddNumberToObject(o, "n", n);
    cJSON_AddNumberToObject(o, "cell_height", h);
    cJSON_AddNumberToObject(o, "cell_width", w);
    cJSON_AddNumberToObject(o, "separator", PNG_GRID_SEP);
    cJSON *caps = cJSON_AddArrayToObject(o, "captions");
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(caps, cJSON_CreateString(captions && captions[i] ? captions[i] : ""));
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return err_set(e, "%s: out of memory", path);
    char tmp[4100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "wb");
    int rc = 0;
    if (!fp) rc = err_set(e, "%s: cannot create", tmp);
    else {
        size_t sl = strlen(s);
        if (fwrite(s, 1, sl, fp) != sl || fputc('\n', fp) == EOF) rc = -1;
        if (fclose(fp) != 0) rc = -1;
        if (rc) {
            unlink(tmp);
            rc = err_set(e, "%s: write failed (disk full?)", tmp);
        }
    }
    free(s);
    return rc ? rc : fs_commit(tmp, path, e);
}

// Shared by both grid writers: cell(i, y, x) gives the 3 bytes of pixel (y, x) of image i.
typedef void (*CellPixel)(const void *src, int i, int h, int w, int y, int x, uint8_t out[3]);

static void pixel_real(const void *src, int i, int h, int w, int y, int x, uint8_t out[3]) {
    const real *im = (const real *)src + (size_t)i * 3 * (size_t)h * (size_t)w;
    for (int c = 0; c < 3; c++) {
        float v = (float)im[((size_t)c * (size_t)h + (size_t)y) * (size_t)w + (size_t)x];
        float u = (v + 1.0f) * 127.5f;
        if (!(u >= 0.0f)) u = 0.0f;   // NaN maps to 0 too
        if (u > 255.0f) u = 255.0f;
        out[c] = (uint8_t)lrintf(u);
    }
}

static void pixel_u8(const void *src, int i, int h, int w, int y, int x, uint8_t out[3]) {
    const uint8_t *p = (const uint8_t *)src + (((size_t)i * (size_t)h + (size_t)y) * (size_t)w + (size_t)x) * 3;
    out[0] = p[0];
    out[1] = p[1];
    out[2] = p[2];
}

static int write_grid(const char *path, const void *src, CellPixel px, int n, int h, int w, int rows, int cols,
                      const char *const *captions, Err *e) {
    if (n < 0 || h <= 0 || w <= 0 || rows <= 0 || cols <= 0 || n > rows * cols)
        return err_set(e, "%s: grid %dx%d cannot hold %d images of %dx%d", path, rows, cols, n, h, w);
    int gw = cols * w + (cols - 1) * PNG_GRID_SEP, gh = rows * h + (rows - 1) * PNG_GRID_SEP;
    uint8_t *img = malloc((size_t)gw * (size_t)gh * 3);
    if (!img) return err_set(e, "%s: out of memory for a %dx%d grid", path, gw, gh);
    memset(img, 255, (size_t)gw * (size_t)gh * 3);
    for (int i = 0; i < n; i++) {
        int oy = (i / cols) * (h + PNG_GRID_SEP), ox = (i % cols) * (w + PNG_GRID_SEP);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) px(src, i, h, w, y, x, img + ((size_t)(oy + y) * (size_t)gw + (size_t)(ox + x)) * 3);
    }
    char (*keys)[32] = calloc((size_t)(n > 0 ? n : 1), 32);
    const char **kp = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
    int rc = (!keys || !kp) ? err_set(e, "%s: out of memory", path) : 0;
    int n_text = captions ? n : 0;
    for (int i = 0; i < n_text && rc == 0; i++) {
        snprintf(keys[i], 32, "caption %d", i);
        kp[i] = keys[i];
    }
    if (rc == 0) rc = png_write_rgb(path, img, gw, gh, n_text, kp, captions, e);
    if (rc == 0) rc = write_json_beside(path, n, h, w, rows, cols, captions, e);
    free(keys);
    free(kp);
    free(img);
    return rc;
}

int png_write_grid_real(const char *path, const real *nchw, int n, int h, int w, int rows, int cols,
                       const char *const *captions, Err *e) {
    return write_grid(path, nchw, pixel_real, n, h, w, rows, cols, captions, e);
}

int png_write_grid_u8(const char *path, const uint8_t *nhwc, int n, int h, int w, int rows, int cols,
                      const char *const *captions, Err *e) {
    return write_grid(path, nhwc, pixel_u8, n, h, w, rows, cols, captions, e);
}
