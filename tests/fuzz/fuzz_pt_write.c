/* Fuzzing the .pt writer (core/io/pt_write.c, zip_write.c): the input
 * becomes a state dict (names, dtypes, shapes, views, element bytes, and
 * whether zip64 fields are forced), which is written with at_save_pt, read
 * back with at_load_pt and compared: any difference in names, order, dtype,
 * shape or a single bit aborts. A save may fail only for a name that is not
 * UTF-8. Files go to a folder of their own in /dev/shm (or $TMPDIR), where
 * fsync costs nothing. */
#include <stdbool.h>

#include "fuzz_common.h"
#include "io/checkpoint_internal.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} input;

static uint8_t take(input *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

/* A fresh folder for each input, removed after it (a crash leaves it). */
static void make_folder(char *folder, size_t size) {
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(folder, size, "%s/aapmt-fuzz-pt-write-XXXXXX", base);
    if (!mkdtemp(folder)) {
        perror("fuzz: mkdtemp");
        abort();
    }
}

static const at_dtype dtypes[] = {AT_F32, AT_F64, AT_F16, AT_BF16, AT_I32, AT_I64, AT_U8};

/* A tensor of the input's next bytes; a view steps over every other element
 * of a storage twice its size, backwards in the first dim. */
static at_tensor *make_tensor(input *in) {
    at_dtype d = dtypes[take(in) % 7];
    int ndim = take(in) % 5;
    bool view = take(in) & 1;
    int64_t shape[AT_MAX_DIMS], numel = 1, one = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i] = take(in) % 6;
    view = view && ndim > 0 && numel > 0;
    int64_t whole = view ? 2 * numel : numel;
    at_tensor *base = at_empty_uninit(d, 1, whole ? &whole : &one);
    if (!base) abort();
    unsigned char *bytes = base->storage->data;
    for (size_t i = 0; i < base->storage->nbytes; i++) bytes[i] = take(in);
    if (!view) {
        at_tensor *t = at_from_storage(base->storage, d, ndim, ndim ? shape : &one, NULL, 0);
        at_release(base);
        return t;
    }
    int64_t stride[AT_MAX_DIMS], st = 2;
    for (int i = ndim - 1; i >= 0; i--) stride[i] = st, st *= shape[i];
    int64_t offset = (shape[0] - 1) * stride[0];
    stride[0] = -stride[0];
    at_tensor *t = at_from_storage(base->storage, d, ndim, shape, stride, offset);
    at_release(base);
    return t;
}

static void element_bytes(const at_tensor *t, int64_t k, unsigned char *out) {
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (k % t->shape[d]) * t->stride[d];
        k /= t->shape[d];
    }
    size_t es = at_dtype_size(t->dtype);
    memcpy(out, (const unsigned char *)t->storage->data + (size_t)off * es, es);
}

static void same_or_abort(const at_state_dict *want, const at_state_dict *got) {
    if (got->count != want->count) {
        fprintf(stderr, "fuzz: %d tensors written, %d read back\n", want->count, got->count);
        abort();
    }
    for (int i = 0; i < want->count; i++) {
        const at_tensor *a = want->entries[i].tensor, *b = got->entries[i].tensor;
        bool same = strcmp(want->entries[i].name, got->entries[i].name) == 0 && a->dtype == b->dtype &&
                    a->ndim == b->ndim;
        for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == b->shape[d];
        unsigned char x[8], y[8];
        for (int64_t k = 0; same && k < at_numel(a); k++) {
            element_bytes(a, k, x);
            element_bytes(b, k, y);
            same = memcmp(x, y, at_dtype_size(a->dtype)) == 0;
        }
        if (!same) {
            fprintf(stderr, "fuzz: entry %d ('%s') reads back different\n", i, want->entries[i].name);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char folder[256], path[300];
    make_folder(folder, sizeof folder);
    snprintf(path, sizeof path, "%s/x.pt", folder);
    input in = {data, size};
    uint64_t zip64_from = take(&in) & 1;
    int count = take(&in) % 8;
    at_state_dict *sd = at_sd_new();
    bool names_utf8 = true;
    for (int i = 0; i < count; i++) {
        char name[24];
        size_t len = take(&in) % 16;
        for (size_t k = 0; k < len; k++) name[k] = (char)(take(&in) | 1);   /* no NUL */
        name[len] = 0;
        at_tensor *t = make_tensor(&in);
        if (!t || at_sd_put(sd, name, t)) {
            fprintf(stderr, "fuzz: making tensor %d failed: %s\n", i, at_last_error());
            abort();
        }
        at_release(t);
    }
    for (int i = 0; i < sd->count; i++)
        names_utf8 = names_utf8 && at_utf8_valid((const unsigned char *)sd->entries[i].name,
                                                 strlen(sd->entries[i].name));
    bool saved = at_save_pt_zip64_from(sd, path, zip64_from) == 0;
    if (saved != names_utf8) {
        fprintf(stderr, "fuzz: names %s UTF-8, yet the save %s: %s\n", names_utf8 ? "are" : "are not",
                saved ? "succeeded" : "failed", saved ? "" : at_last_error());
        abort();
    }
    if (saved) {
        at_state_dict *back = at_load_pt(path);
        if (!back) {
            fprintf(stderr, "fuzz: what was written does not load: %s\n", at_last_error());
            abort();
        }
        same_or_abort(sd, back);
        at_sd_free(back);
    }
    at_sd_free(sd);
    unlink(path);
    rmdir(folder);
    return 0;
}
