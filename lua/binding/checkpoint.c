/* Checkpoints from Lua: named tensors in, named tensors out.
 *
 *   aapmt.load(path)           {name = tensor, ...} from a .pt or safetensors file,
 *                              plus the names in file order as the second result
 *   aapmt.save(tensors, path)  a {name = tensor} table as safetensors, written atomically */
#include "binding.h"
#include "io/state_dict.h"

static int load(lua_State *L) {
    const char *fname = "aapmt.load";
    at_state_dict *sd = at_load_checkpoint(luaL_checkstring(L, 1));
    if (!sd) return lt_engine_error(L, fname);
    lua_createtable(L, 0, sd->count);
    lua_createtable(L, sd->count, 0);
    for (int i = 0; i < sd->count; i++) {
        lt_push_shared(L, sd->entries[i].tensor);
        lua_setfield(L, -3, sd->entries[i].name);
        lua_pushstring(L, sd->entries[i].name);
        lua_rawseti(L, -2, i + 1);
    }
    at_sd_free(sd);
    return 2;
}

static int save(lua_State *L) {
    const char *fname = "aapmt.save";
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *path = luaL_checkstring(L, 2);
    at_state_dict *sd = at_sd_new();
    if (!sd) return lt_engine_error(L, fname);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        at_tensor *t = lt_test(L, -1, fname);
        if (lua_type(L, -2) != LUA_TSTRING || !t) {
            at_sd_free(sd);
            return luaL_error(L, "%s: the table must map names (strings) to tensors; found a %s key with a %s value",
                              fname, luaL_typename(L, -2), luaL_typename(L, -1));
        }
        if (at_sd_put(sd, lua_tostring(L, -2), t)) {
            at_sd_free(sd);
            return lt_engine_error(L, fname);
        }
        lua_pop(L, 1);
    }
    int rc = at_save_safetensors(sd, path);
    at_sd_free(sd);
    if (rc) return lt_engine_error(L, fname);
    return 0;
}

void lt_checkpoint_register(lua_State *L) {
    static const luaL_Reg functions[] = {{"load", load}, {"save", save}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}
