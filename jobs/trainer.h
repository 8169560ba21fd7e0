// trainer: the state of one `ratlip train` process (one MPI rank): config, dataset reader, the GAN,
// gradient reducers, metrics and run directory; and the operations the driver strings together:
// set up (fresh or resumed), one data-parallel iteration, checkpoint, sample grid.
#pragma once
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include "core/gan.h"
#include "dist/grads.h"
#include "dist/evaluate.h"
#include "dist/rank.h"
#include "dist/syncbn.h"
#include "io/ckpt.h"
#include "io/config.h"
#include "io/dataset.h"
#include "io/metrics.h"
#include "io/reader.h"

// Exit status of a run stopped by SIGUSR1/SIGTERM after writing its checkpoint (Slurm requeue glue
// checks for it).
#define RATLIP_EXIT_PREEMPTED 3

typedef struct {
    Config cfg;
    char *config_json;         // resolved config as written to checkpoints
    char run_dir[1024];
    DpInfo dp;
    Dataset *train, *test;     // test may be NULL
    Reader *reader;
    ReaderBatch batch;
    Gan gan;
    DpGrads red_g, red_d, red_c;   // gradient averaging per parameter set
    DpSyncBn syncbn;
    Metrics *metrics;          // rank 0 only
    int64_t step;              // iterations done
    int64_t start_step;
    int random_clip;           // the CLIP tower is seeded, not loaded
    real *z, *s_mis, *s_all;   // [B,Z], [B,T], [W·B,T]
    FILE *log;                 // run_dir/train.log (rank 0)
    double t_start;            // when this process started training (ETA)
    double t_window;           // start of the current logging window (images/s)
    int64_t window_step;
    GanLosses last;            // rank-averaged losses of the last logged step
    EvalCtx ev;                // in-training evaluation (train.eval_every > 0)
    int has_eval;
    char best_ckpt[64];        // file name of the best checkpoint by FID ("" = none yet)
} Trainer;

typedef struct {
    const char *config_file;   // NULL = defaults (tiny)
    char **sets;
    int n_sets;
    const char *data_dir;      // overrides data.dir
    const char *run_dir;
    const char *resume;        // NULL, "auto" or a checkpoint path
    long steps;                // > 0 overrides train.steps
    int threads;               // > 0 overrides train.threads
} TrainArgs;

// Every rank: resolves the config on rank 0 and broadcasts it, opens the data, builds the networks,
// initialises or resumes, broadcasts rank 0's state and checks the replicas. Collective.
int trainer_setup(Trainer *t, const TrainArgs *a, Err *e);
void trainer_free(Trainer *t);
// One iteration: read this rank's slice, D step + reduce + Adam, G step + reduce + Adam + EMA.
int trainer_step(Trainer *t, Err *e);
// Rank 0 writes ckpt-<step>.h5 (others only agree); retention of the last K.
int trainer_checkpoint(Trainer *t, Err *e);
// Rank 0 writes samples/step-<step>.png from fixed z and the first test captions (EMA G if any).
int trainer_samples(Trainer *t, Err *e);
// Evaluation (FID, KID, CLIP score; collective). *improved: the FID is the best so far, and this step's
// checkpoint (which the caller must then write) is kept as best by the retention.
int trainer_eval(Trainer *t, int *improved, Err *e);
// Rank-0 log line + metrics row (losses averaged over ranks: collective); images/s over the steps
// since the previous log line.
int trainer_log(Trainer *t, Err *e);
// Collective: every rank passes its own status; all get -1 when any rank failed.
int trainer_agree(Trainer *t, int rc, Err *e);
// Prints on rank 0 to stdout and train.log.
void trainer_say(Trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Writes run_dir/status ("running", "finished", "failed", "preempted"); rank 0 only.
void trainer_status(Trainer *t, const char *status);
