/* Zip reading for torch.save archives: see zip.h.
 *
 * Sizes and offsets come from the central directory (a local header may
 * defer them to a data descriptor); the local header is read only for the
 * lengths of its name and extra field, which fix where the data starts, as
 * in torch's own reader. */
#define _GNU_SOURCE   /* qsort_r */
#include "zip.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tensor.h"

#define EOCD_SIG 0x06054b50u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define ZIP64_EOCD_SIG 0x06064b50u
#define CENTRAL_SIG 0x02014b50u
#define LOCAL_SIG 0x04034b50u
#define EOCD_SIZE 22
#define CENTRAL_SIZE 46
#define LOCAL_SIZE 30
#define MAX_COMMENT 65535

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Is [offset, offset + len) inside a buffer of size bytes? */
static bool in_bounds(uint64_t offset, uint64_t len, uint64_t size) {
    return offset <= size && len <= size - offset;
}

typedef struct {
    const unsigned char *data;
    uint64_t size;
    const char *op, *path;
} reader;

#define FAIL(r, ...)                                                  \
    do {                                                              \
        char why_[512];                                               \
        snprintf(why_, sizeof why_, __VA_ARGS__);                     \
        at_set_error("%s: %s: zip: %s", (r)->op, (r)->path, why_);    \
        return -1;                                                    \
    } while (0)

/* The central directory's place and entry count, from the (zip64) end record. */
static int find_directory(const reader *r, uint64_t *cd_offset, uint64_t *cd_size, uint64_t *count) {
    if (r->size < EOCD_SIZE) FAIL(r, "file of %llu bytes is too short for a zip archive", (unsigned long long)r->size);
    /* The end record is the one whose comment ends the file: an archive
     * comment may itself contain the record's signature. Failing that, the
     * last record whose comment fits (the file has bytes after it). */
    uint64_t lowest = r->size > EOCD_SIZE + MAX_COMMENT ? r->size - EOCD_SIZE - MAX_COMMENT : 0;
    uint64_t eocd = UINT64_MAX, loose = UINT64_MAX;
    for (uint64_t pos = r->size - EOCD_SIZE + 1; pos-- > lowest;) {
        if (rd32(r->data + pos) != EOCD_SIG) continue;
        uint64_t comment = rd16(r->data + pos + 20), after = r->size - pos - EOCD_SIZE;
        if (comment == after) {
            eocd = pos;
            break;
        }
        if (comment < after && loose == UINT64_MAX) loose = pos;
    }
    if (eocd == UINT64_MAX) eocd = loose;
    if (eocd == UINT64_MAX)
        FAIL(r, "no end-of-central-directory record (truncated or not a zip file)");
    const unsigned char *e = r->data + eocd;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0 || rd16(e + 8) != rd16(e + 10))
        FAIL(r, "multi-disk archives are not supported");
    *count = rd16(e + 10);
    *cd_size = rd32(e + 12);
    *cd_offset = rd32(e + 16);
    bool saturated = *count == 0xFFFF || *cd_size == 0xFFFFFFFFu || *cd_offset == 0xFFFFFFFFu;
    bool has_locator = eocd >= 20 && rd32(r->data + eocd - 20) == ZIP64_LOCATOR_SIG;
    if (!has_locator) {
        if (saturated) FAIL(r, "end record needs zip64 values but there is no zip64 locator");
        return 0;
    }
    const unsigned char *loc = r->data + eocd - 20;
    uint64_t z64 = rd64(loc + 8);
    if (!in_bounds(z64, 56, eocd - 20) || rd32(r->data + z64) != ZIP64_EOCD_SIG)
        FAIL(r, "zip64 end record offset %llu is invalid", (unsigned long long)z64);
    const unsigned char *z = r->data + z64;
    if (rd32(z + 16) != 0 || rd32(z + 20) != 0 || rd64(z + 24) != rd64(z + 32))
        FAIL(r, "multi-disk archives are not supported");
    *count = rd64(z + 32);
    *cd_size = rd64(z + 40);
    *cd_offset = rd64(z + 48);
    return 0;
}

/* Zip64 extra field (id 1): 8-byte values for each saturated field, in order. */
static int read_zip64_extra(const reader *r, const char *name, const unsigned char *extra, uint32_t extra_len,
                            uint64_t *usize, uint64_t *csize, uint64_t *offset) {
    bool need_u = *usize == 0xFFFFFFFFu, need_c = *csize == 0xFFFFFFFFu, need_o = *offset == 0xFFFFFFFFu;
    if (!need_u && !need_c && !need_o) return 0;
    uint32_t pos = 0;
    while (pos + 4 <= extra_len) {
        uint16_t id = rd16(extra + pos), len = rd16(extra + pos + 2);
        if (len > extra_len - pos - 4) break;
        if (id == 1) {
            const unsigned char *f = extra + pos + 4;
            uint32_t need = 8u * ((unsigned)need_u + (unsigned)need_c + (unsigned)need_o);
            if (len < need) FAIL(r, "entry '%s': zip64 extra field too short (%u bytes)", name, len);
            if (need_u) *usize = rd64(f), f += 8;
            if (need_c) *csize = rd64(f), f += 8;
            if (need_o) *offset = rd64(f);
            return 0;
        }
        pos += 4u + len;
    }
    FAIL(r, "entry '%s': sizes need a zip64 extra field, which is missing", name);
}

static bool name_is_safe(const char *name) {
    if (name[0] == '/' || name[0] == '\\') return false;
    for (const char *p = name; *p; p++) {
        bool start = p == name || p[-1] == '/' || p[-1] == '\\';
        if (start && p[0] == '.' && p[1] == '.' && (p[2] == 0 || p[2] == '/' || p[2] == '\\')) return false;
    }
    return true;
}

/* *header gets where the entry's local header starts. */
static int read_entry(const reader *r, uint64_t *pos, uint64_t cd_end, at_zip_entry *out, uint64_t *header) {
    if (!in_bounds(*pos, CENTRAL_SIZE, cd_end))
        FAIL(r, "the central directory ends (offset %llu) before its entries do (next one at offset %llu)",
             (unsigned long long)cd_end, (unsigned long long)*pos);
    if (rd32(r->data + *pos) != CENTRAL_SIG)
        FAIL(r, "no central directory entry at offset %llu, where the end record places one (signature 0x%08x)",
             (unsigned long long)*pos, (unsigned)rd32(r->data + *pos));
    const unsigned char *c = r->data + *pos;
    uint16_t flags = rd16(c + 8), method = rd16(c + 10);
    uint64_t csize = rd32(c + 20), usize = rd32(c + 24), offset = rd32(c + 42);
    uint32_t name_len = rd16(c + 28), extra_len = rd16(c + 30), comment_len = rd16(c + 32);
    uint64_t total = CENTRAL_SIZE + (uint64_t)name_len + extra_len + comment_len;
    if (!in_bounds(*pos, total, cd_end))
        FAIL(r, "central directory entry at offset %llu runs past the directory", (unsigned long long)*pos);
    const char *raw_name = (const char *)c + CENTRAL_SIZE;
    if (memchr(raw_name, 0, name_len)) FAIL(r, "entry name with a NUL byte at offset %llu", (unsigned long long)*pos);
    out->name = malloc(name_len + 1u);
    if (!out->name) FAIL(r, "out of memory");
    memcpy(out->name, raw_name, name_len);
    out->name[name_len] = 0;
    const char *name = out->name;
    if (!name_is_safe(name)) FAIL(r, "entry '%s': unsafe name (absolute or with '..')", name);
    if (flags & 1) FAIL(r, "entry '%s' is encrypted", name);
    if (method != 0)
        FAIL(r, "entry '%s': compression method %u%s is not supported (torch.save stores entries uncompressed)",
             name, method, method == 8 ? " (deflate)" : "");
    if (read_zip64_extra(r, name, c + CENTRAL_SIZE + name_len, extra_len, &usize, &csize, &offset)) return -1;
    if (csize != usize)
        FAIL(r, "entry '%s': stored entry with compressed size %llu != size %llu", name,
             (unsigned long long)csize, (unsigned long long)usize);
    /* The local header fixes where the data begins. */
    if (!in_bounds(offset, LOCAL_SIZE, r->size) || rd32(r->data + offset) != LOCAL_SIG)
        FAIL(r, "entry '%s': no local header at offset %llu", name, (unsigned long long)offset);
    const unsigned char *l = r->data + offset;
    uint64_t data_offset = offset + LOCAL_SIZE + rd16(l + 26) + rd16(l + 28);
    if (rd16(l + 26) != name_len)
        FAIL(r, "entry '%s': its local header at offset %llu gives a name of %u bytes, the central directory %u",
             name, (unsigned long long)offset, (unsigned)rd16(l + 26), (unsigned)name_len);
    if (!in_bounds(offset + LOCAL_SIZE, name_len, r->size))
        FAIL(r, "entry '%s': the name in its local header at offset %llu runs past the end of the file", name,
             (unsigned long long)offset);
    if (memcmp(l + LOCAL_SIZE, raw_name, name_len) != 0)
        FAIL(r, "entry '%s': its local header at offset %llu names a different entry", name,
             (unsigned long long)offset);
    if (!in_bounds(data_offset, usize, r->size))
        FAIL(r, "entry '%s': %llu bytes at offset %llu run past the end of the file (%llu bytes; truncated?)",
             name, (unsigned long long)usize, (unsigned long long)data_offset, (unsigned long long)r->size);
    out->data_offset = data_offset;
    out->size = usize;
    *header = offset;
    *pos += total;
    return 0;
}

/* Entries must not share bytes with each other or with the central
 * directory: overlapping entries are how a small archive claims far more
 * data than it holds (the non-recursive zip bomb), and no zip writer makes
 * them. Spans are [local header, end of data). */
typedef struct {
    uint64_t begin, end;
    int index;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

static int check_overlaps(const reader *r, const at_zip *z, span *spans, uint64_t cd_offset) {
    qsort(spans, (size_t)z->count, sizeof *spans, span_cmp);
    for (int i = 0; i < z->count; i++) {
        const char *name = z->entries[spans[i].index].name;
        if (i + 1 < z->count && spans[i].end > spans[i + 1].begin)
            FAIL(r, "entries '%s' and '%s' overlap (bytes %llu..%llu and %llu..)", name,
                 z->entries[spans[i + 1].index].name, (unsigned long long)spans[i].begin,
                 (unsigned long long)spans[i].end, (unsigned long long)spans[i + 1].begin);
        if (spans[i].end > cd_offset)
            FAIL(r, "entry '%s' overlaps the central directory at offset %llu", name, (unsigned long long)cd_offset);
    }
    return 0;
}

static int by_name_cmp(const void *a, const void *b, void *zip) {
    const at_zip_entry *e = ((const at_zip *)zip)->entries;
    return strcmp(e[*(const int *)a].name, e[*(const int *)b].name);
}

int at_zip_read(at_zip *z, const unsigned char *data, uint64_t size, const char *op, const char *path) {
    memset(z, 0, sizeof *z);
    reader r = {data, size, op, path};
    uint64_t cd_offset, cd_size, count;
    if (find_directory(&r, &cd_offset, &cd_size, &count)) return -1;
    if (!in_bounds(cd_offset, cd_size, size)) {
        at_set_error("%s: %s: zip: central directory (%llu bytes at offset %llu) lies outside the file of %llu bytes",
                     op, path, (unsigned long long)cd_size, (unsigned long long)cd_offset, (unsigned long long)size);
        return -1;
    }
    if (count > cd_size / CENTRAL_SIZE || count > INT32_MAX) {
        at_set_error("%s: %s: zip: %llu entries cannot fit a central directory of %llu bytes", op, path,
                     (unsigned long long)count, (unsigned long long)cd_size);
        return -1;
    }
    z->entries = calloc(count ? count : 1, sizeof *z->entries);
    z->by_name = malloc((count ? count : 1) * sizeof *z->by_name);
    if (!z->entries || !z->by_name) {
        at_zip_free(z);
        at_set_error("%s: %s: out of memory", op, path);
        return -1;
    }
    span *spans = malloc((count ? count : 1) * sizeof *spans);
    if (!spans) {
        at_zip_free(z);
        at_set_error("%s: %s: out of memory", op, path);
        return -1;
    }
    uint64_t pos = cd_offset, cd_end = cd_offset + cd_size;
    for (uint64_t i = 0; i < count; i++) {
        z->count = (int)i + 1;   /* so that at_zip_free frees a partial name */
        if (read_entry(&r, &pos, cd_end, &z->entries[i], &spans[i].begin)) {
            free(spans);
            at_zip_free(z);
            return -1;
        }
        spans[i].end = z->entries[i].data_offset + z->entries[i].size;
        spans[i].index = (int)i;
        z->by_name[i] = (int)i;
    }
    z->count = (int)count;
    int overlap = check_overlaps(&r, z, spans, cd_offset);
    free(spans);
    if (overlap) {
        at_zip_free(z);
        return -1;
    }
    qsort_r(z->by_name, count, sizeof *z->by_name, by_name_cmp, z);
    for (int i = 1; i < z->count; i++) {
        const char *a = z->entries[z->by_name[i - 1]].name, *b = z->entries[z->by_name[i]].name;
        if (strcmp(a, b) == 0) {
            at_set_error("%s: %s: zip: duplicate entry '%s'", op, path, a);
            at_zip_free(z);
            return -1;
        }
    }
    return 0;
}

const at_zip_entry *at_zip_find(const at_zip *z, const char *name) {
    int lo = 0, hi = z->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const at_zip_entry *e = &z->entries[z->by_name[mid]];
        int c = strcmp(name, e->name);
        if (c == 0) return e;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

void at_zip_free(at_zip *z) {
    if (!z) return;
    for (int i = 0; i < z->count && z->entries; i++) free(z->entries[i].name);
    free(z->entries);
    free(z->by_name);
    memset(z, 0, sizeof *z);
}
