/* Running Lua code from the program: scripts, -e chunks, and the protected
 * call both they and the REPL go through (traceback, Ctrl-C). */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "program.h"

/* The state Ctrl-C interrupts; set for the duration of ap_docall only. */
static lua_State *running_state = NULL;

/* Lua cannot be stopped from a signal handler, so the handler sets a hook
 * and the hook raises the error at the next Lua instruction (as lua.c does).
 * The error is the plain string "interrupted", without a position, so Lua
 * code can tell an interruption from a failure (lua/aapmt/interrupts.lua). */
static void stop_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    lua_pushliteral(L, "interrupted");
    lua_error(L);
}

/* While Lua code holds interrupts (aapmt.hold_interrupts), Ctrl-C is only
 * noted, and raised when the hold ends: a training step's bookkeeping is
 * never left half done. */
static volatile sig_atomic_t interrupts_held = 0;
static volatile sig_atomic_t interrupt_pending = 0;

static void on_interrupt(int sig) {
    signal(sig, SIG_DFL);   /* a second Ctrl-C ends the program */
    /* Long C work (a forward pass) may run for a while before Lua code
     * sees the interruption; say that it is coming. write(2) is safe here. */
    static const char note[] = "\naapmt: interrupting when the current operation ends (Ctrl-C again quits at once)\n";
    ssize_t unused = write(STDERR_FILENO, note, sizeof note - 1);
    (void)unused;
    if (interrupts_held) {
        interrupt_pending = 1;
        return;
    }
    lua_sethook(running_state, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* aapmt.hold_interrupts(fn, ...): calls fn(...) with Ctrl-C held; returns
 * its results, or raises its error, or "interrupted" when Ctrl-C came. */
static int hold_interrupts(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    interrupts_held++;
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    interrupts_held--;
    /* A Ctrl-C during the hold wins over fn's own error: the work stops. */
    if (!interrupts_held && interrupt_pending) {
        interrupt_pending = 0;
        lua_pushliteral(L, "interrupted");
        return lua_error(L);
    }
    if (status != LUA_OK) return lua_error(L);
    return lua_gettop(L);
}

void ap_register_interrupts(lua_State *L) {
    lua_getglobal(L, "aapmt");
    lua_pushcfunction(L, hold_interrupts);
    lua_setfield(L, -2, "hold_interrupts");
    lua_pop(L, 1);
}

/* Message handler: adds a traceback to the error, string or not. */
static int add_traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int ap_docall(lua_State *L, int narg, int nres) {
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, add_traceback);
    lua_insert(L, base);
    lua_State *outer = running_state;
    running_state = L;
    void (*previous)(int) = signal(SIGINT, on_interrupt);
    int status = lua_pcall(L, narg, nres, base);
    signal(SIGINT, previous);
    running_state = outer;
    lua_remove(L, base);
    return status;
}

int ap_report(lua_State *L, int status, const char *prefix) {
    if (status == LUA_OK) return status;
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s%s\n", prefix, msg ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
    return status;
}

/* A script that returns an experiment declaration (aapmt.experiment{...})
 * is run as one: aapmt.batch.run_script(path, args...) runs its variants,
 * with key=value arguments overriding the declaration. */
static int run_declared_experiment(lua_State *L, const char *path, int nargs, char **args) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "aapmt.batch");
    int status = ap_docall(L, 1, 1);
    if (status != LUA_OK) return ap_report(L, status, "aapmt: "), 1;
    lua_getfield(L, -1, "run_script");
    lua_remove(L, -2);
    lua_pushstring(L, path);
    luaL_checkstack(L, nargs, "too many script arguments");
    for (int i = 0; i < nargs; i++) lua_pushstring(L, args[i]);
    status = ap_docall(L, nargs + 1, 1);
    if (status != LUA_OK) return ap_report(L, status, "aapmt: "), 1;
    int code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    return code;
}

static bool is_experiment(lua_State *L, int idx) {
    if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return false;
    lua_getfield(L, -1, "__name");
    bool yes = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "aapmt.experiment") == 0;
    lua_pop(L, 2);
    return yes;
}

int ap_run_script(lua_State *L, const char *path, int nargs, char **args) {
    bool from_stdin = strcmp(path, "-") == 0;
    int status = luaL_loadfile(L, from_stdin ? NULL : path);
    if (status == LUA_OK) {
        /* The script also gets its arguments as `...`, as with lua. */
        luaL_checkstack(L, nargs, "too many script arguments");
        for (int i = 0; i < nargs; i++) lua_pushstring(L, args[i]);
        status = ap_docall(L, nargs, 1);
    }
    if (status != LUA_OK) return ap_report(L, status, "aapmt: "), 1;
    bool experiment = !from_stdin && is_experiment(L, -1);
    lua_pop(L, 1);
    return experiment ? run_declared_experiment(L, path, nargs, args) : 0;
}

int ap_run_chunk(lua_State *L, const char *chunk) {
    int status = luaL_loadbuffer(L, chunk, strlen(chunk), "=(command line)");
    if (status == LUA_OK) status = ap_docall(L, 0, 0);
    return ap_report(L, status, "aapmt: ") == LUA_OK ? 0 : 1;
}

int ap_run_lua_command(lua_State *L, const char *module, int argc, char **argv) {
    lua_getglobal(L, "require");
    lua_pushstring(L, module);
    int status = ap_docall(L, 1, 1);
    if (status != LUA_OK) return ap_report(L, status, "aapmt: "), 1;
    lua_getfield(L, -1, "main");
    lua_remove(L, -2);
    luaL_checkstack(L, argc, "too many command arguments");
    for (int i = 0; i < argc; i++) lua_pushstring(L, argv[i]);
    status = ap_docall(L, argc, 1);
    if (status != LUA_OK) return ap_report(L, status, "aapmt: "), 1;
    int code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    return code;
}
