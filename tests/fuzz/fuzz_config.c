// fuzz_config: bytes -> Config, the way `ratlip train CONFIG --set k=v` builds one (io/config.h):
// config_load_file on the bytes as a file, then config_validate; and every line holding '=' as a
// `--set` assignment on the defaults. Beyond "no crash, no UB, no leak" it checks that
//  - a refused input has an error naming its file,
//  - a loaded config round-trips: config_to_json's text loads back to the same text, and validates
//    the same way (so `ratlip config show` and the copy stored in checkpoints are always loadable).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/config.h"

static void check_roundtrip(const Config *c) {
    Err e = {{0}};
    char *j1 = config_to_json(c);
    FUZZ_CHECK(j1 != NULL, "config_to_json returned NULL");
    Config c2;
    config_defaults(&c2);
    FUZZ_CHECK(config_from_json_string(&c2, j1, "roundtrip", &e) == 0, "config_to_json output does not load: %s\n%s",
               e.msg, j1);
    char *j2 = config_to_json(&c2);
    FUZZ_CHECK(j2 && !strcmp(j1, j2), "config changes on a round trip:\n%s\n---\n%s", j1, j2 ? j2 : "(null)");
    Err e1 = {{0}}, e2 = {{0}};
    int v1 = config_validate(c, &e1), v2 = config_validate(&c2, &e2);
    FUZZ_CHECK(v1 == v2, "validate differs after a round trip: %d (%s) vs %d (%s)", v1, e1.msg, v2, e2.msg);
    FUZZ_CHECK(v1 == 0 || e1.msg[0], "config_validate failed without a message");
    free(j1);
    free(j2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // 1. the bytes as a config file
    const char *path = fuzz_write("config.json", data, size);
    Config c;
    Err e = {{0}};
    config_defaults(&c);
    if (config_load_file(&c, path, &e) == 0) check_roundtrip(&c);
    else fuzz_check_err(&e, path);

    // 2. each line with an '=' as `--set line`, applied in order on the defaults
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = 0;
    config_defaults(&c);
    int any = 0, failed = 0;
    for (char *line = text, *next; line && !failed; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (!strchr(line, '=')) continue;
        any = 1;
        Err se = {{0}};
        if (config_set(&c, line, &se)) {
            FUZZ_CHECK(se.msg[0] != 0, "config_set failed without a message");
            failed = 1;
        }
    }
    if (any && !failed) check_roundtrip(&c);
    free(text);
    return 0;
}
