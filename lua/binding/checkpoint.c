/* Checkpoints from Lua: named tensors in, named tensors out.
 *
 *   aapmt.load(path)           {name = tensor, ...} from a .pt or safetensors file,
 *                              plus the names in file order as the second result
 *   aapmt.save(tensors, path [, {format = "pt" | "safetensors"}])
 *                              a {name = tensor} table, written atomically: by default
 *                              PyTorch's format for a path ending in .pt or .pth,
 *                              safetensors otherwise */
#include <stdlib.h>
#include <string.h>

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

static at_save_format check_format(lua_State *L, int idx, const char *fname) {
    static const char *const options[] = {"format", NULL};
    if (!lt_options(L, idx, options, fname)) return AT_SAVE_BY_EXTENSION;
    const char *format = lt_opt_string(L, idx, "format", NULL, fname);
    if (!format) return AT_SAVE_BY_EXTENSION;
    if (strcmp(format, "pt") == 0) return AT_SAVE_PT;
    if (strcmp(format, "safetensors") == 0) return AT_SAVE_SAFETENSORS;
    luaL_error(L, "%s: format must be \"pt\" or \"safetensors\", not \"%s\"", fname, format);
    return AT_SAVE_BY_EXTENSION;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const at_sd_entry *)a)->name, ((const at_sd_entry *)b)->name);
}

/* The same dict in name order: pairs() follows the table's hash, and the
 * same tensors should give the same file. */
static at_state_dict *sorted_by_name(const at_state_dict *sd) {
    at_sd_entry *order = malloc((size_t)(sd->count ? sd->count : 1) * sizeof *order);
    if (!order) at_set_error("state_dict: out of memory");
    at_state_dict *out = order ? at_sd_new() : NULL;
    if (out) {
        memcpy(order, sd->entries, (size_t)sd->count * sizeof *order);
        qsort(order, (size_t)sd->count, sizeof *order, by_name);
        for (int i = 0; out && i < sd->count; i++)
            if (at_sd_put(out, order[i].name, order[i].tensor)) {
                at_sd_free(out);
                out = NULL;
            }
    }
    free(order);
    return out;
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
    at_save_format format = check_format(L, 3, fname);
    at_state_dict *sd = lt_check_state_dict(L, 1, "the table", fname);
    at_state_dict *sorted = sorted_by_name(sd);
    at_sd_free(sd);
    if (!sorted) return lt_engine_error(L, fname);
    int rc = at_save_checkpoint(sorted, path, format);
    at_sd_free(sorted);
    if (rc) return lt_engine_error(L, fname);
    return 0;
}

void lt_checkpoint_register(lua_State *L) {
    static const luaL_Reg functions[] = {{"load", load}, {"save", save}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}
