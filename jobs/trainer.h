// trainer: the RATLIP GAN as a run task (jobs/run.h): the networks, gradient reducers and the
// evaluation context of one `ratlip train` process (one MPI rank), and the hooks the run driver
// strings together: build (fresh or resumed), one data-parallel iteration, log line, replica check,
// evaluation, sample grid. The run directory, resume, checkpoints, signals and agreement between
// ranks are the driver's.
#pragma once
#include <stdint.h>
#include "core/gan.h"
#include "dist/evaluate.h"
#include "dist/grads.h"
#include "dist/syncbn.h"
#include "io/capbank.h"
#include "jobs/run.h"

typedef struct {
    Gan gan;
    DpGrads red_g, red_d, red_c;   // gradient averaging per parameter set
    DpSyncBn syncbn;
    int random_clip;               // the CLIP tower is seeded, not loaded
    real *z, *s_mis, *s_all;       // [B,Z], [B,T], [W·B,T]
    CapBank mis_bank;              // train captions with their labels, for train.hard_mismatch
    int mis_cols[DS_MAX_LABELS], n_mis_cols;    // the label columns it may differ in
    double t_window;               // start of the current logging window (images/s)
    int64_t window_step;
    GanLosses last;                // this rank's losses of the last step
    EvalCtx ev;                    // in-training evaluation (train.eval_every > 0)
    int has_eval;
} Trainer;

// The hooks over t (zeroed by the caller), for run_main.
RunTask trainer_task(Trainer *t);
