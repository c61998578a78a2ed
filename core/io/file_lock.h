/* An exclusive advisory lock on a file, held for as long as a process works
 * in a folder: what keeps two trainings (or two batches of one experiment,
 * or two drawings of one cached database) from writing into one folder.
 *
 * The lock is flock(2) on a descriptor opened O_CLOEXEC, so the kernel
 * releases it when the holder dies, however it dies: a lock file a killed
 * process left behind is stale and never blocks. A lock cannot say who
 * holds it, so the holder writes its pid into the file, for the message
 * that refuses the next process. Locks conflict between processes and also
 * between two acquisitions in one process (each opens the file anew). */
#ifndef AAPMT_IO_FILE_LOCK_H
#define AAPMT_IO_FILE_LOCK_H

typedef struct at_file_lock at_file_lock;

/* Locks path, creating the file when missing. wait: block until the holder
 * lets go; otherwise fail at once when it is held. Returns the lock, or NULL
 * with at_set_error("path: locked by process N" or why it cannot be opened);
 * *holder (when not NULL) gets the holder's pid, or 0 when the failure is
 * not a held lock or the holder has not yet written its pid. */
at_file_lock *at_file_lock_acquire(const char *path, int wait, long *holder);

/* Removes the lock file (still holding it, so no one can be locking a
 * file that is about to vanish unseen) and releases the lock. NULL is a
 * no-op. */
void at_file_lock_release(at_file_lock *lock);

#endif
