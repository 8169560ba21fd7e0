// PNG: a grid written from uint8 NHWC and from float NCHW reads back (libpng) with the right size,
// pixels, white separators and caption tEXt chunks, and its JSON sidecar holds the captions.
#include <cjson/cJSON.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/png.h"
#include "testutil.h"

static char dir[] = "/tmp/ratlip_png_XXXXXX";

typedef struct {
    int w, h;
    uint8_t *rgb;
    int n_text;
    char keys[16][80];
    char texts[16][256];
} Png;

static int read_png(const char *path, Png *out) {
    memset(out, 0, sizeof(*out));
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_read_struct(&p, &info, NULL);
        fclose(fp);
        return -1;
    }
    png_init_io(p, fp);
    png_read_info(p, info);
    out->w = (int)png_get_image_width(p, info);
    out->h = (int)png_get_image_height(p, info);
    int ok = png_get_color_type(p, info) == PNG_COLOR_TYPE_RGB && png_get_bit_depth(p, info) == 8;
    out->rgb = malloc((size_t)out->w * (size_t)out->h * 3);
    for (int y = 0; y < out->h; y++) png_read_row(p, out->rgb + (size_t)y * (size_t)out->w * 3, NULL);
    png_read_end(p, info);
    png_textp tx;
    int nt = 0;
    png_get_text(p, info, &tx, &nt);
    for (int i = 0; i < nt && i < 16; i++) {
        snprintf(out->keys[i], 80, "%s", tx[i].key);
        snprintf(out->texts[i], 256, "%s", tx[i].text);
    }
    out->n_text = nt < 16 ? nt : 16;
    png_destroy_read_struct(&p, &info, NULL);
    fclose(fp);
    return ok ? 0 : -1;
}

static const char *text_of(const Png *p, const char *key) {
    for (int i = 0; i < p->n_text; i++)
        if (!strcmp(p->keys[i], key)) return p->texts[i];
    return NULL;
}

static const uint8_t *px(const Png *p, int x, int y) { return p->rgb + ((size_t)y * (size_t)p->w + (size_t)x) * 3; }

int main(void) {
    TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    Err e = {{0}};
    char path[600];
    // 5 images of 4x5 (h x w) in a 2x3 grid; pixel value encodes (image, y, x, channel)
    enum { N = 5, H = 4, W = 5, R = 2, C = 3 };
    uint8_t imgs[N * H * W * 3];
    for (int i = 0; i < N; i++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++) imgs[((i * H + y) * W + x) * 3 + c] = (uint8_t)(i * 40 + y * 8 + x + c * 100);
    const char *caps[N] = {"a large red circle on a blue background", "a small green square", "third",
                           "caption with \"quotes\"", "five"};
    snprintf(path, sizeof path, "%s/grid.png", dir);
    TU_CHECK(png_write_grid_u8(path, imgs, N, H, W, R, C, caps, &e) == 0, "write: %s", e.msg);
    Png p;
    TU_CHECK(read_png(path, &p) == 0, "read back failed");
    int gw = C * W + (C - 1) * PNG_GRID_SEP, gh = R * H + (R - 1) * PNG_GRID_SEP;
    TU_CHECK(p.w == gw && p.h == gh, "size %dx%d, expected %dx%d", p.w, p.h, gw, gh);
    int bad = 0;
    for (int i = 0; i < N; i++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++) {
                    int gx = (i % C) * (W + PNG_GRID_SEP) + x, gy = (i / C) * (H + PNG_GRID_SEP) + y;
                    bad += px(&p, gx, gy)[c] != imgs[((i * H + y) * W + x) * 3 + c];
                }
    TU_CHECK(bad == 0, "%d pixel values differ", bad);
    TU_CHECK(px(&p, W, 0)[0] == 255 && px(&p, W + 1, H)[1] == 255 && px(&p, 0, H)[2] == 255, "separator not white");
    TU_CHECK(px(&p, gw - 1, gh - 1)[0] == 255, "empty cell not white");
    for (int i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof k, "caption %d", i);
        const char *t = text_of(&p, k);
        TU_CHECK(t && !strcmp(t, caps[i]), "tEXt %s = %s", k, t ? t : "(missing)");
    }
    free(p.rgb);
    // the JSON beside it
    snprintf(path, sizeof path, "%s/grid.json", dir);
    FILE *f = fopen(path, "rb");
    TU_CHECK(f != NULL, "no grid.json");
    if (f) {
        char buf[4096] = {0};
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = 0;
        fclose(f);
        cJSON *j = cJSON_Parse(buf);
        cJSON *cj = cJSON_GetObjectItemCaseSensitive(j, "captions");
        TU_CHECK(cJSON_GetArraySize(cj) == N, "json captions count");
        for (int i = 0; i < N; i++) {
            cJSON *s = cJSON_GetArrayItem(cj, i);
            TU_CHECK(cJSON_IsString(s) && !strcmp(s->valuestring, caps[i]), "json caption %d", i);
        }
        TU_CHECK(cJSON_GetObjectItemCaseSensitive(j, "rows")->valueint == R &&
                     cJSON_GetObjectItemCaseSensitive(j, "cols")->valueint == C,
                 "json rows/cols");
        cJSON_Delete(j);
    }
    snprintf(path, sizeof path, "%s/grid.png.tmp", dir);
    TU_CHECK(access(path, F_OK) != 0, "temp file left behind");

    // float NCHW [-1,1]: -1 -> 0, 1 -> 255, 0 -> 128 (127.5 rounds to even), out of range clamps
    float fl[2 * 3 * 1 * 2] = {-1, 1, 0, 2, -3, 0.5f, /* image 1 */ 1, 1, 1, 1, 1, 1};
    snprintf(path, sizeof path, "%s/f.png", dir);
    TU_CHECK(png_write_grid_real(path, fl, 2, 1, 2, 1, 2, NULL, &e) == 0, "write f32: %s", e.msg);
    TU_CHECK(read_png(path, &p) == 0 && p.w == 2 * 2 + PNG_GRID_SEP && p.h == 1, "f32 read back");
    TU_CHECK(px(&p, 0, 0)[0] == 0 && px(&p, 1, 0)[0] == 255 && px(&p, 0, 0)[1] == 128 && px(&p, 1, 0)[1] == 255 &&
                 px(&p, 0, 0)[2] == 0 && px(&p, 1, 0)[2] == 191 && px(&p, 4, 0)[0] == 255,
             "f32 pixel mapping");
    TU_CHECK(p.n_text == 0, "no captions, no text");
    free(p.rgb);

    // single image with a text chunk; and bad input
    uint8_t one[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    snprintf(path, sizeof path, "%s/one.png", dir);
    const char *k1[] = {"Software"}, *t1[] = {"ratlip"};
    TU_CHECK(png_write_rgb(path, one, 2, 2, 1, k1, t1, &e) == 0, "write rgb: %s", e.msg);
    TU_CHECK(read_png(path, &p) == 0 && !memcmp(p.rgb, one, sizeof one) && text_of(&p, "Software") &&
                 !strcmp(text_of(&p, "Software"), "ratlip"),
             "rgb round trip");
    free(p.rgb);
    TU_CHECK(png_write_grid_u8(path, imgs, 7, H, W, R, C, caps, &e) != 0, "7 images in a 2x3 grid accepted");
    TU_CHECK(png_write_rgb("/nonexistent/dir/x.png", one, 2, 2, 0, NULL, NULL, &e) != 0 && strstr(e.msg, "/nonexistent"),
             "unwritable path: %s", e.msg);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return tu_done("test_png");
}
