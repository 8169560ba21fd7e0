// io/gridindex + png_read_grid_info: grids written by png_write_grid_* read back with their geometry
// and captions (UTF-8 intact, through iTXt); DIR/index.html lists every grid newest first with each
// caption HTML-escaped beside the right row of the right image, says "(no captions stored)" for a grid
// without captions, skips `ratlip sample`'s per-sample files, lists a truncated or non-PNG file as
// unreadable (return 1, the message names it) without losing the others, replaces the page by rename
// and leaves no index.html.tmp; a missing directory is an error naming it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/fs.h"
#include "io/gridindex.h"
#include "io/png.h"
#include "testutil.h"

static char dir[] = "/tmp/ratlip_gridindex_XXXXXX";
static char page[1 << 16];

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static void read_page(void) {
    char p[600];
    path_of(p, sizeof p, "index.html");
    Err e = {{0}};
    size_t n = 0;
    char *s = fs_read_all(p, sizeof page - 1, &n, &e);
    TU_CHECK(s != NULL, "index.html: %s", e.msg);
    page[0] = 0;
    if (s) memcpy(page, s, n + 1);
    free(s);
}

// The part of the page between <section id="NAME"> and its </section> (NULL when absent); *len its length.
static const char *section(const char *name, size_t *len) {
    char open[200];
    snprintf(open, sizeof open, "<section id=\"%s\">", name);
    const char *a = strstr(page, open), *b = a ? strstr(a, "</section>") : NULL;
    *len = b ? (size_t)(b - a) : 0;
    return b ? a : NULL;
}

static const char *find_in(const char *from, const char *end, const char *needle) {
    const char *p = strstr(from, needle);
    return p && p < end ? p : NULL;
}

// Checks that the escaped captions want[0..n) appear in this order inside NAME's section, each after
// the <img> of NAME's row rows[i] (1-based) and before the next row's <img>.
static void check_beside(const char *name, int n, const char *const *want, const int *rows) {
    size_t len;
    const char *sec = section(name, &len);
    TU_CHECK(sec != NULL, "no section for %s", name);
    if (!sec) return;
    const char *end = sec + len, *at = sec;
    for (int i = 0; i < n; i++) {
        const char *hit = find_in(at, end, want[i]);
        TU_CHECK(hit != NULL, "%s: caption '%s' missing or out of order", name, want[i]);
        if (!hit) continue;
        // the last <img> before the caption: the row it is beside
        const char *img = NULL;
        for (const char *q = sec; (q = find_in(q, hit, "<img src=\"")) != NULL; q++) img = q;
        char expect[300];
        snprintf(expect, sizeof expect, "<img src=\"%s\"", name);
        TU_CHECK(img && !strncmp(img, expect, strlen(expect)), "%s: caption '%s' not beside %s", name, want[i], name);
        snprintf(expect, sizeof expect, "alt=\"row %d of %s\"", rows[i], name);
        const char *alt = img ? strstr(img, "alt=\"") : NULL;
        TU_CHECK(alt && !strncmp(alt, expect, strlen(expect)), "%s: caption '%s' not beside row %d", name, want[i],
                 rows[i]);
        at = hit + strlen(want[i]);
    }
}

static int count(const char *hay, size_t len, const char *needle) {
    int c = 0;
    for (const char *p = hay; (p = find_in(p, hay + len, needle)) != NULL; p++) c++;
    return c;
}

int main(void) {
    TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    Err e = {{0}};
    char p[600];
    enum { H = 6, W = 8 };
    uint8_t px[6 * H * W * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 7);

    // A: the trainer's kind, every image its own caption (2x2); escaping, UTF-8, a newline
    const char *caps_a[4] = {"a <b>bold</b> & \"quoted\" 'single'",   // then: naïve café — 日本
                             "na\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac",
                             "plain three", "four\nlines"};
    path_of(p, sizeof p, "step-00000010.png");
    TU_CHECK(png_write_grid_u8(p, px, 4, H, W, 2, 2, caps_a, &e) == 0, "write A: %s", e.msg);
    PngGridInfo g;
    TU_CHECK(png_read_grid_info(p, &g, &e) == 0, "read A: %s", e.msg);
    TU_CHECK(g.rows == 2 && g.cols == 2 && g.n == 4 && g.cell_h == H && g.cell_w == W && g.sep == PNG_GRID_SEP &&
                 g.width == 2 * W + PNG_GRID_SEP && g.height == 2 * H + PNG_GRID_SEP,
             "A geometry %dx%d n %d cell %dx%d sep %d", g.rows, g.cols, g.n, g.cell_h, g.cell_w, g.sep);
    for (int i = 0; i < 4 && g.n_captions == 4; i++)
        TU_CHECK(g.captions[i] && !strcmp(g.captions[i], caps_a[i]), "A caption %d read back as '%s'", i,
                 g.captions[i] ? g.captions[i] : "(null)");
    TU_CHECK(g.n_captions == 4, "A: %d captions", g.n_captions);
    png_grid_info_free(&g);

    // B: `ratlip sample`'s kind, a row per caption (2x3, 5 images: the last cell empty)
    const char *caps_b[5] = {"red circle", "red circle", "red circle", "blue < square", "blue < square"};
    path_of(p, sizeof p, "step-00000020.png");
    TU_CHECK(png_write_grid_u8(p, px, 5, H, W, 2, 3, caps_b, &e) == 0, "write B: %s", e.msg);
    // C: no captions
    path_of(p, sizeof p, "eval-00000020.png");
    TU_CHECK(png_write_grid_u8(p, px, 2, H, W, 1, 2, NULL, &e) == 0, "write C: %s", e.msg);
    TU_CHECK(png_read_grid_info(p, &g, &e) == 0 && g.n_captions == 0 && g.rows == 0, "C: captions or geometry");
    png_grid_info_free(&g);
    // D: captions without the geometry chunk (as grids were written before it): reading order only.
    // Bytes that are not UTF-8 and control characters come back as '?'.
    const char *keys_d[2] = {"caption 0", "caption 1"}, *caps_d[2] = {"bad \xff byte", "tab\there"};
    path_of(p, sizeof p, "old-00000001.png");
    TU_CHECK(png_write_rgb(p, px, W, H, 2, keys_d, caps_d, &e) == 0, "write D: %s", e.msg);
    TU_CHECK(png_read_grid_info(p, &g, &e) == 0 && g.rows == 0 && g.n_captions == 2 && g.captions[0] &&
                 !strcmp(g.captions[0], "bad ? byte") && g.captions[1] && !strcmp(g.captions[1], "tab?here"),
             "D read back");
    png_grid_info_free(&g);
    // a per-sample file of `ratlip sample`: not listed (grid.png holds it)
    const char *caps_s[1] = {"SKIPME"};
    path_of(p, sizeof p, "sample-000-00.png");
    TU_CHECK(png_write_grid_u8(p, px, 1, H, W, 1, 1, caps_s, &e) == 0, "write sample: %s", e.msg);
    // a truncated copy of A, and a file that is no PNG at all
    path_of(p, sizeof p, "step-00000010.png");
    size_t n_a = 0;
    char *bytes = fs_read_all(p, 0, &n_a, &e);
    TU_CHECK(bytes != NULL, "read A bytes: %s", e.msg);
    path_of(p, sizeof p, "broken.png");
    TU_CHECK(bytes && fs_write_atomic(p, bytes, n_a - 20, &e) == 0, "write broken: %s", e.msg);
    TU_CHECK(png_read_grid_info(p, &g, &e) != 0 && strstr(e.msg, "broken.png") && strstr(e.msg, "truncated"),
             "truncated PNG: '%s'", e.msg);
    free(bytes);
    path_of(p, sizeof p, "garbage.png");
    TU_CHECK(fs_write_atomic(p, "not a png\n", 10, &e) == 0, "write garbage: %s", e.msg);
    // a temporary a killed writer left: replaced, not left behind
    path_of(p, sizeof p, "index.html.tmp");
    TU_CHECK(fs_write_atomic(p, "stale", 5, &e) == 0, "write stale tmp");

    Err ie = {{0}};
    int rc = gridindex_update(dir, &ie);
    TU_CHECK(rc == 1, "update with 2 bad PNGs returned %d (%s)", rc, ie.msg);
    TU_CHECK(strstr(ie.msg, "2 of 6 PNGs unreadable") && strstr(ie.msg, "garbage.png") && strstr(ie.msg, "not a PNG"),
             "message: '%s'", ie.msg);
    path_of(p, sizeof p, "index.html.tmp");
    TU_CHECK(access(p, F_OK) != 0, "index.html.tmp left behind");
    read_page();
    printf("---- index.html (%zu bytes) ----\n%s----\n", strlen(page), page);

    // newest (last name) first, the per-sample file nowhere
    const char *order[] = {"step-00000020.png", "step-00000010.png", "old-00000001.png", "garbage.png",
                           "eval-00000020.png", "broken.png"};
    const char *prev = page;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        size_t len;
        const char *s = section(order[i], &len);
        TU_CHECK(s && s > prev, "section %s missing or out of order", order[i]);
        if (s) prev = s;
    }
    TU_CHECK(!strstr(page, "SKIPME") && !strstr(page, "sample-000-00"), "a per-sample PNG was listed");
    // A: escaped, each beside its own row, in reading order; nothing unescaped anywhere
    const char *want_a[4] = {"a &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; &#39;single&#39;", caps_a[1],
                             "plain three", "four\nlines"};
    const int rows_a[4] = {1, 1, 2, 2};
    check_beside("step-00000010.png", 4, want_a, rows_a);
    TU_CHECK(!strstr(page, "<b>bold") && !strstr(page, "\"quoted\"") && !strstr(page, "blue < square"),
             "a caption went into the page unescaped");
    // B: one caption per row, said once each
    const char *want_b[2] = {"red circle", "blue &lt; square"};
    const int rows_b[2] = {1, 2};
    check_beside("step-00000020.png", 2, want_b, rows_b);
    size_t len_b;
    const char *sec_b = section("step-00000020.png", &len_b);
    TU_CHECK(sec_b && count(sec_b, len_b, "red circle") == 1 && count(sec_b, len_b, "blue &lt; square") == 1,
             "B: a row's shared caption not said exactly once");
    // C, D, the bad ones
    size_t len;
    const char *s = section("eval-00000020.png", &len);
    TU_CHECK(s && find_in(s, s + len, "(no captions stored)") && find_in(s, s + len, "<img src=\"eval-00000020.png\""),
             "C: no '(no captions stored)' or no image");
    s = section("old-00000001.png", &len);
    TU_CHECK(s && find_in(s, s + len, "geometry not stored") && find_in(s, s + len, "bad ? byte") &&
                 find_in(s, s + len, "tab?here"),
             "D: captions in reading order");
    s = section("broken.png", &len);
    TU_CHECK(s && find_in(s, s + len, "unreadable: ") && find_in(s, s + len, "truncated"), "broken.png not noted");
    s = section("garbage.png", &len);
    TU_CHECK(s && find_in(s, s + len, "unreadable: ") && find_in(s, s + len, "not a PNG"), "garbage.png not noted");

    // without the bad files: 0, and the page is replaced by a rename (a new inode), not rewritten in place
    struct stat before, after;
    path_of(p, sizeof p, "index.html");
    TU_CHECK(stat(p, &before) == 0, "stat index.html");
    path_of(p, sizeof p, "broken.png");
    unlink(p);
    path_of(p, sizeof p, "garbage.png");
    unlink(p);
    memset(&ie, 0, sizeof ie);
    TU_CHECK(gridindex_update(dir, &ie) == 0 && !ie.msg[0], "clean update: '%s'", ie.msg);
    path_of(p, sizeof p, "index.html");
    TU_CHECK(stat(p, &after) == 0 && after.st_ino != before.st_ino, "index.html not replaced by rename");
    read_page();
    TU_CHECK(!strstr(page, "broken.png") && strstr(page, "4 grids in"), "removed PNGs still listed");

    // a write that fails (the temporary's name taken by a directory): -1 naming it, the old page untouched
    path_of(p, sizeof p, "index.html.tmp");
    TU_CHECK(mkdir(p, 0755) == 0, "mkdir %s", p);
    path_of(p, sizeof p, "step-00000030.png");
    TU_CHECK(png_write_grid_u8(p, px, 1, H, W, 1, 1, caps_s, &e) == 0, "write step 30: %s", e.msg);
    TU_CHECK(gridindex_update(dir, &ie) == -1 && strstr(ie.msg, "index.html not updated") &&
                 strstr(ie.msg, "index.html.tmp"),
             "failed write: '%s'", ie.msg);
    read_page();
    TU_CHECK(strstr(page, "4 grids in") && !strstr(page, "step-00000030"), "a failed write changed index.html");
    path_of(p, sizeof p, "index.html.tmp");
    rmdir(p);

    // a directory that is not there: an error naming it
    TU_CHECK(gridindex_update("/nonexistent/ratlip-samples", &ie) == -1 &&
                 strstr(ie.msg, "/nonexistent/ratlip-samples") && strstr(ie.msg, "not updated"),
             "missing dir: '%s'", ie.msg);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return tu_done("test_gridindex");
}
