/* The read-eval-print loop.
 *
 * Each statement is first tried as "return <line>;" so expressions print
 * their values; otherwise lines are added while the parser reports an
 * unfinished chunk (its message ends in "<eof>"), as lua.c does, and the
 * lines so far are tried as an expression again after each one. On a
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

static int load_as_expression(repl *r) {
    lua_State *L = r->L;
    const char *line = lua_tostring(L, -1);
    const char *code = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbuffer(L, code, strlen(code), "=stdin");
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
        size_t len;
        const char *chunk = lua_tolstring(L, -1, &len);
        int status = luaL_loadbuffer(L, chunk, len, "=stdin");
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

/* Prints the values on the stack with the global print, so tensors show
 * through their __tostring. */
static void print_results(repl *r) {
    lua_State *L = r->L;
    int n = lua_gettop(L);
    if (n == 0) return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
        fprintf(stderr, "error calling 'print' (%s)\n", lua_tostring(L, -1));
    fflush(stdout);
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
    repl r = {.L = L, .interactive = isatty(STDIN_FILENO)};
    bool failed = false;
    if (r.interactive) {
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
        if (status == LUA_OK) status = ap_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK) {
            print_results(&r);
        } else {
            failed = true;
            ap_report(L, status, "");
        }
        lua_settop(L, 0);
    }
    if (r.interactive) fflush(stdout);
    return failed && !r.interactive ? 1 : 0;
}
