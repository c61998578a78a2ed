/* Picking by a u8 mask: aapmt.where (registered with the module's
 * functions) and Tensor:masked_fill. Kept apart from tensor_math.c so the
 * functions and the tensor methods each call this file one way. */
#include "binding.h"

/* Argument idx, already checked to be a tensor or a number, as a tensor (a
 * number becomes a 0-dim tensor of like's dtype); a new reference. */
static at_tensor *tensor_or_number(lua_State *L, int idx, const at_tensor *like, const char *fname) {
    at_tensor *t = lt_test(L, idx, fname);
    if (t) return at_retain(t), t;
    return at_scalar(like->dtype, lua_tonumber(L, idx));
}

/* aapmt.where(mask, a, b): a where the u8 mask is set, else b; a or b may be
 * a number (then the other operand's dtype), not both. */
int lt_where(lua_State *L) {
    const char *fname = "aapmt.where";
    at_tensor *mask = lt_check(L, 1, fname);
    at_tensor *ta = lt_test(L, 2, fname), *tb = lt_test(L, 3, fname);
    if (!ta && !tb)
        return luaL_error(L, "%s: a (argument #2) or b (argument #3) must be a tensor, got %s and %s", fname,
                          luaL_typename(L, 2), luaL_typename(L, 3));
    at_tensor *like = ta ? ta : tb;
    for (int i = 2; i <= 3; i++) /* before any tensor is made, so an error leaks none */
        if (!lt_test(L, i, fname) && lua_type(L, i) != LUA_TNUMBER)
            return luaL_error(L, "%s: %s (argument #%d) must be an aapmt tensor or a number, got %s", fname,
                              i == 2 ? "a" : "b", i, luaL_typename(L, i));
    at_tensor *a = tensor_or_number(L, 2, like, fname), *b = tensor_or_number(L, 3, like, fname);
    at_tensor *out = a && b ? at_where(mask, a, b) : NULL;
    at_release(a);
    at_release(b);
    return lt_push(L, out);
}

/* t:masked_fill(mask, value): value where the u8 mask is set. */
static int t_masked_fill(lua_State *L) {
    const char *fname = "Tensor:masked_fill";
    at_tensor *t = lt_check(L, 1, fname), *mask = lt_check(L, 2, fname);
    if (lua_type(L, 3) != LUA_TNUMBER)
        return luaL_error(L, "%s: value must be a number, got %s", fname, luaL_typename(L, 3));
    at_tensor *v = at_scalar(t->dtype, lua_tonumber(L, 3));
    at_tensor *out = v ? at_where(mask, v, t) : NULL;
    at_release(v);
    return lt_push(L, out);
}

void lt_select_register(lua_State *L) {
    lua_pushcfunction(L, t_masked_fill);
    lua_setfield(L, -2, "masked_fill");
}
