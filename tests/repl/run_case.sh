#!/bin/sh
# Runs one scripted REPL session: feeds CASE.in to the aapmt program on stdin
# (not a terminal, so no prompts and no readline) and checks
#   CASE.out     stdout, exactly (when the file exists)
#   CASE.err     stderr contains each line of this file (plain text)
#   CASE.status  the exit status (0 when the file is missing)
# usage: run_case.sh AAPMT CASE   (CASE is the path without the extension)
set -u
aapmt=$1
case=$2
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

"$aapmt" <"$case.in" >"$out" 2>"$err"
status=$?
failed=0

expected_status=0
[ -f "$case.status" ] && expected_status=$(cat "$case.status")
if [ "$status" -ne "$expected_status" ]; then
    echo "exit status $status, expected $expected_status"
    failed=1
fi
if [ -f "$case.out" ] && ! diff -u "$case.out" "$out"; then
    echo "stdout differs from $case.out (above: - expected, + got)"
    failed=1
fi
if [ -f "$case.err" ]; then
    while IFS= read -r fragment; do
        if ! grep -qF -- "$fragment" "$err"; then
            echo "stderr lacks: $fragment"
            failed=1
        fi
    done <"$case.err"
fi
if [ "$failed" -ne 0 ]; then
    echo "--- stderr was:"
    cat "$err"
    exit 1
fi
echo "ok"
