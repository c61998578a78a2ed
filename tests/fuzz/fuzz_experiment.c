/* Fuzzing experiment files: the input is run as one through
 * require("aapmt.experiment").load, in a fresh Lua state set up as the aapmt
 * program sets up its own (lua/program/state.c: standard libraries, the Lua
 * modules from AAPMT_LUA_DIR or the source tree, lfs, the aapmt module).
 * The promise checked: load returns a declaration or raises a Lua error; it
 * never crashes the process, whatever Lua the file holds.
 *
 * An experiment file is a program, so the state is fenced: a memory limit
 * (string.rep bombs are errors, not OOM kills), an instruction budget (an
 * endless loop is an error after it), and the standard functions that run
 * commands, exit, or write and delete files are removed; io.open only reads.
 * run.sh also starts this target in a scratch folder, so the aapmt functions
 * that write (run folders, plots) land there. Binary chunks are refused
 * (Lua does not check bytecode), debug's setters are gone (sethook would
 * lift the budget; setupvalue/setmetatable could corrupt the binding's
 * userdata, which no experiment file does), and so are __gc metamethods
 * (Lua runs them with hooks off, out of the budget's reach). */
#include <lauxlib.h>
#include <lualib.h>

#include <stdbool.h>

#include "fuzz_common.h"

int luaopen_aapmt(lua_State *L);

enum { FUZZ_LUA_MEMORY = 64 << 20, FUZZ_LUA_INSTRUCTIONS = 2000000, FUZZ_HOOK_EVERY = 1000 };

typedef struct {
    size_t used;
    long steps;
} budget;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    budget *b = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        b->used -= old;
        return NULL;
    }
    if (nsize > old && b->used - old + nsize > FUZZ_LUA_MEMORY) return NULL;   /* a Lua memory error */
    void *p = realloc(ptr, nsize);
    if (p) b->used = b->used - old + nsize;
    return p;
}

/* Lua lines as coverage: libFuzzer only sees instrumented C, and the
 * loader's checks are Lua, so each (chunk, line) run bumps a counter in
 * libFuzzer's extra-counters section and inputs that reach new lines of
 * experiment.lua are kept. */
enum { LUA_LINE_SLOTS = 1 << 14 };
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t lua_lines[LUA_LINE_SLOTS];

static void hook(lua_State *L, lua_Debug *ar) {
    if (ar->event == LUA_HOOKLINE) {
        if (!lua_getinfo(L, "S", ar)) return;
        uint32_t h = 2166136261u;   /* FNV-1a of the chunk name, then the line */
        for (const char *c = ar->source; *c; c++) h = (h ^ (uint8_t)*c) * 16777619u;
        h = (h ^ (uint32_t)ar->currentline) * 16777619u;
        uint8_t *slot = &lua_lines[h % LUA_LINE_SLOTS];
        if (*slot < 255) ++*slot;
        return;
    }
    budget *b;
    lua_getallocf(L, (void **)&b);
    b->steps += FUZZ_HOOK_EVERY;
    if (b->steps > FUZZ_LUA_INSTRUCTIONS) luaL_error(L, "fuzz: instruction budget spent");
}

static int load_lfs(lua_State *L) {
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loadlib");
    lua_pushstring(L, AAPMT_LFS_MODULE);
    lua_pushstring(L, "luaopen_lfs");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2)) return luaL_error(L, "cannot load %s: %s", AAPMT_LFS_MODULE, lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushstring(L, "lfs");
    lua_call(L, 1, 1);
    return 1;
}

/* Run as Lua before the input: the fence, then the loader itself. */
static const char fence[] =
    "local real_open = io.open\n"
    "io.open = function(path, mode)\n"
    "  if mode ~= nil and mode ~= 'r' and mode ~= 'rb' then error('fuzz: io.open only reads', 2) end\n"
    "  return real_open(path, mode)\n"
    "end\n"
    "io.popen, io.output, io.tmpfile = nil, nil, nil\n"
    "os.execute, os.exit, os.remove, os.rename, os.tmpname, os.setlocale = nil, nil, nil, nil, nil, nil\n"
    "local lfs = require 'lfs'\n"
    "for _, k in ipairs{'mkdir', 'rmdir', 'touch', 'link', 'chdir', 'lock', 'unlock', 'lock_dir', 'setmode'} do\n"
    "  lfs[k] = nil\n"
    "end\n"
    "package.cpath, package.loadlib = '', nil\n"
    /* Lua trusts binary chunks; crafted bytecode crashes any Lua, so text only. */
    "local real_load, real_loadfile = load, loadfile\n"
    "load = function(chunk, name, _, ...)\n"   /* an env given as nil is not an absent one */
    "  if select('#', ...) > 0 then return real_load(chunk, name, 't', ...) end\n"
    "  return real_load(chunk, name, 't')\n"
    "end\n"
    "loadfile = function(path, _, ...)\n"
    "  if select('#', ...) > 0 then return real_loadfile(path, 't', ...) end\n"
    "  return real_loadfile(path, 't')\n"
    "end\n"
    "dofile = function(path) return assert(real_loadfile(path, 't'))() end\n"
    /* debug.sethook would lift the instruction budget. */
    "debug.sethook, debug.setlocal, debug.setupvalue, debug.upvaluejoin = nil, nil, nil, nil\n"
    "debug.setmetatable, debug.setuservalue, debug.setcstacklimit = nil, nil, nil\n"
    /* Lua runs finalizers with hooks off, so an endless __gc could not be stopped. */
    "local real_setmetatable = setmetatable\n"
    "setmetatable = function(t, mt)\n"
    "  if type(mt) == 'table' and rawget(mt, '__gc') ~= nil then error('fuzz: no __gc in experiment files', 2) end\n"
    "  return real_setmetatable(t, mt)\n"
    "end\n"
    "local M = require('aapmt.experiment')\n"
    "return M.load, getmetatable(M.declare{}), M.is_declaration, M, getmetatable\n";

/* Captured before the input runs: the loader, the declarations' metatable,
 * and what the input could swap out to make load return anything at all. */
enum { LOAD = 1, META, IS_DECLARATION, MODULE, GETMETATABLE, CAPTURED = GETMETATABLE };

static int setup(lua_State *L) {
    luaL_openlibs(L);
    const char *dir = getenv("AAPMT_LUA_DIR");
    if (!dir || !*dir) dir = AAPMT_FUZZ_ROOT "/lua";
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_getfield(L, -2, "preload");
    lua_pushcfunction(L, load_lfs);
    lua_setfield(L, -2, "lfs");
    lua_pop(L, 3);
    luaL_requiref(L, "aapmt", luaopen_aapmt, 1);
    lua_pop(L, 1);
    if (luaL_loadbuffer(L, fence, sizeof fence - 1, "=fuzz_fence") != LUA_OK) return lua_error(L);
    lua_call(L, 0, CAPTURED);
    return CAPTURED;
}

/* Whether the input left the loader's own checks alone: if it replaced
 * M.is_declaration or the global getmetatable, load may rightly return
 * whatever those say, and that is the input's doing, not a bug. */
static bool checks_intact(lua_State *L) {
    lua_pushstring(L, "is_declaration");
    lua_rawget(L, MODULE);
    bool same = lua_rawequal(L, -1, IS_DECLARATION);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushstring(L, "getmetatable");
    lua_rawget(L, -2);
    same = same && lua_rawequal(L, -1, GETMETATABLE);
    lua_pop(L, 3);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    budget b = {0, 0};
    lua_State *L = lua_newstate(limited_alloc, &b);
    if (!L) abort();
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, CAPTURED, 0) != LUA_OK) {
        fprintf(stderr, "fuzz: cannot set up the Lua state: %s\n", lua_tostring(L, -1));
        abort();
    }
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    /* Only the input counts against the budget, not the setup. */
    lua_sethook(L, hook, LUA_MASKCOUNT | LUA_MASKLINE, FUZZ_HOOK_EVERY);
    lua_pushvalue(L, LOAD);
    lua_pushstring(L, path);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        /* Raw checks from C: no Lua of the input's runs here. */
        bool declaration = lua_getmetatable(L, -1) && lua_rawequal(L, -1, META);
        if (!declaration && checks_intact(L)) {
            fprintf(stderr, "fuzz: load returned a %s, not a declaration\n", luaL_typename(L, CAPTURED + 1));
            abort();
        }
    }
    lua_close(L);
    close(fd);
    return 0;
}
