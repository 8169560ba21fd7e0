// analysis: looking at results after the fact. Run tables across a sweep (analysis/runs.c) and
// checkpoint comparison (analysis/ckpt_diff.c). Compiled into the ratlip command (jobs/ calls these);
// analysis/plot_metrics.py draws the metric curves.
#pragma once
#include <stdio.h>
#include "core/err.h"

// `ratlip analyze runs DIR... [--csv]`: one row per run directory (a sweep directory holding
// sweep.json stands for all its runs/trial-NNNN). Columns: run, every config key whose value differs
// between the runs (the swept hyperparameters; a sweep's own keys when given a sweep directory),
// steps done, status, the last loss_d and loss_g, and for fid, kid, clip_score the last value, the best (min FID/KID, max CLIP)
// and the step of the best. Writes to out; returns 0, or -1 with e set when no run could be read.
int analysis_runs(int n_dirs, char *const *dirs, int csv, FILE *out, Err *e);

// `ratlip ckpt diff A B`: per tensor (in A's order, every net and Adam moment) the L2 norms of A and B,
// ||B-A||, the relative change ||B-A||/||A|| and max|B-A|; tensors present in one file only or with
// different shapes are listed. *n_different = tensors not bit-identical (incl. one-sided and shape
// mismatches). only_changed: print only the rows that differ.
int analysis_ckpt_diff(const char *a, const char *b, int only_changed, FILE *out, long *n_different, Err *e);
