// io/fs: fs_write_atomic replaces a file whole and leaves no temporary, refuses a missing directory
// with a message naming the file and leaves the old content; fs_read_all returns the bytes (NULs
// included), refuses a file over its limit and names a missing one; fs_mkdir_p makes parents.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/fs.h"

static int failures = 0;
#define CHECK(cond, ...)                        \
    do {                                        \
        if (!(cond)) {                          \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);                \
            printf("\n");                       \
            failures++;                         \
        }                                       \
    } while (0)

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

int main(void) {
    char dir[] = "/tmp/ratlip_fs_XXXXXX", path[256], tmp[300], deep[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/status", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    Err e = {{0}};

    CHECK(fs_write_atomic(path, "running\n", 8, &e) == 0, "first write: %s", e.msg);
    CHECK(fs_write_atomic(path, "done\0x", 6, &e) == 0, "replacement: %s", e.msg);
    size_t n = 0;
    char *s = fs_read_all(path, 0, &n, &e);
    CHECK(s && n == 6 && !memcmp(s, "done\0x", 6), "read back %zu bytes", n);
    CHECK(!exists(tmp), "%s left behind", tmp);
    free(s);

    CHECK(!fs_read_all(path, 5, &n, &e) && strstr(e.msg, "larger than 5 bytes"), "limit: '%s'", e.msg);
    snprintf(deep, sizeof deep, "%s/no/such/file", dir);
    CHECK(!fs_read_all(deep, 0, NULL, &e) && strstr(e.msg, deep), "missing file not named: '%s'", e.msg);
    CHECK(fs_write_atomic(deep, "x", 1, &e) == -1 && strstr(e.msg, deep), "error does not name the file: '%s'", e.msg);
    s = fs_read_all(path, 0, NULL, &e);
    CHECK(s && !strcmp(s, "done"), "a failed write changed nothing else");
    free(s);

    snprintf(deep, sizeof deep, "%s/a/b/c", dir);
    CHECK(fs_mkdir_p(deep, &e) == 0 && exists(deep), "mkdir -p: %s", e.msg);
    CHECK(fs_mkdir_p(deep, &e) == 0, "mkdir -p of an existing directory: %s", e.msg);
    snprintf(deep, sizeof deep, "%s/status/sub", dir);   // a component is a file
    CHECK(fs_mkdir_p(deep, &e) == -1 && strstr(e.msg, "cannot create directory"), "'%s'", e.msg);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) printf("note: could not remove %s\n", dir);
    printf("%s: %d failure%s\n", failures ? "FAIL" : "ok", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
