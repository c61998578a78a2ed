/* Reading a whole file into memory, with a cap on how much is read.
 *
 * The one place the readers of CSV files, split files, vocabularies, model
 * configs and images read their files, so a wrong path (/dev/zero, a pipe
 * that never ends, a multi-gigabyte binary) ends in a clean error instead of
 * filling memory:
 *  - a regular file larger than the limit is refused by its size (fstat)
 *    before a byte is read;
 *  - a pipe or device is read in chunks and refused as soon as more bytes
 *    than the limit have arrived;
 *  - a text file is checked as it arrives: the first NUL byte stops the read
 *    (a binary or UTF-16 file), however large the rest is.
 *
 * Limits are bytes. A kind with an environment variable reads its limit from
 * it when set: a whole number, optionally ending in K, M or G (KiB, MiB,
 * GiB); anything else is an error naming the variable. */
#ifndef AAPMT_IO_READ_WHOLE_H
#define AAPMT_IO_READ_WHOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct at_file_kind {
    const char *limit_env;    /* the variable that sets the limit; NULL: fixed */
    uint64_t default_limit;   /* bytes */
    bool text;                /* refuse a NUL byte as soon as it arrives */
} at_file_kind;

/* CSV files, split files, vocabularies: 2 GiB, AAPMT_MAX_TEXT_BYTES. */
extern const at_file_kind AT_TEXT_FILE;
/* Image files: 1 GiB, AAPMT_MAX_IMAGE_BYTES. */
extern const at_file_kind AT_IMAGE_FILE;

/* The whole file at path, NUL-terminated (*len excludes the NUL; free() it).
 * NULL after at_set_error with a message that begins with who_format (filled
 * like printf, naming the file, e.g. "csv: %s", path) and says what went
 * wrong: "cannot open: reason", "cannot read: reason", the size and the
 * limit, or the offset and line of a NUL byte in a text file. */
char *at_read_whole(const char *path, const at_file_kind *kind, size_t *len, const char *who_format, ...)
    __attribute__((format(printf, 4, 5)));

#endif
