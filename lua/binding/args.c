/* Reading Lua arguments: 1-based dims and indices, shapes, dtype names. */
#include <string.h>

#include "binding.h"

int lt_dim_to_c(lua_State *L, lua_Integer dim, int ndim, const char *fname) {
    if (dim >= 1 && dim <= ndim) return (int)(dim - 1);
    if (dim < 0 && dim >= -ndim) return (int)(ndim + dim);
    if (ndim == 0)
        return luaL_error(L, "%s: dim %d is out of range: the tensor is 0-dim", fname, (int)dim);
    return luaL_error(L, "%s: dim %d is out of range for a %d-D tensor (dims are 1..%d or -%d..-1)",
                      fname, (int)dim, ndim, ndim, ndim);
}

int lt_check_dim(lua_State *L, int idx, int ndim, const char *fname) {
    int exact;
    lua_Integer dim = lua_tointegerx(L, idx, &exact);
    if (!exact) {
        char arg[32];
        return luaL_error(L, "%s: %s (dim) must be an integer, got %s", fname,
                          lt_argname(arg, sizeof arg, idx, fname), luaL_typename(L, idx));
    }
    return lt_dim_to_c(L, dim, ndim, fname);
}

int64_t lt_index_to_c(lua_State *L, lua_Integer index, int64_t size, const char *fname) {
    if (index >= 1 && index <= size) return index - 1;
    if (index < 0 && index >= -size) return size + index;
    luaL_error(L, "%s: index %d is out of range for a dim of size %d (indices are 1..%d or -%d..-1)",
               fname, (int)index, (int)size, (int)size, (int)size);
    return -1;
}

/* One shape entry; raises unless it is an integer >= 0 (or -1 when allowed). */
static int64_t shape_entry(lua_State *L, int idx, int n, int allow_minus_one, const char *fname) {
    int exact;
    lua_Integer v = lua_tointegerx(L, idx, &exact);
    if (!exact || v < (allow_minus_one ? -1 : 0))
        luaL_error(L, "%s: size %d of the shape must be an integer >= %d, got %s", fname, n,
                   allow_minus_one ? -1 : 0,
                   lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
    return v;
}

int lt_check_shape(lua_State *L, int idx, int64_t *shape, int *next, int allow_minus_one,
                   const char *fname) {
    if (lua_istable(L, idx)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        if (n > AT_MAX_DIMS)
            luaL_error(L, "%s: shape has %d sizes, at most %d are supported", fname, (int)n, AT_MAX_DIMS);
        for (int i = 0; i < n; i++) {
            lua_rawgeti(L, idx, i + 1);
            shape[i] = shape_entry(L, -1, i + 1, allow_minus_one, fname);
            lua_pop(L, 1);
        }
        *next = idx + 1;
        return (int)n;
    }
    int n = 0;
    while (lua_type(L, idx + n) == LUA_TNUMBER) {
        if (n == AT_MAX_DIMS)
            luaL_error(L, "%s: shape has more than %d sizes", fname, AT_MAX_DIMS);
        shape[n] = shape_entry(L, idx + n, n + 1, allow_minus_one, fname);
        n++;
    }
    *next = idx + n;
    return n;
}

at_dtype lt_dtype_from_string(lua_State *L, const char *name, const char *fname) {
    int d = at_dtype_from_name(name);
    if (d < 0)
        luaL_error(L, "%s: unknown dtype '%s' (expected f32, f64, f16, bf16, i32, i64 or u8)",
                   fname, name);
    return (at_dtype)d;
}

at_dtype lt_opt_dtype(lua_State *L, int idx, at_dtype def, const char *fname) {
    if (lua_isnoneornil(L, idx)) return def;
    if (lua_type(L, idx) != LUA_TSTRING) {
        char arg[32];
        luaL_error(L, "%s: %s (dtype) must be a dtype name such as 'f32', got %s", fname,
                   lt_argname(arg, sizeof arg, idx, fname), luaL_typename(L, idx));
    }
    return lt_dtype_from_string(L, lua_tostring(L, idx), fname);
}
