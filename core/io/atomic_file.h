/* Writing a file so that its readers see the old file or the whole new one,
 * never a part: the bytes go to a temporary file beside it (the same folder,
 * so the rename cannot cross file systems), which is synced and then renamed
 * onto it; the folder is synced last so the rename survives a crash too. */
#ifndef AAPMT_IO_ATOMIC_FILE_H
#define AAPMT_IO_ATOMIC_FILE_H

#include <stddef.h>

typedef struct {
    int fd;
    char *tmp;              /* the temporary file's path */
    const char *op, *path;  /* for messages: "op: path: writing failed: why" */
} at_atomic_file;

/* Each returns 0, or -1 with the error set. After a failed write, call
 * at_atomic_file_abort; a failed commit has cleaned up already. */
int at_atomic_file_open(at_atomic_file *f, const char *op, const char *path);
int at_atomic_file_write(at_atomic_file *f, const void *data, size_t n);
int at_atomic_file_commit(at_atomic_file *f);
/* Closes and removes the temporary file; path is left as it was. */
void at_atomic_file_abort(at_atomic_file *f);

#endif
