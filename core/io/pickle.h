/* A safe unpickler for the pickles inside PyTorch checkpoints.
 *
 * It executes nothing. Opcodes outside a fixed list (the ones torch.save
 * emits, and a few that its weights-only loader accepts) are refused, and a
 * GLOBAL is never resolved to code: it becomes a tag from an allow-list
 * (collections.OrderedDict, torch._utils._rebuild_tensor_v2, the typed
 * storage classes, ...), and anything else is an error naming the global.
 * Calls (REDUCE, NEWOBJ) are interpreted only for those tags, building plain
 * values: dicts, tuples, storage references and tensor views whose offset,
 * sizes and strides have been checked against the storage's element count.
 *
 * Every bound is checked: input length, stack size, MARK nesting, value
 * nesting, memo indices, integer widths, UTF-8 of strings. Errors name the
 * byte offset and the opcode or global at fault. */
#ifndef AAPMT_IO_PICKLE_H
#define AAPMT_IO_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../tensor.h"

typedef enum {
    AT_PV_NONE, AT_PV_BOOL, AT_PV_INT, AT_PV_FLOAT, AT_PV_STR,
    AT_PV_TUPLE, AT_PV_LIST, AT_PV_SET, AT_PV_DICT,
    AT_PV_GLOBAL,    /* an allow-listed class or function, as a tag */
    AT_PV_STORAGE,   /* a persistent id: ('storage', class, key, location, numel) */
    AT_PV_TENSOR,    /* a view of a storage */
} at_pv_kind;

typedef enum {
    AT_PG_ORDERED_DICT,        /* collections.OrderedDict */
    AT_PG_REBUILD_TENSOR_V2,   /* torch._utils._rebuild_tensor_v2 */
    AT_PG_REBUILD_PARAMETER,   /* torch._utils._rebuild_parameter */
    AT_PG_REBUILD_FROM_TYPE,   /* torch._tensor._rebuild_from_type_v2 */
    AT_PG_SIZE,                /* torch.Size */
    AT_PG_PARAMETER,           /* torch.nn.parameter.Parameter (a type argument only) */
    AT_PG_TENSOR_TYPE,         /* torch.Tensor (a type argument only) */
    AT_PG_STORAGE,             /* torch.FloatStorage and friends; dtype says which */
} at_pickle_global;

typedef struct at_pv at_pv;
struct at_pv {
    at_pv_kind kind;
    int depth;   /* nesting of containers below and including this value */
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *s; size_t len; } str;         /* points into the pickle; no NUL */
        struct { int n, cap; at_pv **items; } seq;         /* tuple, list, set */
        struct { int n, cap; at_pv **keys, **values; } dict;   /* insertion order */
        struct { at_pickle_global tag; at_dtype dtype; const char *name; } global;
        struct { at_dtype dtype; const char *key; size_t key_len; int64_t numel; } storage;
        struct {
            const at_pv *storage;
            int64_t offset;
            int ndim;
            int64_t shape[AT_MAX_DIMS], stride[AT_MAX_DIMS];
        } tensor;
    } u;
};

typedef struct at_unpickler at_unpickler;

/* where prefixes every error ("load_pt: model.pt: data.pkl"). legacy_ids:
 * persistent ids are the 6-tuples of the pre-1.6 format (view_metadata last,
 * which must be None). */
at_unpickler *at_unpickler_new(const char *where, bool legacy_ids);
/* Runs one pickle from data[0..len) to its STOP; *used gets the bytes it took.
 * The result and everything it references live until at_unpickler_free, and
 * strings point into data, which must outlive them too. NULL on error. */
const at_pv *at_unpickle(at_unpickler *u, const unsigned char *data, size_t len, size_t *used);
void at_unpickler_free(at_unpickler *u);   /* NULL is fine */

/* "dict", "tensor", ...: for messages. */
const char *at_pv_kind_name(at_pv_kind kind);

#endif
