#include "io/fs.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

// fsync by path; 0 or errno.
static int fsync_path(const char *path, int flags) {
    int fd = open(path, O_RDONLY | flags);
    if (fd < 0) return errno;
    int rc = fsync(fd) ? errno : 0;
    close(fd);
    return rc;
}

// The directory part of path ("." when there is none).
static void dir_of(const char *path, char *dir, size_t n) {
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, n, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
}

// The rename is durable only once the directory entry is. Some file systems refuse fsync on a
// directory (EINVAL): there is nothing more to do, so that is not an error; EIO and the like are.
static int fsync_dir_of(const char *path, Err *e) {
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    int rc = fsync_path(dir, O_DIRECTORY);
    if (rc && rc != EINVAL && rc != ENOTSUP)
        return err_set(e, "%s: fsync of directory %s failed: %s", path, dir, strerror(rc));
    return 0;
}

void fs_discard(const char *tmp) {
    if (truncate(tmp, 0) != 0 && errno == ENOENT) return;
    unlink(tmp);
}

void fs_note_free_space(const char *path, Err *e) {
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    struct statvfs st;
    if (statvfs(dir, &st) != 0) return;
    size_t used = strlen(e->msg);
    snprintf(e->msg + used, sizeof e->msg - used, "; %.1f MB free in %s", (double)st.f_bavail * st.f_frsize / 1e6, dir);
}

int fs_remove_stale_tmp(const char *dir, char *removed, size_t size, int *n, Err *e) {
    *n = 0;
    if (size) removed[0] = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : err_set(e, "%s: cannot list the directory: %s", dir, strerror(errno));
    struct dirent *ent;
    int rc = 0;
    while ((ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len <= 4 || strcmp(ent->d_name + len - 4, ".tmp")) continue;
        char path[4400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (unlink(path) != 0) {
            rc = err_set(e, "%s: cannot remove the stale temporary: %s", path, strerror(errno));
            break;
        }
        size_t used = strlen(removed);
        if (used + len + 3 < size) snprintf(removed + used, size - used, "%s%s", used ? ", " : "", ent->d_name);
        (*n)++;
    }
    closedir(d);
    return rc;
}

int fs_commit(const char *tmp, const char *path, Err *e) {
    int rc = fsync_path(tmp, 0);
    if (rc) {
        unlink(tmp);
        return err_set(e, "%s: fsync failed: %s (disk full or file system error?)", tmp, strerror(rc));
    }
    if (rename(tmp, path) != 0) {
        rc = errno;
        unlink(tmp);
        return err_set(e, "%s: rename to %s failed: %s", tmp, path, strerror(rc));
    }
    return fsync_dir_of(path, e);
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        p += w, n -= (size_t)w;
    }
    return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t n, Err *e) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return err_set(e, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return err_set(e, "%s: cannot create: %s", tmp, strerror(errno));
    int rc = write_all(fd, data, n);
    if (close(fd) != 0 && !rc) rc = errno;
    if (rc) {
        unlink(tmp);
        return err_set(e, "%s: cannot write: %s (disk full?)", path, strerror(rc));
    }
    return fs_commit(tmp, path, e);
}

char *fs_read_all(const char *path, size_t max_bytes, size_t *n, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0, got;
    char *s = malloc(cap);
    // read to the end rather than trusting the size: works for pipes and files that grow
    while (s && (got = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (max_bytes && len > max_bytes) break;
        if (len + 1 == cap) {
            char *ns = realloc(s, cap *= 2);
            if (!ns) free(s);
            s = ns;
        }
    }
    int bad = !s ? ENOMEM : ferror(f) ? EIO : 0;
    fclose(f);
    if (!bad && max_bytes && len > max_bytes) {
        free(s);
        err_set(e, "%s: larger than %zu bytes", path, max_bytes);
        return NULL;
    }
    if (bad) {
        free(s);
        err_set(e, "%s: cannot read: %s", path, strerror(bad));
        return NULL;
    }
    s[len] = 0;
    if (n) *n = len;
    return s;
}

static int mkdir_one(const char *dir, Err *e) {
    if (mkdir(dir, 0755) && errno != EEXIST) return err_set(e, "%s: cannot create directory (%s)", dir, strerror(errno));
    return 0;
}

int fs_mkdir_p(const char *dir, Err *e) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) return err_set(e, "%s: path too long", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir_one(buf, e)) return -1;
        *p = '/';
    }
    return mkdir_one(buf, e);
}
