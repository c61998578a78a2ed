/* aapmt.tokenizer(vocab_path): ImageReward's BERT tokenizer as a userdata.
 *
 *   tok:encode(text [, max_len])        ids, mask (i64 tensors of max_len, default 35)
 *   tok:encode_batch({texts} [, max_len]) ids, mask (i64 tensors [n, max_len])
 *   tok:pieces(text)                    the word pieces before [CLS]/[SEP], as strings
 *   tok:size(), tok:id(token), tok:token(id)
 *   aapmt.find_vocab([explicit [, checkpoint]])  path, or nil and where it looked */
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "io/tokenizer.h"

#define LT_TOKENIZER_TYPE "aapmt.Tokenizer"

static at_tokenizer *check_tok(lua_State *L, const char *fname) {
    at_tokenizer **p = luaL_checkudata(L, 1, LT_TOKENIZER_TYPE);
    if (!*p) luaL_error(L, "%s: the tokenizer was freed", fname);
    return *p;
}

static int opt_max_len(lua_State *L, int idx, const char *fname) {
    lua_Integer n = luaL_optinteger(L, idx, AT_TOKENIZER_MAX_LEN);
    if (n < 2 || n > 4096) luaL_error(L, "%s: max_len must be in 2..4096, got %d", fname, (int)n);
    return (int)n;
}

static int tok_new(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    at_tokenizer **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    luaL_setmetatable(L, LT_TOKENIZER_TYPE);
    if (!(*p = at_tokenizer_load(path))) return lt_engine_error(L, "aapmt.tokenizer");
    return 1;
}

static int tok_encode(lua_State *L) {
    const char *fname = "Tokenizer:encode";
    at_tokenizer *tok = check_tok(L, fname);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    int64_t n = opt_max_len(L, 3, fname);
    at_tensor *ids = at_empty(AT_I64, 1, &n), *mask = at_empty(AT_I64, 1, &n);
    if (!ids || !mask || at_tokenize_n(tok, text, len, (int)n, at_data(ids), at_data(mask)) < 0) {
        at_release(ids);
        at_release(mask);
        return lt_engine_error(L, fname);
    }
    lt_push(L, ids);
    return 1 + lt_push(L, mask);
}

static int tok_encode_batch(lua_State *L) {
    const char *fname = "Tokenizer:encode_batch";
    at_tokenizer *tok = check_tok(L, fname);
    luaL_checktype(L, 2, LUA_TTABLE);
    int max_len = opt_max_len(L, 3, fname);
    int n = (int)lua_rawlen(L, 2);
    if (n == 0) return luaL_error(L, "%s: needs at least one text", fname);
    const char **texts = lua_newuserdatauv(L, sizeof *texts * (size_t)n, 0); /* freed by the GC */
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 2, i + 1);
        if (!lua_isstring(L, -1)) return luaL_error(L, "%s: text %d is a %s, not a string", fname, i + 1,
                                                    luaL_typename(L, -1));
        texts[i] = lua_tostring(L, -1);   /* kept alive by the table */
        lua_pop(L, 1);
    }
    at_tensor *ids, *mask;
    if (at_tokenize_batch(tok, texts, n, max_len, &ids, &mask)) return lt_engine_error(L, fname);
    lt_push(L, ids);
    return 1 + lt_push(L, mask);
}

static int tok_pieces(lua_State *L) {
    const char *fname = "Tokenizer:pieces";
    at_tokenizer *tok = check_tok(L, fname);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    int64_t *pieces = NULL;
    int64_t n = at_tokenize_pieces(tok, text, len, &pieces);
    if (n < 0) return lt_engine_error(L, fname);
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushstring(L, at_tokenizer_token(tok, pieces[i]));
        lua_rawseti(L, -2, i + 1);
    }
    free(pieces);
    return 1;
}

static int tok_size(lua_State *L) {
    lua_pushinteger(L, at_tokenizer_size(check_tok(L, "Tokenizer:size")));
    return 1;
}

static int tok_id(lua_State *L) {
    int64_t id = at_tokenizer_id(check_tok(L, "Tokenizer:id"), luaL_checkstring(L, 2));
    if (id < 0) lua_pushnil(L);
    else lua_pushinteger(L, id);
    return 1;
}

static int tok_token(lua_State *L) {
    const char *s = at_tokenizer_token(check_tok(L, "Tokenizer:token"), luaL_checkinteger(L, 2));
    if (s) lua_pushstring(L, s);
    else lua_pushnil(L);
    return 1;
}

static int tok_gc(lua_State *L) {
    at_tokenizer **p = luaL_checkudata(L, 1, LT_TOKENIZER_TYPE);
    at_tokenizer_free(*p);
    *p = NULL;
    return 0;
}

static int tok_tostring(lua_State *L) {
    at_tokenizer **p = luaL_checkudata(L, 1, LT_TOKENIZER_TYPE);
    if (*p) lua_pushfstring(L, "aapmt.Tokenizer (%I ids)", (lua_Integer)at_tokenizer_size(*p));
    else lua_pushliteral(L, "aapmt.Tokenizer (freed)");
    return 1;
}

static int find_vocab(lua_State *L) {
    char *path = at_tokenizer_find_vocab(luaL_optstring(L, 1, NULL), luaL_optstring(L, 2, NULL));
    if (!path) {
        lua_pushnil(L);
        lua_pushstring(L, at_last_error());
        return 2;
    }
    lua_pushstring(L, path);
    free(path);
    return 1;
}

void lt_tokenizer_register(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"encode", tok_encode}, {"encode_batch", tok_encode_batch}, {"pieces", tok_pieces},
        {"size", tok_size}, {"id", tok_id}, {"token", tok_token}, {"free", tok_gc}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", tok_gc}, {"__close", tok_gc}, {"__tostring", tok_tostring},
                                    {NULL, NULL}};
    luaL_newmetatable(L, LT_TOKENIZER_TYPE);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, tok_new);
    lua_setfield(L, -2, "tokenizer");
    lua_pushcfunction(L, find_vocab);
    lua_setfield(L, -2, "find_vocab");
}
