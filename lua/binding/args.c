/* Reading Lua arguments: their names in errors, 1-based dims and indices,
 * shapes, dtype names, and option tables. */
#include <stdio.h>
#include <string.h>

#include "binding.h"

const char *lt_argname(char *buf, size_t size, int idx, const char *fname) {
    bool method = strchr(fname, ':') != NULL;
    if (method && idx == 1) snprintf(buf, size, "self");
    else snprintf(buf, size, "argument #%d", method ? idx - 1 : idx);
    return buf;
}

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

int64_t lt_dim_index_to_c(lua_State *L, lua_Integer index, int d, int64_t size, const char *fname) {
    if (index >= 1 && index <= size) return index - 1;
    if (index < 0 && index >= -size) return size + index;
    luaL_error(L, "%s: index %I is out of range for dim %d of size %I (indices are 1..%I or -%I..-1)", fname,
               index, d + 1, (lua_Integer)size, (lua_Integer)size, (lua_Integer)size);
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

/* ---- option tables ---- */

/* "a, b, c" from a NULL-terminated list, into buf. */
static const char *joined(const char *const *names, char *buf, size_t size) {
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; names[i] && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, i ? ", %s" : "%s", names[i]);
    return buf;
}

void lt_check_options(lua_State *L, int idx, const char *const *allowed, const char *fname) {
    idx = lua_absindex(L, idx);
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "%s: options are named; found a %s key", fname, luaL_typename(L, -2));
        const char *key = lua_tostring(L, -2);
        bool known = false;
        for (int i = 0; allowed[i] && !known; i++) known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            char names[512];
            luaL_error(L, "%s: unknown option '%s' (options: %s)", fname, key, joined(allowed, names, sizeof names));
        }
    }
}

bool lt_options(lua_State *L, int idx, const char *const *allowed, const char *fname) {
    if (lua_isnoneornil(L, idx)) return false;
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: options must be a table, got a %s", fname, luaL_typename(L, idx));
    lt_check_options(L, idx, allowed, fname);
    return true;
}

bool lt_has_option(lua_State *L, int idx, const char *key) {
    bool present = lua_getfield(L, idx, key) != LUA_TNIL;
    lua_pop(L, 1);
    return present;
}

/* Raises "option 'key' must be WANT, got ..." for the value on the top. */
static int wrong_option(lua_State *L, const char *key, const char *want, const char *fname) {
    if (lua_type(L, -1) == LUA_TNUMBER)
        return luaL_error(L, "%s: option '%s' must be %s, got %s", fname, key, want, lua_tostring(L, -1));
    return luaL_error(L, "%s: option '%s' must be %s, got a %s", fname, key, want, luaL_typename(L, -1));
}

double lt_opt_number(lua_State *L, int idx, const char *key, double def, const char *fname) {
    double v = def;
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        int ok;
        v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumberx(L, -1, &ok) : (ok = 0, 0);
        if (!ok) wrong_option(L, key, "a number", fname);
    }
    lua_pop(L, 1);
    return v;
}

lua_Integer lt_opt_integer(lua_State *L, int idx, const char *key, lua_Integer def, const char *fname) {
    lua_Integer v = def;
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        int ok;
        v = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : (ok = 0, 0);
        if (!ok) wrong_option(L, key, "an integer", fname);
    }
    lua_pop(L, 1);
    return v;
}

bool lt_opt_bool(lua_State *L, int idx, const char *key, bool def, const char *fname) {
    bool v = def;
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        if (!lua_isboolean(L, -1)) wrong_option(L, key, "a boolean", fname);
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

const char *lt_opt_string(lua_State *L, int idx, const char *key, const char *def, const char *fname) {
    const char *v = def;
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING) wrong_option(L, key, "a string", fname);
        v = lua_tostring(L, -1); /* kept alive by the options table */
    }
    lua_pop(L, 1);
    return v;
}
