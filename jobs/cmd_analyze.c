// cmd_analyze: `ratlip analyze runs DIR... [--csv]`: one table of runs (analysis/runs.c): swept
// hyperparameters, steps done, last/best FID, KID and CLIP score with the step of the best, status.
#include <stdio.h>
#include <string.h>
#include "analysis/analysis.h"
#include "jobs/commands.h"

static void usage(FILE *f) {
    fprintf(f, "usage: ratlip analyze runs DIR... [--csv]\n"
               "  DIR: a run directory (metrics.h5, config.json, status) or a sweep directory (sweep.json),\n"
               "  which stands for all its trials. Text table by default; --csv for a spreadsheet.\n");
}

int cmd_analyze(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "runs") != 0) {
        usage(stderr);
        return 2;
    }
    int csv = 0, n = 0;
    char *dirs[argc];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--csv")) csv = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "ratlip analyze runs: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else dirs[n++] = argv[i];
    }
    Err e = {{0}};
    if (analysis_runs(n, dirs, csv, stdout, &e)) {
        fprintf(stderr, "ratlip analyze runs: %s\n", e.msg);
        return 1;
    }
    return 0;
}
