#!/bin/sh
# Here, before a GPU run: builds the CUDA tests and benchmark and bundles them
# with the shared libraries a bare GPU machine lacks into .device/ (ignored by
# git; name it in the run's carry list). Then, on the GPU machine:
#   sh tests/bench/cuda/run.sh
set -eu
repo=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$repo/build}
bundle=$repo/../shared/device/bundle.sh
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target test_cuda_parity test_cuda aapmt_bench_cuda >/dev/null
grep -qx '.device' "$repo/.git/info/exclude" 2>/dev/null || echo '.device' >> "$repo/.git/info/exclude"
rm -rf "$repo/.device"
for prog in "$build/tests/test_cuda_parity" "$build/tests/test_cuda" "$build/aapmt_bench_cuda"; do
    sh "$bundle" "$prog" "$repo/.device" >/dev/null
done
echo "bundled into $repo/.device: $(ls "$repo/.device/bin" | tr '\n' ' ')"
