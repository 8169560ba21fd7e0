// cmd_config: `ratlip config show [FILE] [--set key=value ...]` prints the resolved configuration
// (defaults, then FILE, then each --set, validated) as JSON.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/config.h"
#include "jobs/commands.h"

static int config_show(int argc, char **argv) {
    const char *file = NULL;
    OptList set_list;
    const OptSpec opts[] = {
        OPT_ARG("FILE", &file, 0, "JSON config (jobs/configs/tiny.json, paper.json)"),
        OPT_LIST("set", 's', &set_list, "K=V", "override one key (the value is parsed as JSON when it parses, else\n"
                                               "taken as a string)"),
        {0}};
    const OptCommand cmd = {"config show", NULL,
                            "Prints the resolved config as JSON: built-in defaults (= jobs/configs/tiny.json), FILE on\n"
                            "top, then each --set; unknown keys, wrong types and out-of-range values are errors.\n",
                            NULL, opts};
    int prc = opt_parse(&cmd, argc, argv);
    if (prc != OPT_CONTINUE) return prc;
    Config c;
    Err e = {{0}};
    int rc = config_resolve(&c, file, set_list.n, set_list.v, &e);
    free(set_list.v);
    if (rc) {
        fprintf(stderr, "ratlip config show: %s\n", e.msg);
        return 1;
    }
    char *json = config_to_json(&c);
    printf("%s\n", json);
    free(json);
    return 0;
}

int cmd_config(int argc, char **argv) {
    static const Command subs[] = {{"show", config_show, "print the resolved configuration (defaults, FILE, --set)"}};
    return opt_dispatch("config", NULL, subs, 1, argc, argv);
}
