/* The aapmt program: a Lua 5.4 interpreter with the engine preloaded.
 * main.c reads the command line, state.c prepares a Lua state, runner.c runs
 * scripts and chunks with tracebacks, repl.c is the interactive loop. */
#ifndef AAPMT_PROGRAM_H
#define AAPMT_PROGRAM_H

#include <stdbool.h>

#include <lua.h>

/* A Lua state with the standard libraries, package.path covering the aapmt
 * Lua directory, `require "lfs"` available and `aapmt` loaded (as a module
 * and a global). NULL (after a message on stderr) when that fails. */
lua_State *ap_new_state(void);
/* The directory of aapmt's Lua modules this run uses. */
const char *ap_lua_dir(void);
/* Sets the global `arg`: arg[0] = script, arg[1..n] = args, arg[-1] = the
 * program; pushes nothing. */
void ap_set_arg(lua_State *L, const char *program, const char *script, int nargs, char **args);

/* Calls the function below narg arguments like lua_pcall, adding a traceback
 * to runtime errors and letting Ctrl-C interrupt the Lua code. */
int ap_docall(lua_State *L, int narg, int nres);
/* Adds aapmt.hold_interrupts (runner.c) to the global aapmt table. */
void ap_register_interrupts(lua_State *L);
/* Prints the error on top of the stack (when status is not LUA_OK) to stderr,
 * after prefix, and pops it. Returns status. */
int ap_report(lua_State *L, int status, const char *prefix);

/* Each returns the process exit status: 0, or 1 when the Lua code failed. */
int ap_run_script(lua_State *L, const char *path, int nargs, char **args);
int ap_run_chunk(lua_State *L, const char *chunk);
/* A subcommand written in Lua: require(module).main(argv...) returns the
 * exit status (nil is 0); lua/aapmt/cli.lua gives such modules their option
 * parsing and clean error messages. */
int ap_run_lua_command(lua_State *L, const char *module, int argc, char **argv);
/* Interactive with readline when stdin is a terminal; otherwise reads
 * statements from stdin silently and returns 1 if any of them failed. */
int ap_repl(lua_State *L);
/* Lets readline complete Lua names through the Lua module aapmt.repl (a
 * registry reference; repl_complete.c). */
void ap_repl_completion(lua_State *L, int module_ref);

#endif
