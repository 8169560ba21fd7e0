// cmd_config: `ratlip config show [FILE] [--set key=value ...]` prints the resolved configuration
// (defaults, then FILE, then each --set, validated) as JSON.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/config.h"
#include "jobs/commands.h"

static void config_usage(FILE *f) {
    fprintf(f, "usage: ratlip config show [FILE] [--set section.key=value ...]\n"
               "  prints the resolved config: built-in defaults (= jobs/configs/tiny.json), FILE on top,\n"
               "  then each --set (the value is parsed as JSON when it parses, else taken as a string)\n");
}

int cmd_config(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        config_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "show") != 0) {
        fprintf(stderr, "ratlip config: unknown action '%s'\n", argv[1]);
        config_usage(stderr);
        return 2;
    }
    const char *file = NULL;
    char **sets = calloc((size_t)argc, sizeof(char *));
    int n_sets = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--set")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ratlip config: --set needs key=value\n");
                free(sets);
                return 2;
            }
            sets[n_sets++] = argv[++i];
        } else if (!strncmp(argv[i], "--set=", 6)) {
            sets[n_sets++] = argv[i] + 6;
        } else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "ratlip config: unexpected argument '%s'\n", argv[i]);
            config_usage(stderr);
            free(sets);
            return 2;
        } else {
            file = argv[i];
        }
    }
    Config c;
    Err e = {{0}};
    int rc = config_resolve(&c, file, n_sets, sets, &e);
    free(sets);
    if (rc) {
        fprintf(stderr, "ratlip config: %s\n", e.msg);
        return 1;
    }
    char *json = config_to_json(&c);
    printf("%s\n", json);
    free(json);
    return 0;
}
