/* at_save_pt: state dicts of every dtype and shape (0-d, empty, up to 8
 * dims, non-contiguous views, random bytes including NaN patterns) written
 * as .pt and read back by aapmt's own loader bit for bit; the archive's
 * layout (records, 64-byte alignment, zip64 when asked); atomic replacement
 * and errors. With AAPMT_PT_WRITE_OUT=DIR every file is kept in DIR with a
 * safetensors twin, for tests/pt_write_torch.py to load with PyTorch. */
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io/checkpoint_internal.h"
#include "io/zip.h"
#include "tensor.h"

static const char *out_dir;   /* AAPMT_PT_WRITE_OUT */
static char dir[] = "/tmp/aapmt-pt-write-XXXXXX";

static uint64_t next(uint64_t *s) {   /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A tensor of random bytes; as a view (of a non-empty shape), it skips a
 * padding element in every dim, every other element in the last, and starts
 * one element in. */
static at_tensor *random_tensor(uint64_t *s, at_dtype d, int ndim, const int64_t *shape, bool view) {
    int64_t padded[AT_MAX_DIMS], one = 1, numel = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    view = view && numel > 0;
    for (int i = 0; i < ndim; i++) padded[i] = view ? shape[i] + 1 + (i == ndim - 1) * shape[i] : shape[i];
    at_tensor *base = at_empty_uninit(d, ndim, ndim ? padded : &one);
    if (!base) return NULL;
    size_t nbytes = base->storage->nbytes;
    unsigned char *p = base->storage->data;
    for (size_t i = 0; i < nbytes; i++) p[i] = (unsigned char)next(s);
    if (!view) return base;
    int64_t stride[AT_MAX_DIMS];
    for (int i = 0; i < ndim; i++) stride[i] = base->stride[i] * (i == ndim - 1 ? 2 : 1);
    at_tensor *v = at_from_storage(base->storage, d, ndim, shape, stride, ndim ? 1 : 0);
    at_release(base);
    return v;
}

/* The elements in logical order. */
static unsigned char *logical_bytes(const at_tensor *t) {
    size_t es = at_dtype_size(t->dtype), n = (size_t)at_numel(t);
    unsigned char *out = malloc(n * es + 1);
    int64_t idx[AT_MAX_DIMS] = {0};
    for (size_t k = 0; out && k < n; k++) {
        int64_t off = t->offset;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
        memcpy(out + k * es, (const unsigned char *)t->storage->data + (size_t)off * es, es);
        for (int d = t->ndim - 1; d >= 0 && ++idx[d] == t->shape[d]; d--) idx[d] = 0;
    }
    return out;
}

static void compare(const at_state_dict *want, const at_state_dict *got, const char *what) {
    CHECK(got && got->count == want->count, "%s: %d tensors back, %d written", what, got ? got->count : -1,
          want->count);
    for (int i = 0; got && i < want->count && i < got->count; i++) {
        const at_tensor *a = want->entries[i].tensor, *b = got->entries[i].tensor;
        const char *name = want->entries[i].name;
        CHECK(strcmp(name, got->entries[i].name) == 0, "%s: entry %d is '%s', not '%s'", what, i,
              got->entries[i].name, name);
        bool same = a->dtype == b->dtype && a->ndim == b->ndim;
        for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == b->shape[d];
        CHECK(same, "%s: '%s': dtype or shape differs", what, name);
        CHECK(at_numel(b) == 0 || at_is_contiguous(b), "%s: '%s' loads contiguous", what, name);
        if (!same) continue;
        unsigned char *x = logical_bytes(a), *y = logical_bytes(b);
        size_t n = (size_t)at_numel(a) * at_dtype_size(a->dtype);
        CHECK(x && y && memcmp(x, y, n) == 0, "%s: '%s': the bytes differ", what, name);
        free(x);
        free(y);
    }
}

static void put(at_state_dict *sd, const char *name, at_tensor *t) {
    CHECK(t && at_sd_put(sd, name, t) == 0, "make '%s': %s", name, at_last_error());
    at_release(t);
}

static bool is_zip64(const char *path) {
    size_t n;
    char *text = check_read_file(path, &n);
    bool found = false;
    for (size_t i = 0; text && i + 4 <= n && !found; i++) found = memcmp(text + i, "PK\6\6", 4) == 0;
    free(text);
    return found;
}

/* Every record where torch puts it, every record's bytes 64-byte aligned. */
static void check_layout(const char *path, int tensors) {
    size_t n;
    unsigned char *data = (unsigned char *)check_read_file(path, &n);
    at_zip z;
    CHECK(data && at_zip_read(&z, data, n, "test", path) == 0, "zip: %s", at_last_error());
    if (!data) return;
    CHECK(z.count == tensors + 3, "%d records for %d tensors", z.count, tensors);
    CHECK(z.count && strcmp(z.entries[0].name, "archive/data.pkl") == 0, "data.pkl first");
    const at_zip_entry *v = at_zip_find(&z, "archive/version"), *o = at_zip_find(&z, "archive/byteorder");
    CHECK(v && v->size == 2 && memcmp(data + v->data_offset, "3\n", 2) == 0, "version 3");
    CHECK(o && o->size == 6 && memcmp(data + o->data_offset, "little", 6) == 0, "byteorder little");
    for (int i = 0; i < z.count; i++)
        CHECK(z.entries[i].data_offset % 64 == 0, "'%s' starts at %llu, not 64-byte aligned", z.entries[i].name,
              (unsigned long long)z.entries[i].data_offset);
    at_zip_free(&z);
    free(data);
}

/* Writes sd as NAME.pt (zip64 fields from zip64_from), reads it back, compares. */
static void round_trip(const at_state_dict *sd, const char *name, uint64_t zip64_from) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.pt", out_dir ? out_dir : dir, name);
    CHECK(at_save_pt_zip64_from(sd, path, zip64_from) == 0, "%s: save: %s", name, at_last_error());
    at_state_dict *back = at_load_pt(path);
    CHECK(back, "%s: load: %s", name, at_last_error());
    compare(sd, back, name);
    at_sd_free(back);
    check_layout(path, sd->count);
    CHECK(is_zip64(path) == (zip64_from != 0), "%s: zip64 records %s", name, zip64_from ? "present" : "absent");
    if (out_dir) {
        snprintf(path, sizeof path, "%s/%s.safetensors", out_dir, name);
        CHECK(at_save_safetensors(sd, path) == 0, "%s: safetensors twin: %s", name, at_last_error());
    } else {
        unlink(path);
    }
}

static const at_dtype dtypes[] = {AT_F32, AT_F64, AT_F16, AT_BF16, AT_I32, AT_I64, AT_U8};
enum { NDTYPES = sizeof dtypes / sizeof *dtypes };

static void test_every_dtype_and_shape(void) {
    static const struct { int ndim; int64_t shape[AT_MAX_DIMS]; } shapes[] = {
        {0, {0}}, {1, {0}}, {3, {3, 0, 2}}, {1, {1}}, {1, {7}}, {2, {2, 3}}, {3, {1, 1, 5}},
        {3, {2, 3, 4}}, {8, {2, 1, 2, 1, 2, 1, 2, 1}},
        {2, {0, 3000000000}},   /* sizes and strides past 2^31: pickled as LONG1 */
    };
    uint64_t s = 17;
    at_state_dict *sd = at_sd_new();
    for (int k = 0; k < NDTYPES; k++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            for (int view = 0; view < 2; view++) {
                char name[64];
                snprintf(name, sizeof name, "%s.%s%zu", at_dtype_name(dtypes[k]), view ? "view" : "shape", i);
                put(sd, name, random_tensor(&s, dtypes[k], shapes[i].ndim, shapes[i].shape, view));
            }
    put(sd, "transposed", at_from_storage(sd->entries[10].tensor->storage, AT_F32, 2, (int64_t[]){3, 2},
                                          (int64_t[]){1, 3}, 0));
    put(sd, "names may be UTF-8: \xc3\xb1 \xe2\x82\xac / and.dots", at_scalar(AT_F32, 1.5));
    round_trip(sd, "dtypes_and_shapes", 0);
    round_trip(sd, "zip64", 1);
    at_sd_free(sd);
    sd = at_sd_new();
    round_trip(sd, "empty_dict", 0);
    at_sd_free(sd);
}

static void test_random_dicts(void) {
    uint64_t s = 2026;
    for (int round = 0; round < 40; round++) {
        at_state_dict *sd = at_sd_new();
        int count = (int)(next(&s) % 6);
        for (int i = 0; i < count; i++) {
            int64_t shape[AT_MAX_DIMS];
            int ndim = (int)(next(&s) % 5);
            for (int d = 0; d < ndim; d++) shape[d] = (int64_t)(next(&s) % 5);
            char name[32];
            snprintf(name, sizeof name, "t%d", i);
            put(sd, name, random_tensor(&s, dtypes[next(&s) % NDTYPES], ndim, shape, next(&s) % 2));
        }
        char name[32];
        snprintf(name, sizeof name, "random%02d", round);
        round_trip(sd, name, round % 4 == 3 ? 1 : 0);
        at_sd_free(sd);
    }
}

static bool temp_files_left(void) {
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *e; d && (e = readdir(d));) found = found || strstr(e->d_name, ".tmp-") != NULL;
    if (d) closedir(d);
    return found;
}

static bool starts_with_pk(const char *path) {
    size_t n;
    char *text = check_read_file(path, &n);
    bool pk = text && n >= 2 && text[0] == 'P' && text[1] == 'K';
    free(text);
    return pk;
}

static void test_formats_and_errors(void) {
    at_state_dict *sd = at_sd_new();
    put(sd, "w", at_full(AT_F32, 1, (int64_t[]){3}, 2.0));
    char path[512];
    static const struct { const char *file; at_save_format format; bool pt; } cases[] = {
        {"a.pt", AT_SAVE_BY_EXTENSION, true}, {"a.pth", AT_SAVE_BY_EXTENSION, true},
        {"a.safetensors", AT_SAVE_BY_EXTENSION, false}, {"a.bin", AT_SAVE_BY_EXTENSION, false},
        {"b.pt", AT_SAVE_SAFETENSORS, false}, {"b.safetensors", AT_SAVE_PT, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].file);
        CHECK(at_save_checkpoint(sd, path, cases[i].format) == 0, "%s: %s", cases[i].file, at_last_error());
        CHECK(starts_with_pk(path) == cases[i].pt, "%s is %s", cases[i].file, cases[i].pt ? "a .pt" : "safetensors");
        at_state_dict *back = at_load_checkpoint(path);
        compare(sd, back, cases[i].file);
        at_sd_free(back);
        /* Saving again replaces the file. */
        CHECK(at_save_checkpoint(sd, path, cases[i].format) == 0, "%s again: %s", cases[i].file, at_last_error());
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/missing/x.pt", dir);
    CHECK(at_save_pt(sd, path) == -1 && strstr(at_last_error(), "save_pt: ") &&
          strstr(at_last_error(), "x.pt") && strstr(at_last_error(), "No such file"),
          "save into a missing folder: %s", at_last_error());
    snprintf(path, sizeof path, "%s/bad.pt", dir);
    put(sd, "not \xff UTF-8", at_scalar(AT_F32, 1));
    CHECK(at_save_pt(sd, path) == -1 && strstr(at_last_error(), "not UTF-8"), "bad name: %s", at_last_error());
    CHECK(access(path, F_OK) != 0, "nothing written for a bad name");
    CHECK(!temp_files_left(), "no temporary file left");
    at_sd_free(sd);
}

int main(void) {
    out_dir = getenv("AAPMT_PT_WRITE_OUT");
    if (out_dir && !*out_dir) out_dir = NULL;
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_every_dtype_and_shape();
    test_random_dicts();
    test_formats_and_errors();
    CHECK(!temp_files_left(), "no temporary file left");
    rmdir(dir);
    return check_summary();
}
