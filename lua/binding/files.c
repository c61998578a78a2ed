/* Files from Lua: content hashes and stat facts, for fingerprints.
 *
 *   aapmt.sha256(text)          SHA-256 of a string, 64 hex digits
 *   aapmt.sha256_file(path)     SHA-256 of a regular file's bytes, or nil and
 *                               a message naming the file (it is read in chunks)
 *   aapmt.file_facts(path)      {size=, mtime_ns=, ctime_ns=, inode=, kind = "file"|"directory"|"other"},
 *                               or nil and a message; times in nanoseconds,
 *                               which LuaFileSystem's whole seconds cannot give */
#include "binding.h"
#include "io/file_hash.h"

static int f_sha256(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char hex[AT_SHA256_HEX];
    at_sha256_hex(s, len, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int f_sha256_file(lua_State *L) {
    char hex[AT_SHA256_HEX];
    if (at_sha256_file("aapmt.sha256_file", luaL_checkstring(L, 1), hex)) {
        lua_pushnil(L);
        lua_pushstring(L, at_last_error());
        return 2;
    }
    lua_pushstring(L, hex);
    return 1;
}

static int f_file_facts(lua_State *L) {
    at_file_facts facts;
    if (at_file_facts_of("aapmt.file_facts", luaL_checkstring(L, 1), &facts)) {
        lua_pushnil(L);
        lua_pushstring(L, at_last_error());
        return 2;
    }
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, facts.size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, facts.mtime_ns);
    lua_setfield(L, -2, "mtime_ns");
    lua_pushinteger(L, facts.ctime_ns);
    lua_setfield(L, -2, "ctime_ns");
    lua_pushinteger(L, facts.inode);
    lua_setfield(L, -2, "inode");
    lua_pushstring(L, facts.is_file ? "file" : facts.is_dir ? "directory" : "other");
    lua_setfield(L, -2, "kind");
    return 1;
}

void lt_files_register(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"sha256", f_sha256}, {"sha256_file", f_sha256_file}, {"file_facts", f_file_facts}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}
