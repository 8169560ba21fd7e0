// run: the one driver of every training command (`ratlip train`, `ratlip clip train`). It owns
// what a run is, whatever is trained:
//   the run directory   train.log, config.json, status, metrics.h5, ckpt-<step>.h5 (rank 0 writes)
//   the configuration   resolved on rank 0 (defaults, file, --set, command line), broadcast
//   the data            the train split (and test when present), the same on every rank, the reader
//   resume              --resume auto: the newest checkpoint that loads cleanly; or a named file
//   checkpoints         every ckpt_every steps and at the end; retention keeps the last keep_last
//                       and the best (by the task's evaluation)
//   signals             SIGUSR1/SIGTERM: every rank stops at the step boundary, one checkpoint,
//                       exit RATLIP_EXIT_PREEMPTED
//   agreement           after every step that can fail on one rank, all ranks agree (with a
//                       deadline: a stalled or dead rank ends the job with RATLIP_EXIT_STALLED)
// What is trained is a RunTask: a struct of callbacks over the task's own state (jobs/trainer.c:
// the GAN; jobs/cmd_clip.c: LiT CLIP). Hooks return a status that may differ between ranks; the
// driver agrees on it. A hook that runs collectives itself agrees before each of them.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include "dist/agree.h"
#include "dist/rank.h"
#include "io/ckpt.h"
#include "io/ckpt_async.h"
#include "io/config.h"
#include "io/dataset.h"
#include "io/metrics.h"
#include "io/reader.h"

// Exit statuses beyond 0 (done) and 1 (failed, the message names the cause); the Slurm glue
// (slurm/job-lib.sh) requeues on PREEMPTED.
#define RATLIP_EXIT_PREEMPTED 3             // stopped by SIGUSR1/SIGTERM after writing its checkpoint
#define RATLIP_EXIT_STALLED DP_EXIT_STALLED // a rank did not reach a collective within dist.timeout_s
#define RUN_MAX_NETS 8
#define RUN_DIVERGED 2                      // a step hook's verdict, the same on every rank: see RunTask.step
#define RUN_MAX_SKIPS 64

typedef struct {
    const char *config_file;   // NULL = defaults (tiny)
    char **sets;               // --set key=value, n_sets of them
    int n_sets;
    const char *data_dir;      // overrides data.dir
    const char *run_dir;
    const char *resume;        // NULL, "auto" or a checkpoint path
    long steps;                // > 0 overrides the task's step count
    int threads;               // > 0 overrides train.threads
} RunArgs;

// When the driver calls the hooks. *_every 0 = never; "last" is the step where step == steps.
typedef struct {
    long steps;
    int log_every;             // and at the last step
    int check_every;           // replica checksums; and at the last step
    int eval_every;
    int eval_at_end;           // evaluate at the last step too
    int ckpt_every;
    int ckpt_at_end;           // checkpoint at the last step too
    int sample_every;          // and at step 0 and the last step when > 0
} RunSchedule;

typedef struct {
    DpInfo dp;
    Config cfg;
    char *config_json;         // the resolved config, as stored in checkpoints
    char run_dir[1024];
    FILE *log;                 // run_dir/train.log (rank 0)
    Metrics *metrics;          // run_dir/metrics.h5 (rank 0; NULL elsewhere)
    Dataset *train, *test;     // test is NULL when the dataset has no test split
    Reader *reader;            // this rank's slice of every global batch
    ReaderBatch batch;
    int batch_per_rank;
    int image_size;            // S, the side of the batch images (run_open_data; the train split may be larger)
    int64_t step, start_step;  // iterations done; where this process started
    int64_t ckpt_step;         // step of the last checkpoint this process wrote (-1: none)
    char best_ckpt[64];        // file name retention always keeps ("" = none)
    // train.ckpt_async (rank 0): the background checkpoint writer; a write that failed is remembered
    // here until the next agreement point fails the run with it
    CkptAsync *writer;
    int write_failed;
    char write_err[1100];
    double ckpt_stage_s;       // the pause of the last background checkpoint (its copy into staging)
    double t_start;            // when this process started stepping (run_now_s)
    RunSchedule sched;
    // divergence watchdog: one entry per rollback, the step that diverged; that step skips one global
    // batch per entry. Kept in this process only: a rerun from an earlier checkpoint diverges at the
    // same step (determinism) and skips it again. Also the count for train.max_rollbacks.
    int64_t skip_steps[RUN_MAX_SKIPS];
    int n_skips;
} Run;

// What a checkpoint gave back, the same on every rank. meta.config_json is NULL.
typedef struct {
    int found;                 // 0: fresh start
    CkptMeta meta;             // step, reader position, world size, the task's extra scalars
} RunResume;

typedef struct {
    const char *name;          // "train", "clip train": banner and messages ("ratlip <name>: ...")
    void *self;                // the task's state, passed to every hook
    // Rank 0, on the resolved config: the command line's overrides, then validation.
    int (*configure)(void *self, Config *c, const RunArgs *a, Err *e);
    void (*schedule)(void *self, const Config *c, RunSchedule *s);
    // Collective: open the data (run_open_data) and build the networks, seeded.
    int (*init)(void *self, Run *r, Err *e);
    // The networks a checkpoint holds (at most RUN_MAX_NETS); returns how many.
    int (*nets)(void *self, CkptNet *nets);
    // Collective, after the networks are resumed (or not) and identical on every rank, the reader is
    // open and metrics.h5 too: step buffers, reducers; ends with the task's summary line.
    int (*start)(void *self, Run *r, const RunResume *res, Err *e);
    // One iteration; r->step++. RUN_DIVERGED (returned by every rank together, e says why): the step
    // was not applied; the driver rolls back to the last checkpoint and skips that global batch.
    int (*step)(void *self, Run *r, Err *e);
    // The task's scalars from a checkpoint (res->found) once the networks are restored: the driver
    // calls it before start and after every rollback. NULL: the task has none.
    void (*restore)(void *self, Run *r, const RunResume *res);
    int (*progress)(void *self, Run *r, Err *e);                // progress line + metrics row
    int (*check)(void *self, Run *r, Err *e);                   // replicas still identical?
    int (*eval)(void *self, Run *r, int *improved, Err *e);     // improved: keep this step's checkpoint
    int (*samples)(void *self, Run *r, Err *e);                 // NULL: the task has none
    void (*save_meta)(void *self, Run *r, CkptMeta *m);         // the task's scalars into a checkpoint
    int (*finish)(void *self, Run *r, Err *e);                  // after the last step (outputs, "done:")
    void (*free)(void *self);
} RunTask;

// The whole command on every rank: starts MPI, runs the task, returns the process exit status
// (0, 1, RATLIP_EXIT_PREEMPTED; a stall ends the job from inside with RATLIP_EXIT_STALLED).
int run_main(const RunTask *task, const RunArgs *a, int *argc, char ***argv);

// For the hooks:
// Prints on rank 0 to stdout and train.log.
void run_say(Run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Every rank passes its own rc; all get -1 when any failed (dist/agree.h: with the deadline).
int run_agree(Run *r, int rc, Err *e);
// Opens the train split (and test, when there is one) and checks it against the task: caption
// embeddings of dimension embed_dim (the config key dim_key sets it), at least one global batch of
// batch_per_rank (batch_key) per rank, and the image sides: the train split stored at >= image_size
// (size_key sets it; the reader takes a random image_size crop of a larger one, io/reader.h), the test
// split at image_size. image_size 0: the dataset's own, its test side (else its train side), into
// r->image_size. Every rank must see the same dataset. Collective.
int run_open_data(Run *r, int batch_per_rank, const char *batch_key, int embed_dim, const char *dim_key, int image_size,
                  const char *size_key, Err *e);
// Seconds on a monotonic clock (for rates and ETAs; never for anything stored).
double run_now_s(void);
