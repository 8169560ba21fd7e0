#include "io/fault.h"
#include "core/stopsig.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int launcher_rank_from_env(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return -1;
}

int fault_point(const char *point) {
    const char *spec = getenv("RATLIP_FAULT");
    if (!spec || !*spec) return 0;
    size_t len = strlen(point);
    if (strncmp(spec, point, len) || (spec[len] != ':' && spec[len] != 0)) return 0;
    const char *only = getenv("RATLIP_FAULT_RANK");
    int rank = launcher_rank_from_env();   // a process no launcher started is rank 0
    if (only && *only && atoi(only) != (rank < 0 ? 0 : rank)) return 0;
    long nth = 1;
    char action[16] = "kill";
    if (spec[len] == ':') sscanf(spec + len + 1, "%ld:%15s", &nth, action);
    static char seen_point[64];
    static long seen;   // one point per process is set at a time: one counter
    if (strcmp(seen_point, point)) snprintf(seen_point, sizeof seen_point, "%s", point), seen = 0;
    int every = !strcmp(action, "nan-every");   // from the N-th time on (a run that keeps diverging)
    if (every ? ++seen < nth : ++seen != nth) return 0;
    fprintf(stderr, "ratlip: fault injection: %s #%ld: %s (RATLIP_FAULT)\n", point, nth, action);
    fflush(stderr);
    if (!strcmp(action, "kill")) raise(SIGKILL);
    if (!strcmp(action, "term")) stopsig_send_self(SIGTERM);   // as a scheduler sends it: to the process
    if (!strcmp(action, "sleep")) sleep(3);
    if (!strcmp(action, "stop")) raise(SIGSTOP);
    return every || !strcmp(action, "nan");
}
