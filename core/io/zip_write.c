/* Zip writing for .pt checkpoints: see zip_write.h.
 *
 * Each entry's CRC and size are known before its local header is written
 * (the whole entry is in memory), so the header carries them and no data
 * descriptor follows. Times are fixed at 1980-01-01 00:00: the same tensors
 * give the same bytes. */
#include "zip_write.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../tensor.h"
#include "crc32.h"

#define LOCAL_SIG 0x04034b50u
#define CENTRAL_SIG 0x02014b50u
#define ZIP64_EOCD_SIG 0x06064b50u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define EOCD_SIG 0x06054b50u
#define ALIGNMENT 64
#define DOS_DATE_1980_01_01 0x0021
#define SATURATED32 0xFFFFFFFFu
#define SATURATED16 0xFFFFu

/* A header under construction; the largest is a central entry with its
 * name and a full zip64 field. */
typedef struct {
    unsigned char *p;
    size_t n;
} buf;

static void put16(buf *b, uint32_t v) {
    b->p[b->n++] = (unsigned char)v;
    b->p[b->n++] = (unsigned char)(v >> 8);
}
static void put32(buf *b, uint32_t v) {
    put16(b, v & 0xFFFF);
    put16(b, v >> 16);
}
static void put64(buf *b, uint64_t v) {
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}
static void put_bytes(buf *b, const void *p, size_t n) {
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static uint32_t field32(uint64_t v, bool saturated) { return saturated ? SATURATED32 : (uint32_t)v; }

static int emit(at_zip_writer *w, const void *p, uint64_t n) {
    if (at_atomic_file_write(w->file, p, (size_t)n)) return -1;
    w->pos += n;
    return 0;
}

void at_zip_writer_init(at_zip_writer *w, at_atomic_file *f) {
    *w = (at_zip_writer){.file = f, .zip64_from = SATURATED32};
}

/* The fields both headers have, from "version needed" to the sizes. */
static void put_common(buf *b, bool zip64, uint32_t crc, uint64_t size) {
    put16(b, zip64 ? 45 : 20);   /* version needed: 4.5 for zip64, else 2.0 */
    put16(b, 0);                 /* flags */
    put16(b, 0);                 /* stored */
    put16(b, 0);                 /* time */
    put16(b, DOS_DATE_1980_01_01);
    put32(b, crc);
    put32(b, field32(size, zip64));   /* compressed size */
    put32(b, field32(size, zip64));   /* size */
}

int at_zip_add(at_zip_writer *w, const char *name, const void *data, uint64_t size) {
    size_t name_len = strlen(name);
    if (name_len > 1024) {
        at_set_error("%s: %s: zip entry name of %zu bytes is too long", w->file->op, w->file->path, name_len);
        return -1;
    }
    if (w->count == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        at_zip_written *e = realloc(w->entries, (size_t)cap * sizeof *e);
        if (!e) {
            at_set_error("%s: %s: out of memory", w->file->op, w->file->path);
            return -1;
        }
        w->entries = e, w->cap = cap;
    }
    at_zip_written *e = &w->entries[w->count];
    if (!(e->name = strdup(name))) {
        at_set_error("%s: %s: out of memory", w->file->op, w->file->path);
        return -1;
    }
    w->count++;
    e->crc = at_crc32(0, data, (size_t)size);
    e->size = size;
    e->header_offset = w->pos;
    /* An entry past the zip64 offset has its sizes in zip64 fields too:
     * torch's reader checks a 32-bit offset against the file size unless
     * the sizes are saturated. A local header never holds its own offset. */
    bool zip64 = size >= w->zip64_from || w->pos >= w->zip64_from;
    unsigned char space[30 + 1024 + 20 + 4 + ALIGNMENT];
    buf b = {space, 0};
    put32(&b, LOCAL_SIG);
    put_common(&b, zip64, e->crc, size);
    size_t data_start = (size_t)(w->pos % ALIGNMENT) + 30 + name_len + (zip64 ? 20 : 0) + 4;
    size_t pad = (ALIGNMENT - data_start % ALIGNMENT) % ALIGNMENT;
    put16(&b, (uint32_t)name_len);
    put16(&b, (uint32_t)((zip64 ? 20 : 0) + 4 + pad));   /* extra field length */
    put_bytes(&b, name, name_len);
    if (zip64) {
        put16(&b, 1);
        put16(&b, 16);
        put64(&b, size);
        put64(&b, size);
    }
    put_bytes(&b, "FB", 2);
    put16(&b, (uint32_t)pad);
    memset(b.p + b.n, 'Z', pad);
    b.n += pad;
    return emit(w, b.p, b.n) || emit(w, data, size) ? -1 : 0;
}

static int write_central_entry(at_zip_writer *w, const at_zip_written *e) {
    size_t name_len = strlen(e->name);
    bool big_offset = e->header_offset >= w->zip64_from, big_size = big_offset || e->size >= w->zip64_from;
    unsigned extra = big_size ? 4u + 16u + (big_offset ? 8u : 0u) : 0u;
    unsigned char space[46 + 1024 + 28];
    buf b = {space, 0};
    put32(&b, CENTRAL_SIG);
    put16(&b, extra ? 45 : 20);   /* version made by (MS-DOS attributes) */
    put_common(&b, big_size, e->crc, e->size);
    put16(&b, (uint32_t)name_len);
    put16(&b, extra);
    put16(&b, 0);   /* comment length */
    put16(&b, 0);   /* disk */
    put16(&b, 0);   /* internal attributes */
    put32(&b, 0);   /* external attributes */
    put32(&b, field32(e->header_offset, big_offset));
    put_bytes(&b, e->name, name_len);
    if (extra) {
        put16(&b, 1);
        put16(&b, extra - 4);
        if (big_size) put64(&b, e->size), put64(&b, e->size);
        if (big_offset) put64(&b, e->header_offset);
    }
    return emit(w, b.p, b.n);
}

int at_zip_finish(at_zip_writer *w) {
    uint64_t cd_offset = w->pos;
    for (int i = 0; i < w->count; i++)
        if (write_central_entry(w, &w->entries[i])) return -1;
    uint64_t cd_size = w->pos - cd_offset, count = (uint64_t)w->count;
    bool zip64 = count >= SATURATED16 || cd_size >= w->zip64_from || cd_offset >= w->zip64_from;
    unsigned char space[56 + 20 + 22];
    buf b = {space, 0};
    if (zip64) {
        uint64_t record = w->pos;
        put32(&b, ZIP64_EOCD_SIG);
        put64(&b, 44);   /* the size of the rest of this record */
        put16(&b, 45);
        put16(&b, 45);
        put32(&b, 0);
        put32(&b, 0);
        put64(&b, count);
        put64(&b, count);
        put64(&b, cd_size);
        put64(&b, cd_offset);
        put32(&b, ZIP64_LOCATOR_SIG);
        put32(&b, 0);
        put64(&b, record);
        put32(&b, 1);   /* disks */
    }
    put32(&b, EOCD_SIG);
    put16(&b, 0);
    put16(&b, 0);
    put16(&b, count >= SATURATED16 ? SATURATED16 : (uint32_t)count);
    put16(&b, count >= SATURATED16 ? SATURATED16 : (uint32_t)count);
    put32(&b, field32(cd_size, zip64));
    put32(&b, field32(cd_offset, zip64));
    put16(&b, 0);   /* comment length */
    return emit(w, b.p, b.n);
}

void at_zip_writer_free(at_zip_writer *w) {
    for (int i = 0; i < w->count; i++) free(w->entries[i].name);
    free(w->entries);
    w->entries = NULL;
    w->count = w->cap = 0;
}
