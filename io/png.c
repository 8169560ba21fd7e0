#include "io/png.h"
#include <png.h>   // libpng (angle brackets: never this directory's png.h)
#include <cjson/cJSON.h>
#include <errno.h>
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

// Length of the UTF-8 sequence starting at s (at most n bytes), 0 when it is not a valid one
// (overlong forms, surrogates and code points past U+10FFFF included).
static int utf8_len(const unsigned char *s, size_t n) {
    if (s[0] < 0x80) return 1;
    int len = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
              : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
              : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                             : 0;
    if (!len || (size_t)len > n) return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) || (s[0] == 0xF0 && s[1] < 0x90) ||
        (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

// A chunk's text: at most max bytes (cut back to a character boundary), control characters other than
// newline replaced by '?'. *utf8 says whether it keeps characters past ASCII (then it goes into iTXt,
// which is UTF-8); a string that is not valid UTF-8 keeps only ASCII, the rest as '?' (tEXt is Latin-1,
// and guessing that the bytes were Latin-1 would be wrong more often than right).
static char *chunk_text(const char *s, size_t max, int *utf8) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && (u[n] & 0xC0) == 0x80) n--;   // do not cut a character in two
    }
    int valid = 1, wide = 0;
    for (size_t i = 0; i < n && valid;) {
        int len = utf8_len(u + i, n - i);
        valid = len > 0;
        wide |= len > 1;
        i += len > 0 ? (size_t)len : 1;
    }
    *utf8 = valid && wide;
    char *o = malloc(n + 1);
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = u[i];
        o[i] = (c >= 32 && c != 127 && (c < 128 || *utf8)) || c == '\n' ? (char)c : '?';
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
            int key_utf8, text_utf8;
            owned[2 * i] = chunk_text(keys[i], 79, &key_utf8);
            owned[2 * i + 1] = chunk_text(texts[i] ? texts[i] : "", 1u << 20, &text_utf8);
            if (!owned[2 * i] || !owned[2 * i + 1]) png_error(p, "out of memory");
            if (key_utf8)   // keywords are Latin-1 in every chunk type: ASCII only
                for (char *k = owned[2 * i]; *k; k++) *k = (unsigned char)*k < 128 ? *k : '?';
            tx[i].compression = text_utf8 ? PNG_ITXT_COMPRESSION_NONE : PNG_TEXT_COMPRESSION_NONE;
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
    // n "caption <i>" chunks, then "grid": the geometry that says which caption is on which row. Only
    // with captions: without them there is nothing to place (and the JSON beside has the geometry).
    char (*keys)[32] = calloc((size_t)n + 1, 32);
    const char **kp = calloc((size_t)n + 1, sizeof(char *)), **tp = calloc((size_t)n + 1, sizeof(char *));
    int rc = (!keys || !kp || !tp) ? err_set(e, "%s: out of memory", path) : 0;
    int n_text = captions ? n + 1 : 0;
    char geom[160];
    snprintf(geom, sizeof geom, "rows=%d cols=%d n=%d cell_height=%d cell_width=%d separator=%d", rows, cols, n, h, w,
             PNG_GRID_SEP);
    for (int i = 0; i < n_text && rc == 0; i++) {
        if (i < n) snprintf(keys[i], 32, "caption %d", i);
        else snprintf(keys[i], 32, "grid");
        kp[i] = keys[i];
        tp[i] = i < n ? captions[i] : geom;
    }
    if (rc == 0) rc = png_write_rgb(path, img, gw, gh, n_text, kp, tp, e);
    if (rc == 0) rc = write_json_beside(path, n, h, w, rows, cols, captions, e);
    free(keys);
    free(kp);
    free(tp);
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

// ---------------------------------------------------------------- reading back

// A chunk's text as UTF-8: Latin-1 (tEXt, zTXt) converted; UTF-8 (iTXt) copied, invalid bytes as '?'.
static char *text_to_utf8(const char *s, int is_utf8) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    char *o = malloc(2 * n + 1), *q = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n;) {
        int len = is_utf8 ? utf8_len(u + i, n - i) : 1;
        if (is_utf8 && !len) {
            *q++ = '?';
            i++;
        } else if (is_utf8 || u[i] < 0x80) {
            memcpy(q, u + i, (size_t)len);
            q += len, i += (size_t)len;
        } else {   // Latin-1 byte = code point U+0080..U+00FF: two UTF-8 bytes
            *q++ = (char)(0xC0 | (u[i] >> 6));
            *q++ = (char)(0x80 | (u[i] & 0x3F));
            i++;
        }
    }
    *q = 0;
    return o;
}

void png_text_free(PngText *t) {
    for (int i = 0; i < t->n_text; i++) {
        if (t->keys) free(t->keys[i]);
        if (t->texts) free(t->texts[i]);
    }
    free(t->keys);
    free(t->texts);
    memset(t, 0, sizeof *t);
}

int png_read_text_chunks(const char *path, PngText *out, Err *e) {
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    unsigned char sig[8], tail[12];
    if (fread(sig, 1, 8, fp) != 8 || png_sig_cmp(sig, 0, 8)) {
        fclose(fp);
        return err_set(e, "%s: not a PNG file (no PNG signature)", path);
    }
    // A complete PNG ends with the 12 bytes of its IEND chunk. Checking them finds a cut file without
    // decoding every row (which libpng would have to do to notice).
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    if (fseek(fp, -12, SEEK_END) || fread(tail, 1, 12, fp) != 12 || memcmp(tail, iend, 12) || fseek(fp, 8, SEEK_SET)) {
        fclose(fp);
        return err_set(e, "%s: truncated PNG (it does not end with the IEND chunk: an interrupted write or copy?)",
                       path);
    }
    PngErr pe = {{0}};
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &pe, on_png_error, on_png_warning);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!info) {
        png_destroy_read_struct(&p, NULL, NULL);
        fclose(fp);
        return err_set(e, "%s: out of memory", path);
    }
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_read_struct(&p, &info, NULL);
        fclose(fp);
        return err_set(e, "%s: unreadable PNG header: %s", path, pe.msg[0] ? pe.msg : "libpng error");
    }
    png_init_io(p, fp);
    png_set_sig_bytes(p, 8);
    png_set_chunk_cache_max(p, 1u << 24);   // libpng's default keeps 1000 text chunks; a sample grid may have more
    png_read_info(p, info);   // up to the first image data chunk: the header and the text before it
    out->width = (int)png_get_image_width(p, info);
    out->height = (int)png_get_image_height(p, info);
    png_textp tx = NULL;
    int nt = 0;
    png_get_text(p, info, &tx, &nt);
    int rc = 0;
    if (nt > 0) {
        out->keys = calloc((size_t)nt, sizeof(char *));
        out->texts = calloc((size_t)nt, sizeof(char *));
        rc = !out->keys || !out->texts;
        for (int i = 0; i < nt && !rc; i++, out->n_text++) {
            int is_utf8 = tx[i].compression >= PNG_ITXT_COMPRESSION_NONE;
            out->keys[i] = text_to_utf8(tx[i].key, 0);
            out->texts[i] = text_to_utf8(tx[i].text ? tx[i].text : "", is_utf8);
            rc = !out->keys[i] || !out->texts[i];
        }
    }
    png_destroy_read_struct(&p, &info, NULL);
    fclose(fp);
    if (rc) {
        png_text_free(out);
        return err_set(e, "%s: out of memory for its text chunks", path);
    }
    return 0;
}

void png_grid_info_free(PngGridInfo *g) {
    for (int i = 0; g->captions && i < g->n_captions; i++) free(g->captions[i]);
    free(g->captions);
    memset(g, 0, sizeof *g);
}

// The "grid" chunk of write_grid, if it parses and fits the image's size exactly.
static void parse_geometry(const char *s, PngGridInfo *g) {
    int r, c, n, h, w, sep, used = 0;
    if (sscanf(s, "rows=%d cols=%d n=%d cell_height=%d cell_width=%d separator=%d%n", &r, &c, &n, &h, &w, &sep,
               &used) != 6 || s[used])
        return;
    if (r <= 0 || c <= 0 || h <= 0 || w <= 0 || sep < 0 || n < 0 || n > (long long)r * c) return;
    if ((long long)c * w + (long long)(c - 1) * sep != g->width ||
        (long long)r * h + (long long)(r - 1) * sep != g->height)
        return;
    g->rows = r, g->cols = c, g->n = n, g->cell_h = h, g->cell_w = w, g->sep = sep;
}

int png_read_grid_info(const char *path, PngGridInfo *g, Err *e) {
    memset(g, 0, sizeof *g);
    PngText t;
    if (png_read_text_chunks(path, &t, e)) return -1;
    g->width = t.width, g->height = t.height;
    int max_idx = -1, idx, used;
    for (int i = 0; i < t.n_text; i++) {
        if (!strcmp(t.keys[i], "grid")) parse_geometry(t.texts[i], g);
        // caption indices past the number of chunks cannot come from our writer: ignored, not allocated for
        if (sscanf(t.keys[i], "caption %d%n", &idx, &used) == 1 && !t.keys[i][used] && idx >= 0 && idx < t.n_text &&
            idx > max_idx)
            max_idx = idx;
    }
    g->n_captions = g->rows ? g->n : max_idx + 1;
    g->captions = calloc((size_t)(g->n_captions > 0 ? g->n_captions : 1), sizeof(char *));
    if (!g->captions) {
        png_text_free(&t);
        return err_set(e, "%s: out of memory", path);
    }
    for (int i = 0; i < t.n_text; i++)
        if (sscanf(t.keys[i], "caption %d%n", &idx, &used) == 1 && !t.keys[i][used] && idx >= 0 &&
            idx < g->n_captions) {
            free(g->captions[idx]);   // a repeated key: the last one wins
            g->captions[idx] = t.texts[i];
            t.texts[i] = NULL;
        }
    png_text_free(&t);
    return 0;
}
