#!/bin/sh
# The command line of the aapmt program: help, version, -e, run with
# arguments, errors and exit statuses (0 ok, 1 Lua error, 2 bad usage).
# usage: cli.sh AAPMT
set -u
aapmt=$1
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    echo "--- stdout:"; cat "$out"
    echo "--- stderr:"; cat "$err"
    failures=$((failures + 1))
}

# expect STATUS -- ARGS...: runs aapmt ARGS with stdin from /dev/null
expect() {
    want=$1
    shift 2
    "$aapmt" "$@" </dev/null >"$out" 2>"$err"
    got=$?
    [ "$got" -eq "$want" ] || fail "aapmt $*: exit status $got, expected $want"
}
stdout_has() { grep -qF -- "$1" "$out" || fail "stdout lacks '$1'"; }
stderr_has() { grep -qF -- "$1" "$err" || fail "stderr lacks '$1'"; }
stdout_is() {
    printf '%s\n' "$1" | diff -u - "$out" >/dev/null || fail "stdout is not '$1'"
}

# help lists every command and option
for flag in --help -h help; do
    expect 0 -- $flag
    for word in "usage: aapmt" " repl" " run FILE.lua" " help" " version" "-e CHUNK" " -i " "--help" "--version" "Exit status"; do
        stdout_has "$word"
    done
done

# version: the number and whether CUDA was built
for flag in --version -v version; do
    expect 0 -- $flag
    stdout_has "aapmt 0."
    stdout_has "Lua 5.4"
    stdout_has "CUDA backend: "
done

# -e chunks run in order, share the state, and end the program
expect 0 -- -e 'x = 20' -e 'print(x + 1)'
stdout_is "21"
expect 0 -- -e 'print(aapmt.tensor({1, 2}):sum():item())'
stdout_is "3.0"
expect 0 -- '-eprint("joined")'
stdout_is "joined"
expect 1 -- -e 'error("chunk failed")'
stderr_has "chunk failed"
stderr_has "stack traceback:"
expect 1 -- -e 'x = = 1'
stderr_has "unexpected symbol"
expect 1 -- -e 'error("first")' -e 'print("not reached")'
grep -q "not reached" "$out" && fail "a chunk after a failed one ran"

# run: arg[0] is the script, arg[1..] and ... are the arguments
expect 0 -- run "$here/scripts/show_args.lua" one "two words" -x --flag
stdout_has "arg[0]=$here/scripts/show_args.lua"
stdout_has "arg[1]=one"
stdout_has "arg[2]=two words"
stdout_has "arg[3]=-x"
stdout_has "arg[4]=--flag"
stdout_has "...=one,two words,-x,--flag"
stdout_has "aapmt=table"
expect 0 -- -e 'pre = 1' run "$here/scripts/show_args.lua"
stdout_has "arg[0]="
"$aapmt" run - a b <"$here/scripts/show_args.lua" >"$out" 2>"$err" || fail "run - (stdin) failed"
stdout_has "arg[1]=a"

# errors in scripts: message and traceback on stderr, exit 1
expect 1 -- run "$here/scripts/fails.lua"
stderr_has "fails.lua:3: add: shapes [2] and [3] do not broadcast"
stderr_has "stack traceback:"
stderr_has "in upvalue 'inner'"
stderr_has "fails.lua:10: in main chunk"
expect 1 -- run "$here/scripts/does_not_exist.lua"
stderr_has "cannot open"
expect 3 -- run "$here/scripts/exits.lua" 3
expect 0 -- run "$here/scripts/exits.lua" 0

# wrong command lines: a clear message, the usage, exit 2
expect 2 -- --bogus
stderr_has "unknown option '--bogus'"
stderr_has "usage: aapmt"
expect 2 -- -x
stderr_has "unknown option '-x'"
expect 2 -- frobnicate
stderr_has "unknown command 'frobnicate'"
stderr_has "usage: aapmt"
expect 2 -- run
stderr_has "missing the script"
expect 2 -- -e
stderr_has "needs a Lua chunk"
expect 2 -- repl extra
stderr_has "takes no arguments"

# a wrong command line is one line and a pointer, not the whole usage
expect 2 -- --bogus
grep -q "Commands:" "$err" && fail "a wrong option printed the whole usage"
[ "$(wc -l <"$err")" -le 3 ] || fail "a wrong option printed more than three lines"

# usage of one command: COMMAND --help and help COMMAND, never a file named --help
for args in "run --help" "run -h" "help run"; do
    expect 0 -- $args
    stdout_has "usage: aapmt run FILE.lua [ARGS...]"
    grep -q "cannot open" "$err" && fail "aapmt $args tried to open a file"
done
expect 0 -- repl --help
stdout_has "usage: aapmt repl"
expect 0 -- help score
stdout_has "usage: aapmt score --prompt TEXT"
expect 0 -- help eval
stdout_has "usage: aapmt eval --csv FILE"
expect 2 -- help frobnicate
stderr_has "help: unknown command 'frobnicate'"

# -i: the REPL after the chunks (reading stdin, which is not a terminal)
printf 'x * 2\n' | "$aapmt" -e 'x = 21' -i >"$out" 2>"$err" || fail "-e then -i failed"
stdout_is "42"
printf 'print("from stdin")\n' | "$aapmt" repl >"$out" 2>"$err" || fail "repl command failed"
stdout_is "from stdin"
printf '' | "$aapmt" >"$out" 2>"$err" || fail "an empty session failed"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "ok"
