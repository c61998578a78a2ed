#!/bin/sh
# Opening a full-size ImageReward checkpoint (625 keys, 1.79 GB, random
# weights written by torch.save): at_load_checkpoint against torch.load.
#
#   tests/bench/checkpoint/run.sh [BUILD_DIR]     (default BUILD_DIR: build/ in the repo)
#
# Environment: CKPT (default /tmp/aapmt_bench_imagereward.pt; made when
# missing, removed afterwards unless KEEP=1), RUNS (default 5), PYTHON
# (default /usr/bin/python3, where Debian installs python3-torch).
# The file is read from the page cache on both sides (it was just written or
# read); ratio = torch time / aapmt time, above 1 means aapmt is faster.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=${1:-$repo/build}
ckpt=${CKPT:-/tmp/aapmt_bench_imagereward.pt}
runs=${RUNS:-5}
python=${PYTHON:-/usr/bin/python3}

if ! "$python" -c 'import torch' 2>/dev/null; then
    echo "run.sh: PyTorch is not installed for $python (apt-get install python3-torch)" >&2
    exit 1
fi
{ [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" >/dev/null; } &&
    cmake --build "$build" --target aapmt_bench_checkpoint -j "$(nproc)" >/dev/null
made=no
if [ ! -f "$ckpt" ]; then
    avail=$(df -Pk "$(dirname "$ckpt")" | awk 'NR==2 {print $4}')
    if [ "$avail" -lt 4000000 ]; then
        echo "run.sh: less than 4 GB free beside $ckpt" >&2
        exit 1
    fi
    echo "writing $ckpt with torch.save ..." >&2
    "$python" "$here/make_and_time_torch.py" make "$ckpt"
    made=yes
fi
cleanup() { if [ "$made" = yes ] && [ "${KEEP:-0}" != 1 ]; then rm -f "$ckpt"; fi; }
trap cleanup EXIT

ours=$("$build/aapmt_bench_checkpoint" "$ckpt" "$runs")
theirs=$("$python" "$here/make_and_time_torch.py" time "$ckpt" "$runs")
open=$(echo "$ours" | awk '$1 == "open" {print $2}')
pages=$(echo "$ours" | awk '$1 == "pages" {print $2}')
keys=$(echo "$ours" | awk '$1 == "keys" {print $2}')
torch=$(echo "$theirs" | awk '$1 == "torch" {print $2}')
size=$(stat -c %s "$ckpt")
echo "checkpoint: $ckpt ($size bytes, $keys keys), median of $runs runs, page cache warm"
awk -v o="$open" -v p="$pages" -v t="$torch" 'BEGIN {
    printf "  %-44s %9.4f s\n", "torch.load + first element of every key", t
    printf "  %-44s %9.4f s   ratio %.1f\n", "at_load_checkpoint + every key", o, t / o
    printf "  %-44s %9.4f s   ratio %.1f\n", "at_load_checkpoint + every page of every key", p, t / p
}'
