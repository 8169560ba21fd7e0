// gridindex: DIR/index.html, a page showing every sample grid of a directory with its captions as
// text beside each row, so nobody needs a PNG text-chunk reader to know what a row was asked to show.
// Written after every grid (trainer samples and evaluations in <run>/samples, `ratlip sample`'s out
// dir) and rebuilt from the PNGs each time: the PNGs are the record, the page is a view of them.
//
// What it lists: every *.png in DIR, by name, newest (the last name: step-/eval-<step>.png sort by
// step) first, except `ratlip sample`'s per-sample files sample-*.png, whose images and captions its
// grid.png holds too. Captions and geometry come from each PNG's own text chunks
// (png_read_grid_info): one table row per grid row, the row's captions beside it (once when every
// image of the row has the same one, else numbered in reading order). A PNG without captions
// appears with "(no captions stored)"; one that cannot be read appears with the reason.
#pragma once
#include "core/err.h"

// Rewrites DIR/index.html (via index.html.tmp, fsync, rename). Returns 0 when every PNG was read;
// 1 when the page was written but some PNGs could not be read (they are listed there as unreadable;
// e says how many and names the first with the reason); -1 when the page could not be written (e
// says why; an older index.html is left as it was). Callers warn on non-zero and go on: a missing
// or stale index never fails the work that made the grids.
int gridindex_update(const char *dir, Err *e);
