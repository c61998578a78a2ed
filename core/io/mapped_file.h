/* A file mapped into memory and shared by the tensors that borrow its bytes.
 *
 * Checkpoint loaders map the whole file once; every tensor whose bytes can be
 * used in place gets a borrowed storage that holds a reference to the map, so
 * the file is unmapped when the loader and the last such tensor are gone.
 * The map is private and writable: in-place updates of loaded weights (an
 * optimizer step) copy the touched pages and never reach the file. */
#ifndef AAPMT_IO_MAPPED_FILE_H
#define AAPMT_IO_MAPPED_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../tensor.h"

typedef struct at_mapped_file {
    int refcount;
    unsigned char *data;
    size_t size;
    char *path;
} at_mapped_file;

/* Maps path; errors are "op: path: why". Empty files and non-regular files
 * are refused. */
at_mapped_file *at_mapped_file_open(const char *op, const char *path);
void at_mapped_file_retain(at_mapped_file *m);
void at_mapped_file_release(at_mapped_file *m);   /* NULL is fine */

/* A storage for nbytes at offset in the file (the caller checked the range).
 * Zero-copy when the bytes are aligned for elem_size; a heap copy otherwise.
 * swap_bytes: the file's byte order differs from ours, so copy with every
 * elem_size-byte element reversed. */
at_storage *at_mapped_file_storage(at_mapped_file *m, uint64_t offset, uint64_t nbytes,
                                   size_t elem_size, bool swap_bytes);

/* True when the len bytes at s are valid UTF-8 (no overlongs, no surrogates). */
bool at_utf8_valid(const unsigned char *s, size_t len);

#endif
