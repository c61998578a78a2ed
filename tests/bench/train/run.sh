#!/bin/sh
# ImageReward training speed on the CPU: aapmt's training step against the
# same step in PyTorch on this machine, in images per second, with each
# side's peak memory.
#
#   tests/bench/train/run.sh [BUILD_DIR]      (default BUILD_DIR: build/ in the repo)
#
# One step = forward in training mode (dropout and drop-path as configured)
# + AAPMT's sum-of-squared-errors loss + backward + Adam (lr 5e-6, every
# parameter trainable, fix_rate 0) + zero_grad, on random preprocessed pixels
# and fixed token ids: image decoding is not included (the loader's own
# figures cover it). Random weights. Configurations:
#   tiny   tests/fixtures/train_run/tiny_config.json (32 px, width 32), batch 32
#   small  small_config.json here (224 px, ViT width 192 depth 4, BERT 192x4), batch 32
#   full   ImageReward-v1.0 (ViT-L/16 at 224, BERT-base with cross-attention, MLP head), BATCHES
#
# Environment: THREADS (default: the cores we may use), REPS (timed steps for
# the full model, default 3), SMALL_REPS (for tiny and small, default 10),
# BATCHES (full model, default 1,8), CONFIGS (default "tiny small full"),
# RECOMPUTE_BATCHES (full model with every block recomputed in backward,
# train.run{recompute = "block"}; ours only, default none, e.g. 8,32),
# PYTHON (default /usr/bin/python3, where Debian installs python3-torch),
# FREE (default 1: our side frees each step's outputs right after backward,
# as lua/aapmt/train.lua does; 0 leaves them to the Lua collector).
# One warm-up step first everywhere. Both sides get the same threads and the
# same OpenBLAS kernels (the ones the aapmt program picks for this CPU, or
# OPENBLAS_CORETYPE when set). Each configuration runs in a fresh process per
# side, one after the other (the order flips from one to the next), so each
# peak memory (VmHWM) is that side's alone.
# ratio = aapmt images/s / PyTorch images/s, from medians: above 1, aapmt is faster.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=${1:-$repo/build}
threads=${THREADS:-$(nproc)}
reps=${REPS:-3}
small_reps=${SMALL_REPS:-10}
batches=${BATCHES:-1,8}
configs=${CONFIGS:-tiny small full}
python=${PYTHON:-/usr/bin/python3}

if ! { [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" >/dev/null; } ||
   ! cmake --build "$build" --target aapmt -j "$(nproc)" >/dev/null; then
    echo "run.sh: could not build aapmt in $build" >&2
    exit 1
fi
aapmt=$build/aapmt

# The same OpenBLAS kernels on both sides: the ones aapmt itself would run with.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    chosen=$("$aapmt" -e 'io.write(os.getenv("OPENBLAS_CORETYPE") or "")')
    [ -n "$chosen" ] && export OPENBLAS_CORETYPE="$chosen"
fi
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"

have_torch=yes
if ! "$python" -c 'import torch' 2>/dev/null; then
    have_torch=no
    echo "PyTorch is not installed for $python: install it with 'apt-get install python3-torch'" >&2
    echo "to see the comparison. Our figures alone follow." >&2
fi

for c in $configs; do
    case $c in
        tiny | small | full) ;;
        *) echo "run.sh: unknown configuration '$c' in CONFIGS (tiny, small, full)" >&2; exit 2 ;;
    esac
done

ours=$(mktemp) theirs=$(mktemp) one=$(mktemp)
trap 'rm -f "$ours" "$theirs" "$one"' EXIT
trap 'exit 130' INT TERM HUP

# One side of one configuration, in a process of its own; its lines go to
# the file $1 and, as they come, to stderr. A failure stops the benchmark.
run_side() {
    out=$1
    shift
    if ! "$@" >"$one"; then
        cat "$one" >&2
        echo "run.sh: failed: $*" >&2
        exit 1
    fi
    cat "$one" >&2
    cat "$one" >>"$out"
}

# One configuration on both sides; the order flips from one to the next so
# that load that rises or falls during the run does not favour one side.
flip=0
run_case() {
    echo "  $1 ..." >&2
    shift
    if [ $flip = 1 ] && [ $have_torch = yes ]; then
        run_side "$theirs" "$python" "$here/torch_train.py" --threads "$threads" "$@"
    fi
    run_side "$ours" "$aapmt" run "$here/bench_train.lua" --threads "$threads" --free "${FREE:-1}" "$@"
    if [ $flip = 0 ] && [ $have_torch = yes ]; then
        run_side "$theirs" "$python" "$here/torch_train.py" --threads "$threads" "$@"
    fi
    flip=$((1 - flip))
}

avail=$(awk '/MemAvailable/ {print int($2 / 2^20)}' /proc/meminfo)
echo "Training steps on $(nproc) cores, $threads threads, OpenBLAS kernels ${OPENBLAS_CORETYPE:-default}," \
     "$avail GiB memory available:" >&2
case " $configs " in *" full "*)
    if [ "$avail" -lt 16 ]; then
        echo "run.sh: warning: the full model at batch 8 peaks near 15 GiB on our side and 11 GiB on PyTorch's" >&2
    fi ;;
esac
for c in $configs; do
    case $c in
        tiny) run_case "tiny, batch 32" --label tiny --config "$repo/tests/fixtures/train_run/tiny_config.json" \
                  --batch 32 --reps "$small_reps" ;;
        small) run_case "small, batch 32" --label small --config "$here/small_config.json" --batch 32 \
                   --reps "$small_reps" ;;
        full)
            for b in $(echo "$batches" | tr ',' ' '); do
                run_case "ImageReward-v1.0, batch $b" --label full --batch "$b" --reps "$reps"
            done
            for b in $(echo "${RECOMPUTE_BATCHES:-}" | tr ',' ' '); do
                echo "  ImageReward-v1.0, batch $b, blocks recomputed ..." >&2
                run_side "$ours" "$aapmt" run "$here/bench_train.lua" --threads "$threads" --free "${FREE:-1}" \
                    --label full --batch "$b" --reps "$reps" --recompute 1
            done ;;
    esac
done

echo
grep '^# aapmt' "$ours" | head -n 1
if [ $have_torch = yes ]; then grep '^# PyTorch' "$theirs" | head -n 1; fi
echo
# Lines read: train_<label>_b<B> median <ms> ms min <ms> ms <img/s> img/s fwd <ms> bwd <ms> opt <ms>,
# then peak_rss <MiB> MiB for the process that printed it.
awk -v have_torch=$have_torch '
    $1 ~ /^#/ { next }
    { side = FILENAME == ARGV[1] ? "torch" : "ours" }
    $1 ~ /^train_/ {
        last[side] = $1; k = side SUBSEP $1
        ms[k] = $3; mn[k] = $6; ips[k] = $8; phases[k] = sprintf("%.0f/%.0f/%.0f", $11, $13, $15)
        if (side == "ours") order[++n] = $1
    }
    $1 == "peak_rss" { rss[side, last[side]] = $2 }
    END {
        printf "%-16s %10s %10s %9s %9s %7s %10s %9s %9s  %-18s %-18s\n", "step", "aapmt ms", "torch ms",
            "aapmt i/s", "torch i/s", "ratio", "ratio(min)", "aapmt MiB", "torch MiB", "aapmt fwd/bwd/opt", "torch fwd/bwd/opt"
        for (i = 1; i <= n; i++) {
            o = "ours" SUBSEP order[i]; t = "torch" SUBSEP order[i]
            if (have_torch == "yes" && (t in ms))
                printf "%-16s %10.1f %10.1f %9.3f %9.3f %7.2f %10.2f %9s %9s  %-18s %-18s\n", order[i], ms[o], ms[t],
                    ips[o], ips[t], ips[o] / ips[t], mn[t] / mn[o], rss[o], rss[t], phases[o], phases[t]
            else
                printf "%-16s %10.1f %10s %9.3f %9s %7s %10s %9s %9s  %-18s\n", order[i], ms[o], "-", ips[o], "-",
                    "-", "-", rss[o], "-", phases[o]
        }
    }
' "$theirs" "$ours"
echo
echo "Medians of the timed steps; images/s = batch / median step time; ratio = aapmt images/s /"
echo "PyTorch images/s (above 1: aapmt is faster); ratio(min) compares the fastest steps: where the"
echo "two disagree, the machine was noisy. MiB: peak resident memory (VmHWM) of each side's process."
echo "fwd/bwd/opt: median ms of forward+loss, backward, Adam step+zero_grad. Decoding not included."
