// dataset: the on-disk dataset, a directory of HDF5 shards `<split>-XXXXX-of-YYYYY.h5`
// (split = train | test), written by ds_writer_* and read at random by ds_open / ds_read_*.
//
// Each shard holds N samples:
//   /images      uint8   [N,S,S,3]  chunked one image per chunk (one H5Dread per image)
//   /text_emb    float32 [N,K,D]    row k of sample i embeds caption k; rows >= text_count are zeros
//   /text_count  int32   [N]        captions present, 1..K
//   /captions    variable-length UTF-8 strings [N,K] ("" where absent)
//   /labels      int32   [N,L]      optional (the synthetic set: shape, colour, background, size)
// Root attributes: format_version, image_size (S), embed_dim (D), n_captions (K) as int32;
// image_size is per split: every shard of a split agrees, and the train split may be stored larger than the
// test split (T >= S, e.g. 304 against 256: `data import --train-size`, the room for the reader's random
// SxS crop, io/reader.h); the test split is at the model's side.
// text_encoder, split as strings; optional label_names, a string naming the /labels columns in order,
// comma separated ("shape,colour,background,size" in the synthetic set): written only with /labels, as
// many names as columns. Shards without it (written before it existed) read as before, their columns named
// label0..label<L-1> (ds_label_name). Plain HDF5: h5dump and h5py read it without ratlip.
// Checksums: /images, /text_emb (one sample per chunk), /text_count and /labels (one chunk each) carry
// HDF5's Fletcher-32 filter, so a damaged byte fails the read of its chunk, an error naming the shard and
// the sample. /captions is not covered (its strings live in the heap). Shards written before 2026-12 have
// no filter (and /text_emb contiguous): they read as before, unchecked; `data verify` says so.
// Writes go to `<name>.tmp`, which is closed, fsynced and renamed (then the directory is fsynced),
// so a killed writer leaves no shard that looks complete.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/real.h"

#define DS_FORMAT_VERSION 1
#define DS_MAX_LABELS 16

typedef struct {
    char split[16];          // "train" | "test"
    int image_size;          // S
    int n_captions;          // K
    int embed_dim;           // D
    char text_encoder[64];   // "bow", or the name of the precomputed embedding's encoder
    int label_dim;           // L; 0 = no /labels
    char label_names[512];   // "name0,name1,..." (L names), or "" (attribute absent)
} DsInfo;

// Name of /labels column j into out: the j-th of info->label_names, or "label<j>" when there are none.
void ds_label_name(const DsInfo *info, int j, char *out, size_t n);

// "<dir>/<split>-<index:05d>-of-<count:05d>.h5"
void ds_shard_path(char *out, size_t n, const char *dir, const char *split, int index, int count);

// ---- writer: one shard of n samples ----
typedef struct DsWriter DsWriter;
DsWriter *ds_writer_open(const char *path, const DsInfo *info, long n, Err *e);
// Sample i of the shard: image [S,S,3] uint8 (HWC), emb [count,D] (rows count..K-1 are written as
// zeros), count captions (1..K; each valid UTF-8, as /captions declares), labels [L] (ignored when L = 0).
int ds_writer_put(DsWriter *w, long i, const uint8_t *image, const float *emb, int count,
                  const char *const *captions, const int32_t *labels, Err *e);
// Writes the buffered datasets, closes, fsyncs and renames into place. Frees w (also on error).
int ds_writer_close(DsWriter *w, Err *e);
// Drops the shard: closes and removes the temporary file. Frees w.
void ds_writer_abort(DsWriter *w);

// ---- reader: every shard of one split, checked as it is opened ----
typedef struct Dataset Dataset;
// Opens all `<split>-*-of-*.h5` in dir and checks them: attributes present and equal across shards,
// no shard missing, dtypes and shapes, text_count in 1..K, no NaN/Inf in /text_emb (all of it is read:
// its checksums, /text_count's and /labels' too). Errors name the file and the dataset or attribute.
int ds_open(Dataset **out, const char *dir, const char *split, Err *e);
void ds_close(Dataset *ds);
const DsInfo *ds_info(const Dataset *ds);
long ds_size(const Dataset *ds);                 // samples over all shards
int ds_num_shards(const Dataset *ds);
int ds_num_checksummed(const Dataset *ds);      // shards whose /images and /text_emb carry Fletcher-32
int ds_text_count(const Dataset *ds, long i);    // captions of sample i (held in memory)
const int32_t *ds_labels(const Dataset *ds, long i);   // [L] or NULL
// Sample i (0..size-1, shards concatenated in index order). One H5Dread each.
int ds_read_image(Dataset *ds, long i, uint8_t *out, Err *e);          // out [S,S,3]
// The centre SxS window of sample i (S <= the stored side T; offset (T-S)/2 rounded down in x and y):
// out [S,S,3]. S = T: ds_read_image. For the consumers of a train split stored larger than the model's
// images (upstream's random-crop augmentation) that want the deterministic view.
int ds_read_centre(Dataset *ds, long i, int S, uint8_t *out, Err *e);
int ds_read_emb(Dataset *ds, long i, int k, real *out, Err *e);         // out [D]; fails on NaN/Inf
int ds_read_caption(Dataset *ds, long i, int k, char *out, size_t n, Err *e);
// Reads every image once (the `data verify` check that images are readable and pass their checksums).
int ds_check_images(Dataset *ds, Err *e);
// Where reading is: from now on ds_open and ds_read_image write "<shard path>" / "<shard path>, sample j"
// into buf (NUL-terminated, size n; NULL stops it). For a crash report from outside the process:
// libhdf5 1.10 crashes on some damaged shards instead of failing (`ratlip data verify` runs its check in a
// child and names the shard from a shared page).
void ds_trace_to(char *buf, size_t n);
// Length of the longest valid UTF-8 prefix of s[0..n): n when all of it is valid. Valid = RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF.
size_t ds_utf8_prefix(const char *s, size_t n);
// Does dir hold any shard of split? (0/1; -1 with e set when dir can't be listed)
int ds_has_split(const char *dir, const char *split, Err *e);
// Parses "<split>-XXXXX-of-YYYYY.h5" (ds_shard_path's names); 1 with index and count set on a match.
int ds_parse_shard_name(const char *name, const char *split, int *index, int *count);
// The train split may be stored larger than the test split (room for the reader's random crop), never
// smaller: -1 with e naming dir and both sides otherwise.
int ds_check_sides(const char *dir, const DsInfo *train, const DsInfo *test, Err *e);
// A model of image side image_size (config key size_key) is evaluated against the test split: its images must
// be that size, and its caption embeddings embed_dim wide (key dim_key). -1 with e naming dir, key and both.
int ds_check_test_split(const char *dir, const DsInfo *test, int image_size, const char *size_key, int embed_dim,
                        const char *dim_key, Err *e);
// The caption embeddings of a split must be embed_dim wide (config key dim_key): -1 with e naming both otherwise.
int ds_check_embed_dim(const char *dir, const DsInfo *info, int embed_dim, const char *dim_key, Err *e);
