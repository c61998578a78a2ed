#!/bin/sh
# aapmt against PyTorch on this machine: GEMM GFLOP/s, one ViT block (width
# 1024, 197 tokens, 16 heads) forward+backward, and the block's ops one by one.
#
#   tests/bench/run.sh [BUILD_DIR]        (default BUILD_DIR: build/ in the repo)
#
# Environment: THREADS (default: the cores we may use), REPS (default 10),
# ROUNDS (default 1; more rounds repeat everything and take the median),
# PYTHON (default /usr/bin/python3, where Debian installs python3-torch).
# OPENBLAS_CORETYPE reaches both sides alike; when unset, the kernels the aapmt
# program picks for this CPU (see core/parallel.h) are used on both sides.
#
# Both sides get the same thread count and run section by section in turn, so
# that a burst of load on a shared machine hits both alike. Figures are
# medians; ratio = PyTorch time / aapmt time, above 1 means aapmt is faster.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-$repo/build}
threads=${THREADS:-$(nproc)}
reps=${REPS:-10}
rounds=${ROUNDS:-1}
python=${PYTHON:-/usr/bin/python3}

log=$(mktemp)
if { [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build"; } >"$log" 2>&1 \
   && cmake --build "$build" --target aapmt_bench aapmt -j "$(nproc)" >"$log" 2>&1; then
    rm -f "$log"
else
    tail -n 30 "$log" >&2
    rm -f "$log"
    echo "run.sh: could not build aapmt_bench in $build (see above)" >&2
    exit 1
fi
bench=$build/aapmt_bench

# The same OpenBLAS kernels on both sides: the ones aapmt itself would run with.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    chosen=$("$build/aapmt" -e 'io.write(os.getenv("OPENBLAS_CORETYPE") or "")')
    [ -n "$chosen" ] && export OPENBLAS_CORETYPE="$chosen"
fi

# One thread pool size for everything on both sides (OpenMP, OpenBLAS).
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"

have_torch=yes
if ! "$python" -c 'import torch' 2>/dev/null; then
    have_torch=no
    echo "PyTorch is not installed for $python: install it with 'apt-get install python3-torch'"
    echo "to see the comparison. Our figures alone follow."
fi

ours=$(mktemp) theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT

# One section on both sides. The order flips from one section to the next
# (ours first, then theirs first) so that load that rises or falls during the
# run does not favour one side.
flip=0
run_section() {
    echo "  $1 ..." >&2
    shift
    if [ $flip = 1 ] && [ $have_torch = yes ]; then
        "$python" "$here/torch_bench.py" --threads "$threads" "$@" >>"$theirs"
    fi
    "$bench" --threads "$threads" "$@" >>"$ours"
    if [ $flip = 0 ] && [ $have_torch = yes ]; then
        "$python" "$here/torch_bench.py" --threads "$threads" "$@" >>"$theirs"
    fi
    flip=$((1 - flip))
}

echo "Running on $(nproc) cores with $threads threads, $reps reps (batch 8 fewer), $rounds round(s):" >&2
half=$(( reps / 2 > 3 ? reps / 2 : 3 ))
round=0
while [ $round -lt "$rounds" ]; do
    run_section "GEMM" --only gemm --reps "$reps"
    run_section "block, batch 1" --only block --batches 1 --reps "$reps"
    run_section "block, batch 8" --only block --batches 8 --reps "$half" --warmup 1
    run_section "ops one by one" --only ops --reps "$reps"
    round=$((round + 1))
done

echo
grep '^#' "$ours" | head -n 1
if [ $have_torch = yes ]; then grep '^#' "$theirs" | head -n 1; fi
echo
# Lines read: <name> median <ms> ms min <ms> ms <rate> GFLOP/s. Over several
# rounds a figure is the median of the rounds' medians (and the least min).
awk -v have_torch=$have_torch '
    function median(list,    n, v, i, j, t) {
        n = split(list, v, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    $1 ~ /^#/ { next }
    {
        side = FILENAME == ARGV[1] ? "torch" : "ours"
        key = side SUBSEP $1
        if (side == "ours" && !($1 in seen)) { seen[$1] = 1; order[++count] = $1 }
        meds[key] = meds[key] " " $3
        if (!(key in mins) || $6 + 0 < mins[key]) mins[key] = $6 + 0
        if ($8 > 0) gflop[key] = $8 * $3 / 1e3   # the work of one repetition
    }
    END {
        printf "%-24s %11s %11s %7s %10s %10s %10s\n", "work", "aapmt ms", "PyTorch ms", "ratio", "ratio(min)", "aapmt GF/s", "torch GF/s"
        for (i = 1; i <= count; i++) {
            name = order[i]; o = "ours" SUBSEP name; t = "torch" SUBSEP name
            if (name ~ /^op_/ && !gap++) print ""
            ms = median(meds[o])
            if (have_torch == "yes" && (t in meds)) {
                tms = median(meds[t])
                printf "%-24s %11.3f %11.3f %7.2f %10.2f", name, ms, tms, tms / ms, mins[t] / mins[o]
            } else {
                printf "%-24s %11.3f %11s %7s %10s", name, ms, "-", "-", "-"
            }
            if (o in gflop) {
                printf " %10.1f", gflop[o] / (ms * 1e-3)
                if (have_torch == "yes" && (t in meds)) printf " %10.1f", gflop[o] / (tms * 1e-3)
            }
            printf "\n"
        }
    }
' "$theirs" "$ours"
echo
echo "ratio = PyTorch time / aapmt time (above 1: aapmt is faster), from medians; ratio(min)"
echo "compares the fastest repetitions: where the two disagree, the machine was noisy."

# OpenBLAS 0.3.21 does not know some recent CPUs and falls back to its slowest
# (Prescott) kernels, which then decide every figure above; say so.
if grep -q 'OpenBLAS core Prescott' "$ours" && grep -qw avx2 /proc/cpuinfo; then
    echo
    echo "Note: OpenBLAS runs its generic Prescott kernels on this AVX2 CPU (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}),"
    echo "so GEMM runs several times below the machine's speed on both sides."
fi
