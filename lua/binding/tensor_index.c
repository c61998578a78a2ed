/* Torch7's table indexing: t[{i, j}] is an element, t[{i, {2, 5}}] a view.
 *
 * Entry d of the table indexes dim d: a number selects one index (the dim
 * goes), {a, b} keeps a..b inclusive, {a} is {a, a}, {} the whole dim; dims
 * past the table's end are kept whole. Indices are 1-based, negative ones
 * count from the end. Every index is checked before any view is made, so an
 * error leaves no tensor behind. Single indices are checked by args.c's
 * lt_dim_index_to_c, as everywhere in the binding. */
#include "binding.h"

typedef struct {
    bool select;          /* a number: the dim is dropped */
    int64_t start, len;   /* 0-based */
} dim_index;

static lua_Integer integer_at(lua_State *L, int idx, int d, const char *fname) {
    int exact;
    lua_Integer v = lua_tointegerx(L, idx, &exact);
    if (!exact)
        luaL_error(L, "%s: the index for dim %d must be an integer or a {first, last} table, got %s", fname, d + 1,
                   lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
    return v;
}

static void read_range(lua_State *L, int idx, int d, int64_t size, const char *fname, dim_index *out) {
    int n = (int)lua_rawlen(L, idx);
    if (n > 2) luaL_error(L, "%s: the range for dim %d must be {first, last}, got %d entries", fname, d + 1, n);
    if (n == 0) {
        out->start = 0, out->len = size;
        return;
    }
    lua_rawgeti(L, idx, 1);
    int64_t first = lt_dim_index_to_c(L, integer_at(L, -1, d, fname), d, size, fname);
    lua_rawgeti(L, idx, n);
    int64_t last = lt_dim_index_to_c(L, integer_at(L, -1, d, fname), d, size, fname);
    lua_pop(L, 2);
    if (last < first)
        luaL_error(L, "%s: the range for dim %d ends (%I) before it starts (%I)", fname, d + 1,
                   (lua_Integer)last + 1, (lua_Integer)first + 1);
    out->start = first, out->len = last - first + 1;
}

at_tensor *lt_index_view(lua_State *L, at_tensor *t, int idx, const char *fname) {
    int n = (int)lua_rawlen(L, idx);
    if (n > t->ndim) {
        char shape[128];
        luaL_error(L, "%s: %d indices for a tensor of shape %s (%d dims)", fname, n,
                   at_shape_str(t, shape, sizeof shape), t->ndim);
    }
    dim_index dims[AT_MAX_DIMS];
    for (int d = 0; d < n; d++) {
        lua_rawgeti(L, idx, d + 1);
        dims[d].select = !lua_istable(L, -1);
        if (dims[d].select) dims[d].start = lt_dim_index_to_c(L, integer_at(L, -1, d, fname), d, t->shape[d], fname);
        else read_range(L, lua_gettop(L), d, t->shape[d], fname, &dims[d]);
        lua_pop(L, 1);
    }
    at_retain(t);
    at_tensor *v = t;
    for (int d = n - 1; d >= 0 && v; d--) { /* from the last dim, so earlier dims keep their numbers */
        at_tensor *next = dims[d].select ? at_select(v, d, dims[d].start) : at_narrow(v, d, dims[d].start, dims[d].len);
        at_release(v);
        v = next;
    }
    if (!v) lt_engine_error(L, fname);
    return v;
}
