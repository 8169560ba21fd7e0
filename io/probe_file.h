// probe_file: the attribute probe (core/probe.h) of a labelled dataset: fitted by ratlip on the
// dataset's real train images, measured on its real test images (that accuracy is the ceiling that
// generated images' accuracies are read against), cached next to the dataset, loaded by whoever
// classifies generated images.
//
// Cache file <dataset dir>/probe-<side>.h5 (written to <path>.tmp, fsynced, renamed; plain HDF5):
//   /weights/conv1.weight float32 [32,3,3,3]   /weights/conv1.bias [32]   (PyTorch state_dict names,
//   /weights/conv2.weight         [64,32,3,3]  /weights/conv2.bias [64]    io/weights.h layout)
//   /weights/conv3.weight         [128,64,3,3] /weights/conv3.bias [128]
//   /weights/head.weight          [T,128]      /weights/head.bias  [T]     T = Σ n_classes
//   /n_classes        int32   [A]  classes per attribute (head sizes, in /labels column order)
//   /test_accuracy    float64 [A]  share of test images whose attribute a the probe gets right
//   /chance_accuracy  float64 [A]  share of the test split's most frequent class (a constant guess)
//   root attributes: probe_format (1), side, n_attrs, widths ("32,64,128": the architecture),
//     label_names ("shape,colour,background,size": A names, comma separated), test_all (float64: share
//     of test images with every attribute right), n_train, n_test, fit_seconds,
//     fingerprint (16 hex digits: the dataset it was fitted on, see probe_data_fingerprint), source (the
//     dataset directory when fitted), and the fit options: epochs, max_images, batch, seed, lr, shift.
// A cache is current when its fingerprint and fit options equal what a fit now would use; otherwise
// (dataset re-made, other options, damaged file) it is refitted, never silently reused.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include "core/err.h"
#include "core/probe.h"

#define PROBE_FILE_FORMAT 1
#define PROBE_DEFAULT_SIDE 32
#define PROBE_NAME_LEN 32

typedef struct {
    int side;          // P (PROBE_DEFAULT_SIDE)
    int epochs;        // passes over the training images
    long max_images;   // train on at most this many train images (a seeded random subset when fewer)
    int batch;         // images per Adam step
    double lr;         // Adam learning rate at the start; cosine decay to 0 over the fit
    int shift;         // augmentation: each training image moved by up to ±shift pixels (at side P) in x
                       // and y, edges repeated (0: none). Translation only: it keeps any label we know of
                       // (a flip would not: "facing left"). Synthetic set, 12 epochs: shape 0.9725 → 0.995.
    uint64_t seed;     // init, subset and order
    FILE *log;         // one progress line per epoch (NULL: quiet)
} ProbeFitOptions;
// The defaults (also the CLI's): side 32, 12 epochs, 4000 images, batch 32, lr 5e-3, shift 2, seed 0,
// log NULL. Chosen on the synthetic set (64x64, 4000 train, 2000 test; see tests/probe/test_probe.c).
void probe_fit_defaults(ProbeFitOptions *o);

typedef struct {
    int n_attrs;
    char names[PROBE_MAX_ATTRS][PROBE_NAME_LEN];   // label_names of the dataset, or label0..
    double test_accuracy[PROBE_MAX_ATTRS];         // on the real test split
    double chance_accuracy[PROBE_MAX_ATTRS];       // most frequent test class's share
    double test_all;                               // share of test images with every attribute right
    long n_train, n_test;                          // images fitted on / measured on
    double fit_seconds;                            // reading + training + testing
    char fingerprint[17];                          // of the dataset (probe_data_fingerprint)
    char source[1024];                             // the dataset directory it was fitted on
} ProbeReport;

// "<dir>/probe-<side>.h5"
void probe_default_path(char *out, size_t n, const char *dir, int side);

// The dataset's identity for the cache: FNV-1a 64 over both splits' sizes, shard counts, image side,
// label columns and names, every label, and the bytes of three images per split (first, middle, last),
// as 16 hex digits. A re-made (other seed, size, count) dataset changes it; an edit of images other than
// those three that keeps every label does not. 0, or -1 with e naming the directory or shard.
int probe_data_fingerprint(const char *data_dir, char out[17], Err *e);

// Fits a probe on data_dir's train split and measures it on its test split. n_classes of column j =
// 1 + its largest label over both splits (at least 2). p is built (caller probe_free's it); r filled.
// Errors: no /labels, a negative label, a missing split, out of memory — naming the directory.
int probe_fit(const char *data_dir, const ProbeFitOptions *o, Probe *p, ProbeReport *r, Err *e);

// Writes p, r and o to path (atomically). 0, or -1 with e naming the file.
int probe_save(const char *path, const Probe *p, const ProbeReport *r, const ProbeFitOptions *o, Err *e);

// Loads a cache file, or from a directory: its probe-<PROBE_DEFAULT_SIDE>.h5, else its only probe-*.h5.
// p is built with max_batch 64 (probe_predict takes any number of images); r (may be NULL) gets the
// stored report. -1 with e naming the file and the dataset or attribute that is missing, of the wrong
// shape or unreadable (truncated file), or the architecture that differs.
int probe_load(const char *path_or_dir, Probe *p, ProbeReport *r, Err *e);

// Is the cache at path current for data_dir and o? 1 yes; 0 no, with why (e.g. "the dataset changed
// (fingerprint …)", "fitted with --epochs 4, now 8", "unreadable: …", "missing"); -1 with e when the
// dataset itself cannot be read.
int probe_cache_current(const char *path, const char *data_dir, const ProbeFitOptions *o, char *why, size_t n,
                        Err *e);

// What `ratlip data probe` does: the cache at probe_default_path(data_dir, o->side) when current and not
// force (loaded, *reused = 1), else probe_fit + probe_save (*reused = 0). path_out (may be NULL) gets the
// cache's path; why (may be NULL) the reason a cache was not reused.
int probe_fit_cached(const char *data_dir, const ProbeFitOptions *o, int force, Probe *p, ProbeReport *r,
                     int *reused, char *path_out, size_t path_n, char *why, size_t why_n, Err *e);
