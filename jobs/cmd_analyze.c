// cmd_analyze: `ratlip analyze runs DIR... [--csv]`: one table of runs (analysis/runs.c): swept
// hyperparameters, steps done, last/best FID, KID and CLIP score with the step of the best, status.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/analysis.h"
#include "jobs/commands.h"

static int analyze_runs(int argc, char **argv) {
    int csv;
    OptList dirs;
    const OptSpec opts[] = {
        OPT_ARGS("DIR", &dirs, OPT_REQ, "a run directory (metrics.h5, config.json, status) or a sweep directory\n"
                                        "(sweep.json), which stands for all its trials"),
        OPT_FLAG("csv", 0, &csv, "comma-separated values for a spreadsheet (default: a text table)"),
        {0}};
    const OptCommand cmd = {"analyze runs", NULL,
                            "One table of runs: swept hyperparameters, steps done, last/best FID, KID and CLIP score\n"
                            "with the step of the best, status.\n",
                            NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    Err e = {{0}};
    int rc = analysis_runs(dirs.n, dirs.v, csv, stdout, &e);
    free(dirs.v);
    if (rc) {
        fprintf(stderr, "ratlip analyze runs: %s\n", e.msg);
        return 1;
    }
    return 0;
}

int cmd_analyze(int argc, char **argv) {
    static const Command subs[] = {{"runs", analyze_runs, "table of runs and sweeps (analysis/runs.c)"}};
    return opt_dispatch("analyze", NULL, subs, 1, argc, argv);
}
