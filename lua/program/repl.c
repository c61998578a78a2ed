/* The read-eval-print loop.
 *
 * Each statement is first tried as "return <line>;" so expressions print
 * their values; otherwise lines are added while the parser reports an
 * unfinished chunk (its message ends in "<eof>"), as lua.c does, and the
 * lines so far are tried as an expression again after each one. Compiling,
 * printing, completion and the REPL's variables (a plain `local` lives on
 * to the next line) are lua/aapmt/repl.lua's; chunks keep their line
 * numbers in the input, so errors in piped input name the failing line. On a
 * terminal, input goes through readline with history in ~/.aapmt_history;
 * otherwise statements are read from stdin with no prompts, so the REPL can
 * be scripted, and the exit status says whether any statement failed. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "program.h"

#define AP_HISTORY_FILE ".aapmt_history"
#define AP_HISTORY_MAX 1000

typedef struct repl {
    lua_State *L;
    bool interactive;
    char history_path[4096];   /* empty: no history file */
    int module_ref;            /* the Lua module aapmt.repl */
    int keeper_ref;            /* what the last compiled chunk is called with */
    int lines_read;
    int statement_line;        /* the input line the statement began on */
} repl;

/* ---- Ctrl-C at the prompt: drop the line (and any unfinished chunk) ---- */

static volatile sig_atomic_t prompt_interrupted = 0;
static bool chunk_cancelled = false;

static void on_prompt_interrupt(int sig) {
    (void)sig;
    prompt_interrupted = 1;
}

/* Readline calls this outside the signal handler once it has caught the
 * signal and restored the terminal, so its functions are safe to use here. */
static int after_prompt_signal(void) {
    if (!prompt_interrupted) return 0;
    prompt_interrupted = 0;
    chunk_cancelled = true;
    rl_replace_line("", 0);
    rl_crlf();
    rl_set_prompt("> ");
    rl_on_new_line();
    rl_redisplay();
    return 0;
}

/* ---- reading lines ---- */

/* The prompt: _PROMPT / _PROMPT2 when set (as in lua.c), else "> " / ">> ". */
static const char *prompt(lua_State *L, bool first, char *buf, size_t size) {
    lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2");
    const char *p = lua_tostring(L, -1);
    snprintf(buf, size, "%s", p ? p : first ? "> " : ">> ");
    lua_pop(L, 1);
    return buf;
}

/* Reads one line without its newline (malloc'd), or NULL at end of input. */
static char *read_line(repl *r, bool first) {
    if (r->interactive) {
        char text[256];
        void (*previous)(int) = signal(SIGINT, on_prompt_interrupt);
        char *line = readline(prompt(r->L, first, text, sizeof text));
        signal(SIGINT, previous);
        return line;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
    return line;
}

/* Pushes the next line; "=expr" on a first line means "return expr". */
static bool push_line(repl *r, bool first) {
    char *line = read_line(r, first);
    if (!line) return false;
    r->lines_read++;
    if (first) r->statement_line = r->lines_read;
    if (first && line[0] == '=') lua_pushfstring(r->L, "return %s", line + 1);
    else lua_pushstring(r->L, line);
    free(line);
    return true;
}

static void save_history(repl *r, const char *chunk) {
    if (!r->interactive || chunk[0] == '\0') return;
    add_history(chunk);
    if (r->history_path[0]) append_history(1, r->history_path);
}

/* ---- compiling a statement ---- */

static bool is_incomplete(lua_State *L, int status) {
    if (status != LUA_ERRSYNTAX) return false;
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    const char *mark = "<eof>";
    size_t mark_len = strlen(mark);
    return msg && len >= mark_len && strcmp(msg + len - mark_len, mark) == 0;
}

/* Pushes the compiled function (LUA_OK) or the syntax error (LUA_ERRSYNTAX),
 * through repl.compile; what the function is to be called with goes to
 * r->keeper_ref. */
static int compile(repl *r, const char *code, bool keep_locals) {
    lua_State *L = r->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->module_ref);
    lua_getfield(L, -1, "compile");
    lua_remove(L, -2);
    lua_pushstring(L, code);
    lua_pushinteger(L, r->statement_line);
    lua_pushboolean(L, keep_locals);
    if (lua_pcall(L, 3, 2, 0) != LUA_OK) return LUA_ERRMEM;   /* compile itself failed */
    if (lua_isnil(L, -2)) {
        lua_remove(L, -2);
        return LUA_ERRSYNTAX;
    }
    luaL_unref(L, LUA_REGISTRYINDEX, r->keeper_ref);
    r->keeper_ref = luaL_ref(L, LUA_REGISTRYINDEX);   /* LUA_REFNIL when none */
    return LUA_OK;
}

static int load_as_expression(repl *r) {
    lua_State *L = r->L;
    const char *line = lua_tostring(L, -1);
    const char *code = lua_pushfstring(L, "return %s;", line);
    int status = compile(r, code, false);
    if (status == LUA_OK) {
        lua_remove(L, -2);   /* the "return" code */
        save_history(r, line);
        lua_remove(L, -2);   /* the line */
    } else {
        lua_pop(L, 2);       /* the error and the "return" code */
    }
    return status;
}

/* Leaves the compiled function (LUA_OK) or the error message on the stack.
 * Returns -1 at end of input before any line. */
static int load_statement(repl *r) {
    lua_State *L = r->L;
    if (!push_line(r, true)) return -1;
    chunk_cancelled = false;   /* a Ctrl-C before this line cancelled nothing */
    if (load_as_expression(r) == LUA_OK) return LUA_OK;
    for (;;) {   /* stack: the chunk so far */
        const char *chunk = lua_tostring(L, -1);
        int status = compile(r, chunk, true);
        if (!is_incomplete(L, status)) {
            save_history(r, chunk);
            lua_remove(L, -2);
            return status;
        }
        if (!push_line(r, false)) {   /* input ended inside a statement */
            lua_remove(L, -2);
            return status;
        }
        if (chunk_cancelled) {   /* Ctrl-C: start over with the new line */
            lua_replace(L, -3);
            lua_pop(L, 1);
            chunk_cancelled = false;
            if (load_as_expression(r) == LUA_OK) return LUA_OK;
            continue;
        }
        lua_remove(L, -2);   /* the "<eof>" error */
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
        /* A finished multi-line expression prints its value too. */
        if (load_as_expression(r) == LUA_OK) return LUA_OK;
    }
}

/* ---- printing results ---- */

/* Prints the values on the stack with repl.print (tables readably, tensors
 * through their __tostring). Returns the status of that call. */
static int print_results(repl *r) {
    lua_State *L = r->L;
    int n = lua_gettop(L);
    if (n == 0) return LUA_OK;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->module_ref);
    lua_getfield(L, -1, "print");
    lua_remove(L, -2);
    lua_insert(L, 1);
    int status = ap_docall(L, n, 0);
    fflush(stdout);
    return status;
}

/* Runs the compiled statement on top of the stack; leaves its results. */
static int run_statement(repl *r) {
    int narg = 0;
    if (r->keeper_ref != LUA_REFNIL && r->keeper_ref != LUA_NOREF) {
        lua_rawgeti(r->L, LUA_REGISTRYINDEX, r->keeper_ref);
        narg = 1;
    }
    return ap_docall(r->L, narg, LUA_MULTRET);
}

/* Loads aapmt.repl, keeps it in r->module_ref and lets it add its globals
 * (help). */
static bool open_module(repl *r) {
    lua_State *L = r->L;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "aapmt.repl");
    if (ap_docall(L, 1, 1) != LUA_OK) {
        ap_report(L, LUA_ERRRUN, "aapmt: ");
        return false;
    }
    lua_getfield(L, -1, "start");
    if (ap_docall(L, 0, 0) != LUA_OK) {
        ap_report(L, LUA_ERRRUN, "aapmt: ");
        lua_pop(L, 1);
        return false;
    }
    r->module_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return true;
}

/* ---- the loop ---- */

static void open_history(repl *r) {
    const char *home = getenv("HOME");
    r->history_path[0] = '\0';
    if (!home || !*home) return;
    snprintf(r->history_path, sizeof r->history_path, "%s/%s", home, AP_HISTORY_FILE);
    int fd = open(r->history_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) {
        r->history_path[0] = '\0';
        return;
    }
    close(fd);
    using_history();
    history_truncate_file(r->history_path, AP_HISTORY_MAX);
    read_history(r->history_path);
    stifle_history(AP_HISTORY_MAX);
}

int ap_repl(lua_State *L) {
    repl r = {.L = L, .interactive = isatty(STDIN_FILENO), .keeper_ref = LUA_NOREF};
    bool failed = false;
    if (!open_module(&r)) return 1;
    if (r.interactive) {
        ap_repl_completion(L, r.module_ref);
        open_history(&r);
        rl_readline_name = "aapmt";
        rl_signal_event_hook = after_prompt_signal;
        lua_getglobal(L, "aapmt");
        lua_getfield(L, -1, "version");
        printf("aapmt %s on %s; the engine is `aapmt`. Ctrl-D exits.\n", lua_tostring(L, -1),
               LUA_RELEASE);
        lua_pop(L, 2);
    }
    int status;
    while ((status = load_statement(&r)) != -1) {
        if (status == LUA_OK) status = run_statement(&r);
        if (status == LUA_OK) status = print_results(&r);
        if (status != LUA_OK) {
            failed = true;
            ap_report(L, status, "");
        }
        lua_settop(L, 0);
    }
    if (r.interactive) fflush(stdout);
    return failed && !r.interactive ? 1 : 0;
}
