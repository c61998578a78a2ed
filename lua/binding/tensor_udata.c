/* The tensor userdata: creation and checks (the metatable is tensor_type.c's). */
#include <string.h>

#include "binding.h"

int lt_engine_error(lua_State *L, const char *fname) {
    const char *msg = at_last_error();
    if (msg && *msg) return luaL_error(L, "%s", msg);
    return luaL_error(L, "%s: failed", fname ? fname : "aapmt");
}

int lt_push(lua_State *L, at_tensor *t) {
    if (!t) return lt_engine_error(L, NULL);
    lt_tensor *ud = lua_newuserdatauv(L, sizeof *ud, 0);
    ud->t = t;
    luaL_setmetatable(L, LT_TENSOR_TYPE);
    lt_gc_account(L);
    return 1;
}

int lt_push_shared(lua_State *L, at_tensor *t) {
    at_retain(t);
    return lt_push(L, t);
}

at_tensor *lt_test(lua_State *L, int idx, const char *fname) {
    lt_tensor *ud = luaL_testudata(L, idx, LT_TENSOR_TYPE);
    if (!ud) return NULL;
    if (!ud->t) {
        char arg[32];
        luaL_error(L, "%s: tensor was freed (%s)", fname, lt_argname(arg, sizeof arg, idx, fname));
    }
    return ud->t;
}

at_tensor *lt_check(lua_State *L, int idx, const char *fname) {
    at_tensor *t = lt_test(L, idx, fname);
    if (!t) {
        char arg[32];
        luaL_error(L, "%s: %s must be an aapmt tensor, got %s", fname,
                   lt_argname(arg, sizeof arg, idx, fname), luaL_typename(L, idx));
    }
    return t;
}

void lt_check_host(lua_State *L, const at_tensor *t, const char *fname) {
    if (t->storage->device != AT_CPU)
        luaL_error(L, "%s: the tensor is on the GPU; element access needs a CPU tensor", fname);
}

void lt_push_element(lua_State *L, at_dtype d, double v) {
    if (at_dtype_is_float(d)) lua_pushnumber(L, v);
    else lua_pushinteger(L, (lua_Integer)v);
}
