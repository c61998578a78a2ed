/* safetensors: an 8-byte little-endian header length, a JSON header naming
 * each tensor's dtype, shape and byte range, then the bytes.
 *
 * Reading maps the file and makes every tensor a view into it. The header
 * is checked as the reference implementation checks it: ranges must tile
 * the byte buffer exactly, each range must match its dtype and shape, names
 * must be unique. Writing pads the header so the buffer starts 64-byte
 * aligned and orders tensors by decreasing element size, so every tensor
 * stays aligned and loads zero-copy again. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "checkpoint_internal.h"

enum { MAX_HEADER = 100 * 1000 * 1000, ALIGNMENT = 64 };

static const struct { const char *name; at_dtype dtype; } dtype_names[] = {
    {"F32", AT_F32}, {"F64", AT_F64}, {"F16", AT_F16}, {"BF16", AT_BF16},
    {"I32", AT_I32}, {"I64", AT_I64}, {"U8", AT_U8},
    {"BOOL", AT_U8},   /* one byte each, 0 or 1 */
};

static const char *safetensors_name(at_dtype d) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof *dtype_names; i++)
        if (dtype_names[i].dtype == d) return dtype_names[i].name;
    return NULL;
}

static uint64_t le64(const unsigned char *p) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = x << 8 | p[i];
    return x;
}

bool at_looks_like_safetensors(const unsigned char *data, size_t size) { return size >= 9 && data[8] == '{'; }

/* ---- reading ---- */

typedef struct {
    uint64_t begin, end;
    const char *name;
} byte_range;

static int range_cmp(const void *a, const void *b) {
    const byte_range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* A JSON number that is a whole number in [0, 2^53]. */
static bool whole_number(const cJSON *n, uint64_t *out) {
    if (!cJSON_IsNumber(n)) return false;
    double d = n->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

typedef struct {
    const char *op, *path;
    at_mapped_file *m;
    uint64_t data_start, data_size;
} reader;

#define FAIL(r, ...)                                                      \
    do {                                                                  \
        char why_[512];                                                   \
        snprintf(why_, sizeof why_, __VA_ARGS__);                         \
        at_set_error("%s: %s: safetensors: %s", (r)->op, (r)->path, why_); \
        return -1;                                                        \
    } while (0)

static int check_metadata(const reader *r, const cJSON *meta) {
    if (!cJSON_IsObject(meta)) FAIL(r, "__metadata__ is not an object");
    for (const cJSON *c = meta->child; c; c = c->next)
        if (!cJSON_IsString(c)) FAIL(r, "__metadata__ value '%s' is not a string", c->string);
    return 0;
}

/* cJSON ends its strings at a NUL, so a key "w\u0000a" (or one with a raw
 * NUL byte) would load as "w": two such keys would look like one name twice,
 * and one alone would lose the rest of its name unseen. The raw header is
 * scanned for a NUL, escaped or not, in any string before cJSON reads it; a
 * raw NUL outside strings (cJSON would skip it as white space) is refused
 * too. An unterminated string is left for cJSON to report. */
static int refuse_nul(const reader *r, const char *text, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\0') FAIL(r, "header byte %zu is a NUL byte", i);
        if (text[i] != '"') continue;
        size_t start = ++i, nul = 0;
        const char *nul_kind = NULL;
        for (; i < n && text[i] != '"'; i++) {
            bool escaped_nul = text[i] == '\\' && n - i >= 6 && memcmp(text + i, "\\u0000", 6) == 0;
            if (!nul_kind && (escaped_nul || text[i] == '\0'))
                nul = i, nul_kind = escaped_nul ? "NUL character (\\u0000)" : "NUL byte";
            if (text[i] == '\\') i++;   /* the escaped character cannot end the string */
        }
        if (!nul_kind) continue;
        size_t after = i + 1;
        while (after < n && (text[after] == ' ' || text[after] == '\n' || text[after] == '\r' || text[after] == '\t'))
            after++;
        size_t shown = nul - start < 64 ? nul - start : 64;
        while (shown && ((unsigned char)text[start + shown] & 0xC0) == 0x80) shown--;   /* whole characters */
        bool key = after < n && text[after] == ':';
        FAIL(r, "header byte %zu: a %s in the %s, after '%.*s%s' (%s cannot hold NUL: it would be cut short there)",
             nul, nul_kind, key ? "key" : "string", (int)shown, text + start, shown < nul - start ? "..." : "",
             key ? "a tensor name" : "a header string");
    }
    return 0;
}

/* One header entry → a tensor viewing the mapped bytes; its range goes to *range. */
static int read_entry(const reader *r, const cJSON *e, at_state_dict *sd, byte_range *range) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) FAIL(r, "'%s': entry is not an object", name);
    if (at_sd_get(sd, name)) FAIL(r, "'%s' appears twice in the header", name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offsets))
        FAIL(r, "'%s': needs a string dtype, a shape array and a data_offsets array", name);
    int dtype = -1;
    for (size_t i = 0; i < sizeof dtype_names / sizeof *dtype_names; i++)
        if (strcmp(dt->valuestring, dtype_names[i].name) == 0) dtype = (int)dtype_names[i].dtype;
    if (dtype < 0)
        FAIL(r, "'%s': dtype %s is not supported (F32 F64 F16 BF16 I32 I64 U8 BOOL are)", name, dt->valuestring);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > AT_MAX_DIMS) FAIL(r, "'%s': %d dims, at most %d supported", name, ndim, AT_MAX_DIMS);
    int64_t dims[AT_MAX_DIMS], strides[AT_MAX_DIMS];
    uint64_t numel = 1;
    bool overflow = false;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        uint64_t v;
        if (!whole_number(d, &v)) FAIL(r, "'%s': shape[%d] is not a non-negative integer", name, i);
        dims[i] = (int64_t)v;
        overflow |= __builtin_mul_overflow(numel, v, &numel);
    }
    int64_t st = 1;   /* row-major; zero-size dims count as 1 so strides stay meaningful */
    for (int k = ndim - 1; k >= 0; k--) {
        strides[k] = st;
        overflow |= __builtin_mul_overflow(st, dims[k] ? dims[k] : 1, &st);
    }
    uint64_t begin, end, nbytes;
    if (cJSON_GetArraySize(offsets) != 2 || !whole_number(offsets->child, &begin) ||
        !whole_number(offsets->child->next, &end))
        FAIL(r, "'%s': data_offsets is not two non-negative integers", name);
    overflow |= __builtin_mul_overflow(numel, (uint64_t)at_dtype_size((at_dtype)dtype), &nbytes);
    if (overflow) FAIL(r, "'%s': shape is too large", name);
    if (end < begin || end > r->data_size)
        FAIL(r, "'%s': data_offsets [%llu, %llu] lie outside the %llu-byte buffer (truncated file?)", name,
             (unsigned long long)begin, (unsigned long long)end, (unsigned long long)r->data_size);
    if (end - begin != nbytes)
        FAIL(r, "'%s': data_offsets [%llu, %llu] hold %llu bytes but %s shape needs %llu", name,
             (unsigned long long)begin, (unsigned long long)end, (unsigned long long)(end - begin),
             dt->valuestring, (unsigned long long)nbytes);
    size_t elsize = at_dtype_size((at_dtype)dtype);
    at_storage *s = at_mapped_file_storage(r->m, r->data_start + begin, nbytes, elsize, false);
    if (!s) return -1;
    at_tensor *t = at_from_storage(s, (at_dtype)dtype, ndim, dims, strides, 0);
    at_storage_release(s);
    int rc = t ? at_sd_put(sd, name, t) : -1;
    at_release(t);
    *range = (byte_range){begin, end, name};
    return rc;
}

at_state_dict *at_load_safetensors_mapped(at_mapped_file *m, const char *op) {
    reader r = {op, m->path, m, 0, 0};
    if (m->size < 8) {
        at_set_error("%s: %s: safetensors: %zu bytes is too short for a header", op, m->path, m->size);
        return NULL;
    }
    uint64_t n = le64(m->data);
    if (n > m->size - 8) {
        at_set_error("%s: %s: safetensors: header length %llu runs past the end of the file (%zu bytes)", op,
                     m->path, (unsigned long long)n, m->size);
        return NULL;
    }
    if (n > MAX_HEADER) {   /* the reference implementation's limit; nothing of the header is read */
        at_set_error("%s: %s: safetensors: header length %llu exceeds the %d-byte limit", op, m->path,
                     (unsigned long long)n, MAX_HEADER);
        return NULL;
    }
    const char *text = (const char *)m->data + 8;
    if (n < 2 || text[0] != '{' || !at_utf8_valid((const unsigned char *)text, n)) {
        at_set_error("%s: %s: safetensors: the header is not a UTF-8 JSON object", op, m->path);
        return NULL;
    }
    r.data_start = 8 + n;
    r.data_size = m->size - r.data_start;
    if (refuse_nul(&r, text, n)) return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, false);
    bool trailing_ok = root && end;
    for (const char *p = end; trailing_ok && p < text + n; p++)
        trailing_ok = *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t';
    if (!cJSON_IsObject(root) || !trailing_ok) {
        const char *bad = root ? NULL : cJSON_GetErrorPtr();
        if (bad && bad >= text && bad <= text + n)
            at_set_error("%s: %s: safetensors: the header is not valid JSON (error near header byte %ld)", op,
                         m->path, (long)(bad - text));
        else
            at_set_error("%s: %s: safetensors: the header is not a single JSON object", op, m->path);
        cJSON_Delete(root);
        return NULL;
    }
    int count = cJSON_GetArraySize(root);
    byte_range *ranges = malloc((size_t)(count ? count : 1) * sizeof *ranges);
    at_state_dict *sd = at_sd_new();
    int nranges = 0, rc = ranges && sd ? 0 : -1;
    if (rc) at_set_error("%s: %s: out of memory", op, m->path);
    for (const cJSON *e = root->child; e && rc == 0; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) rc = check_metadata(&r, e);
        else rc = read_entry(&r, e, sd, &ranges[nranges++]);
    }
    /* The ranges must tile the buffer: no gaps, no overlaps, nothing after. */
    if (rc == 0) {
        qsort(ranges, (size_t)nranges, sizeof *ranges, range_cmp);
        uint64_t covered = 0;
        for (int i = 0; i < nranges && rc == 0; i++) {
            if (ranges[i].begin != covered) {
                at_set_error("%s: %s: safetensors: '%s' starts at byte %llu of the buffer, expected %llu (%s)", op,
                             m->path, ranges[i].name, (unsigned long long)ranges[i].begin,
                             (unsigned long long)covered, ranges[i].begin < covered ? "overlap" : "gap");
                rc = -1;
            }
            covered = ranges[i].end;
        }
        if (rc == 0 && covered != r.data_size) {
            at_set_error("%s: %s: safetensors: tensors cover %llu bytes but the buffer holds %llu", op, m->path,
                         (unsigned long long)covered, (unsigned long long)r.data_size);
            rc = -1;
        }
    }
    free(ranges);
    cJSON_Delete(root);
    if (rc == 0 && at_sd_strip_prefix(sd, "module.") < 0) rc = -1;
    if (rc) {
        at_sd_free(sd);
        return NULL;
    }
    return sd;
}

at_state_dict *at_load_safetensors(const char *path) {
    at_mapped_file *m = at_mapped_file_open("load_safetensors", path);
    if (!m) return NULL;
    at_state_dict *sd = at_load_safetensors_mapped(m, "load_safetensors");
    at_mapped_file_release(m);
    return sd;
}

/* ---- writing ---- */

static cJSON *raw_number(uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(buf);
}

/* Stable order by decreasing element size keeps every range aligned. */
static int *write_order(const at_state_dict *sd) {
    int *order = malloc((size_t)(sd->count ? sd->count : 1) * sizeof *order);
    if (!order) return NULL;
    int k = 0;
    for (size_t size = 8; size >= 1; size /= 2)
        for (int i = 0; i < sd->count; i++)
            if (at_dtype_size(sd->entries[i].tensor->dtype) == size) order[k++] = i;
    return order;
}

/* The header JSON, padded with spaces so the buffer starts 64-byte aligned. */
static char *make_header(const at_state_dict *sd, const int *order, size_t *len) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    bool ok = root && meta && cJSON_AddStringToObject(meta, "format", "pt");
    if (ok) cJSON_AddItemToObject(root, "__metadata__", meta);
    else cJSON_Delete(meta);
    uint64_t offset = 0;
    for (int k = 0; ok && k < sd->count; k++) {
        const at_tensor *t = sd->entries[order[k]].tensor;
        cJSON *e = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offs = cJSON_CreateArray();
        ok = e && shape && offs && cJSON_AddStringToObject(e, "dtype", safetensors_name(t->dtype));
        for (int d = 0; ok && d < t->ndim; d++) ok = cJSON_AddItemToArray(shape, raw_number((uint64_t)t->shape[d]));
        uint64_t nbytes = (uint64_t)at_numel(t) * at_dtype_size(t->dtype);
        ok = ok && cJSON_AddItemToArray(offs, raw_number(offset)) &&
             cJSON_AddItemToArray(offs, raw_number(offset + nbytes));
        offset += nbytes;
        if (ok) {
            cJSON_AddItemToObject(e, "shape", shape);
            cJSON_AddItemToObject(e, "data_offsets", offs);
            cJSON_AddItemToObject(root, sd->entries[order[k]].name, e);
        } else {
            cJSON_Delete(e);
            cJSON_Delete(shape);
            cJSON_Delete(offs);
        }
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json) return NULL;
    size_t n = strlen(json), padded = (8 + n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT - 8;
    char *out = realloc(json, padded);
    if (!out) {
        free(json);
        return NULL;
    }
    memset(out + n, ' ', padded - n);
    *len = padded;
    return out;
}

static int check_saveable(const at_state_dict *sd, const char *path) {
    for (int i = 0; i < sd->count; i++) {
        const char *name = sd->entries[i].name;
        const at_tensor *t = sd->entries[i].tensor;
        if (strcmp(name, "__metadata__") == 0 || !at_utf8_valid((const unsigned char *)name, strlen(name))) {
            at_set_error("save_safetensors: %s: '%s' cannot be a tensor name", path, name);
            return -1;
        }
        if (t->storage->device != AT_CPU) {
            at_set_error("save_safetensors: %s: '%s' is not on the CPU", path, name);
            return -1;
        }
        if (!safetensors_name(t->dtype)) {
            at_set_error("save_safetensors: %s: '%s' has dtype %s, which safetensors cannot hold", path, name,
                         at_dtype_name(t->dtype));
            return -1;
        }
    }
    return 0;
}

static int write_tensor(at_atomic_file *f, const at_tensor *t) {
    size_t nbytes = (size_t)at_numel(t) * at_dtype_size(t->dtype);
    if (nbytes == 0) return 0;
    if (at_is_contiguous(t) && !at_on_cuda(t)) return at_atomic_file_write(f, at_data(t), nbytes);
    at_tensor *c = at_to_device(t, AT_CPU);   /* logical (row-major) order, in host memory */
    if (!c) {
        at_set_error("save_safetensors: %s: copying a strided tensor failed: out of memory", f->path);
        return -1;
    }
    int rc = at_atomic_file_write(f, at_data(c), nbytes);
    at_release(c);
    return rc;
}

int at_save_safetensors(const at_state_dict *sd, const char *path) {
    if (check_saveable(sd, path)) return -1;
    int *order = write_order(sd);
    size_t hlen = 0;
    char *header = order ? make_header(sd, order, &hlen) : NULL;
    at_atomic_file f;
    int rc = -1;
    if (!header) at_set_error("save_safetensors: %s: out of memory", path);
    else if (at_atomic_file_open(&f, "save_safetensors", path) == 0) {
        unsigned char len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
        rc = at_atomic_file_write(&f, len8, 8) || at_atomic_file_write(&f, header, hlen) ? -1 : 0;
        for (int k = 0; rc == 0 && k < sd->count; k++) rc = write_tensor(&f, sd->entries[order[k]].tensor);
        if (rc == 0) rc = at_atomic_file_commit(&f);
        else at_atomic_file_abort(&f);
    }
    free(order);
    free(header);
    return rc;
}
