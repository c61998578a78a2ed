#!/usr/bin/env bash
# Runs the libFuzzer targets (see README.md beside this file).
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]   fuzz each target for SECONDS
#                                             (default 60), niced
#   tests/fuzz/run.sh --replay [TARGET...]    run every committed seed and
#                                             regression input once: fast,
#                                             deterministic, what ctest runs
#
# Targets: pt pt_write safetensors image tokenizer csv config experiment (default all).
# Builds first (tests/fuzz/build.sh into $AAPMT_FUZZ_BUILD, default
# build-fuzz/). Fuzzing starts from the committed seeds (corpus/<target>/)
# and the regression inputs (regressions/<target>/) and keeps what it finds
# in a scratch corpus outside the repository ($AAPMT_FUZZ_WORK, default
# /tmp/aapmt-fuzz-$USER/<target>/corpus), so longer runs build on earlier
# ones. Any crash, leak, timeout (10 s) or memory blow-up (2 GB) fails the
# run and prints the reproducer's path; to reproduce one:
#   build-fuzz/fuzz_<target> PATH
# and, once fixed, minimise it (fuzz_<target> -minimize_crash=1 -runs=10000
# PATH) and commit it under regressions/<target>/. Exit status: 0, 1 on a
# finding, 77 when clang or libFuzzer is missing (a skip for ctest).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${AAPMT_FUZZ_BUILD:-$root/build-fuzz}
work=${AAPMT_FUZZ_WORK:-/tmp/aapmt-fuzz-${USER:-$(id -u)}}
all=(pt pt_write safetensors image tokenizer csv config experiment)

# The longest input each target is given: room for the seeds, small enough
# that every execution stays fast.
max_len() {
    case $1 in
    pt | image) echo 8192 ;;
    experiment) echo 4096 ;;
    tokenizer) echo 512 ;;
    *) echo 2048 ;;
    esac
}

replay=0
seconds=60
if [ "${1:-}" = --replay ]; then
    replay=1
    shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
    [ -f "$here/fuzz_$t.c" ] || { echo "fuzz: unknown target '$t' (have: ${all[*]})" >&2; exit 2; }
done

"$here/build.sh" "$build" >&2
rc=$?
[ $rc -eq 0 ] || exit $rc

# Leaks count as findings; a failed huge malloc must be handled, not abort.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for t in "${targets[@]}"; do
    exe=$build/fuzz_$t
    dirs=("$here/corpus/$t")
    [ -d "$here/regressions/$t" ] && dirs+=("$here/regressions/$t")
    # The experiment target runs Lua that may write files: give it a folder of its own.
    scratch=$work/$t
    mkdir -p "$scratch/corpus" "$scratch/artifacts" "$scratch/cwd"
    if [ $replay -eq 1 ]; then
        mapfile -t inputs < <(find "${dirs[@]}" -type f ! -name '*.md' | sort)
        log=$scratch/replay.log
        if (cd "$scratch/cwd" && "$exe" -rss_limit_mb=2048 -timeout=10 -error_exitcode=1 "${inputs[@]}" </dev/null >"$log" 2>&1); then
            echo "fuzz replay: $t: ${#inputs[@]} inputs ok"
        else
            echo "fuzz replay: $t: FAILED (log: $log)"
            grep -E "^(==[0-9]+==ERROR|SUMMARY|Running:|fuzz:)|runtime error" "$log" | tail -6
            failed+=("$t")
        fi
        continue
    fi
    dict=()
    [ -f "$here/dict/$t.dict" ] && dict=(-dict="$here/dict/$t.dict")
    log=$scratch/fuzz.log
    before=$(find "$scratch/artifacts" -type f | wc -l)
    TIMEFORMAT="%U %S"
    cpu=$( { time (cd "$scratch/cwd" && nice -n 19 "$exe" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
        -rss_limit_mb=2048 -timeout=10 -error_exitcode=1 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$scratch/artifacts/" "$scratch/corpus" "${dirs[@]}" </dev/null >"$log" 2>&1); } 2>&1 )
    status=$?
    cpu=$(echo "$cpu" | tail -1 | awk '{printf "%.1f", $1 + $2}')
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    corpus=$(find "$scratch/corpus" -type f | wc -l)
    new=$(find "$scratch/artifacts" -type f | sort | tail -n +$((before + 1)))
    echo "fuzz: $t: ${execs:-?} inputs in ${seconds} s (${cpu} s CPU), scratch corpus ${corpus} inputs (log: $log)"
    if [ $status -ne 0 ] || grep -qE '^(crash|leak|timeout|oom)-' <<<"$(basename -a $new 2>/dev/null)"; then
        echo "fuzz: $t: FOUND A PROBLEM (exit $status):"
        grep -E "^(==[0-9]+==ERROR|SUMMARY)|runtime error|^fuzz:" "$log" | head -4 | sed 's/^/  /'
        for f in $new; do echo "  reproducer: $f   (run: $exe $f)"; done
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}"
    exit 1
fi
