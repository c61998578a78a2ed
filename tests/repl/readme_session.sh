#!/bin/sh
# Runs the REPL session the README shows (between its "repl session" markers)
# from the repository root, feeding the lines after "> " and ">> " on stdin,
# and checks that stdout is the rest of the block, exactly.
# usage: readme_session.sh AAPMT README
set -u
aapmt=$1
readme=$2
root=$(cd "$(dirname "$readme")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

awk '/<!-- repl session: begin/ {on = 1; next} /<!-- repl session: end/ {on = 0} on' "$readme" \
    | grep -v '^```' >"$dir/block"
if [ ! -s "$dir/block" ]; then
    echo "no repl session between the markers in $readme"
    exit 1
fi
sed -n -e 's/^>> \{0,1\}//p' -e 't' -e 's/^> \{0,1\}//p' "$dir/block" >"$dir/input"
grep -v '^>' "$dir/block" >"$dir/expected"

(cd "$root" && "$aapmt" <"$dir/input" >"$dir/out" 2>"$dir/err")
status=$?
if [ "$status" -ne 0 ] || ! diff -u "$dir/expected" "$dir/out"; then
    echo "the README's session gave exit status $status and the output above (- shown, + got)"
    cat "$dir/err"
    exit 1
fi
echo "ok"
