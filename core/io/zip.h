/* Reading a zip archive held in memory (a mapped .pt file): the central
 * directory, with zip64, for archives whose entries are all stored
 * uncompressed, as torch.save writes them. Nothing is copied: an entry is
 * an offset and a size in the buffer. */
#ifndef AAPMT_IO_ZIP_H
#define AAPMT_IO_ZIP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;              /* NUL-terminated copy of the entry name */
    uint64_t data_offset;    /* where the entry's bytes start in the buffer */
    uint64_t size;
} at_zip_entry;

typedef struct {
    int count;
    at_zip_entry *entries;   /* in central-directory order */
    int *by_name;            /* entry indices sorted by name, for lookups */
} at_zip;

/* Parses the archive in data[0..size). Checks every offset and size against
 * the buffer and refuses compressed or encrypted entries, duplicate names,
 * names with "..", and entries whose bytes overlap another entry's or the
 * central directory (a small file claiming far more data than it holds).
 * Errors are "op: path: why". Returns 0 or -1. */
int at_zip_read(at_zip *z, const unsigned char *data, uint64_t size, const char *op, const char *path);
const at_zip_entry *at_zip_find(const at_zip *z, const char *name);   /* NULL if absent */
void at_zip_free(at_zip *z);

#endif
