// import_flat: the generic folder layout of `ratlip data import --images DIR --captions DIR`, resolved into
// a list of (key, image, caption file, split, class) that jobs/cmd_data.c imports with the same caption
// reader, embedding and shard writer as the DF-GAN layout (jobs/import_dfgan.h). File-system work only, no
// decoding: kept apart so the listing, the recursion, the split lists and their refusals can be read and
// tested on their own.
//
//   IMAGES/<name>.png|.jpg|.jpeg                 CAPTIONS/<name>.txt                  (flat)
//   IMAGES/<class>/.../<name>.jpg                CAPTIONS/<class>/.../<name>.txt      (--recursive)
// The extensions are case-insensitive; names starting with '.' are skipped, other files ignored. Key = the
// image's path under IMAGES without its extension ("001.Albatross/001.Albatross_0"); items are in the byte
// order of the images' paths under IMAGES (the order of --text-emb's rows). --recursive: class = the index
// of the key's first folder among the sorted distinct first folders of the imported images (/labels column
// "class"); an image directly in IMAGES next to class folders is refused, as are trees deeper than
// FLAT_MAX_DEPTH folders and a folder reached twice (a symlink loop, or two links to one folder).
// Without --recursive, a folder holding only subfolders is refused with the hint to add it.
// Split: --train-list/--test-list (io/pylist.h: text, one key per line; a name ending in .pickle or .pkl is
// read as a pickled list) pick the images, the others are left out (and counted); a key without an image,
// a key listed twice and a key in both lists are refused naming the file and line (entry for a pickle).
// Without lists a permutation seeded by --seed puts round(test_fraction * n) images in the test split.
#pragma once
#include "core/err.h"

#define FLAT_MAX_DEPTH 32

typedef struct {
    char *key;       // path under IMAGES without the extension
    char *image;     // path of the image
    char *caption;   // path of its caption file (not checked here: the caption reader names it when missing)
    int split;       // 0 train, 1 test, -1 in neither list (not imported)
    int label;       // class index; -1 without class folders
} FlatItem;

typedef struct {
    FlatItem *items;     // every image found, in path order
    long n;
    long n_split[2];     // images in the train and test splits
    long n_unlisted;     // images in neither list (lists only)
    int n_classes;       // --recursive with class folders; else 0
    long n_subdirs;      // without --recursive: the subfolders of IMAGES, not read
} FlatList;

typedef struct {
    const char *images, *captions;
    int recursive;
    const char *train_list, *test_list;   // both, or neither
    double test_fraction;                  // without lists
    long seed;
} FlatOptions;

// Lists and checks o's images (see above). On failure -1 with e set (naming the file, folder or list line)
// and *out empty.
int flat_resolve(const FlatOptions *o, FlatList *out, Err *e);
void flat_free(FlatList *l);
