/* Writing PyTorch checkpoints as torch.save writes a state dict.
 *
 * The archive (zip_write.c) holds archive/data.pkl, a protocol-2 pickle of
 *   OrderedDict(name -> torch._utils._rebuild_tensor_v2(
 *       persistent_load(('storage', torch.FloatStorage, key, 'cpu', numel)),
 *       0, size, stride, False, OrderedDict()))
 * then archive/byteorder, one record archive/data/<key> per tensor, and
 * archive/version "3\n". Every tensor gets its own storage holding it
 * contiguously, so a non-contiguous view is written in logical order and two
 * views of one storage are written twice. The folder is always "archive",
 * whatever the file is called, so the same tensors give the same bytes.
 *
 * The pickle uses the memo as Python's pickler does for what repeats (the
 * globals and the strings 'storage' and 'cpu'), so data.pkl stays a few
 * dozen bytes a tensor. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "checkpoint_internal.h"
#include "mapped_file.h"   /* at_utf8_valid */
#include "zip_write.h"

#define OP "save_pt"
#define ARCHIVE "archive/"
#define SETITEMS_BATCH 1000   /* as Python's pickler batches dict items */

static const char *const storage_classes[AT_NDTYPES] = {
    [AT_F32] = "FloatStorage", [AT_F64] = "DoubleStorage", [AT_F16] = "HalfStorage",
    [AT_BF16] = "BFloat16Storage", [AT_I32] = "IntStorage", [AT_I64] = "LongStorage",
    [AT_U8] = "ByteStorage",
};

/* ---- the pickle ---- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
    bool out_of_memory;
    int next_memo;
    /* memo indices of what has been written once, -1 before */
    int ordered_dict, rebuild, storage_word, cpu, storage_class[AT_NDTYPES];
} pickler;

static void put(pickler *pk, const void *p, size_t n) {
    if (pk->out_of_memory) return;
    if (pk->cap - pk->n < n) {
        size_t cap = pk->cap ? pk->cap : 4096;
        while (cap - pk->n < n) cap *= 2;
        unsigned char *q = realloc(pk->p, cap);
        if (!q) {
            pk->out_of_memory = true;
            return;
        }
        pk->p = q, pk->cap = cap;
    }
    memcpy(pk->p + pk->n, p, n);
    pk->n += n;
}

static void op(pickler *pk, unsigned char code) { put(pk, &code, 1); }

static void put_le(pickler *pk, uint64_t v, int bytes) {
    unsigned char b[8];
    for (int i = 0; i < bytes; i++) b[i] = (unsigned char)(v >> (8 * i));
    put(pk, b, (size_t)bytes);
}

/* The smallest encoding, as Python picks it: BININT1, BININT2, BININT, LONG1. */
static void put_int(pickler *pk, int64_t v) {
    if (v >= 0 && v < 256) {
        op(pk, 'K');
        put_le(pk, (uint64_t)v, 1);
    } else if (v >= 0 && v < 65536) {
        op(pk, 'M');
        put_le(pk, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        op(pk, 'J');
        put_le(pk, (uint64_t)v, 4);
    } else {
        /* little-endian two's complement, no redundant sign bytes */
        int n = 8;
        while (n > 1 && ((v >> (8 * (n - 1))) & 0xFF) == (v < 0 ? 0xFF : 0) &&
               (((v >> (8 * (n - 2))) & 0x80) != 0) == (v < 0))
            n--;
        op(pk, 0x8a);
        put_le(pk, (uint64_t)n, 1);
        put_le(pk, (uint64_t)v, n);
    }
}

static void put_str(pickler *pk, const char *s) {
    size_t n = strlen(s);
    op(pk, 'X');   /* BINUNICODE */
    put_le(pk, n, 4);
    put(pk, s, n);
}

/* true when *slot was written before: then it is fetched from the memo. */
static bool from_memo(pickler *pk, const int *slot) {
    if (*slot < 0) return false;
    op(pk, 'h');   /* BINGET; the memo never reaches 256 entries */
    put_le(pk, (uint64_t)*slot, 1);
    return true;
}

static void remember(pickler *pk, int *slot) {
    *slot = pk->next_memo++;
    op(pk, 'q');   /* BINPUT */
    put_le(pk, (uint64_t)*slot, 1);
}

static void put_global(pickler *pk, int *slot, const char *module, const char *name) {
    if (from_memo(pk, slot)) return;
    op(pk, 'c');
    put(pk, module, strlen(module));
    put(pk, "\n", 1);
    put(pk, name, strlen(name));
    put(pk, "\n", 1);
    remember(pk, slot);
}

static void put_memo_str(pickler *pk, int *slot, const char *s) {
    if (from_memo(pk, slot)) return;
    put_str(pk, s);
    remember(pk, slot);
}

static void put_int_tuple(pickler *pk, int n, const int64_t *v) {
    if (n == 0) {
        op(pk, ')');
        return;
    }
    if (n > 3) op(pk, '(');
    for (int i = 0; i < n; i++) put_int(pk, v[i]);
    op(pk, n > 3 ? 't' : (unsigned char)(0x84 + n));   /* TUPLE, or TUPLE1..TUPLE3 */
}

static void put_empty_ordered_dict(pickler *pk) {
    put_global(pk, &pk->ordered_dict, "collections", "OrderedDict");
    op(pk, ')');
    op(pk, 'R');
}

/* The tensor as written: contiguous, from the start of its own storage. */
static void put_tensor(pickler *pk, const at_tensor *t, const char *key) {
    int64_t stride[AT_MAX_DIMS], st = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        stride[d] = st;
        st *= t->shape[d] > 1 ? t->shape[d] : 1;   /* torch's strides for sizes 0 and 1 */
    }
    put_global(pk, &pk->rebuild, "torch._utils", "_rebuild_tensor_v2");
    op(pk, '(');
    op(pk, '(');
    put_memo_str(pk, &pk->storage_word, "storage");
    put_global(pk, &pk->storage_class[t->dtype], "torch", storage_classes[t->dtype]);
    put_str(pk, key);
    put_memo_str(pk, &pk->cpu, "cpu");
    put_int(pk, at_numel(t));
    op(pk, 't');
    op(pk, 'Q');   /* BINPERSID */
    put_int(pk, 0);
    put_int_tuple(pk, t->ndim, t->shape);
    put_int_tuple(pk, t->ndim, stride);
    op(pk, 0x89);   /* NEWFALSE: requires_grad */
    put_empty_ordered_dict(pk);   /* backward hooks */
    op(pk, 't');
    op(pk, 'R');
}

/* data.pkl; storage keys are the tensors' positions, "0", "1", ... */
static int pickle_state_dict(const at_state_dict *sd, pickler *pk) {
    *pk = (pickler){.ordered_dict = -1, .rebuild = -1, .storage_word = -1, .cpu = -1};
    for (int d = 0; d < AT_NDTYPES; d++) pk->storage_class[d] = -1;
    put(pk, "\x80\x02", 2);   /* PROTO 2 */
    put_empty_ordered_dict(pk);
    for (int i = 0; i < sd->count; i++) {
        if (i % SETITEMS_BATCH == 0) op(pk, '(');
        char key[24];
        snprintf(key, sizeof key, "%d", i);
        put_str(pk, sd->entries[i].name);
        put_tensor(pk, sd->entries[i].tensor, key);
        if (i % SETITEMS_BATCH == SETITEMS_BATCH - 1 || i == sd->count - 1) op(pk, 'u');   /* SETITEMS */
    }
    op(pk, '.');
    return pk->out_of_memory ? -1 : 0;
}

/* ---- the archive ---- */

static int check_saveable(const at_state_dict *sd, const char *path) {
    for (int i = 0; i < sd->count; i++) {
        const char *name = sd->entries[i].name;
        const at_tensor *t = sd->entries[i].tensor;
        if (!at_utf8_valid((const unsigned char *)name, strlen(name))) {
            at_set_error(OP ": %s: '%s' cannot be a tensor name (not UTF-8)", path, name);
            return -1;
        }
        if (t->storage->device != AT_CPU) {
            at_set_error(OP ": %s: '%s' is not on the CPU", path, name);
            return -1;
        }
    }
    return 0;
}

static int add_record(at_zip_writer *z, const char *rest, const void *data, uint64_t size) {
    char name[64];
    snprintf(name, sizeof name, ARCHIVE "%s", rest);
    return at_zip_add(z, name, data, size);
}

static int add_tensor(at_zip_writer *z, int index, const at_tensor *t) {
    char rest[32];
    snprintf(rest, sizeof rest, "data/%d", index);
    uint64_t nbytes = (uint64_t)at_numel(t) * at_dtype_size(t->dtype);
    if (at_is_contiguous(t) || nbytes == 0) return add_record(z, rest, nbytes ? at_data(t) : "", nbytes);
    at_tensor *c = at_to_device(t, AT_CPU);   /* a contiguous copy, in logical order */
    if (!c) {
        at_set_error(OP ": %s: copying a strided tensor failed: out of memory", z->file->path);
        return -1;
    }
    int rc = add_record(z, rest, at_data(c), nbytes);
    at_release(c);
    return rc;
}

static bool host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

int at_save_pt_zip64_from(const at_state_dict *sd, const char *path, uint64_t zip64_from) {
    if (check_saveable(sd, path)) return -1;
    pickler pk;
    if (pickle_state_dict(sd, &pk)) {
        free(pk.p);
        at_set_error(OP ": %s: out of memory", path);
        return -1;
    }
    at_atomic_file f;
    if (at_atomic_file_open(&f, OP, path)) {
        free(pk.p);
        return -1;
    }
    at_zip_writer z;
    at_zip_writer_init(&z, &f);
    if (zip64_from) z.zip64_from = zip64_from;
    const char *order = host_is_little_endian() ? "little" : "big";
    int rc = add_record(&z, "data.pkl", pk.p, pk.n) || add_record(&z, "byteorder", order, strlen(order)) ? -1 : 0;
    for (int i = 0; rc == 0 && i < sd->count; i++) rc = add_tensor(&z, i, sd->entries[i].tensor);
    if (rc == 0) rc = add_record(&z, "version", "3\n", 2) || at_zip_finish(&z) ? -1 : 0;
    if (rc == 0) rc = at_atomic_file_commit(&f);
    else at_atomic_file_abort(&f);
    at_zip_writer_free(&z);
    free(pk.p);
    return rc;
}

int at_save_pt(const at_state_dict *sd, const char *path) { return at_save_pt_zip64_from(sd, path, 0); }
