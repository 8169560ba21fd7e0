// config: the resolved run configuration. Defaults live in config_defaults(); a JSON file (cJSON)
// overrides them; `--set a.b=value` overrides the file. Unknown keys, wrong types and out-of-range
// values are errors naming the key. JSON keys are "<section>.<field>" of the structs below.
#pragma once
#include <stddef.h>
#include "core/err.h"

#define CFG_MAX_LIST 8
#define CFG_STR 256

typedef struct {
    // images and conditioning
    int image_size;            // generator output side (64 tiny; 224 paper)
    int z_dim;                 // 100
    int text_dim;              // 512
    // generator
    int code_ch;               // channels of fc_code's grid (64)
    int code_size;             // side of that grid (8 tiny; 7 paper) = the CLIP token grid in the mapper
    int mblocks;               // number of M_Block_RAT (4)
    int mblock_mid;            // their middle channels (32)
    char rat_mode[16];         // "sample" (paper's per-sample recurrence) | "batch" (released code)
    int rat_hidden;            // LSTM hidden size (64)
    int g_channels[CFG_MAX_LIST];  // G_Block channel chain, n_gblocks+1 entries
    int g_sizes[CFG_MAX_LIST];     // target size of each G_Block
    int n_gblocks;
    int n_g_channels;          // entries in g_channels (must be n_gblocks+1; checked by config_validate)
    int shuffle_groups;        // ShuffleAttention groups (8)
    int sync_bn;               // 0: per-rank BatchNorm statistics (upstream); 1: synchronised
    // CLIP tower (frozen; in G as mapper, under D as feature extractor, and for the similarity loss)
    int clip_image_size;       // CLIP input side (64 tiny; 224 paper)
    int clip_patch;            // 8 tiny; 32 paper
    int clip_width;            // 256 tiny; 768 paper
    int clip_layers;           // 6 tiny; 12 paper
    int clip_heads;            // 4 tiny; 12 paper
    int clip_embed_dim;        // projection output (512)
    int clip_taps[CFG_MAX_LIST];   // blocks (0-based) whose outputs feed D
    int n_clip_taps;
    int prompt_first, prompt_last; // blocks (0-based, inclusive) that get a prompt token in the mapper
    char clip_remap[16];       // "galip" (0.25x+0.75, upstream) | "standard"
    char clip_weights[CFG_STR];    // HDF5 file of CLIP weights; "" = seeded random tower
    // discriminator
    int d_out_ch;              // NetD output channels (512 paper; 256 tiny)
    int netc_mid;              // NetC hidden channels (128 paper; 64 tiny)
    int netc_k1;               // NetC first conv kernel (4 paper; 5 tiny)
    int netc_k2;               // NetC second conv kernel (4)
} ModelConfig;

typedef struct {
    int batch_per_rank;
    long steps;                // total training iterations
    // double: the values the user wrote, exactly (a float 4e-4 is off by 5e-8, which Adam's
    // sign-like first steps carry straight into the parameters)
    double lr_g, lr_d, beta1, beta2, adam_eps;
    double sim_weight;         // CLIP similarity weight in G's loss (4)
    double magp_weight;        // 2
    double magp_p;             // 6
    double ema_decay;          // 0 disables EMA
    long seed;
    int log_every, ckpt_every, sample_every, eval_every, keep_last;
    int ckpt_async;            // rank 0 stages a copy and a thread writes it while training goes on
    int threads;               // 0 = auto
    // "fp32" or "bf16": convolutions and large GEMMs with bf16 inputs and fp32 accumulation, where the
    // CPU has AMX or avx512_bf16 (elsewhere fp32, with a start-up line); core/kernels.h
    char precision[8];
    // divergence watchdog (jobs/run.c): a non-finite loss or gradient, or |loss| > loss_bound (0: off),
    // rolls back to the last checkpoint and skips that global batch; more than max_rollbacks within
    // rollback_window steps stops the run
    double loss_bound;
    int max_rollbacks, rollback_window;
    // share of D's mismatched pairs whose caption is a hard one: the caption most like the sample's own
    // among train captions of samples differing from it in one label (io/capbank.h; the label column at
    // random). Needs a dataset with /labels. 0: upstream's mismatch only (the batch rolled by one)
    double hard_mismatch;
    // the label columns a hard caption may differ in, comma-separated names from the dataset's
    // /labels (e.g. "shape"); "" = all of them, each equally often
    char hard_mismatch_labels[128];
} TrainConfig;

typedef struct {
    char dir[CFG_STR];         // dataset directory
    int random_crop;           // pixels of crop jitter (0 = none)
    int random_flip;           // horizontal flips
    int prefetch;              // batches kept ready by the reader thread
} DataConfig;

typedef struct {
    int bucket_kib;            // gradient allreduce bucket size
    double timeout_s;           // stall detection deadline
    int check_every;           // replica checksum interval (steps)
} DistConfig;

typedef struct {
    int n_samples;             // generated images per evaluation (when samples_per_caption is 0)
    // upstream's recipe (GALIP/RATLIP test loop, sample_times): k passes over the test split, each image's
    // caption set sampled once per pass with fresh noise, N = k x test images; 0 = n_samples is the count
    int samples_per_caption;
    int inception_size;        // side the images are resized to for Inception (299: pytorch-fid, upstream)
    char inception_weights[CFG_STR];
    char ref_stats[CFG_STR];
    int rprec_repeats;         // R-precision: draws of the 99 mismatched captions (mean ± std over them)
    int diversity_captions;    // diversity per caption: this many test captions ...
    int diversity_samples;     // ... with this many noise vectors each (0: no diversity figure)
} EvalConfig;

// `ratlip clip train` (locked-text contrastive pretraining of the CLIP tower, core/lit.h)
#define CLIP_TEXT_NEGATIVES_MAX 65536   // clip.text_negatives: a bank of 65536 x 512 floats is 128 MiB
typedef struct {
    double lr;                 // Adam learning rate
    long steps;                // optimiser steps
    int batch_per_rank;        // images per rank per step; the contrastive batch is this x world
    double temperature;        // initial softmax temperature: logit_scale starts at log(1/temperature)
    double beta1, beta2, adam_eps;  // Adam (CLIP: 0.9, 0.98, 1e-6)
    int eval_every;            // retrieval accuracy / CLIP score on the test split every N steps (0 = end only)
    int eval_samples;          // test images used for that (0 = the whole split)
    int ckpt_every;            // checkpoint interval in steps (0 = never)
    int text_negatives;        // distinct train captions kept as extra negatives (core/lit.h's bank; 0 = none)
} ClipTrainConfig;

typedef struct {
    char name[64];
    ModelConfig model;
    TrainConfig train;
    DataConfig data;
    DistConfig dist;
    EvalConfig eval;
    ClipTrainConfig clip;
    char source[CFG_STR];      // what it was built from ("defaults", a file, "--set k"): named in validate errors
} Config;

void config_defaults(Config *c);                                          // = jobs/configs/tiny.json
int config_load_file(Config *c, const char *path, Err *e);                // JSON on top of *c
int config_set(Config *c, const char *assignment, Err *e);                // "a.b=value"
int config_validate(const Config *c, Err *e);                             // ranges and consistency
char *config_to_json(const Config *c);                                    // malloc'd, pretty-printed
int config_from_json_string(Config *c, const char *json, const char *origin, Err *e);

// Convenience: defaults, then `file` (NULL = none), then each "a.b=value" of sets, then validate.
int config_resolve(Config *c, const char *file, int n_sets, char *const *sets, Err *e);
// The key table, in the order config_to_json writes it ("name", "model.image_size", ...).
// Levenshtein distance of two short strings (99 past 63 characters): the did-you-mean of config keys
// and of command-line options (jobs/options.c).
int config_edit_distance(const char *a, const char *b);
int config_key_count(void);
const char *config_key_name(int i);
