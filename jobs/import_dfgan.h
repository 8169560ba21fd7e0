// import_dfgan: the dataset layout of DF-GAN/AttnGAN/GALIP/RATLIP (`ratlip data import --layout dfgan`),
// resolved into a list of (image, caption file, split, class, CUB box) that jobs/cmd_data.c imports with
// the same caption reader, embedding and shard writer as its flat folder import. Kept apart so the key
// lists, the CUB bounding-box join and the crop arithmetic can be read and tested on their own.
//
//   DIR/train/filenames.pickle, DIR/test/filenames.pickle   keys (io/pylist.h), or text lists given
//                                                           with --train-list / --test-list
//   DIR/text/<key>.txt                                      captions, one per non-blank line
//   birds  DIR/CUB_200_2011/images/<key>.jpg, cropped around its bounding box (images.txt joined by
//          id with bounding_boxes.txt), as AttnGAN's get_imgs does
//   flower DIR/images/<key> (the key has the extension; its caption file is <key without it>.txt)
//   faces  DIR/images/<key>.jpg
//   coco   DIR/images/train2014/jpg/<key>.jpg (train keys), DIR/images/val2014/jpg/<key>.jpg (test keys), as
//          DF-GAN/GALIP/RATLIP's lib/datasets.py read COCO-2014
// Class = the index of the key's folder ("001.Black_footed_Albatross/...") among the sorted distinct
// folders of train + test; keys without a folder (faces, flower, coco) have no class (-1), and a list
// that mixes both is refused.
#pragma once
#include <stdint.h>
#include "core/err.h"

#define DFGAN_DATASETS "birds|flower|faces|coco"

typedef struct {
    char *key;       // as listed
    char *image;     // path of its image
    char *caption;   // path of its caption file
    int split;       // 0 train, 1 test
    int label;       // class index, -1 when the key has no class folder
    int has_box;     // birds: box holds CUB's x, y, w, h from bounding_boxes.txt line box_line
    double box[4];
    int box_line;
} DfganKey;

typedef struct {
    DfganKey *keys;   // train keys (list order), then test keys (list order)
    long n, n_train;
    int n_classes;    // 0 when no key has a class folder
    char bbox_file[4200];   // birds: the bounding_boxes.txt path (for messages)
} DfganList;

// Reads the key lists of DIR for dataset (one of DFGAN_DATASETS) and checks, before anything is written:
// every image exists, no key is listed twice (in one list or in both), birds keys have a bounding box
// (malformed images.txt / bounding_boxes.txt lines are errors naming file and line). train_list /
// test_list (NULL: the pickle) replace a split's filenames.pickle. Caption files are read later (by the
// importer's caption reader). On failure -1 with e set and *out empty.
int dfgan_resolve(const char *dir, const char *dataset, const char *train_list, const char *test_list,
                  DfganList *out, Err *e);
void dfgan_free(DfganList *l);

// AttnGAN's crop of a W x H image around CUB box (x, y, w, h):
//   r = int(max(w, h) * 0.75); cx = int((2x + w) / 2); cy = int((2y + h) / 2)
//   x1 = max(0, cx - r); x2 = min(W, cx + r); y1 = max(0, cy - r); y2 = min(H, cy + r)
// box = {x1, y1, x2, y2}: rows y1..y2-1, columns x1..x2-1 (int() truncates toward zero, as C's cast).
// Returns 0, or -1 (box still filled) when the box lies more than a pixel outside the image (x < -1,
// y < -1, x + w > W + 1 or y + h > H + 1), does not overlap it, or the crop is empty: AttnGAN would crop
// what is left of the square around such a box; here the caller refuses it, naming the line.
int cub_crop_box(double x, double y, double w, double h, int W, int H, int box[4]);
// The pixels of rgb [H,W,3] inside box (from cub_crop_box) as a new [y2-y1, x2-x1, 3] buffer (NULL when
// out of memory).
uint8_t *dfgan_crop(const uint8_t *rgb, int W, const int box[4]);
