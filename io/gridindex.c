// gridindex: DIR/index.html from the grid PNGs of DIR. See gridindex.h.
#include "io/gridindex.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/fs.h"
#include "io/png.h"

// ---------------------------------------------------------------- which files

// A grid of this directory: *.png, not hidden, not a per-sample file of `ratlip sample` (its grid.png
// shows the same image with the same caption, and thousands of one-image entries would bury the grids).
static int is_grid_name(const char *name) {
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".png") && name[0] != '.' && strncmp(name, "sample-", 7) != 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// The grid file names of dir, sorted by name (strcmp: the same order in every locale). *n: count.
static char **list_grids(const char *dir, int *n, Err *e) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        err_set(e, "%s: cannot list the directory: %s", dir, strerror(errno));
        return NULL;
    }
    int cap = 16;
    char **names = malloc((size_t)cap * sizeof(char *));
    struct dirent *ent = NULL;
    while (names && (ent = readdir(d)) != NULL) {
        if (!is_grid_name(ent->d_name)) continue;
        char path[4400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (*n == cap) {
            char **grown = realloc(names, (size_t)(cap *= 2) * sizeof(char *));
            if (!grown) break;
            names = grown;
        }
        if (!(names[*n] = strdup(ent->d_name))) break;
        (*n)++;
    }
    closedir(d);
    if (!names || ent) {   // stopped early: out of memory
        for (int i = 0; names && i < *n; i++) free(names[i]);
        free(names);
        *n = 0;
        err_set(e, "%s: out of memory listing the directory", dir);
        return NULL;
    }
    qsort(names, (size_t)*n, sizeof(char *), by_name);
    return names;
}

// ---------------------------------------------------------------- HTML

// Text for an element or an attribute value: the five characters HTML gives meaning to, escaped.
static void put_text(FILE *f, const char *s) {
    for (; *s; s++) switch (*s) {
            case '&': fputs("&amp;", f); break;
            case '<': fputs("&lt;", f); break;
            case '>': fputs("&gt;", f); break;
            case '"': fputs("&quot;", f); break;
            case '\'': fputs("&#39;", f); break;
            default: fputc(*s, f);
        }
}

// A file name as a relative URL: bytes outside [A-Za-z0-9._-] percent-encoded, so '#', '?', '%', spaces
// and quotes cannot change what it points to (and it needs no HTML escaping either).
static void put_url(FILE *f, const char *s) {
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        int plain = (*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') || (*u >= '0' && *u <= '9') || *u == '.' ||
                    *u == '_' || *u == '-';
        if (plain) fputc(*u, f);
        else fprintf(f, "%%%02X", *u);
    }
}

static void put_caption(FILE *f, const char *cap) {
    if (!cap) fputs("<span class=\"note\">(no caption stored)</span>", f);
    else if (!cap[0]) fputs("<span class=\"note\">(empty caption)</span>", f);
    else put_text(f, cap);
}

// Cells are drawn at an integer scale so that a row is at least ~128 px tall: 64-px samples are too
// small to judge at 1x, and a row needs room for its captions beside it. Pixelated, not smoothed.
static int display_scale(int cell_h) {
    int s = 128 / cell_h;
    return s < 1 ? 1 : s > 4 ? 4 : s;
}

// One table row per grid row: that row of the image (the <img> of the whole grid, shifted up and
// clipped by its box: the browser loads the file once) and the row's captions.
static void put_rows(FILE *f, const char *name, const PngGridInfo *g) {
    int s = display_scale(g->cell_h);
    fprintf(f, "<table class=\"grid\">\n");
    for (int r = 0; r < g->rows; r++) {
        int first = r * g->cols, end = first + g->cols < g->n ? first + g->cols : g->n;
        fprintf(f, "<tr><td class=\"cells\"><div style=\"width:%dpx;height:%dpx\"><img src=\"", g->width * s,
                g->cell_h * s);
        put_url(f, name);
        fprintf(f, "\" width=\"%d\" height=\"%d\" style=\"margin-top:%dpx\" alt=\"row %d of ", g->width * s,
                g->height * s, -r * (g->cell_h + g->sep) * s, r + 1);
        put_text(f, name);
        fprintf(f, "\"></div></td>\n<td class=\"caps\">");
        int same = end > first;   // one caption for the whole row (`ratlip sample`): said once
        for (int i = first + 1; i < end && same; i++)
            same = g->captions[i] && g->captions[first] && !strcmp(g->captions[i], g->captions[first]);
        if (end <= first) fputs("<span class=\"note\">(empty row)</span>", f);
        else if (same && end - first > 1) {
            fprintf(f, "<p class=\"cap\">");
            put_caption(f, g->captions[first]);
            fprintf(f, "</p><p class=\"note\">all %d images of row %d</p>", end - first, r + 1);
        } else {
            fprintf(f, "<ol start=\"%d\">", first + 1);
            for (int i = first; i < end; i++) {
                fprintf(f, "<li class=\"cap\">");
                put_caption(f, g->captions[i]);
                fprintf(f, "</li>");
            }
            fprintf(f, "</ol>");
        }
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
}

static void put_whole_image(FILE *f, const char *name) {
    fprintf(f, "<p><img src=\"");
    put_url(f, name);
    fprintf(f, "\" alt=\"");
    put_text(f, name);
    fprintf(f, "\"></p>\n");
}

// One grid: heading, then its rows with captions, or the image with a note saying what is missing.
static void put_grid(FILE *f, const char *name, const PngGridInfo *g, const char *why_unreadable) {
    fprintf(f, "<section id=\"");
    put_url(f, name);
    fprintf(f, "\">\n<h2><a href=\"");
    put_url(f, name);
    fprintf(f, "\">");
    put_text(f, name);
    fprintf(f, "</a></h2>\n");
    int any_caption = 0;
    for (int i = 0; g && i < g->n_captions; i++) any_caption |= g->captions[i] != NULL;
    if (why_unreadable) {
        fprintf(f, "<p class=\"note\">unreadable: ");
        put_text(f, why_unreadable);
        fprintf(f, "</p>\n");
        put_whole_image(f, name);
    } else if (!any_caption) {
        fprintf(f, "<p class=\"note\">(no captions stored)</p>\n");
        put_whole_image(f, name);
    } else if (g->rows) {
        fprintf(f, "<p class=\"geom\">%d x %d grid, %d image%s of %d x %d</p>\n", g->rows, g->cols, g->n,
                g->n == 1 ? "" : "s", g->cell_w, g->cell_h);
        put_rows(f, name, g);
    } else {   // captions but no geometry (a PNG from before the "grid" chunk): reading order is all we know
        fprintf(f, "<p class=\"note\">(grid geometry not stored: captions in reading order)</p>\n");
        put_whole_image(f, name);
        fprintf(f, "<ol>");
        for (int i = 0; i < g->n_captions; i++) {
            fprintf(f, "<li class=\"cap\">");
            put_caption(f, g->captions[i]);
            fprintf(f, "</li>");
        }
        fprintf(f, "</ol>\n");
    }
    fprintf(f, "</section>\n");
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<style>\n"
    "body { font-family: sans-serif; margin: 1em 2em; }\n"
    "table.grid { border-collapse: collapse; }\n"
    "td { vertical-align: top; padding: 0 0 4px 0; }\n"
    "td.cells div { overflow: hidden; }\n"
    "td.cells img { display: block; image-rendering: pixelated; }\n"
    "td.caps { padding-left: 1em; max-width: 40em; }\n"
    "td.caps p, td.caps ol { margin: 0; }\n"
    ".cap { white-space: pre-wrap; }\n"
    ".note, .geom { color: #666; font-size: 90%; }\n"
    "section { margin-bottom: 2em; }\n"
    "</style>\n";

// ---------------------------------------------------------------- the entry point

static int write_index(const char *dir, const char *path, Err *e) {
    int n = 0;
    char **names = list_grids(dir, &n, e);
    if (!names) return -1;
    // the page is built in memory and written whole (fs_write_atomic): a reader never sees half of it
    char *page = NULL;
    size_t page_len = 0;
    FILE *f = open_memstream(&page, &page_len);
    if (!f) {
        for (int i = 0; i < n; i++) free(names[i]);
        free(names);
        return err_set(e, "%s: out of memory", path);
    }
    fputs(page_head, f);
    fprintf(f, "<title>Sample grids: ");
    put_text(f, dir);
    fprintf(f, "</title>\n</head>\n<body>\n<h1>Sample grids</h1>\n<p>%d grid%s in ", n, n == 1 ? "" : "s");
    put_text(f, dir);
    fprintf(f, ", newest (last by name) first, each row of a grid with its captions as text. Rewritten by ratlip "
               "after every grid it writes.</p>\n<ul class=\"toc\">\n");
    for (int k = n - 1; k >= 0; k--) {
        fprintf(f, "<li><a href=\"#");
        put_url(f, names[k]);
        fprintf(f, "\">");
        put_text(f, names[k]);
        fprintf(f, "</a></li>\n");
    }
    fprintf(f, "</ul>\n");
    int n_bad = 0;
    Err first_bad = {{0}};
    for (int k = n - 1; k >= 0; k--) {
        char png[4400];
        snprintf(png, sizeof png, "%s/%s", dir, names[k]);
        PngGridInfo g;
        Err ge = {{0}};
        if (png_read_grid_info(png, &g, &ge)) {
            // one bad file does not cost the page its other grids: listed with the reason
            if (!n_bad++) first_bad = ge;
            put_grid(f, names[k], NULL, ge.msg);
        } else {
            put_grid(f, names[k], &g, NULL);
            png_grid_info_free(&g);
        }
    }
    fprintf(f, "</body>\n</html>\n");
    int bad_stream = ferror(f);
    if (fclose(f) != 0) bad_stream = 1;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    int rc = bad_stream ? err_set(e, "%s: out of memory building the page", path)
                        : fs_write_atomic(path, page, page_len, e);
    free(page);
    if (rc) return -1;
    if (n_bad) {
        err_set(e, "%s: %d of %d PNG%s unreadable (listed as such): %s", path, n_bad, n, n == 1 ? "" : "s",
                first_bad.msg);
        return 1;
    }
    return 0;
}

int gridindex_update(const char *dir, Err *e) {
    char path[4200];
    if (snprintf(path, sizeof path, "%s/index.html", dir) >= (int)sizeof path)
        return err_set(e, "%s/index.html not updated: path too long", dir);
    Err we = {{0}};
    int rc = write_index(dir, path, &we);
    if (rc < 0) return err_set(e, "%s not updated: %s", path, we.msg);   // the callers' one warning line says it all
    if (rc > 0) *e = we;
    return rc;
}
