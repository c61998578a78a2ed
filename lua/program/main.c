/* aapmt: command line, usage text and dispatch to the subcommands.
 *
 *   aapmt [options] [command [args]]
 *
 * Options come first and apply to every command; -e chunks run before the
 * command. Without a command (and without -e) the REPL starts. Exit status:
 * 0 success, 1 the Lua code failed, 2 the command line was wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "program.h"
#include "device.h"
#include "parallel.h"

#ifndef AAPMT_VERSION
#define AAPMT_VERSION "unknown"
#endif

#define AP_MAX_CHUNKS 64
#define AP_EXIT_USAGE 2

typedef struct command {
    const char *name, *args;
    const char *summary;   /* lines separated by '\n' */
    /* argv holds what follows the command name on the line. */
    int (*run)(lua_State *L, const char *program, int argc, char **argv);
    const char *lua_module;   /* commands written in Lua: require(lua_module).main(...) */
} command;

static int cmd_repl(lua_State *L, const char *program, int argc, char **argv);
static int cmd_run(lua_State *L, const char *program, int argc, char **argv);

static const command commands[] = {
    {"repl", "", "the interactive Lua REPL (the default); when stdin is\n"
                 "not a terminal, reads statements from it without prompts", cmd_repl, NULL},
    {"run", "FILE.lua [ARGS...]", "run a Lua script with arg[0] = FILE, arg[1..] = ARGS\n"
                                  "(FILE '-' reads the script from stdin)", cmd_run, NULL},
    {"tokenize", "[--vocab FILE] TEXT", "print ImageReward's 35 token ids for TEXT, then the\n"
                                        "attention mask", NULL, "aapmt.commands.tokenize"},
    {"score", "--prompt TEXT [...] IMAGE|DIR...", "score images (folders: every image under them)\n"
                                                  "against a prompt with ImageReward, or a CSV's\n"
                                                  "(image, prompt) rows with --csv FILE\n"
                                                  "(aapmt score --help lists the options)", NULL,
     "aapmt.commands.score"},
    {"split", "--csv FILE --seed N", "print the held-out prompts of the paper's content-isolated\n"
                                     "split, one per line", NULL, "aapmt.commands.split"},
    {"train", "RUN.lua [...]", "fine-tune a model as RUN.lua describes (aapmt train --help\n"
                               "lists the options)", NULL, "aapmt.commands.train"},
    {"eval", "--csv FILE [...]", "print N, PLCC, SRCC, KRCC, RMSE and PLCC after the\n"
                                 "logistic fit of a score CSV's --pred column against\n"
                                 "--mos (aapmt eval --help lists the options)", NULL,
     "aapmt.commands.eval"},
    {"batch", "[DIR|FILE ...] [key=value ...]", "run experiment files in dependency order, skipping\n"
                                                "what is up to date; writes runs/summary.md", NULL,
     "aapmt.commands.batch"},
    {"check", "[DIR|FILE ...]", "say which inputs (databases, weights, vocabulary) the\n"
                                "experiment files need, and which are missing", NULL,
     "aapmt.commands.check"},
    {"export", "RUN|CHECKPOINT --out FILE", "write a trained model as one .pt or safetensors file\n"
                                            "with ImageReward.pt's keys, for PyTorch and the\n"
                                            "ImageReward package (aapmt export --help)", NULL,
     "aapmt.commands.export"},
    {"demo-db", "--out DIR [...]", "write the built-in synthetic database: images and\n"
                                   "demo.csv with quality, alignment and authenticity MOS", NULL,
     "aapmt.commands.demo_db"},
    {"help", "[COMMAND]", "show this help, or the usage of COMMAND", NULL, NULL},
    {"version", "", "show the version and whether CUDA was built", NULL, NULL},
};
#define AP_NCOMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out, "usage: aapmt [options] [command [args]]\n\n"
                 "aapmt runs Lua 5.4 with the aapmt engine loaded as the module `aapmt`\n"
                 "(also the global `aapmt`). Lua modules are found in %s\n"
                 "(set AAPMT_LUA_DIR to use another); require \"lfs\" loads LuaFileSystem.\n\n"
                 "Commands:\n", ap_lua_dir());
    for (int i = 0; i < AP_NCOMMANDS; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", commands[i].name, commands[i].args);
        fprintf(out, "  %-26s ", head);
        for (const char *c = commands[i].summary; *c; c++) {
            fputc(*c, out);
            if (*c == '\n') fprintf(out, "%29s", "");
        }
        fputc('\n', out);
    }
    fprintf(out, "\nOptions (before the command):\n"
                 "  -e CHUNK                   run the Lua CHUNK; may be repeated; without a\n"
                 "                             command, aapmt exits after the chunks\n"
                 "  -i                         start the REPL after the -e chunks\n"
                 "  -h, --help                 show this help and exit\n"
                 "  -v, --version              show the version and exit\n"
                 "  --                         end of options\n\n"
                 "Exit status: 0 success, 1 a Lua error (message and traceback on stderr),\n"
                 "2 a wrong command line.\n");
}

/* A wrong command line: one line saying what is wrong, the synopsis and
 * where the rest is, not the whole usage (which would bury the message). */
static int usage_error(const char *fmt, const char *what) {
    fprintf(stderr, "aapmt: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nusage: aapmt [options] [command [args]]\n"
                    "(aapmt --help lists the commands and options)\n");
    return AP_EXIT_USAGE;
}

/* The usage of a command written in C (run, repl, help, version): its
 * line of the command table. Lua commands print their own (--help). */
static void command_usage(const command *cmd, FILE *out) {
    fprintf(out, "usage: aapmt %s%s%s\n\n%s\n", cmd->name, cmd->args[0] ? " " : "", cmd->args, cmd->summary);
}

static bool asks_for_help(int argc, char **argv) {
    return argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0);
}

static void version(void) {
    printf("aapmt %s\n%s\nOpenBLAS kernels: %s\nCUDA backend: %s\n", AAPMT_VERSION, LUA_RELEASE,
           at_blas_coretype(), at_device_describe(AT_CUDA));
}

static const command *find_command(const char *name);

static int cmd_repl(lua_State *L, const char *program, int argc, char **argv) {
    if (asks_for_help(argc, argv)) return command_usage(find_command("repl"), stdout), 0;
    if (argc > 0) return usage_error("repl takes no arguments, got '%s'", argv[0]);
    ap_set_arg(L, program, program, 0, NULL);
    return ap_repl(L);
}

static int cmd_run(lua_State *L, const char *program, int argc, char **argv) {
    /* A script really called --help can still be run as ./--help. */
    if (asks_for_help(argc, argv)) return command_usage(find_command("run"), stdout), 0;
    if (argc == 0) return usage_error("%s: missing the script to run (aapmt run FILE.lua [ARGS...])", "run");
    ap_set_arg(L, program, argv[0], argc - 1, argv + 1);
    return ap_run_script(L, argv[0], argc - 1, argv + 1);
}

static const command *find_command(const char *name) {
    for (int i = 0; i < AP_NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* Restarts the program with OpenBLAS's fast kernels when it fell back to its
 * slowest ones on a CPU it does not know (see parallel.h). A user's own
 * OPENBLAS_CORETYPE always wins; if the restart fails we go on as we are. */
static void prefer_fast_blas_kernels(char **argv) {
    const char *better = at_blas_better_coretype();
    if (getenv("OPENBLAS_CORETYPE") || !better) return;
    setenv("OPENBLAS_CORETYPE", better, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");
}

int main(int argc, char **argv) {
    at_keep_freed_memory();   /* see tensor.h */
    prefer_fast_blas_kernels(argv);
    at_backends_init();
    const char *program = argv[0] ? argv[0] : "aapmt";
    const char *chunks[AP_MAX_CHUNKS];
    int nchunks = 0;
    bool then_repl = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--") == 0) {
            i++;
            break;
        } else if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(opt, "-v") == 0 || strcmp(opt, "--version") == 0) {
            version();
            return 0;
        } else if (strcmp(opt, "-i") == 0) {
            then_repl = true;
        } else if (opt[1] == 'e') {   /* -e CHUNK or -eCHUNK */
            const char *chunk = opt[2] ? opt + 2 : argv[++i];
            if (!chunk) return usage_error("option %s needs a Lua chunk", "-e");
            if (nchunks == AP_MAX_CHUNKS) return usage_error("too many %s options", "-e");
            chunks[nchunks++] = chunk;
        } else {
            return usage_error("unknown option '%s'", opt);
        }
    }
    const command *cmd = NULL;
    if (i < argc) {
        cmd = find_command(argv[i]);
        if (!cmd) return usage_error("unknown command '%s'", argv[i]);
        i++;
        if (strcmp(cmd->name, "help") == 0 && i < argc) {   /* help COMMAND: COMMAND --help */
            const command *about = find_command(argv[i]);
            if (!about) return usage_error("help: unknown command '%s'", argv[i]);
            if (!about->lua_module) return command_usage(about, stdout), 0;
            static char help_flag[] = "--help";
            cmd = about;
            argv[i] = help_flag;
        } else if (!cmd->run && !cmd->lua_module) {   /* help and version need no Lua state */
            if (strcmp(cmd->name, "help") == 0) usage(stdout);
            else version();
            return 0;
        }
    } else if (nchunks == 0 || then_repl) {
        cmd = find_command("repl");
    }
    lua_State *L = ap_new_state();
    if (!L) return 1;
    int status = 0;
    if (nchunks > 0) ap_set_arg(L, program, "-e", 0, NULL);
    for (int c = 0; c < nchunks && status == 0; c++) status = ap_run_chunk(L, chunks[c]);
    if (status == 0 && cmd && cmd->lua_module) {
        ap_set_arg(L, program, cmd->name, argc - i, argv + i);
        status = ap_run_lua_command(L, cmd->lua_module, argc - i, argv + i);
    } else if (status == 0 && cmd) {
        status = cmd->run(L, program, argc - i, argv + i);
    }
    lua_close(L);
    return status;
}
