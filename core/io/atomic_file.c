/* Atomic replacement of a file: see atomic_file.h. */
#define _GNU_SOURCE   /* mkstemp, fsync */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tensor.h"

static int fail(at_atomic_file *f, const char *what, int err) {
    at_set_error("%s: %s: %s failed: %s", f->op, f->path, what, strerror(err ? err : EIO));
    return -1;
}

int at_atomic_file_open(at_atomic_file *f, const char *op, const char *path) {
    *f = (at_atomic_file){.fd = -1, .op = op, .path = path};
    size_t len = strlen(path) + 16;
    if (!(f->tmp = malloc(len))) return fail(f, "allocating", ENOMEM);
    snprintf(f->tmp, len, "%s.tmp-XXXXXX", path);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        int err = errno;
        free(f->tmp);
        f->tmp = NULL;
        return fail(f, "creating a temporary file beside it", err);
    }
    /* mkstemp makes the file 0600; a checkpoint is as readable as any file. */
    if (fchmod(f->fd, 0644)) {
        int err = errno;
        at_atomic_file_abort(f);
        return fail(f, "creating a temporary file beside it", err);
    }
    return 0;
}

int at_atomic_file_write(at_atomic_file *f, const void *data, size_t n) {
    const char *p = data;
    while (n) {
        ssize_t w = write(f->fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail(f, "writing", w < 0 ? errno : ENOSPC);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The folder holding path, so the rename itself is made durable. */
static void sync_parent(const char *path) {
    char *dir = strdup(path);
    if (!dir) return;
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int at_atomic_file_commit(at_atomic_file *f) {
    const char *failed = NULL;
    int err = 0;
    if (fsync(f->fd)) failed = "syncing", err = errno;
    if (close(f->fd) && !failed) failed = "closing", err = errno;
    f->fd = -1;
    if (!failed && rename(f->tmp, f->path)) failed = "renaming the temporary file onto it", err = errno;
    if (failed) {
        at_atomic_file_abort(f);
        return fail(f, failed, err);
    }
    sync_parent(f->path);
    free(f->tmp);
    f->tmp = NULL;
    return 0;
}

void at_atomic_file_abort(at_atomic_file *f) {
    if (f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp);
    free(f->tmp);
    f->fd = -1;
    f->tmp = NULL;
}
