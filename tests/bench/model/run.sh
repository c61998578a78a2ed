#!/bin/sh
# ImageReward-v1.0 scoring (random weights) on the CPU: aapmt against the
# same architecture in PyTorch on this machine.
#
#   tests/bench/model/run.sh [BUILD_DIR]      (default BUILD_DIR: build/ in the repo)
#
# Environment: THREADS (default: the cores we may use), REPS (default 3),
# BATCHES (default 1,8), TEXTS (default 3: also N prompts against each batch,
# ours from one image encoding, PyTorch's a forward per prompt as ImageReward's
# score does; 0: off), PYTHON (default /usr/bin/python3).
# Both sides get the same threads and the same OpenBLAS kernels. Each side
# runs in its own process, so each peak memory figure is that side's alone.
# ratio = PyTorch time / aapmt time: above 1, aapmt is faster.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=${1:-$repo/build}
threads=${THREADS:-$(nproc)}
reps=${REPS:-3}
batches=${BATCHES:-1,8}
texts=${TEXTS:-3}
python=${PYTHON:-/usr/bin/python3}

if ! { [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" >/dev/null; } ||
   ! cmake --build "$build" --target aapmt_bench_model -j "$(nproc)" >/dev/null; then
    echo "run.sh: could not build aapmt_bench_model in $build" >&2
    exit 1
fi
bench=$build/aapmt_bench_model

coretype=$("$bench" --coretype)
[ -n "$coretype" ] && export OPENBLAS_CORETYPE="$coretype"
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"

ours=$(mktemp) theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT
"$bench" --threads "$threads" --reps "$reps" --batches "$batches" --texts "$texts" | tee "$ours" >&2
if "$python" -c 'import torch' 2>/dev/null; then
    "$python" "$here/torch_model.py" --threads "$threads" --reps "$reps" --batches "$batches" --texts "$texts" | tee "$theirs" >&2
else
    echo "PyTorch is not installed for $python: our figures alone follow." >&2
fi

echo
# Lines read: score_b<B> (and texts<N>_b<B>) median <ms> ms min <ms> ms <images/s> img/s, and peak_rss <MiB> MiB.
awk '
    $1 ~ /^#/ { next }
    { side = FILENAME == ARGV[1] ? "ours" : "torch" }
    $1 ~ /^(score|texts[0-9]+)_b/ { ms[side, $1] = $3; mn[side, $1] = $6; ips[side, $1] = $8; if (side == "ours") order[++n] = $1 }
    $1 == "peak_rss" { rss[side] = $2 }
    END {
        printf "%-10s %10s %10s %12s %12s %7s %10s\n", "batch", "aapmt ms", "torch ms", "aapmt img/s", "torch img/s", "ratio", "ratio(min)"
        for (i = 1; i <= n; i++) {
            k = order[i]
            if (("torch", k) in ms)
                printf "%-10s %10.1f %10.1f %12.3f %12.3f %7.2f %10.2f\n", k, ms["ours", k], ms["torch", k], ips["ours", k], ips["torch", k], ms["torch", k] / ms["ours", k], mn["torch", k] / mn["ours", k]
            else
                printf "%-10s %10.1f %10s %12.3f %12s %7s %10s\n", k, ms["ours", k], "-", ips["ours", k], "-", "-", "-"
        }
        printf "%-10s %6s MiB %6s MiB\n", "peak RSS", rss["ours"], ("torch" in rss) ? rss["torch"] : "-"
    }
' "$ours" "$theirs"
echo "ratio = PyTorch time / aapmt time from medians (above 1: aapmt is faster); ratio(min) compares"
echo "the fastest repetitions: where the two disagree, the machine was noisy."
