// fs: the file-system helpers every module shares (no HDF5 here). A file a later run reads
// (checkpoint, metrics, status, config.json, dataset shard, sweep plan, PNG) is only ever replaced
// durably: written to <path>.tmp, fsynced, renamed over <path>, and the directory fsynced, so a
// crash at any moment leaves either the old complete file or the new complete one.
#pragma once
#include <stddef.h>
#include "core/err.h"

// Writes n bytes to <path>.tmp and commits it (fs_commit). On failure path is untouched, the
// temporary is removed, and the error names the file and the reason.
int fs_write_atomic(const char *path, const void *data, size_t n, Err *e);
// The durable second half, for a temporary another library wrote (HDF5, libpng): fsync(tmp),
// rename(tmp, path), fsync(directory of path). On failure tmp is removed.
int fs_commit(const char *tmp, const char *path, Err *e);
// The whole file, NUL-terminated, malloc'd (*n: its length; may be NULL). A file over max_bytes is
// refused (0: no limit). NULL with e set (naming the file) on failure.
char *fs_read_all(const char *path, size_t max_bytes, size_t *n, Err *e);
// Drops a temporary whose write failed: truncates it to 0 bytes, then unlinks it. The truncate frees
// the space at once even while a library (HDF5 after a failed close) still holds the file open.
void fs_discard(const char *tmp);
// Appends to e's message how much space is left where path lives ("; 12.3 MB free in DIR"): a failed
// write's likeliest cause, said without guessing.
void fs_note_free_space(const char *path, Err *e);
// Removes every regular file named *.tmp directly in dir: temporaries a killed writer left (no
// writer of ours is running when a run starts). Their names go into removed (comma separated,
// truncated to size), *n counts them. A missing dir is not an error.
int fs_remove_stale_tmp(const char *dir, char *removed, size_t size, int *n, Err *e);
// mkdir -p: creates dir and its missing parents (mode 0755). Error names the component that failed.
int fs_mkdir_p(const char *dir, Err *e);
