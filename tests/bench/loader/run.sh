#!/bin/sh
# The data loader against PyTorch's DataLoader on this machine: one epoch of
# decoding and ImageReward's preprocessing (bicubic resize to 224, center crop,
# normalise) of real images, images/s and CPU use (CPU seconds / wall seconds;
# 2.00 on 2 cores means both were busy all the time).
#
#   tests/bench/loader/run.sh [BUILD_DIR]      (default BUILD_DIR: build/ in the repo)
#
# Environment: IMAGES (a folder of JPEG/PNG files; default the AGIQA-3K images
# in ../shared beside the repo), LIMIT (images, default 600; 0 = all), WORKERS
# (default: the cores we may use), BATCH (default 32), REPS (default 3),
# PYTHON (default /usr/bin/python3). Both sides use WORKERS worker threads or
# processes; figures are medians; ratio = aapmt images/s / PyTorch images/s.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=${1:-$repo/build}
images=${IMAGES:-$repo/../shared/datasets/AGIQA-3K/images}
limit=${LIMIT:-600}
workers=${WORKERS:-$(nproc)}
batch=${BATCH:-32}
reps=${REPS:-3}
python=${PYTHON:-/usr/bin/python3}

if [ ! -d "$images" ]; then
    echo "run.sh: no image folder $images (set IMAGES)" >&2
    exit 1
fi
if ! { [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" >/dev/null; } ||
   ! cmake --build "$build" --target aapmt -j "$(nproc)" >/dev/null; then
    echo "run.sh: could not build aapmt in $build" >&2
    exit 1
fi

ours=$("$build/aapmt" run "$here/bench_loader.lua" "$images" "$workers" "$batch" "$reps" "$limit")
theirs=$("$python" "$here/torch_loader.py" "$images" "$workers" "$batch" "$reps" "$limit")
echo "loader: $workers workers, batch $batch, median of $reps epochs, images from $images"
echo "$ours
$theirs" | awk '
    $1 == "aapmt" { n = $2; ours = $3; ours_cpu = $4 }
    $1 == "torch" { theirs = $3; theirs_cpu = $4 }
    END {
        printf "| images | aapmt images/s | aapmt CPU use | PyTorch images/s | PyTorch CPU use | ratio |\n"
        printf "| %d | %.1f | %.2f | %.1f | %.2f | %.2f |\n", n, ours, ours_cpu, theirs, theirs_cpu, ours / theirs
    }'
