// eval_report: rank 0's report of one evaluation (dist/evaluate.h's eval_run): the line on stdout, the
// row (fid, kid, kid_std, clip_score, n_samples) and the attributes of metrics.h5 /eval, and the grid
// <out_dir>/eval-<step>.png of the first samples with their captions. Used by `ratlip train`
// (jobs/trainer.c) and `ratlip eval` (jobs/cmd_eval.c); the callers agree on its status across ranks.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include "core/err.h"
#include "dist/evaluate.h"
#include "io/metrics.h"

// c, r: the context and result of the evaluation. clip_remap: model.clip_remap (named in the CLIP
// score's attribute). m may be NULL (nothing appended). The lines also go to log when it is not NULL (the
// run's train.log). Rank 0 only.
int eval_report(const EvalCtx *c, const EvalResult *r, const char *clip_remap, int64_t step, Metrics *m, FILE *log,
                Err *e);
