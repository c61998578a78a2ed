/* The folder lock (core/io/file_lock.c): a second acquisition is refused
 * naming the holder's pid; the lock comes free on release and when the
 * holder dies (SIGKILL: no cleanup ran); a file naming a dead pid never
 * blocks; with wait, the second waits for the first to let go. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "error.h"
#include "io/file_lock.h"

static char lock_path[96];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long pid_in_file(void) {
    char *text = check_read_file(lock_path, NULL);
    long pid = text ? strtol(text, NULL, 10) : -1;
    free(text);
    return pid;
}

/* A child that takes the lock, says so through the pipe, then holds it for
 * hold_ms (forever when negative) and releases it. */
static pid_t holder_child(int hold_ms) {
    int ready[2];
    if (pipe(ready) != 0) abort();
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        at_file_lock *lock = at_file_lock_acquire(lock_path, 0, NULL);
        if (!lock) _exit(2);
        (void)!write(ready[1], "x", 1);
        if (hold_ms < 0) for (;;) pause();
        usleep((useconds_t)hold_ms * 1000);
        at_file_lock_release(lock);
        _exit(0);
    }
    close(ready[1]);
    char c;
    CHECK(read(ready[0], &c, 1) == 1, "the child took the lock");
    close(ready[0]);
    return pid;
}

static void refused_naming(long holder_expected, const char *what) {
    long holder = -1;
    at_file_lock *lock = at_file_lock_acquire(lock_path, 0, &holder);
    CHECK(lock == NULL, "%s: a second acquisition is refused", what);
    at_file_lock_release(lock);
    CHECK(holder == holder_expected, "%s: the holder's pid: %ld, not %ld", what, holder, holder_expected);
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "process %ld", holder_expected);
    CHECK(strstr(at_last_error(), lock_path) && strstr(at_last_error(), pid_text),
          "%s: the message names the file and the pid: %s", what, at_last_error());
}

int main(void) {
    char dir[] = "/tmp/aapmt_lock_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    snprintf(lock_path, sizeof lock_path, "%s/.lock", dir);

    /* Held in this process: the file names this process; a second open is refused. */
    at_file_lock *lock = at_file_lock_acquire(lock_path, 0, NULL);
    CHECK(lock != NULL, "a free lock is taken: %s", at_last_error());
    CHECK(pid_in_file() == (long)getpid(), "the file holds the holder's pid: %ld", pid_in_file());
    refused_naming((long)getpid(), "held here");
    at_file_lock_release(lock);
    CHECK(access(lock_path, F_OK) != 0, "release removes the lock file");
    lock = at_file_lock_acquire(lock_path, 0, NULL);
    CHECK(lock != NULL, "free again after release: %s", at_last_error());
    at_file_lock_release(lock);

    /* Held by another process, which is then killed: no cleanup, the file stays, the lock goes. */
    pid_t child = holder_child(-1);
    refused_naming((long)child, "held by a child");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK(pid_in_file() == (long)child, "the killed holder's file is left, naming it");
    lock = at_file_lock_acquire(lock_path, 0, NULL);
    CHECK(lock != NULL, "a killed holder's lock is free: %s", at_last_error());
    CHECK(pid_in_file() == (long)getpid(), "the new holder's pid replaces the dead one's");
    at_file_lock_release(lock);

    /* A stale file naming a pid that no longer runs never blocks. */
    FILE *f = fopen(lock_path, "w");
    fprintf(f, "%ld\n", (long)child);
    fclose(f);
    lock = at_file_lock_acquire(lock_path, 0, NULL);
    CHECK(lock != NULL, "a stale lock file does not block: %s", at_last_error());
    at_file_lock_release(lock);

    /* With wait, the second waits until the holder releases. */
    child = holder_child(300);
    double t0 = now();
    lock = at_file_lock_acquire(lock_path, 1, NULL);
    double waited = now() - t0;
    CHECK(lock != NULL, "waiting gets the lock: %s", at_last_error());
    CHECK(waited > 0.1, "it waited for the holder (%.3f s)", waited);
    CHECK(pid_in_file() == (long)getpid(), "then the file names the waiter");
    at_file_lock_release(lock);
    int status = -1;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the holder released cleanly (status %d)", status);

    /* A folder that is not there: an error, not a held lock. */
    long holder = -1;
    char missing[128];
    snprintf(missing, sizeof missing, "%s/no/such/.lock", dir);
    CHECK(at_file_lock_acquire(missing, 0, &holder) == NULL && holder == 0, "a missing folder fails, holder 0");
    CHECK(strstr(at_last_error(), "cannot open the lock file"), "and says why: %s", at_last_error());

    rmdir(dir);
    return check_summary();
}
