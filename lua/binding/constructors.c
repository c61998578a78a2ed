/* Making tensors from Lua: aapmt.tensor (nested tables), zeros, ones, full,
 * empty, rand, randn, arange, linspace and eye. The default dtype is f32.
 * Every constructor ends with the same optional argument: a dtype name or an
 * options table {dtype =, requires_grad =, device =} (rand and randn also
 * take seed, aapmt.tensor shape). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "binding.h"

/* ---- the options every constructor takes ---- */

typedef struct {
    at_dtype dtype;
    bool requires_grad;
    at_device device;
    int table;   /* the options table's stack index, 0 when there is none */
} ctor_options;

static ctor_options read_options(lua_State *L, int idx, const char *const *allowed, const char *fname) {
    ctor_options o = {AT_F32, false, AT_CPU, 0};
    if (lua_isnoneornil(L, idx) || lua_type(L, idx) == LUA_TSTRING) {
        o.dtype = lt_opt_dtype(L, idx, AT_F32, fname);
        return o;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: the last argument must be a dtype name or an options table, got %s", fname,
                   luaL_typename(L, idx));
    lt_check_options(L, idx, allowed, fname);
    o.table = lua_absindex(L, idx);
    lua_getfield(L, idx, "dtype");
    o.dtype = lt_opt_dtype(L, -1, AT_F32, fname);
    lua_pop(L, 1);
    o.requires_grad = lt_opt_bool(L, idx, "requires_grad", false, fname);
    const char *device = lt_opt_string(L, idx, "device", "cpu", fname);
    int d = at_device_from_name(device);
    if (d < 0) luaL_error(L, "%s: option 'device' must be 'cpu' or 'cuda', got '%s'", fname, device);
    o.device = (at_device)d;
    return o;
}

static const char *const common_options[] = {"dtype", "requires_grad", "device", NULL};

/* Moves t to the options' device and marks it, then pushes it (an engine
 * error, such as requires_grad on an integer dtype, raises). */
static int push_made(lua_State *L, at_tensor *t, const ctor_options *o, const char *fname) {
    if (t && o->device != AT_CPU) {
        at_tensor *moved = at_to_device(t, o->device);
        at_release(t);
        t = moved;
    }
    if (t && o->requires_grad && at_set_requires_grad(t, true)) {
        at_release(t);
        t = NULL;
    }
    if (!t) return luaL_error(L, "%s: %s", fname, at_last_error());
    return lt_push(L, t);
}

/* A value must reach an integer dtype unchanged: no fraction, in range.
 * Float dtypes round as IEEE does. idx is the value's stack slot, or 0 for
 * a computed value; Lua integers past 2^53 would be rounded by the f64
 * staging, so they are refused too. */
static void check_value(lua_State *L, int idx, double v, at_dtype dtype, const char *fname) {
    if (idx && lua_isinteger(L, idx)) {
        lua_Integer i = lua_tointeger(L, idx);
        if (i > ((lua_Integer)1 << 53) || i < -((lua_Integer)1 << 53))
            luaL_error(L, "%s: value %I is beyond 2^53, so it cannot be stored exactly", fname, i);
    }
    double lo, hi;
    const char *range;
    switch (dtype) {
    case AT_I32: lo = -2147483648.0, hi = 2147483647.0, range = "-2147483648..2147483647"; break;
    case AT_I64: lo = -9007199254740992.0, hi = 9007199254740992.0, range = "-2^53..2^53 through Lua numbers"; break;
    case AT_U8: lo = 0, hi = 255, range = "0..255"; break;
    default: return;
    }
    char text[32];
    snprintf(text, sizeof text, "%.17g", v);
    if (v != floor(v)) /* NaN too */
        luaL_error(L, "%s: value %s is not an integer, so dtype %s cannot hold it", fname, text, at_dtype_name(dtype));
    if (v < lo || v > hi)
        luaL_error(L, "%s: value %s is out of range for dtype %s (%s)", fname, text, at_dtype_name(dtype), range);
}

/* ---- aapmt.tensor(data [, dtype]) ---- */

typedef struct nested_reader {
    const char *fname;
    int ndim;
    int64_t shape[AT_MAX_DIMS];
    int64_t path[AT_MAX_DIMS];   /* 1-based position being read, for messages */
    double *values;
    int64_t count;
    at_dtype dtype;   /* the values are checked against it as they are read */
} nested_reader;

/* The shape follows the first element at each depth: {{1,2},{3,4}} is 2x2. */
static void infer_shape(lua_State *L, int idx, nested_reader *r) {
    lua_pushvalue(L, idx);
    r->ndim = 0;
    while (lua_istable(L, -1)) {
        if (r->ndim == AT_MAX_DIMS)
            luaL_error(L, "%s: tables nested deeper than %d levels", r->fname, AT_MAX_DIMS);
        int64_t n = (int64_t)lua_rawlen(L, -1);
        r->shape[r->ndim++] = n;
        if (n == 0) break;
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
}

static const char *path_str(const nested_reader *r, int depth, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < depth && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "[%lld]", (long long)r->path[d]);
    return buf;
}

static void read_nested(lua_State *L, int tbl, int d, nested_reader *r) {
    char where[160];
    if ((int64_t)lua_rawlen(L, tbl) != r->shape[d])
        luaL_error(L, "%s: ragged nested table: t%s has %d elements, expected %d like the first",
                   r->fname, path_str(r, d, where, sizeof where), (int)lua_rawlen(L, tbl),
                   (int)r->shape[d]);
    luaL_checkstack(L, 2, r->fname);
    for (int64_t i = 1; i <= r->shape[d]; i++) {
        r->path[d] = i;
        int type = lua_rawgeti(L, tbl, i);
        if (d + 1 < r->ndim) {
            if (type != LUA_TTABLE)
                luaL_error(L, "%s: t%s is a %s, expected a table (shape from the first elements)",
                           r->fname, path_str(r, d + 1, where, sizeof where), lua_typename(L, type));
            read_nested(L, lua_gettop(L), d + 1, r);
        } else {
            if (type != LUA_TNUMBER)
                luaL_error(L, "%s: t%s is a %s, expected a number", r->fname,
                           path_str(r, d + 1, where, sizeof where), lua_typename(L, type));
            r->values[r->count] = lua_tonumber(L, -1);
            check_value(L, lua_gettop(L), r->values[r->count++], r->dtype, r->fname);
        }
        lua_pop(L, 1);
    }
}

/* A tensor of dtype from f64 values, converting through at_copy_. */
static at_tensor *from_f64(at_dtype dtype, int ndim, const int64_t *shape, const double *values) {
    at_tensor *f64 = at_from_data(AT_F64, ndim, shape, values);
    if (!f64 || dtype == AT_F64) return f64;
    at_tensor *out = at_empty(dtype, ndim, shape);
    if (out && at_copy_(out, f64) != 0) {
        at_release(out);
        out = NULL;
    }
    at_release(f64);
    return out;
}

static const char *const tensor_options[] = {"dtype", "requires_grad", "device", "shape", NULL};

/* The shape option of aapmt.tensor(flat, {shape = {...}}): reads the flat
 * table as that shape, whose element count must match. */
static void reshape_flat(lua_State *L, const ctor_options *o, nested_reader *r, const char *fname) {
    if (!o->table || lua_getfield(L, o->table, "shape") == LUA_TNIL) {
        if (o->table) lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1)) luaL_error(L, "%s: option 'shape' must be a table of sizes, got a %s", fname, luaL_typename(L, -1));
    if (r->ndim != 1) luaL_error(L, "%s: option 'shape' needs a flat table of numbers, got %d nested levels", fname, r->ndim);
    int64_t shape[AT_MAX_DIMS], n = 1;
    int next, ndim = lt_check_shape(L, lua_gettop(L), shape, &next, 0, fname);
    for (int d = 0; d < ndim; d++) n *= shape[d];
    if (n != r->shape[0])
        luaL_error(L, "%s: option 'shape' has %I elements, but the table holds %I", fname, (lua_Integer)n,
                   (lua_Integer)r->shape[0]);
    lua_pop(L, 1);
    r->ndim = ndim;
    memcpy(r->shape, shape, sizeof shape);
}

static int c_tensor(lua_State *L) {
    const char *fname = "aapmt.tensor";
    if (lua_type(L, 1) == LUA_TNUMBER) {
        ctor_options o = read_options(L, 2, common_options, fname);
        check_value(L, 1, lua_tonumber(L, 1), o.dtype, fname);
        return push_made(L, at_scalar(o.dtype, lua_tonumber(L, 1)), &o, fname);
    }
    at_tensor *src = lt_test(L, 1, fname);
    if (src) {   /* a copy, without history, optionally converted (as t:to does) */
        ctor_options o = read_options(L, 2, common_options, fname);
        if (lua_isnoneornil(L, 2) || (o.table && !lt_has_option(L, o.table, "dtype"))) o.dtype = src->dtype;
        at_tensor *out = at_empty(o.dtype, src->ndim, src->shape);
        if (out && at_copy_(out, src) != 0) {
            at_release(out);
            out = NULL;
        }
        return push_made(L, out, &o, fname);
    }
    if (!lua_istable(L, 1))
        return luaL_error(L, "%s: argument #1 must be a (nested) table of numbers, a number or "
                          "a tensor, got %s", fname, luaL_typename(L, 1));
    ctor_options o = read_options(L, 2, tensor_options, fname);
    nested_reader r = {.fname = fname, .dtype = o.dtype};
    infer_shape(L, 1, &r);
    int64_t n = 1;
    for (int d = 0; d < r.ndim; d++) n *= r.shape[d];
    /* Lua owns the staging buffer, so an error while reading frees it. */
    r.values = lua_newuserdatauv(L, sizeof(double) * (size_t)(n > 0 ? n : 1), 0);
    read_nested(L, 1, 0, &r);
    reshape_flat(L, &o, &r, fname);
    return push_made(L, from_f64(o.dtype, r.ndim, r.shape, r.values), &o, fname);
}

/* ---- zeros, ones, empty, full ---- */

static int filled(lua_State *L, double value, bool zeroed, const char *fname) {
    int64_t shape[AT_MAX_DIMS];
    int next, ndim = lt_check_shape(L, 1, shape, &next, 0, fname);
    ctor_options o = read_options(L, next, common_options, fname);
    return push_made(L, zeroed ? at_zeros(o.dtype, ndim, shape) : at_full(o.dtype, ndim, shape, value), &o, fname);
}

static int c_zeros(lua_State *L) { return filled(L, 0, true, "aapmt.zeros"); }
static int c_ones(lua_State *L) { return filled(L, 1, false, "aapmt.ones"); }
static int c_empty(lua_State *L) { return filled(L, 0, true, "aapmt.empty"); }

/* aapmt.full({2, 3}, value [, options]) or aapmt.full(2, 3, value [, options]). */
static int c_full(lua_State *L) {
    const char *fname = "aapmt.full";
    int value_at = 2;
    if (!lua_istable(L, 1)) {   /* sizes..., value: the last number is the value */
        value_at = 1;
        while (lua_type(L, value_at + 1) == LUA_TNUMBER) value_at++;
    }
    double value = luaL_checknumber(L, value_at);
    ctor_options o = read_options(L, value_at + 1, common_options, fname);
    check_value(L, value_at, value, o.dtype, fname);
    lua_settop(L, value_at - 1);   /* leaves only the shape */
    int64_t shape[AT_MAX_DIMS];
    int next, ndim = lua_gettop(L) == 0 ? 0 : lt_check_shape(L, 1, shape, &next, 0, fname);
    return push_made(L, at_full(o.dtype, ndim, shape, value), &o, fname);
}

/* ---- rand, randn: (shape... [, {seed =, dtype =, requires_grad =, device =} | dtype]) ---- */

static const char *const random_options[] = {"dtype", "requires_grad", "device", "seed", NULL};

static int random_tensor(lua_State *L, bool normal, const char *fname) {
    int64_t shape[AT_MAX_DIMS];
    int next, ndim = lt_check_shape(L, 1, shape, &next, 0, fname);
    ctor_options o = read_options(L, next, random_options, fname);
    at_rng local, *rng = lt_default_rng(L);
    if (o.table && lt_has_option(L, o.table, "seed")) {
        local = at_rng_new((uint64_t)lt_opt_integer(L, o.table, "seed", 0, fname));
        rng = &local;
    }
    return push_made(L, normal ? at_randn(rng, o.dtype, ndim, shape) : at_rand(rng, o.dtype, ndim, shape), &o,
                     fname);
}

static int c_rand(lua_State *L) { return random_tensor(L, false, "aapmt.rand"); }
static int c_randn(lua_State *L) { return random_tensor(L, true, "aapmt.randn"); }

/* ---- arange, linspace, eye ---- */

/* A 1-D tensor of n values start + i·step, each checked against the dtype. */
static int push_sequence(lua_State *L, int64_t n, double start, double step, const ctor_options *o,
                         const char *fname) {
    double *v = lua_newuserdatauv(L, sizeof(double) * (size_t)(n > 0 ? n : 1), 0);
    for (int64_t i = 0; i < n; i++) {
        v[i] = start + (double)i * step;
        check_value(L, 0, v[i], o->dtype, fname);
    }
    return push_made(L, from_f64(o->dtype, 1, &n, v), o, fname);
}

static double number_arg(lua_State *L, int idx, const char *name, const char *fname) {
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_error(L, "%s: %s must be a number, got %s", fname, name, luaL_typename(L, idx));
    double v = lua_tonumber(L, idx);
    if (!isfinite(v)) luaL_error(L, "%s: %s must be finite, got %f", fname, name, v);
    return v;
}

/* aapmt.arange(stop) or aapmt.arange(start, stop [, step]): start, start +
 * step, ... up to stop, which is left out (as in PyTorch and Python's range). */
static int c_arange(lua_State *L) {
    const char *fname = "aapmt.arange";
    int nums = 0;
    while (nums < 3 && lua_type(L, nums + 1) == LUA_TNUMBER) nums++;
    if (nums == 0) return luaL_error(L, "%s: expected (stop) or (start, stop [, step]), got %s", fname, luaL_typename(L, 1));
    double start = nums == 1 ? 0 : number_arg(L, 1, "start", fname);
    double stop = number_arg(L, nums == 1 ? 1 : 2, "stop", fname);
    double step = nums == 3 ? number_arg(L, 3, "step", fname) : 1;
    ctor_options o = read_options(L, nums + 1, common_options, fname);
    if (step == 0) return luaL_error(L, "%s: step must not be 0", fname);
    if ((stop - start) * step < 0)
        return luaL_error(L, "%s: step %f moves away from stop (start %f, stop %f)", fname, step, start, stop);
    double count = ceil((stop - start) / step);
    if (count > 1e12) return luaL_error(L, "%s: %.0f elements are too many", fname, count);
    return push_sequence(L, (int64_t)count, start, step, &o, fname);
}

/* aapmt.linspace(start, stop, n): n evenly spaced values, both ends included. */
static int c_linspace(lua_State *L) {
    const char *fname = "aapmt.linspace";
    double start = number_arg(L, 1, "start", fname), stop = number_arg(L, 2, "stop", fname);
    int exact;
    lua_Integer n = lua_tointegerx(L, 3, &exact);
    if (!exact || n < 1)
        return luaL_error(L, "%s: n (argument #3) must be an integer >= 1, got %s", fname,
                          lua_type(L, 3) == LUA_TNUMBER ? lua_tostring(L, 3) : luaL_typename(L, 3));
    ctor_options o = read_options(L, 4, common_options, fname);
    return push_sequence(L, n, start, n == 1 ? 0 : (stop - start) / (double)(n - 1), &o, fname);
}

/* aapmt.eye(n [, m]): ones on the diagonal of an n x m (default n x n) matrix. */
static int c_eye(lua_State *L) {
    const char *fname = "aapmt.eye";
    int64_t size[2];
    int next = 1;
    for (int i = 0; i < 2; i++) {
        if (i == 1 && lua_type(L, 2) != LUA_TNUMBER) {
            size[1] = size[0];
            break;
        }
        int exact;
        lua_Integer v = lua_tointegerx(L, i + 1, &exact);
        if (!exact || v < 0)
            return luaL_error(L, "%s: %s (argument #%d) must be an integer >= 0, got %s", fname, i ? "m" : "n", i + 1,
                              lua_type(L, i + 1) == LUA_TNUMBER ? lua_tostring(L, i + 1) : luaL_typename(L, i + 1));
        size[i] = v;
        next = i + 2;
    }
    ctor_options o = read_options(L, next, common_options, fname);
    at_tensor *t = at_zeros(o.dtype, 2, size);
    for (int64_t i = 0; t && i < size[0] && i < size[1]; i++) at_set(t, (int64_t[]){i, i}, 1.0);
    return push_made(L, t, &o, fname);
}

void lt_constructors_register(lua_State *L) {
    static const luaL_Reg constructors[] = {
        {"tensor", c_tensor}, {"zeros", c_zeros}, {"ones", c_ones}, {"empty", c_empty},
        {"full", c_full}, {"rand", c_rand}, {"randn", c_randn}, {"arange", c_arange},
        {"linspace", c_linspace}, {"eye", c_eye}, {NULL, NULL}};
    luaL_setfuncs(L, constructors, 0);
}
