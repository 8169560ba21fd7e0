// err: errors are values. A function that can fail on user input returns 0 on success or -1 after
// filling an Err with one line naming the file, dataset, field or rank, and a hint. main prints it.
#pragma once

typedef struct {
    char msg[1024];
} Err;

// Sets e->msg (printf-style) when e is not NULL; always returns -1 so callers can `return err_set(...)`.
int err_set(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
