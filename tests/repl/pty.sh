#!/bin/sh
# Drives the REPL on a pseudo-terminal (util-linux `script`), as a person
# types: Tab completion of Lua names and of file names inside strings, a
# plain local kept to the next line, input line numbers in errors, and
# Ctrl-C stopping a loop of model and tensor work while both stay usable.
# The keys are sent with pauses, so each reaches readline (or the running
# loop) at its turn. script(1) starts the REPL through $SHELL -c: the shell
# execs it, since a shell left waiting would itself die of the Ctrl-C (dash
# does) and script would report that death as the REPL's status. usage: pty.sh AAPMT SOURCE_ROOT; exits 77 without `script`.
set -u
aapmt=$1
root=$2
command -v script >/dev/null 2>&1 || { echo "no script(1): skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/home"
cd "$root" || exit 1

fixtures=tests/fixtures
keys() { printf "$1"; sleep "${2:-0.3}"; }
# Waits (30 s at most) until the terminal has shown TEXT: a slow machine
# (the sanitizer build) must not get keys meant for a later moment.
wait_for() {
    tries=0
    until grep -qF -- "$1" "$dir/raw" 2>/dev/null || [ "$tries" -ge 300 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
}
{
    wait_for 'Ctrl-D exits'
    keys 'x = aapmt.ten\t({1, 2, 3})\n'
    keys 'x:nu\t()\n'
    keys 'aapmt.metrics.\t'
    keys '\t'   # a second Tab lists the candidates
    keys 'all\n'
    keys 'f = io.open("READ\t)\n'
    keys 'f:read("l")\n'
    keys 'local k = 41\n'
    keys 'k + 1\n'
    keys '\n-- a comment\nerror("boom")\n'
    keys 'IR = require "aapmt.imagereward"\n'
    keys "model = IR.load{checkpoint = \"$fixtures/e2e/tiny_224.pt\", config = \"$fixtures/e2e/tiny_224_config.json\", vocab = \"$fixtures/tokenizer/vocab.txt\"}\n"
    keys "image = \"$fixtures/image/rgb_224x224.jpg\"; before = model:score(\"a cat\", image)[1]\n"
    keys "io.open(\"$dir/looping\", \"w\"):close() n = 0 while true do n = n + 1; model:score(\"a dog\", image); y = x * 2 end\n"
    tries=0
    until [ -f "$dir/looping" ] || [ "$tries" -ge 300 ]; do sleep 0.1; tries=$((tries + 1)); done
    keys '\003' 1   # Ctrl-C in the middle of the loop
    keys 'print("sum", x:sum():item(), "same score", model:score("a cat", image)[1] == before, n > 0)\n'
    wait_for 'same score'
    keys '\004'
} | HOME="$dir/home" TERM=dumb SHELL=/bin/sh timeout 60 script -qec "exec \"$aapmt\"" /dev/null >"$dir/raw" 2>&1
status=$?
tr -d '\r' <"$dir/raw" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' >"$dir/out"

failed=0
if [ "$status" -ne 0 ]; then
    echo "the REPL exited with status $status"
    failed=1
fi
if grep -q "Sanitizer" "$dir/out"; then
    echo "a sanitizer reported (below)"
    failed=1
fi
expect() {
    if ! grep -qF -- "$1" "$dir/out"; then
        echo "the terminal lacks: $1"
        failed=1
    fi
}
expect '> x = aapmt.tensor({1, 2, 3})'
expect '> x:numel()'
expect 'aapmt.metrics.bootstrap_sample'
expect 'f = io.open("README.md")'
expect '# aapmt'
expect '42'
expect 'stdin:10: boom'
expect 'interrupted'
expect 'sum	6.0	same score	true	true'
if [ "$failed" -ne 0 ]; then
    echo "--- the terminal showed:"
    cat "$dir/out"
    exit 1
fi
echo "ok"
