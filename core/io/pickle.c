/* The safe unpickler: see pickle.h.
 *
 * Values live in an arena owned by the unpickler and are freed together, so
 * shared values (the memo hands out the same object again) and even cycles
 * cost nothing to free, and nothing here walks a value recursively. */
#include "pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapped_file.h"   /* at_utf8_valid */

enum {
    MAX_STACK = 1 << 20,    /* values on the stack */
    MAX_MARKS = 1024,       /* open MARKs */
    MAX_DEPTH = 100,        /* containers inside containers */
    MAX_MEMO = 1 << 26,     /* memo indices */
    MAX_PROTOCOL = 5,
    BLOCK_VALUES = 256,
};

typedef struct block {
    struct block *next;
    int used;
    at_pv values[BLOCK_VALUES];
} block;

struct at_unpickler {
    char where[384];
    bool legacy_ids;
    block *blocks;
    /* State of the pickle being run. */
    const unsigned char *data;
    size_t len, pos, op_pos;
    unsigned char op;
    at_pv **stack;
    int sp, stack_cap;
    int *marks;
    int nmarks;
    at_pv **memo;
    size_t memo_cap, memo_count;
};

/* ---- opcode names, for messages ---- */

static const char *const opcode_names[256] = {
    ['('] = "MARK", ['.'] = "STOP", ['0'] = "POP", ['1'] = "POP_MARK", ['2'] = "DUP",
    ['F'] = "FLOAT", ['I'] = "INT", ['J'] = "BININT", ['K'] = "BININT1", ['L'] = "LONG",
    ['M'] = "BININT2", ['N'] = "NONE", ['P'] = "PERSID", ['Q'] = "BINPERSID", ['R'] = "REDUCE",
    ['S'] = "STRING", ['T'] = "BINSTRING", ['U'] = "SHORT_BINSTRING", ['V'] = "UNICODE",
    ['X'] = "BINUNICODE", ['a'] = "APPEND", ['b'] = "BUILD", ['c'] = "GLOBAL", ['d'] = "DICT",
    ['}'] = "EMPTY_DICT", ['e'] = "APPENDS", ['g'] = "GET", ['h'] = "BINGET", ['i'] = "INST",
    ['j'] = "LONG_BINGET", ['l'] = "LIST", [']'] = "EMPTY_LIST", ['o'] = "OBJ", ['p'] = "PUT",
    ['q'] = "BINPUT", ['r'] = "LONG_BINPUT", ['s'] = "SETITEM", ['t'] = "TUPLE",
    [')'] = "EMPTY_TUPLE", ['u'] = "SETITEMS", ['G'] = "BINFLOAT", ['B'] = "BINBYTES",
    ['C'] = "SHORT_BINBYTES", [0x80] = "PROTO", [0x81] = "NEWOBJ", [0x82] = "EXT1",
    [0x83] = "EXT2", [0x84] = "EXT4", [0x85] = "TUPLE1", [0x86] = "TUPLE2", [0x87] = "TUPLE3",
    [0x88] = "NEWTRUE", [0x89] = "NEWFALSE", [0x8a] = "LONG1", [0x8b] = "LONG4",
    [0x8c] = "SHORT_BINUNICODE", [0x8d] = "BINUNICODE8", [0x8e] = "BINBYTES8",
    [0x8f] = "EMPTY_SET", [0x90] = "ADDITEMS", [0x91] = "FROZENSET", [0x92] = "NEWOBJ_EX",
    [0x93] = "STACK_GLOBAL", [0x94] = "MEMOIZE", [0x95] = "FRAME", [0x96] = "BYTEARRAY8",
    [0x97] = "NEXT_BUFFER", [0x98] = "READONLY_BUFFER",
};

static const char *opname(unsigned char op) { return opcode_names[op] ? opcode_names[op] : "unknown"; }

const char *at_pv_kind_name(at_pv_kind kind) {
    static const char *const names[] = {"None", "bool", "int", "float", "str", "tuple", "list", "set",
                                        "dict", "global", "storage", "tensor"};
    return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "?";
}

/* Every error: "<where>: byte N (OPCODE): why". Returns NULL for convenience. */
static void *fail(at_unpickler *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void *fail(at_unpickler *u, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    at_set_error("%s: byte %zu (%s): %s", u->where, u->op_pos, opname(u->op), why);
    return NULL;
}

/* ---- the allow-list ---- */

typedef struct {
    const char *module, *name, *full;
    at_pickle_global tag;
    int dtype;   /* storages: an at_dtype, or -1 when aapmt has no such dtype */
} allowed_global;

static const allowed_global allow_list[] = {
    {"collections", "OrderedDict", "collections.OrderedDict", AT_PG_ORDERED_DICT, -1},
    {"torch._utils", "_rebuild_tensor_v2", "torch._utils._rebuild_tensor_v2", AT_PG_REBUILD_TENSOR_V2, -1},
    {"torch._utils", "_rebuild_parameter", "torch._utils._rebuild_parameter", AT_PG_REBUILD_PARAMETER, -1},
    {"torch._tensor", "_rebuild_from_type_v2", "torch._tensor._rebuild_from_type_v2", AT_PG_REBUILD_FROM_TYPE, -1},
    /* torch < 1.8 named the module torch.tensor */
    {"torch.tensor", "_rebuild_from_type_v2", "torch._tensor._rebuild_from_type_v2", AT_PG_REBUILD_FROM_TYPE, -1},
    {"torch", "Size", "torch.Size", AT_PG_SIZE, -1},
    {"torch.nn.parameter", "Parameter", "torch.nn.parameter.Parameter", AT_PG_PARAMETER, -1},
    {"torch", "Tensor", "torch.Tensor", AT_PG_TENSOR_TYPE, -1},
    {"torch", "FloatStorage", "torch.FloatStorage", AT_PG_STORAGE, AT_F32},
    {"torch", "DoubleStorage", "torch.DoubleStorage", AT_PG_STORAGE, AT_F64},
    {"torch", "HalfStorage", "torch.HalfStorage", AT_PG_STORAGE, AT_F16},
    {"torch", "BFloat16Storage", "torch.BFloat16Storage", AT_PG_STORAGE, AT_BF16},
    {"torch", "LongStorage", "torch.LongStorage", AT_PG_STORAGE, AT_I64},
    {"torch", "IntStorage", "torch.IntStorage", AT_PG_STORAGE, AT_I32},
    {"torch", "ByteStorage", "torch.ByteStorage", AT_PG_STORAGE, AT_U8},
    {"torch", "BoolStorage", "torch.BoolStorage", AT_PG_STORAGE, AT_U8},   /* bytes 0/1 */
    {"torch", "ShortStorage", "torch.ShortStorage (int16)", AT_PG_STORAGE, -1},
    {"torch", "CharStorage", "torch.CharStorage (int8)", AT_PG_STORAGE, -1},
    {"torch", "ComplexFloatStorage", "torch.ComplexFloatStorage", AT_PG_STORAGE, -1},
    {"torch", "ComplexDoubleStorage", "torch.ComplexDoubleStorage", AT_PG_STORAGE, -1},
    {"torch", "UntypedStorage", "torch.UntypedStorage", AT_PG_STORAGE, -1},
};

/* ---- values ---- */

static at_pv *new_value(at_unpickler *u, at_pv_kind kind) {
    block *b = u->blocks;
    if (!b || b->used == BLOCK_VALUES) {
        b = calloc(1, sizeof *b);
        if (!b) return fail(u, "out of memory");
        b->next = u->blocks;
        u->blocks = b;
    }
    at_pv *v = &b->values[b->used++];
    v->kind = kind;
    return v;
}

static int deepen(at_unpickler *u, at_pv *container, const at_pv *item) {
    if (item->depth + 1 > container->depth) container->depth = item->depth + 1;
    if (container->depth > MAX_DEPTH) {
        fail(u, "values nested more than %d deep", MAX_DEPTH);
        return -1;
    }
    return 0;
}

static int seq_append(at_unpickler *u, at_pv *seq, at_pv *item) {
    if (deepen(u, seq, item)) return -1;
    if (seq->u.seq.n == seq->u.seq.cap) {
        int cap = seq->u.seq.cap ? 2 * seq->u.seq.cap : 4;
        at_pv **items = realloc(seq->u.seq.items, (size_t)cap * sizeof *items);
        if (!items) {
            fail(u, "out of memory");
            return -1;
        }
        seq->u.seq.items = items;
        seq->u.seq.cap = cap;
    }
    seq->u.seq.items[seq->u.seq.n++] = item;
    return 0;
}

/* Keys keep their order and duplicates; the consumer decides what a repeated key means. */
static int dict_set(at_unpickler *u, at_pv *dict, at_pv *key, at_pv *value) {
    if (deepen(u, dict, key) || deepen(u, dict, value)) return -1;
    if (dict->u.dict.n == dict->u.dict.cap) {
        int cap = dict->u.dict.cap ? 2 * dict->u.dict.cap : 8;
        at_pv **keys = realloc(dict->u.dict.keys, (size_t)cap * sizeof *keys);
        if (keys) dict->u.dict.keys = keys;
        at_pv **values = keys ? realloc(dict->u.dict.values, (size_t)cap * sizeof *values) : NULL;
        if (!values) {
            fail(u, "out of memory");
            return -1;
        }
        dict->u.dict.values = values;
        dict->u.dict.cap = cap;
    }
    dict->u.dict.keys[dict->u.dict.n] = key;
    dict->u.dict.values[dict->u.dict.n++] = value;
    return 0;
}

static at_pv *make_tuple(at_unpickler *u, at_pv **items, int n) {
    at_pv *t = new_value(u, AT_PV_TUPLE);
    if (!t) return NULL;
    for (int i = 0; i < n; i++)
        if (seq_append(u, t, items[i])) return NULL;
    return t;
}

/* ---- input ---- */

static const unsigned char *take(at_unpickler *u, size_t n) {
    if (u->len - u->pos < n)
        return fail(u, "truncated: needs %zu more bytes, %zu left", n, u->len - u->pos);
    const unsigned char *p = u->data + u->pos;
    u->pos += n;
    return p;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- the stack ---- */

static int push(at_unpickler *u, at_pv *v) {
    if (!v) return -1;
    if (u->sp == u->stack_cap) {
        if (u->stack_cap >= MAX_STACK) {
            fail(u, "more than %d values on the stack", MAX_STACK);
            return -1;
        }
        int cap = u->stack_cap ? 2 * u->stack_cap : 64;
        at_pv **s = realloc(u->stack, (size_t)cap * sizeof *s);
        if (!s) {
            fail(u, "out of memory");
            return -1;
        }
        u->stack = s;
        u->stack_cap = cap;
    }
    u->stack[u->sp++] = v;
    return 0;
}

static int stack_floor(const at_unpickler *u) { return u->nmarks ? u->marks[u->nmarks - 1] : 0; }

static at_pv *pop(at_unpickler *u) {
    if (u->sp <= stack_floor(u)) return fail(u, "stack underflow");
    return u->stack[--u->sp];
}

static at_pv *top(at_unpickler *u) {
    if (u->sp <= stack_floor(u)) return fail(u, "stack underflow");
    return u->stack[u->sp - 1];
}

/* The values above the last MARK (*n of them, at *items), removing the mark. */
static int pop_mark(at_unpickler *u, at_pv ***items, int *n) {
    if (!u->nmarks) {
        fail(u, "no MARK to close");
        return -1;
    }
    int mark = u->marks[--u->nmarks];
    *items = u->stack ? u->stack + mark : NULL;   /* nothing pushed yet: NULL + 0 is undefined */
    *n = u->sp - mark;
    u->sp = mark;
    return 0;
}

/* ---- memo ---- */

static int memo_put(at_unpickler *u, size_t index) {
    at_pv *v = top(u);
    if (!v) return -1;
    if (index >= MAX_MEMO || index > u->len) {
        fail(u, "memo index %zu is out of range", index);
        return -1;
    }
    if (index >= u->memo_cap) {
        size_t cap = u->memo_cap ? u->memo_cap : 64;
        while (cap <= index) cap *= 2;
        at_pv **m = realloc(u->memo, cap * sizeof *m);
        if (!m) {
            fail(u, "out of memory");
            return -1;
        }
        memset(m + u->memo_cap, 0, (cap - u->memo_cap) * sizeof *m);
        u->memo = m;
        u->memo_cap = cap;
    }
    if (!u->memo[index]) u->memo_count++;
    u->memo[index] = v;
    return 0;
}

static at_pv *memo_get(at_unpickler *u, size_t index) {
    if (index >= u->memo_cap || !u->memo[index]) return fail(u, "memo index %zu was never set", index);
    return u->memo[index];
}

/* ---- globals ---- */

static at_pv *make_global(at_unpickler *u, const char *module, size_t mlen, const char *name, size_t nlen) {
    for (size_t i = 0; i < sizeof allow_list / sizeof *allow_list; i++) {
        const allowed_global *g = &allow_list[i];
        if (strlen(g->module) != mlen || memcmp(g->module, module, mlen) != 0 ||
            strlen(g->name) != nlen || memcmp(g->name, name, nlen) != 0)
            continue;
        if (g->tag == AT_PG_STORAGE && g->dtype < 0)
            return fail(u, "storage class %s has no aapmt dtype", g->full);
        at_pv *v = new_value(u, AT_PV_GLOBAL);
        if (!v) return NULL;
        v->u.global.tag = g->tag;
        v->u.global.dtype = g->dtype < 0 ? AT_F32 : (at_dtype)g->dtype;
        v->u.global.name = g->full;
        return v;
    }
    return fail(u, "global '%.*s.%.*s' is not allowed (a checkpoint may only name collections.OrderedDict, "
                   "torch._utils._rebuild_tensor_v2 and related rebuild functions, and torch storage classes)",
                (int)(mlen > 200 ? 200 : mlen), module, (int)(nlen > 200 ? 200 : nlen), name);
}

/* A GLOBAL operand: printable ASCII up to a newline. */
static const char *read_line(at_unpickler *u, size_t *len) {
    size_t limit = u->len - u->pos < 256 ? u->len - u->pos : 256;
    const unsigned char *start = u->data + u->pos;
    const unsigned char *nl = memchr(start, '\n', limit);
    if (!nl) return fail(u, "name without a newline in the next %zu bytes", limit);
    for (const unsigned char *p = start; p < nl; p++)
        if (*p < 0x20 || *p > 0x7e) return fail(u, "name with a non-printable byte 0x%02x", *p);
    *len = (size_t)(nl - start);
    u->pos += *len + 1;
    return (const char *)start;
}

/* ---- calls: only the allow-listed functions, interpreted here ---- */

static bool is_int(const at_pv *v) { return v->kind == AT_PV_INT; }

static int int_tuple(at_unpickler *u, const at_pv *t, const char *what, int64_t *out, int *n) {
    if (t->kind != AT_PV_TUPLE) {
        fail(u, "_rebuild_tensor_v2: %s is a %s, not a tuple", what, at_pv_kind_name(t->kind));
        return -1;
    }
    if (t->u.seq.n > AT_MAX_DIMS) {
        fail(u, "_rebuild_tensor_v2: %s has %d dims, at most %d supported", what, t->u.seq.n, AT_MAX_DIMS);
        return -1;
    }
    for (int i = 0; i < t->u.seq.n; i++) {
        const at_pv *x = t->u.seq.items[i];
        if (!is_int(x) || x->u.i < 0) {
            fail(u, "_rebuild_tensor_v2: %s[%d] is not a non-negative int", what, i);
            return -1;
        }
        out[i] = x->u.i;
    }
    *n = t->u.seq.n;
    return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static at_pv *rebuild_tensor(at_unpickler *u, const at_pv *args) {
    int n = args->u.seq.n;
    if (n != 6 && n != 7) return fail(u, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %d", n);
    at_pv **a = args->u.seq.items;
    if (a[0]->kind != AT_PV_STORAGE)
        return fail(u, "_rebuild_tensor_v2: argument 1 is a %s, not a storage", at_pv_kind_name(a[0]->kind));
    if (!is_int(a[1]) || a[1]->u.i < 0) return fail(u, "_rebuild_tensor_v2: storage offset is not a non-negative int");
    if (a[4]->kind != AT_PV_BOOL) return fail(u, "_rebuild_tensor_v2: requires_grad is not a bool");
    if (a[5]->kind != AT_PV_DICT && a[5]->kind != AT_PV_NONE)
        return fail(u, "_rebuild_tensor_v2: backward_hooks is a %s", at_pv_kind_name(a[5]->kind));
    if (a[5]->kind == AT_PV_DICT && a[5]->u.dict.n)
        return fail(u, "_rebuild_tensor_v2: a tensor with backward hooks cannot be loaded");
    at_pv *t = new_value(u, AT_PV_TENSOR);
    if (!t) return NULL;
    int sdims, tdims;
    if (int_tuple(u, a[2], "size", t->u.tensor.shape, &sdims) ||
        int_tuple(u, a[3], "stride", t->u.tensor.stride, &tdims))
        return NULL;
    if (sdims != tdims) return fail(u, "_rebuild_tensor_v2: size has %d dims but stride has %d", sdims, tdims);
    const at_pv *s = a[0];
    int64_t offset = a[1]->u.i, numel = 1, last = offset;
    bool overflow = false;
    for (int i = 0; i < sdims; i++) {
        int64_t step;
        overflow |= __builtin_mul_overflow(numel, t->u.tensor.shape[i], &numel);
        if (t->u.tensor.shape[i] == 0) continue;
        overflow |= __builtin_mul_overflow(t->u.tensor.shape[i] - 1, t->u.tensor.stride[i], &step);
        overflow |= __builtin_add_overflow(last, step, &last);
    }
    /* An empty view touches nothing; otherwise its last element must be in the storage. */
    if (overflow || (numel > 0 ? last >= s->u.storage.numel : offset > s->u.storage.numel))
        return fail(u, "_rebuild_tensor_v2: view (offset %lld, %d dims) reaches past storage '%.*s' of %lld elements",
                    (long long)offset, sdims, (int)s->u.storage.key_len, s->u.storage.key,
                    (long long)s->u.storage.numel);
    t->u.tensor.storage = s;
    t->u.tensor.offset = offset;
    t->u.tensor.ndim = sdims;
    return t;
}

static at_pv *call(at_unpickler *u, const at_pv *func, const at_pv *args, bool nested);

/* _rebuild_from_type_v2(func, new_type, args, state): a tensor subclass such as Parameter. */
static at_pv *rebuild_from_type(at_unpickler *u, const at_pv *args) {
    if (args->u.seq.n != 4) return fail(u, "_rebuild_from_type_v2 takes 4 arguments, got %d", args->u.seq.n);
    at_pv **a = args->u.seq.items;
    if (a[1]->kind != AT_PV_GLOBAL ||
        (a[1]->u.global.tag != AT_PG_PARAMETER && a[1]->u.global.tag != AT_PG_TENSOR_TYPE))
        return fail(u, "_rebuild_from_type_v2: the type must be torch.Tensor or torch.nn.parameter.Parameter");
    if (a[2]->kind != AT_PV_TUPLE) return fail(u, "_rebuild_from_type_v2: arguments are not a tuple");
    return call(u, a[0], a[2], true);
}

static at_pv *call(at_unpickler *u, const at_pv *func, const at_pv *args, bool nested) {
    if (func->kind != AT_PV_GLOBAL)
        return fail(u, "calling a %s (only allow-listed globals can be called)", at_pv_kind_name(func->kind));
    if (args->kind != AT_PV_TUPLE) return fail(u, "arguments of %s are a %s, not a tuple",
                                               func->u.global.name, at_pv_kind_name(args->kind));
    int n = args->u.seq.n;
    switch (func->u.global.tag) {
    case AT_PG_ORDERED_DICT:
        if (n != 0) return fail(u, "collections.OrderedDict called with %d arguments (expected none)", n);
        return new_value(u, AT_PV_DICT);
    case AT_PG_REBUILD_TENSOR_V2:
        return rebuild_tensor(u, args);
    case AT_PG_REBUILD_PARAMETER:
        if (n != 3 || args->u.seq.items[0]->kind != AT_PV_TENSOR)
            return fail(u, "_rebuild_parameter expects (tensor, requires_grad, hooks)");
        return args->u.seq.items[0];
    case AT_PG_REBUILD_FROM_TYPE:
        if (nested) return fail(u, "_rebuild_from_type_v2 inside _rebuild_from_type_v2");
        return rebuild_from_type(u, args);
    case AT_PG_SIZE:
        if (n != 1 || args->u.seq.items[0]->kind != AT_PV_TUPLE)
            return fail(u, "torch.Size expects one tuple");
        return args->u.seq.items[0];
    default:
        return fail(u, "%s cannot be called", func->u.global.name);
    }
}

/* ---- persistent ids: storages ---- */

static bool str_is(const at_pv *v, const char *s) {
    return v->kind == AT_PV_STR && v->u.str.len == strlen(s) && memcmp(v->u.str.s, s, v->u.str.len) == 0;
}

static at_pv *persistent_load(at_unpickler *u, const at_pv *pid) {
    int want = u->legacy_ids ? 6 : 5;
    if (pid->kind != AT_PV_TUPLE || pid->u.seq.n < 1)
        return fail(u, "persistent id is a %s, not a tuple", at_pv_kind_name(pid->kind));
    at_pv **a = pid->u.seq.items;
    if (!str_is(a[0], "storage")) {
        if (a[0]->kind != AT_PV_STR) return fail(u, "persistent id does not start with a string");
        return fail(u, "persistent id of kind '%.*s' (only 'storage' is supported)",
                    (int)(a[0]->u.str.len > 100 ? 100 : a[0]->u.str.len), a[0]->u.str.s);
    }
    if (pid->u.seq.n != want) return fail(u, "storage id has %d items, expected %d", pid->u.seq.n, want);
    if (a[1]->kind != AT_PV_GLOBAL || a[1]->u.global.tag != AT_PG_STORAGE)
        return fail(u, "storage id: item 2 is not a torch storage class");
    if (a[2]->kind != AT_PV_STR || a[2]->u.str.len == 0 || memchr(a[2]->u.str.s, 0, a[2]->u.str.len))
        return fail(u, "storage id: the key is not a non-empty string");
    if (a[3]->kind != AT_PV_STR) return fail(u, "storage id: the location is not a string");
    if (!is_int(a[4]) || a[4]->u.i < 0 || a[4]->u.i > INT64_MAX / 8)
        return fail(u, "storage id: element count is not a valid int");
    if (u->legacy_ids && a[5]->kind != AT_PV_NONE)
        return fail(u, "storage id: views of storages (view_metadata) are not supported");
    at_pv *s = new_value(u, AT_PV_STORAGE);
    if (!s) return NULL;
    s->u.storage.dtype = a[1]->u.global.dtype;
    s->u.storage.key = a[2]->u.str.s;
    s->u.storage.key_len = a[2]->u.str.len;
    s->u.storage.numel = a[4]->u.i;
    return s;
}

/* ---- opcodes ---- */

static at_pv *read_string(at_unpickler *u, size_t len) {
    const unsigned char *p = take(u, len);
    if (!p) return NULL;
    if (!at_utf8_valid(p, len)) return fail(u, "string of %zu bytes is not valid UTF-8", len);
    at_pv *v = new_value(u, AT_PV_STR);
    if (!v) return NULL;
    v->u.str.s = (const char *)p;
    v->u.str.len = len;
    return v;
}

static at_pv *int_value(at_unpickler *u, int64_t i) {
    at_pv *v = new_value(u, AT_PV_INT);
    if (v) v->u.i = i;
    return v;
}

static at_pv *read_long1(at_unpickler *u) {
    const unsigned char *p = take(u, 1);
    if (!p) return NULL;
    size_t n = *p;
    if (n > 8) return fail(u, "integer of %zu bytes does not fit 64 bits", n);
    if (!(p = take(u, n))) return NULL;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) x |= (uint64_t)p[i] << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) x |= ~(uint64_t)0 << (8 * n);   /* sign-extend */
    return int_value(u, (int64_t)x);
}

static at_pv *read_binfloat(at_unpickler *u) {
    const unsigned char *p = take(u, 8);
    if (!p) return NULL;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++) bits = bits << 8 | p[i];   /* big-endian */
    at_pv *v = new_value(u, AT_PV_FLOAT);
    if (v) memcpy(&v->u.f, &bits, sizeof bits);
    return v;
}

/* SETITEM(S), APPEND(S), ADDITEMS: add items to the container under them. */
static int add_to(at_unpickler *u, at_pv **items, int n, at_pv_kind kind) {
    at_pv *c = top(u);
    if (!c) return -1;
    if (c->kind != kind) {
        fail(u, "target is a %s, not a %s", at_pv_kind_name(c->kind), at_pv_kind_name(kind));
        return -1;
    }
    if (kind == AT_PV_DICT) {
        if (n % 2) {
            fail(u, "odd number of values (%d) for key/value pairs", n);
            return -1;
        }
        for (int i = 0; i < n; i += 2)
            if (dict_set(u, c, items[i], items[i + 1])) return -1;
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (seq_append(u, c, items[i])) return -1;
    return 0;
}

static int build(at_unpickler *u) {
    at_pv *state = pop(u), *obj = state ? top(u) : NULL;
    if (!obj) return -1;
    /* An OrderedDict's state is its attributes (a state_dict's _metadata); a
     * tensor subclass may carry some too. Neither matters for the weights. */
    if (obj->kind != AT_PV_DICT && obj->kind != AT_PV_TENSOR) {
        fail(u, "BUILD on a %s", at_pv_kind_name(obj->kind));
        return -1;
    }
    if (state->kind != AT_PV_DICT && state->kind != AT_PV_NONE && state->kind != AT_PV_TUPLE) {
        fail(u, "BUILD with a %s state", at_pv_kind_name(state->kind));
        return -1;
    }
    return 0;
}

static int step(at_unpickler *u, bool *stop) {
    const unsigned char *p;
    at_pv *a, *b, **items;
    int n;
    switch (u->op) {
    case 0x80: /* PROTO */
        if (!(p = take(u, 1))) return -1;
        if (*p > MAX_PROTOCOL) {
            fail(u, "protocol %u is newer than %d", *p, MAX_PROTOCOL);
            return -1;
        }
        return 0;
    case 0x95: /* FRAME: a length hint; the opcodes follow inline */
        if (!(p = take(u, 8))) return -1;
        return 0;
    case 'c': { /* GLOBAL */
        size_t mlen = 0, nlen = 0;
        const char *module = read_line(u, &mlen), *name = module ? read_line(u, &nlen) : NULL;
        return name ? push(u, make_global(u, module, mlen, name, nlen)) : -1;
    }
    case 0x93: /* STACK_GLOBAL */
        if (!(b = pop(u)) || !(a = pop(u))) return -1;
        if (a->kind != AT_PV_STR || b->kind != AT_PV_STR) {
            fail(u, "module and name are not strings");
            return -1;
        }
        return push(u, make_global(u, a->u.str.s, a->u.str.len, b->u.str.s, b->u.str.len));
    case 'q': /* BINPUT */
        return (p = take(u, 1)) ? memo_put(u, *p) : -1;
    case 'r': /* LONG_BINPUT */
        return (p = take(u, 4)) ? memo_put(u, le32(p)) : -1;
    case 0x94: /* MEMOIZE */
        return memo_put(u, u->memo_count);
    case 'h': /* BINGET */
        return (p = take(u, 1)) ? push(u, memo_get(u, *p)) : -1;
    case 'j': /* LONG_BINGET */
        return (p = take(u, 4)) ? push(u, memo_get(u, le32(p))) : -1;
    case '(': /* MARK */
        if (u->nmarks == MAX_MARKS) {
            fail(u, "more than %d nested MARKs", MAX_MARKS);
            return -1;
        }
        u->marks[u->nmarks++] = u->sp;
        return 0;
    case '.': /* STOP */
        *stop = true;
        return 0;
    case 't': /* TUPLE */
        return pop_mark(u, &items, &n) ? -1 : push(u, make_tuple(u, items, n));
    case 0x85: case 0x86: case 0x87: /* TUPLE1..3 */
        n = u->op - 0x84;
        if (u->sp - stack_floor(u) < n) {
            fail(u, "stack underflow");
            return -1;
        }
        u->sp -= n;
        return push(u, make_tuple(u, u->stack + u->sp, n));
    case ')': return push(u, new_value(u, AT_PV_TUPLE));
    case ']': return push(u, new_value(u, AT_PV_LIST));
    case '}': return push(u, new_value(u, AT_PV_DICT));
    case 0x8f: return push(u, new_value(u, AT_PV_SET));
    case 'a': /* APPEND */
        return (a = pop(u)) ? add_to(u, &a, 1, AT_PV_LIST) : -1;
    case 'e': /* APPENDS */
        return pop_mark(u, &items, &n) ? -1 : add_to(u, items, n, AT_PV_LIST);
    case 0x90: /* ADDITEMS */
        return pop_mark(u, &items, &n) ? -1 : add_to(u, items, n, AT_PV_SET);
    case 's': { /* SETITEM */
        at_pv *pair[2];
        if (!(pair[1] = pop(u)) || !(pair[0] = pop(u))) return -1;
        return add_to(u, pair, 2, AT_PV_DICT);
    }
    case 'u': /* SETITEMS */
        return pop_mark(u, &items, &n) ? -1 : add_to(u, items, n, AT_PV_DICT);
    case 'X': /* BINUNICODE */
        return (p = take(u, 4)) ? push(u, read_string(u, le32(p))) : -1;
    case 0x8c: /* SHORT_BINUNICODE */
    case 'U':  /* SHORT_BINSTRING */
        return (p = take(u, 1)) ? push(u, read_string(u, *p)) : -1;
    case 'K': /* BININT1 */
        return (p = take(u, 1)) ? push(u, int_value(u, *p)) : -1;
    case 'M': /* BININT2 */
        return (p = take(u, 2)) ? push(u, int_value(u, p[0] | p[1] << 8)) : -1;
    case 'J': /* BININT */
        return (p = take(u, 4)) ? push(u, int_value(u, (int32_t)le32(p))) : -1;
    case 0x8a: /* LONG1 */
        return push(u, read_long1(u));
    case 'G': /* BINFLOAT */
        return push(u, read_binfloat(u));
    case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
        if (!(a = new_value(u, AT_PV_BOOL))) return -1;
        a->u.b = u->op == 0x88;
        return push(u, a);
    case 'N': return push(u, new_value(u, AT_PV_NONE));
    case 'R':  /* REDUCE: func(*args) */
    case 0x81: /* NEWOBJ: cls.__new__(cls, *args) */
        if (!(b = pop(u)) || !(a = pop(u))) return -1;
        if (u->op == 0x81 && (a->kind != AT_PV_GLOBAL || a->u.global.tag != AT_PG_ORDERED_DICT)) {
            fail(u, "only collections.OrderedDict may be created with NEWOBJ");
            return -1;
        }
        return push(u, call(u, a, b, false));
    case 'b': /* BUILD */
        return build(u);
    case 'Q': /* BINPERSID */
        return (a = pop(u)) ? push(u, persistent_load(u, a)) : -1;
    default:
        if (u->op >= 0x20 && u->op < 0x7f) fail(u, "opcode 0x%02x '%c' is not allowed in a checkpoint", u->op, u->op);
        else fail(u, "opcode 0x%02x is not allowed in a checkpoint", u->op);
        return -1;
    }
}

at_unpickler *at_unpickler_new(const char *where, bool legacy_ids) {
    at_unpickler *u = calloc(1, sizeof *u);
    if (u) u->marks = malloc(MAX_MARKS * sizeof *u->marks);
    if (!u || !u->marks) {
        free(u);
        at_set_error("%s: out of memory", where);
        return NULL;
    }
    snprintf(u->where, sizeof u->where, "%s", where);
    u->legacy_ids = legacy_ids;
    return u;
}

const at_pv *at_unpickle(at_unpickler *u, const unsigned char *data, size_t len, size_t *used) {
    u->data = data;
    u->len = len;
    u->pos = u->op_pos = 0;
    u->op = 0x80;
    u->sp = u->nmarks = 0;
    u->memo_count = 0;
    if (u->memo) memset(u->memo, 0, u->memo_cap * sizeof *u->memo);
    bool stop = false;
    while (!stop) {
        u->op_pos = u->pos;
        if (u->pos >= len) {
            u->op = '.';
            return fail(u, "truncated: the pickle ends without STOP");
        }
        u->op = data[u->pos++];
        if (step(u, &stop)) return NULL;
    }
    if (u->nmarks || u->sp != 1) return fail(u, "%d values and %d open MARKs left at STOP", u->sp, u->nmarks);
    *used = u->pos;
    return u->stack[0];
}

void at_unpickler_free(at_unpickler *u) {
    if (!u) return;
    for (block *b = u->blocks, *next; b; b = next) {
        next = b->next;
        for (int i = 0; i < b->used; i++) {
            at_pv *v = &b->values[i];
            if (v->kind == AT_PV_TUPLE || v->kind == AT_PV_LIST || v->kind == AT_PV_SET) free(v->u.seq.items);
            if (v->kind == AT_PV_DICT) free(v->u.dict.keys), free(v->u.dict.values);
        }
        free(b);
    }
    free(u->stack);
    free(u->marks);
    free(u->memo);
    free(u);
}
