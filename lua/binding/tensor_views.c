/* Tensor methods that change shape, layout or dtype (mostly views). */
#include "binding.h"

static int t_contiguous(lua_State *L) {
    return lt_push(L, at_contiguous(lt_check(L, 1, "Tensor:contiguous")));
}

static int t_transpose(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:transpose");
    int d0 = lt_check_dim(L, 2, t->ndim, "Tensor:transpose");
    int d1 = lt_check_dim(L, 3, t->ndim, "Tensor:transpose");
    return lt_push(L, at_transpose(t, d0, d1));
}

/* t:permute(3, 1, 2) or t:permute({3, 1, 2}): new dim i is old dim perm[i]. */
static int t_permute(lua_State *L) {
    const char *fname = "Tensor:permute";
    at_tensor *t = lt_check(L, 1, fname);
    bool table = lua_istable(L, 2);
    int n = table ? (int)lua_rawlen(L, 2) : lua_gettop(L) - 1;
    if (n != t->ndim) {
        char shape[128];
        return luaL_error(L, "%s: a tensor of shape %s needs %d dims in the permutation, got %d",
                          fname, at_shape_str(t, shape, sizeof shape), t->ndim, n);
    }
    int perm[AT_MAX_DIMS];
    bool used[AT_MAX_DIMS] = {false};
    for (int i = 0; i < n; i++) {
        if (table) lua_rawgeti(L, 2, i + 1);
        else lua_pushvalue(L, i + 2);
        perm[i] = lt_check_dim(L, -1, t->ndim, fname);
        lua_pop(L, 1);
        if (used[perm[i]])
            return luaL_error(L, "%s: dim %d appears twice in the permutation", fname, perm[i] + 1);
        used[perm[i]] = true;
    }
    return lt_push(L, at_permute(t, perm));
}

static int t_reshape(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:reshape");
    int64_t shape[AT_MAX_DIMS];
    int next;
    int ndim = lt_check_shape(L, 2, shape, &next, 1, "Tensor:reshape");
    return lt_push(L, at_reshape(t, ndim, shape));
}

/* Like reshape, but never copies: a non-contiguous tensor is an error. */
static int t_view(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:view");
    int64_t shape[AT_MAX_DIMS];
    int next;
    int ndim = lt_check_shape(L, 2, shape, &next, 1, "Tensor:view");
    if (!at_is_contiguous(t)) {
        char s[128];
        return luaL_error(L, "Tensor:view: tensor of shape %s is not contiguous "
                          "(use t:reshape(...) or t:contiguous():view(...))",
                          at_shape_str(t, s, sizeof s));
    }
    return lt_push(L, at_reshape(t, ndim, shape));
}

static int t_narrow(lua_State *L) {
    const char *fname = "Tensor:narrow";
    at_tensor *t = lt_check(L, 1, fname);
    int dim = lt_check_dim(L, 2, t->ndim, fname);
    int64_t start = lt_dim_index_to_c(L, luaL_checkinteger(L, 3), dim, t->shape[dim], fname);
    lua_Integer length = luaL_checkinteger(L, 4);
    if (length < 0 || start + length > t->shape[dim])
        return luaL_error(L, "%s: start %d with length %d does not fit dim %d of size %d", fname,
                          (int)(start + 1), (int)length, dim + 1, (int)t->shape[dim]);
    return lt_push(L, at_narrow(t, dim, start, length));
}

static int t_select(lua_State *L) {
    const char *fname = "Tensor:select";
    at_tensor *t = lt_check(L, 1, fname);
    int dim = lt_check_dim(L, 2, t->ndim, fname);
    int64_t index = lt_dim_index_to_c(L, luaL_checkinteger(L, 3), dim, t->shape[dim], fname);
    return lt_push(L, at_select(t, dim, index));
}

static int t_expand(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:expand");
    int64_t shape[AT_MAX_DIMS];
    int next;
    int ndim = lt_check_shape(L, 2, shape, &next, 1, "Tensor:expand");
    /* -1 keeps the size of the matching (right-aligned) dim, as in PyTorch. */
    for (int i = 0; i < ndim; i++) {
        int src = t->ndim - ndim + i;
        if (shape[i] == -1 && src >= 0) shape[i] = t->shape[src];
    }
    return lt_push(L, at_expand(t, ndim, shape));
}

/* t:to("f64") converts (differentiably between f32 and f64); t:to("cuda")
 * and t:to("cpu") copy to a device, without history. */
static int t_to(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:to");
    const char *name = luaL_checkstring(L, 2);
    int device = at_device_from_name(name);
    if (device >= 0) return lt_push(L, at_to_device(t, (at_device)device));
    at_dtype d = lt_dtype_from_string(L, name, "Tensor:to");
    return lt_push(L, at_to_dtype(t, d));
}

void lt_views_register(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"contiguous", t_contiguous}, {"transpose", t_transpose}, {"permute", t_permute},
        {"reshape", t_reshape}, {"view", t_view}, {"narrow", t_narrow}, {"select", t_select},
        {"expand", t_expand}, {"to", t_to}, {NULL, NULL}};
    luaL_setfuncs(L, methods, 0);
}
