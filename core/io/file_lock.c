/* flock(2) locks with the holder's pid in the file (see file_lock.h). */
#define _GNU_SOURCE
#include "file_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../error.h"

struct at_file_lock {
    int fd;
    char *path;
};

/* The pid a holder wrote, or 0. A holder writes it right after locking, so
 * an empty file is given a few milliseconds before "unknown" is said. */
static long holder_pid(int fd) {
    for (int tries = 0; tries < 20; tries++) {
        char text[32];
        ssize_t n = pread(fd, text, sizeof text - 1, 0);
        if (n > 0) {
            text[n] = '\0';
            return strtol(text, NULL, 10);
        }
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    return 0;
}

/* Whether fd is still the file that path names: a holder removes the file
 * on release, so a lock taken on the removed file guards nothing. */
static int names_same_file(int fd, const char *path) {
    struct stat held, named;
    return fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev &&
           held.st_ino == named.st_ino;
}

/* Writes over what a dead holder left and cuts the file to the new pid, so
 * a reader never sees an empty file between the two. */
static void write_pid(int fd) {
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (pwrite(fd, text, (size_t)n, 0) == n) (void)!ftruncate(fd, n);
}

at_file_lock *at_file_lock_acquire(const char *path, int wait, long *holder) {
    if (holder) *holder = 0;
    for (;;) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            at_set_error("%s: cannot open the lock file: %s", path, strerror(errno));
            return NULL;
        }
        if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
            int err = errno;
            if (err == EINTR) {
                close(fd);
                continue;
            }
            if (err == EWOULDBLOCK) {
                long pid = holder_pid(fd);
                if (holder) *holder = pid;
                if (pid > 0)
                    at_set_error("%s: locked by process %ld", path, pid);
                else
                    at_set_error("%s: locked by another process (its pid is not written yet)", path);
            } else {
                at_set_error("%s: cannot lock: %s", path, strerror(err));
            }
            close(fd);
            return NULL;
        }
        if (!names_same_file(fd, path)) {   /* released and removed while we opened it: again */
            close(fd);
            continue;
        }
        at_file_lock *lock = malloc(sizeof *lock);
        char *copy = strdup(path);
        if (!lock || !copy) {
            free(lock);
            free(copy);
            close(fd);
            at_set_error("%s: out of memory", path);
            return NULL;
        }
        write_pid(fd);
        lock->fd = fd;
        lock->path = copy;
        return lock;
    }
}

void at_file_lock_release(at_file_lock *lock) {
    if (!lock) return;
    /* Only our own file: the folder may have been moved and another lock
     * file made under the old name since. */
    if (names_same_file(lock->fd, lock->path)) unlink(lock->path);
    close(lock->fd);
    free(lock->path);
    free(lock);
}
