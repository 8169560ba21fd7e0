// options: the small command-line helpers the subcommands share (declared in jobs/commands.h).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobs/commands.h"

int jobs_is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

int jobs_opt_long(const char *cmd, const char *name, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "ratlip %s: %s wants an integer in %ld..%ld, got '%s'\n", cmd, name, lo, hi, v ? v : "");
        return -1;
    }
    *out = x;
    return 0;
}
