/* Making tensors from Lua: aapmt.tensor (nested tables), zeros, ones, full,
 * empty, rand and randn. The default dtype is f32. */
#include <stdio.h>
#include <string.h>

#include "binding.h"

/* ---- aapmt.tensor(data [, dtype]) ---- */

typedef struct nested_reader {
    const char *fname;
    int ndim;
    int64_t shape[AT_MAX_DIMS];
    int64_t path[AT_MAX_DIMS];   /* 1-based position being read, for messages */
    double *values;
    int64_t count;
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
            r->values[r->count++] = lua_tonumber(L, -1);
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

static int c_tensor(lua_State *L) {
    const char *fname = "aapmt.tensor";
    if (lua_type(L, 1) == LUA_TNUMBER)
        return lt_push(L, at_scalar(lt_opt_dtype(L, 2, AT_F32, fname), lua_tonumber(L, 1)));
    at_tensor *src = lt_test(L, 1, fname);
    if (src) {   /* a copy, without history, optionally converted */
        at_tensor *out = at_empty(lt_opt_dtype(L, 2, src->dtype, fname), src->ndim, src->shape);
        if (out && at_copy_(out, src) != 0) {
            at_release(out);
            out = NULL;
        }
        return lt_push(L, out);
    }
    if (!lua_istable(L, 1))
        return luaL_error(L, "%s: argument #1 must be a (nested) table of numbers, a number or "
                          "a tensor, got %s", fname, luaL_typename(L, 1));
    at_dtype dtype = lt_opt_dtype(L, 2, AT_F32, fname);
    nested_reader r = {.fname = fname};
    infer_shape(L, 1, &r);
    int64_t n = 1;
    for (int d = 0; d < r.ndim; d++) n *= r.shape[d];
    /* Lua owns the staging buffer, so an error while reading frees it. */
    r.values = lua_newuserdatauv(L, sizeof(double) * (size_t)(n > 0 ? n : 1), 0);
    read_nested(L, 1, 0, &r);
    return lt_push(L, from_f64(dtype, r.ndim, r.shape, r.values));
}

/* ---- zeros, ones, empty, full ---- */

static int c_zeros(lua_State *L) {
    int64_t shape[AT_MAX_DIMS];
    int next, ndim = lt_check_shape(L, 1, shape, &next, 0, "aapmt.zeros");
    return lt_push(L, at_zeros(lt_opt_dtype(L, next, AT_F32, "aapmt.zeros"), ndim, shape));
}

static int c_ones(lua_State *L) {
    int64_t shape[AT_MAX_DIMS];
    int next, ndim = lt_check_shape(L, 1, shape, &next, 0, "aapmt.ones");
    return lt_push(L, at_full(lt_opt_dtype(L, next, AT_F32, "aapmt.ones"), ndim, shape, 1.0));
}

static int c_empty(lua_State *L) {
    int64_t shape[AT_MAX_DIMS];
    int next, ndim = lt_check_shape(L, 1, shape, &next, 0, "aapmt.empty");
    return lt_push(L, at_empty(lt_opt_dtype(L, next, AT_F32, "aapmt.empty"), ndim, shape));
}

/* aapmt.full({2, 3}, value [, dtype]) or aapmt.full(2, 3, value [, dtype]). */
static int c_full(lua_State *L) {
    const char *fname = "aapmt.full";
    int value_at = 2;
    if (!lua_istable(L, 1)) {   /* sizes..., value: the last number is the value */
        value_at = 1;
        while (lua_type(L, value_at + 1) == LUA_TNUMBER) value_at++;
    }
    double value = luaL_checknumber(L, value_at);
    at_dtype dtype = lt_opt_dtype(L, value_at + 1, AT_F32, fname);
    lua_settop(L, value_at - 1);   /* leaves only the shape */
    int64_t shape[AT_MAX_DIMS];
    int next, ndim = lua_gettop(L) == 0 ? 0 : lt_check_shape(L, 1, shape, &next, 0, fname);
    return lt_push(L, at_full(dtype, ndim, shape, value));
}

/* ---- rand, randn: (shape... [, {seed=N, dtype=..., requires_grad=bool} | dtype]) ---- */

static int random_tensor(lua_State *L, bool normal, const char *fname) {
    int64_t shape[AT_MAX_DIMS];
    int next, ndim = lt_check_shape(L, 1, shape, &next, 0, fname);
    at_dtype dtype = AT_F32;
    at_rng local, *rng = NULL;
    bool requires_grad = false;
    if (lua_istable(L, next)) {
        lua_getfield(L, next, "requires_grad");
        requires_grad = lua_toboolean(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, next, "dtype");
        dtype = lt_opt_dtype(L, -1, AT_F32, fname);
        if (lua_getfield(L, next, "seed") != LUA_TNIL) {
            int exact;
            lua_Integer seed = lua_tointegerx(L, -1, &exact);
            if (!exact) return luaL_error(L, "%s: seed must be an integer", fname);
            local = at_rng_new((uint64_t)seed);
            rng = &local;
        }
    } else {
        dtype = lt_opt_dtype(L, next, AT_F32, fname);
    }
    if (!rng) rng = lt_default_rng(L);
    at_tensor *t = normal ? at_randn(rng, dtype, ndim, shape) : at_rand(rng, dtype, ndim, shape);
    if (t && requires_grad && at_set_requires_grad(t, true)) {
        at_release(t);
        t = NULL;
    }
    return lt_push(L, t);
}

static int c_rand(lua_State *L) { return random_tensor(L, false, "aapmt.rand"); }
static int c_randn(lua_State *L) { return random_tensor(L, true, "aapmt.randn"); }

void lt_constructors_register(lua_State *L) {
    static const luaL_Reg constructors[] = {
        {"tensor", c_tensor}, {"zeros", c_zeros}, {"ones", c_ones}, {"empty", c_empty},
        {"full", c_full}, {"rand", c_rand}, {"randn", c_randn}, {NULL, NULL}};
    luaL_setfuncs(L, constructors, 0);
}
