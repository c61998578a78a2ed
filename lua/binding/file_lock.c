/* Folder locks from Lua (core/io/file_lock.h):
 *
 *   aapmt.lock_file(path[, {wait = true}])
 *       a lock object, or nil, a message naming the file (and the holder's
 *       pid) and, when another process holds it, that pid: a held lock is a
 *       state of the world that callers word for their users, not a mistake
 *       in the program, so it is returned rather than raised
 *   lock:release()     also __close and __gc; a second release does nothing
 *
 * The collector releases a lock nobody refers to, so a caller keeps it in
 * a variable for as long as it works: `local lock <close> = ...`. */
#include "binding.h"
#include "io/file_lock.h"

#define LT_LOCK_TYPE "aapmt.FileLock"

static int l_release(lua_State *L) {
    at_file_lock **p = luaL_checkudata(L, 1, LT_LOCK_TYPE);
    at_file_lock_release(*p);
    *p = NULL;
    return 0;
}

static int l_tostring(lua_State *L) {
    at_file_lock **p = luaL_checkudata(L, 1, LT_LOCK_TYPE);
    lua_pushstring(L, *p ? "aapmt.FileLock (held)" : "aapmt.FileLock (released)");
    return 1;
}

static int m_lock_file(lua_State *L) {
    static const char *const keys[] = {"wait", NULL};
    const char *path = luaL_checkstring(L, 1);
    bool wait = lt_options(L, 2, keys, "aapmt.lock_file") && lt_opt_bool(L, 2, "wait", false, "aapmt.lock_file");
    at_file_lock **p = lua_newuserdatauv(L, sizeof *p, 0);   /* first, so nothing raises with the lock held */
    *p = NULL;
    luaL_setmetatable(L, LT_LOCK_TYPE);
    long holder = 0;
    *p = at_file_lock_acquire(path, wait, &holder);
    if (*p) return 1;
    lua_pushnil(L);
    lua_pushfstring(L, "aapmt.lock_file: %s", at_last_error());
    if (holder <= 0) return 2;
    lua_pushinteger(L, (lua_Integer)holder);
    return 3;
}

void lt_file_lock_register(lua_State *L) {
    static const luaL_Reg methods[] = {{"release", l_release}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", l_release}, {"__close", l_release}, {"__tostring", l_tostring},
                                    {NULL, NULL}};
    luaL_newmetatable(L, LT_LOCK_TYPE);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, m_lock_file);
    lua_setfield(L, -2, "lock_file");
}
