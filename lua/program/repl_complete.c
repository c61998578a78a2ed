/* Tab completion in the REPL: readline asks, lua/aapmt/repl.lua answers.
 *
 * Lua names complete as whole words of letters, digits, '_', '.' and ':'
 * (`aapmt.ra`, `model:sc`), so the word breaks differ from readline's
 * file-name ones; inside a string the word is what follows the quote and
 * readline's own file-name completion runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <readline/readline.h>

#include "program.h"

static lua_State *completing_state = NULL;
static int repl_module_ref = LUA_NOREF;

/* Pushes repl.<name>(the line before the cursor) (one result), or returns
 * false (pushing nothing) when the call fails. */
static bool call_with_line(const char *name) {
    lua_State *L = completing_state;
    lua_rawgeti(L, LUA_REGISTRYINDEX, repl_module_ref);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    lua_pushlstring(L, rl_line_buffer, (size_t)rl_point);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        return false;
    }
    return true;
}

static char *word_breaks(void) {
    static char code_breaks[] = " \t\n\"'`@$><=;|&{}()[],+-*/%^~#!?\\";
    static char string_breaks[] = " \t\n\"'=";
    if (!call_with_line("context")) return code_breaks;
    bool in_string = strcmp(lua_tostring(completing_state, -1), "string") == 0;
    lua_pop(completing_state, 1);
    return in_string ? string_breaks : code_breaks;
}

/* The candidates table sits on top of the Lua stack while readline walks it. */
static char *next_candidate(const char *text, int state) {
    (void)text;
    static lua_Integer next;
    if (state == 0) next = 1;
    lua_State *L = completing_state;
    if (next > (lua_Integer)lua_rawlen(L, -1)) return NULL;
    lua_rawgeti(L, -1, next++);
    char *candidate = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return candidate;
}

static char **complete(const char *text, int start, int end) {
    (void)start;
    (void)end;
    lua_State *L = completing_state;
    int top = lua_gettop(L);
    if (!call_with_line("complete") || lua_isnil(L, -1)) {
        lua_settop(L, top);
        return NULL;   /* inside a string: file names */
    }
    rl_attempted_completion_over = 1;   /* no file names for Lua code */
    rl_completion_append_character = '\0';   /* `aapmt.` may go on */
    char **matches = lua_rawlen(L, -1) > 0 ? rl_completion_matches(text, next_candidate) : NULL;
    lua_settop(L, top);
    return matches;
}

void ap_repl_completion(lua_State *L, int module_ref) {
    completing_state = L;
    repl_module_ref = module_ref;
    rl_completion_word_break_hook = word_breaks;
    rl_attempted_completion_function = complete;
}
