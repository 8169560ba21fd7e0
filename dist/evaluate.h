// evaluate: FID, KID and CLIP score of the generator, distributed over the ranks with rank 0 as
// coordinator (spec/model.md §6, spec/metrics-and-io.md §1-§2). This module is the distributed part:
// the per-batch arithmetic is core/evalfeat.h's, the report (printed line, metrics.h5, sample grid)
// jobs/eval_report.h's.
//
// eval_run, collective over MPI_COMM_WORLD:
//   1. rank 0 decides the sample set and broadcasts it: N samples, global index g = 0..N-1, from the
//      test split: dataset image g mod |test|, caption Philox(seed, RNG_EVAL)(1, g) mod its count,
//      z = Philox normals (seed, RNG_EVAL) counter (2·2³², g) — nothing depends on the rank count.
//      N = eval.n_samples, or with eval.samples_per_caption = k > 0 (upstream's sample_times) N = k·|test|:
//      k passes over the test split, each image's caption set sampled once per pass (a random caption of
//      it, fresh noise), as GALIP/RATLIP's test loop does, without its drop_last (upstream loses the last
//      partial batch of each pass: 53 of CUB's 2,933 images at batch 64 on one GPU). An explicit count
//      (`ratlip eval --n`) wins over both.
//   2. global batch j = samples [jB, (j+1)B) goes to rank j mod W (batches are identical whatever W is,
//      which matters for the generator's batch-coupled RAT mode). Each rank generates its batches
//      (G in eval mode: BN running statistics; output clamped to [-1,1], NaN → 0), computes Inception
//      pool3 features (images resized bilinearly to eval.inception_size, 299 as pytorch-fid) and the
//      CLIP score cos(CLIP_img(x), s) (model.clip_remap applies inside the tower).
//   3. sums reduced to rank 0 in double: n, Σcos, Σf [d], Σffᵀ [d,d]; the features themselves are
//      gathered to rank 0 (KID works on samples).
//   4. rank 0: FID against the reference statistics, KID (subsets), CLIP score ×100; keeps the first
//      images and their captions (c->grid) for the report. The result is broadcast, so every rank sees
//      the same EvalResult (and the same `improved` for the best checkpoint, which the caller keeps).
//
// Whether the pictures follow their captions (the same sample set, the same CLIP tower):
//   R-precision (AttnGAN/DM-GAN/DF-GAN): each sample's CLIP image embedding ranks its own caption's
//      embedding against 99 captions of other test images (core/condmetrics.h) (a pool of the first
//      EVAL_RPREC_POOL test images, one Philox-chosen caption each; candidates drawn without replacement,
//      per repeat); the top-1 rate, mean ± std over eval.rprec_repeats draws. The same for the dataset
//      images of the samples with the same captions is the ceiling (computed at the first evaluation).
//   Diversity per caption: eval.diversity_captions test captions × eval.diversity_samples noise vectors,
//      the mean pairwise L2 distance of their Inception pool3 features; beside it the same over pairs of
//      real test images with identical /labels (the reference statistics' features), when the dataset
//      has labels. A generator that ignores its noise scores ~0.
//   Attribute accuracy (labelled datasets with a fitted probe, `ratlip data probe`, io/probe_file.h): every
//      rank classifies its samples of the main set with the probe; per attribute the share whose class is
//      the label of the sample's dataset image (the caption's facts), and the share with all right. The
//      probe's accuracy on the real test images is the ceiling beside it.
//   Every figure is computed on rank 0 from features gathered in sample order: identical on any rank count.
#pragma once
#include <stdint.h>
#include "core/err.h"
#include "core/evalfeat.h"
#include "core/gan.h"
#include "io/config.h"
#include "io/dataset.h"
#include "io/fidstats.h"
#include "io/probe_file.h"

#define EVAL_INCEPTION_SEED 20151205u   // the seeded network without weight files (stats and eval agree)
#define EVAL_GRID_MAX 16                // images of the report's sample grid
#define EVAL_CAPTION_MAX 512            // bytes of one grid caption
#define EVAL_RPREC_POOL 4096            // test images whose captions can be drawn as candidates

// Rank 0's first images of the last evaluation and their captions, for the report's grid.
typedef struct {
    int n, size;                // images, each [3,size,size] in [-1,1]
    real *img;                  // [n,3,size,size]
    char caption[EVAL_GRID_MAX][EVAL_CAPTION_MAX];
} EvalGrid;

typedef struct {
    EvalFeat feat;              // Inception (+ the generator's and CLIP's activations), core/evalfeat.h
    int random_weights;         // Inception not loaded from a file
    char weights_id[128];       // source_sha256 of the weight file, or "random-seed-<seed>"
    // reference statistics (rank 0 only holds them)
    FidStats ref;
    double *ref_sqrt;           // Σ_ref^½, cached [d,d]
    char ref_path[1024];
    // options
    long n_samples;
    int kid_subsets, kid_subset_size;
    uint64_t seed;
    char out_dir[1024];         // sample grid; "" = none (no grid kept)
    double best_fid;            // lowest FID so far (rank 0 decides, all ranks know)
    int random_clip;            // the caller says the CLIP tower is seeded (reports say so)
    EvalGrid grid;              // rank 0, when out_dir is set
    int rprec_repeats, div_captions, div_samples;   // eval.* (div_samples 0: no diversity)
    int samples_per_caption;    // eval.samples_per_caption (0: n_samples is the count), 0 under an explicit count
    // real-image ceilings, computed once (the first eval_run) and then kept; every rank holds them
    int have_real;
    double rprec_real, rprec_real_std, div_real;
    long div_real_pairs;
    // the attribute probe of the dataset (every rank), when `ratlip data probe` made one that fits the test split
    int has_probe;
    Probe probe;
    ProbeReport probe_rep;
    char probe_note[256];       // why there is no attribute accuracy ("" when there is)
} EvalCtx;

typedef struct {
    double fid, kid, kid_std, clip_score;   // clip_score ×100
    long n;
    int improved;                           // fid < best so far
    int random_weights;
    double seconds;                         // from the start to the metrics (the report not counted)
    double eig_ratio;                       // min/max eigenvalue of the FID product (< 0: ill-conditioned)
    int ranks;                              // the world size it ran on
    // conditioning (NaN where not computed)
    double rprec, rprec_std;                // R-precision of the samples, top-1 rate in [0,1]
    double rprec_real, rprec_real_std;      // ... of the dataset images with the same captions (ceiling)
    int rprec_candidates;                   // mismatched captions per image (chance = 1/(1+this))
    double div_gen, div_real;               // diversity per caption: samples, real images of equal labels
    long div_real_pairs;                    // real pairs behind div_real (0: no labels or no equal pairs)
    int n_attrs;                            // 0: no attribute probe
    double attr_acc[PROBE_MAX_ATTRS], attr_all;   // samples classified as their captions say
} EvalResult;

// Builds the Inception network (weights from cfg->eval.inception_weights, else seeded random; input
// side cfg->eval.inception_size) and, on rank 0, reads the reference statistics (cfg->eval.ref_stats,
// else the default path in data_dir, see fidstats_default_path) and checks they were made with the same
// network, weights and input side. Collective (rank 0's error is broadcast). n_samples: > 0 overrides
// cfg->eval.n_samples and cfg->eval.samples_per_caption. out_dir: grids ("" none).
int eval_ctx_init(EvalCtx *c, const Config *cfg, const char *data_dir, const char *out_dir, long n_samples, Err *e);
void eval_ctx_free(EvalCtx *c);

// One evaluation of gan's generator (its EMA copy when use_ema and gan->has_ema) on the test split.
// Collective; out is filled on every rank, c->grid on rank 0 (for jobs/eval_report.h).
int eval_run(EvalCtx *c, const Gan *gan, int use_ema, const Config *cfg, Dataset *test, EvalResult *out, Err *e);

// The number of samples an evaluation of c draws from test: samples_per_caption·|test|, else n_samples.
long eval_sample_count(const EvalCtx *c, Dataset *test);

// Loads (or seeds) the network only, without reference statistics; no MPI. inception_size: the side
// images are resized to (INCEPTION_SIZE_MIN..MAX; eval.inception_size). For `ratlip data stats` (then
// core/evalfeat.h's evalfeat_images_u8 on c->feat; eval_ctx_free releases it).
int eval_net_init(EvalCtx *c, const char *inception_weights, int inception_size, Err *e);
