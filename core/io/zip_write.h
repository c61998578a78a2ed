/* Writing a zip archive the way torch.save does: every entry stored
 * uncompressed, with its bytes 64-byte aligned in the file (the padding is
 * an extra field of the local header, id "FB", as torch's writer pads), so
 * a reader that maps the file can use each entry in place; zip64 records
 * wherever a size, an offset or the entry count needs them. */
#ifndef AAPMT_IO_ZIP_WRITE_H
#define AAPMT_IO_ZIP_WRITE_H

#include <stdint.h>

#include "atomic_file.h"

typedef struct {
    char *name;
    uint32_t crc;
    uint64_t size, header_offset;
} at_zip_written;

typedef struct {
    at_atomic_file *file;
    uint64_t pos;            /* bytes written so far */
    int count, cap;
    at_zip_written *entries;
    /* Sizes and offsets at or above this go into zip64 fields. The format
     * needs that from 0xFFFFFFFF; a test lowers it to check zip64 on small
     * archives. */
    uint64_t zip64_from;
} at_zip_writer;

/* Entries go to f, which the caller opened and commits after at_zip_finish.
 * Every call returns 0, or -1 with the error set ("op: path: why"). */
void at_zip_writer_init(at_zip_writer *w, at_atomic_file *f);
int at_zip_add(at_zip_writer *w, const char *name, const void *data, uint64_t size);
/* The central directory and the end records. */
int at_zip_finish(at_zip_writer *w);
void at_zip_writer_free(at_zip_writer *w);

#endif
