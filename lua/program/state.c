/* Preparing the Lua state every mode of the program runs in. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lualib.h>

#include "binding.h"
#include "program.h"

#ifndef AAPMT_SOURCE_LUA_DIR
#define AAPMT_SOURCE_LUA_DIR "lua"
#endif
#ifndef AAPMT_INSTALL_LUA_DIR
#define AAPMT_INSTALL_LUA_DIR "/usr/local/share/aapmt/lua"
#endif
#ifndef AAPMT_LFS_MODULE
#define AAPMT_LFS_MODULE "lfs.so"
#endif

/* AAPMT_LUA_DIR overrides; then the source tree (a build run in place), then
 * the installed copy. */
const char *ap_lua_dir(void) {
    const char *env = getenv("AAPMT_LUA_DIR");
    if (env && *env) return env;
    struct stat st;
    if (stat(AAPMT_SOURCE_LUA_DIR, &st) == 0 && S_ISDIR(st.st_mode)) return AAPMT_SOURCE_LUA_DIR;
    return AAPMT_INSTALL_LUA_DIR;
}

static void prepend_lua_path(lua_State *L, const char *dir) {
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

/* package.preload.lfs: loads Debian's LuaFileSystem from the path found at
 * configure time, whatever package.cpath says. */
static int load_lfs(lua_State *L) {
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loadlib");
    lua_pushstring(L, AAPMT_LFS_MODULE);
    lua_pushstring(L, "luaopen_lfs");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return luaL_error(L, "cannot load LuaFileSystem from %s: %s", AAPMT_LFS_MODULE,
                          lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushstring(L, "lfs");
    lua_call(L, 1, 1);
    return 1;
}

static int setup(lua_State *L) {
    luaL_openlibs(L);
    prepend_lua_path(L, ap_lua_dir());
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, load_lfs);
    lua_setfield(L, -2, "lfs");
    lua_pop(L, 2);
    luaL_requiref(L, "aapmt", luaopen_aapmt, 1);
    lua_pop(L, 1);
    ap_register_interrupts(L);
    lua_gc(L, LUA_GCRESTART);
    return 0;
}

lua_State *ap_new_state(void) {
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "aapmt: cannot create the Lua state: not enough memory\n");
        return NULL;
    }
    lua_gc(L, LUA_GCSTOP);   /* no collections while the libraries load */
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        fprintf(stderr, "aapmt: cannot start: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    return L;
}

void ap_set_arg(lua_State *L, const char *program, const char *script, int nargs, char **args) {
    lua_createtable(L, nargs, 2);
    lua_pushstring(L, program);
    lua_rawseti(L, -2, -1);
    lua_pushstring(L, script);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < nargs; i++) {
        lua_pushstring(L, args[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
}
