/* Module functions for the network building blocks: aapmt.matmul, linear,
 * layernorm, softmax, attention, embedding, concat, dropout and the losses. */
#include <math.h>

#include "binding.h"

static at_tensor *opt_tensor(lua_State *L, int idx, const char *fname) {
    return lua_isnoneornil(L, idx) ? NULL : lt_check(L, idx, fname);
}

static int f_matmul(lua_State *L) {
    at_tensor *a = lt_check(L, 1, "aapmt.matmul");
    return lt_push(L, at_matmul(a, lt_check(L, 2, "aapmt.matmul")));
}

/* aapmt.linear(x, w [, b]): x·wᵀ + b. */
static int f_linear(lua_State *L) {
    at_tensor *x = lt_check(L, 1, "aapmt.linear");
    at_tensor *w = lt_check(L, 2, "aapmt.linear");
    return lt_push(L, at_linear(x, w, opt_tensor(L, 3, "aapmt.linear")));
}

/* aapmt.layernorm(x [, w [, b [, eps]]]) over the last dim; eps defaults to 1e-5. */
static int f_layernorm(lua_State *L) {
    at_tensor *x = lt_check(L, 1, "aapmt.layernorm");
    at_tensor *w = opt_tensor(L, 2, "aapmt.layernorm");
    at_tensor *b = opt_tensor(L, 3, "aapmt.layernorm");
    double eps = luaL_optnumber(L, 4, 1e-5);
    return lt_push(L, at_layernorm(x, w, b, eps));
}

at_tensor *lt_softmax_dim(lua_State *L, at_tensor *x, int idx, const char *fname) {
    if (lua_isnoneornil(L, idx)) return at_softmax(x);
    int dim = lt_check_dim(L, idx, x->ndim, fname), last = x->ndim - 1;
    if (dim == last) return at_softmax(x);
    at_tensor *moved = at_transpose(x, dim, last);
    at_tensor *soft = moved ? at_softmax(moved) : NULL;
    at_tensor *out = soft ? at_transpose(soft, dim, last) : NULL;
    at_release(moved);
    at_release(soft);
    return out;
}

static int f_softmax(lua_State *L) {
    at_tensor *x = lt_check(L, 1, "aapmt.softmax");
    return lt_push(L, lt_softmax_dim(L, x, 2, "aapmt.softmax"));
}

/* aapmt.attention(q, k, v [, mask [, scale]]); scale defaults to 1/sqrt(D). */
static int f_attention(lua_State *L) {
    const char *fname = "aapmt.attention";
    at_tensor *q = lt_check(L, 1, fname), *k = lt_check(L, 2, fname), *v = lt_check(L, 3, fname);
    at_tensor *mask = opt_tensor(L, 4, fname);
    double d = q->ndim > 0 ? (double)q->shape[q->ndim - 1] : 1.0;
    double scale = luaL_optnumber(L, 5, d > 0 ? 1.0 / sqrt(d) : 1.0);
    return lt_push(L, at_attention(q, k, v, mask, scale));
}

/* Token ids are values, not Lua positions: they are used as given (0-based,
 * as in the vocabulary file and in PyTorch), so a tokenizer's output feeds
 * the embedding unchanged. A list of integers becomes an i64 tensor; the
 * engine checks every id against the vocabulary size. */
static at_tensor *token_ids(lua_State *L, int idx, const char *fname) {
    at_tensor *ids = lt_test(L, idx, fname);
    if (ids) {
        lt_check_host(L, ids, fname);
        at_retain(ids);
        return ids;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: argument #%d (ids) must be an aapmt tensor or a table of integers, got %s",
                   fname, idx, luaL_typename(L, idx));
    int64_t n = (int64_t)lua_rawlen(L, idx);
    at_tensor *out = at_empty(AT_I64, 1, &n);
    if (!out) lt_engine_error(L, fname);
    int64_t *dst = at_data(out);
    for (int64_t i = 0; i < n; i++) {
        int exact = 1;
        lua_rawgeti(L, idx, i + 1);
        dst[i] = (int64_t)lua_tointegerx(L, -1, &exact);
        lua_pop(L, 1);
        if (!exact) {
            at_release(out);
            luaL_error(L, "%s: id at position %d is not an integer", fname, (int)(i + 1));
        }
    }
    return out;
}

/* aapmt.embedding(weight, ids): rows of weight (V, D) picked by token ids 0..V-1. */
static int f_embedding(lua_State *L) {
    at_tensor *w = lt_check(L, 1, "aapmt.embedding");
    at_tensor *ids = token_ids(L, 2, "aapmt.embedding");
    at_tensor *out = at_embedding(w, ids);
    at_release(ids);
    return lt_push(L, out);
}

/* aapmt.concat({a, b, ...} [, dim]); dim defaults to 1. */
static int f_concat(lua_State *L) {
    const char *fname = "aapmt.concat";
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);   /* the dim stays at 2 whatever is pushed below */
    int n = (int)lua_rawlen(L, 1);
    if (n == 0) return luaL_error(L, "%s: needs at least one tensor", fname);
    /* A userdata array keeps the pointer list collectable if an error jumps out;
     * the tensors themselves stay referenced by the table at 1. */
    at_tensor **ts = lua_newuserdatauv(L, sizeof *ts * (size_t)n, 0);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        ts[i] = lt_test(L, -1, fname);
        if (!ts[i])
            return luaL_error(L, "%s: element %d of the list must be an aapmt tensor, got %s",
                              fname, i + 1, luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    int dim = lua_isnoneornil(L, 2) ? 0 : lt_check_dim(L, 2, ts[0]->ndim, fname);
    return lt_push(L, at_concat(n, ts, dim));
}

/* aapmt.dropout(x, p [, training [, seed]]): training defaults to true; without
 * a seed the state's default generator supplies (and advances) the stream. */
static int f_dropout(lua_State *L) {
    at_tensor *x = lt_check(L, 1, "aapmt.dropout");
    double p = luaL_checknumber(L, 2);
    bool training = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
    if (p < 0 || p >= 1) return luaL_error(L, "aapmt.dropout: p must be in [0, 1), got %f", p);
    if (lua_isnoneornil(L, 4)) return lt_push(L, at_dropout(x, p, training, lt_default_rng(L)));
    at_rng rng = at_rng_new((uint64_t)luaL_checkinteger(L, 4));
    return lt_push(L, at_dropout(x, p, training, &rng));
}

static int f_mse_loss(lua_State *L) {
    at_tensor *pred = lt_check(L, 1, "aapmt.mse_loss");
    return lt_push(L, at_mse_loss(pred, lt_check(L, 2, "aapmt.mse_loss")));
}

static int f_sse_loss(lua_State *L) {
    at_tensor *pred = lt_check(L, 1, "aapmt.sse_loss");
    return lt_push(L, at_sse_loss(pred, lt_check(L, 2, "aapmt.sse_loss")));
}

void lt_functions_register(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"matmul", f_matmul}, {"linear", f_linear}, {"layernorm", f_layernorm},
        {"softmax", f_softmax}, {"attention", f_attention}, {"embedding", f_embedding},
        {"concat", f_concat}, {"where", lt_where}, {"dropout", f_dropout}, {"mse_loss", f_mse_loss},
        {"sse_loss", f_sse_loss}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}
