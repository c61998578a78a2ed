/* Tensor methods for inspection, element access and autograd. */
#include "binding.h"

static int t_size(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:size");
    if (!lua_isnoneornil(L, 2)) {
        lua_pushinteger(L, t->shape[lt_check_dim(L, 2, t->ndim, "Tensor:size")]);
        return 1;
    }
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
        lua_pushinteger(L, t->shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

static int t_dim(lua_State *L) {
    lua_pushinteger(L, lt_check(L, 1, "Tensor:dim")->ndim);
    return 1;
}

static int t_dtype(lua_State *L) {
    lua_pushstring(L, at_dtype_name(lt_check(L, 1, "Tensor:dtype")->dtype));
    return 1;
}

static int t_device(lua_State *L) {
    lua_pushstring(L, at_device_name(at_device_of(lt_check(L, 1, "Tensor:device"))));
    return 1;
}

static int t_numel(lua_State *L) {
    lua_pushinteger(L, at_numel(lt_check(L, 1, "Tensor:numel")));
    return 1;
}

static int t_is_contiguous(lua_State *L) {
    lua_pushboolean(L, at_is_contiguous(lt_check(L, 1, "Tensor:is_contiguous")));
    return 1;
}

static int t_item(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:item");
    if (at_numel(t) != 1) {
        char shape[128];
        return luaL_error(L, "Tensor:item: expected a tensor with one element, got shape %s",
                          at_shape_str(t, shape, sizeof shape));
    }
    lt_check_host(L, t, "Tensor:item");
    lt_push_element(L, t->dtype, at_item(t));
    return 1;
}

/* Reads ndim 1-based indices from the stack at idx into a 0-based index. */
static void check_indices(lua_State *L, at_tensor *t, int idx, int64_t *index, const char *fname) {
    int given = lua_gettop(L) - idx + 1;
    if (given != t->ndim) {
        char shape[128];
        luaL_error(L, "%s: a tensor of shape %s needs %d indices, got %d", fname,
                   at_shape_str(t, shape, sizeof shape), t->ndim, given < 0 ? 0 : given);
    }
    for (int d = 0; d < t->ndim; d++) {
        int exact;
        lua_Integer i = lua_tointegerx(L, idx + d, &exact);
        if (!exact)
            luaL_error(L, "%s: index %d must be an integer, got %s", fname, d + 1,
                       luaL_typename(L, idx + d));
        index[d] = lt_dim_index_to_c(L, i, d, t->shape[d], fname);
    }
}

static int t_get(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:get");
    int64_t index[AT_MAX_DIMS];
    check_indices(L, t, 2, index, "Tensor:get");
    lt_check_host(L, t, "Tensor:get");
    lt_push_element(L, t->dtype, at_get(t, index));
    return 1;
}

static int t_set(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:set");
    double v = luaL_checknumber(L, 2);
    int64_t index[AT_MAX_DIMS];
    check_indices(L, t, 3, index, "Tensor:set");
    lt_check_host(L, t, "Tensor:set");
    at_set(t, index, v);
    lua_settop(L, 1);
    return 1;
}

static void push_nested(lua_State *L, at_tensor *t, int64_t *index, int d) {
    if (d == t->ndim) {
        lt_push_element(L, t->dtype, at_get(t, index));
        return;
    }
    luaL_checkstack(L, 3, "Tensor:totable");
    lua_createtable(L, (int)t->shape[d], 0);
    for (int64_t i = 0; i < t->shape[d]; i++) {
        index[d] = i;
        push_nested(L, t, index, d + 1);
        lua_rawseti(L, -2, i + 1);
    }
}

static int t_totable(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:totable");
    at_tensor *host = at_on_cuda(t) ? at_to_device(t, AT_CPU) : t; /* one copy, not one per element */
    if (!host) return lt_engine_error(L, "Tensor:totable");
    int64_t index[AT_MAX_DIMS] = {0};
    push_nested(L, host, index, 0);
    if (host != t) at_release(host);
    return 1;
}

/* A copy that keeps autograd history when the tensor needs it (x*1 is exact
 * in every float format), a plain data copy otherwise. */
static int t_clone(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:clone");
    if (at_any_requires_grad(1, &t)) return lt_push(L, at_scale(t, 1.0));
    return lt_push(L, at_clone_data(t));
}

static int t_detach(lua_State *L) {
    return lt_push(L, at_detach(lt_check(L, 1, "Tensor:detach")));
}

static int t_requires_grad_(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:requires_grad_");
    bool on = lua_isnoneornil(L, 2) ? true : lua_toboolean(L, 2);
    if (at_set_requires_grad(t, on) != 0) return lt_engine_error(L, "Tensor:requires_grad_");
    lua_settop(L, 1);
    return 1;
}

static int t_zero_grad(lua_State *L) {
    at_zero_grad(lt_check(L, 1, "Tensor:zero_grad"));
    lua_settop(L, 1);
    return 1;
}

static int t_backward(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:backward");
    at_tensor *seed = lua_isnoneornil(L, 2) ? NULL : lt_check(L, 2, "Tensor:backward");
    if (at_backward(t, seed) != 0) return lt_engine_error(L, "Tensor:backward");
    lt_gc_account(L);   /* gradients are new C memory too */
    return 0;
}

void lt_methods_register(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"size", t_size}, {"dim", t_dim}, {"dtype", t_dtype}, {"device", t_device}, {"numel", t_numel},
        {"is_contiguous", t_is_contiguous}, {"item", t_item}, {"get", t_get}, {"set", t_set},
        {"totable", t_totable}, {"tolist", t_totable}, {"clone", t_clone}, {"detach", t_detach},
        {"requires_grad_", t_requires_grad_}, {"zero_grad", t_zero_grad},
        {"backward", t_backward}, {NULL, NULL}};
    luaL_setfuncs(L, methods, 0);
}
