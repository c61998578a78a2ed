/* Checkpoints from Lua: named tensors in, named tensors out.
 *
 *   aapmt.load(path)           {name = tensor, ...} from a .pt or safetensors file,
 *                              plus the names in file order as the second result
 *   aapmt.save(tensors, path)  a {name = tensor} table as safetensors, written atomically */
#include "binding.h"

#include <string.h>

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

at_state_dict *lt_check_state_dict(lua_State *L, int idx, const char *what, const char *fname) {
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    at_state_dict *sd = at_sd_new();
    if (!sd) {
        lt_engine_error(L, fname);
        return NULL;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        at_tensor *t = lt_test(L, -1, fname);
        if (lua_type(L, -2) != LUA_TSTRING || !t) {
            at_sd_free(sd);
            luaL_error(L, "%s: %s must map names (strings) to tensors; found a %s key with a %s value", fname,
                       what, luaL_typename(L, -2), luaL_typename(L, -1));
            return NULL;
        }
        size_t len;
        const char *name = lua_tolstring(L, -2, &len);
        if (strlen(name) != len) {   /* names are C strings: this one would be cut short */
            at_sd_free(sd);
            luaL_Buffer shown;   /* the name with each NUL written \0 */
            luaL_buffinit(L, &shown);
            for (size_t i = 0; i < len; i++)
                if (name[i]) luaL_addchar(&shown, name[i]);
                else luaL_addstring(&shown, "\\0");
            luaL_pushresult(&shown);
            luaL_error(L, "%s: the name '%s' holds a NUL byte (at byte %d), which a tensor name cannot hold", fname,
                       lua_tostring(L, -1), (int)strlen(name));
            return NULL;
        }
        if (at_sd_put(sd, name, t)) {
            at_sd_free(sd);
            lt_engine_error(L, fname);
            return NULL;
        }
        lua_pop(L, 1);
    }
    return sd;
}

static int save(lua_State *L) {
    const char *fname = "aapmt.save";
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *path = luaL_checkstring(L, 2);
    at_state_dict *sd = lt_check_state_dict(L, 1, "the table", fname);
    int rc = at_save_safetensors(sd, path);
    at_sd_free(sd);
    if (rc) return lt_engine_error(L, fname);
    return 0;
}

void lt_checkpoint_register(lua_State *L) {
    static const luaL_Reg functions[] = {{"load", load}, {"save", save}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}
