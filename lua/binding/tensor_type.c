/* The Tensor type's metatable: release, field access (t.grad,
 * t.requires_grad, t[i], t[{i, {a, b}}]), element assignment, and the methods of the parts
 * (tensor_methods.c, tensor_views.c, tensor_math.c, tensor_select.c, tensor_print.c), which
 * it registers: the parts depend on tensor_udata.c, this file on the parts. */
#include <string.h>

#include "binding.h"

/* __gc and __close: drop the reference once; later uses see NULL. */
static int tensor_release(lua_State *L) {
    lt_tensor *ud = luaL_checkudata(L, 1, LT_TENSOR_TYPE);
    at_release(ud->t);
    ud->t = NULL;
    return 0;
}

/* t[i]: the element of a 1-D tensor, or the view t:select(1, i). */
static int index_element(lua_State *L, at_tensor *t, lua_Integer i) {
    const char *fname = "Tensor[]";
    if (t->ndim == 0) return luaL_error(L, "%s: cannot index a 0-dim tensor (use t:item())", fname);
    int64_t c = lt_dim_index_to_c(L, i, 0, t->shape[0], fname);
    if (t->ndim == 1) {
        lt_check_host(L, t, fname);
        lt_push_element(L, t->dtype, at_get(t, &c));
        return 1;
    }
    return lt_push(L, at_select(t, 0, c));
}

static int tensor_index(lua_State *L) {
    int key_type = lua_type(L, 2);
    if (key_type == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;   /* a method */
        const char *key = lua_tostring(L, 2);
        if (strcmp(key, "grad") == 0) {
            at_tensor *t = lt_check(L, 1, "Tensor.grad");
            if (!t->grad) return 0;
            return lt_push_shared(L, t->grad);
        }
        if (strcmp(key, "requires_grad") == 0) {
            lua_pushboolean(L, lt_check(L, 1, "Tensor.requires_grad")->requires_grad);
            return 1;
        }
        return 0;
    }
    if (key_type == LUA_TNUMBER) {
        at_tensor *t = lt_check(L, 1, "Tensor[]");
        int exact;
        lua_Integer i = lua_tointegerx(L, 2, &exact);
        if (!exact) return luaL_error(L, "Tensor[]: index %s is not an integer", lua_tostring(L, 2));
        return index_element(L, t, i);
    }
    if (key_type == LUA_TTABLE) {
        at_tensor *v = lt_index_view(L, lt_check(L, 1, "Tensor[]"), 2, "Tensor[]");
        if (v->ndim > 0) return lt_push(L, v);
        double value = at_item(v);
        at_dtype dtype = v->dtype;
        at_release(v);
        lt_push_element(L, dtype, value);
        return 1;
    }
    return luaL_error(L, "Tensor[]: the key must be a method name, an integer or an index table, got %s",
                      luaL_typename(L, 2));
}

/* t[i] = v: sets an element of a 1-D tensor, or fills (number) / copies
 * into (tensor) the slice t:select(1, i); t[{...}] = v does the same to the
 * element or view the table names (tensor_index.c). Not recorded by autograd. */
static int assign_element(lua_State *L, at_tensor *t) {
    const char *fname = "Tensor[]=";
    bool table = lua_istable(L, 2);
    int exact = 1;
    lua_Integer i = table ? 0 : lua_tointegerx(L, 2, &exact);
    if (!exact) return luaL_error(L, "%s: index %s is not an integer", fname, lua_tostring(L, 2));
    if (t->ndim == 0) return luaL_error(L, "%s: cannot index a 0-dim tensor (use t:set(v))", fname);
    int64_t c = table ? 0 : lt_dim_index_to_c(L, i, 0, t->shape[0], fname);
    at_tensor *src = lt_test(L, 3, fname);
    if (!src && lua_type(L, 3) != LUA_TNUMBER)
        return luaL_error(L, "%s: value must be a number or an aapmt tensor, got %s", fname,
                          luaL_typename(L, 3));
    if (t->ndim == 1 && !src && !table) {
        lt_check_host(L, t, fname);
        at_set(t, &c, lua_tonumber(L, 3));
        return 0;
    }
    at_tensor *slice = table ? lt_index_view(L, t, 2, fname) : NULL;
    bool was = at_set_grad_enabled(false);
    if (!table) slice = at_select(t, 0, c);
    int rc = !slice ? -1 : src ? at_copy_(slice, src) : at_fill_(slice, lua_tonumber(L, 3));
    at_release(slice);
    at_set_grad_enabled(was);
    if (rc != 0) return lt_engine_error(L, fname);
    return 0;
}

static int tensor_newindex(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor[]=");
    if (lua_type(L, 2) == LUA_TNUMBER || lua_istable(L, 2)) return assign_element(L, t);
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "requires_grad") == 0) {
        if (!lua_isboolean(L, 3))
            return luaL_error(L, "Tensor.requires_grad: expected a boolean, got %s", luaL_typename(L, 3));
        if (at_set_requires_grad(t, lua_toboolean(L, 3)) != 0)
            return lt_engine_error(L, "Tensor.requires_grad");
        return 0;
    }
    return luaL_error(L, "Tensor: cannot set field '%s' (only requires_grad and t[i] are writable)",
                      key ? key : luaL_typename(L, 2));
}

static int tensor_len(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:__len");
    if (t->ndim == 0) return luaL_error(L, "Tensor:__len: a 0-dim tensor has no dim 1");
    lua_pushinteger(L, t->shape[0]);
    return 1;
}

static int tensor_free(lua_State *L) {
    lt_check(L, 1, "Tensor:free");
    return tensor_release(L);
}

void lt_tensor_register(lua_State *L) {
    luaL_newmetatable(L, LT_TENSOR_TYPE);
    lua_newtable(L);   /* the methods, reached through __index */
    lt_methods_register(L);
    lt_views_register(L);
    lt_math_register(L);
    lt_select_register(L);
    lua_pushcfunction(L, tensor_free);
    lua_setfield(L, -2, "free");
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");   /* kept for aapmt.Tensor */
    lua_pushcclosure(L, tensor_index, 1);
    lua_setfield(L, -2, "__index");
    static const luaL_Reg meta[] = {
        {"__newindex", tensor_newindex}, {"__len", tensor_len}, {"__gc", tensor_release},
        {"__close", tensor_release}, {"__tostring", lt_tostring}, {NULL, NULL}};
    luaL_setfuncs(L, meta, 0);
    lt_arith_metamethods(L);
    lua_pop(L, 1);
}
