#!/usr/bin/env bash
# Sets up aapmt on Debian 12: installs the missing Debian packages, builds,
# then runs the demo or the test suite.
#
#   ./setup.sh demo    install, build (Release) into build/, run the demo
#   ./setup.sh test    install, build, run every test through ctest; then the
#                      same suite under AddressSanitizer + UBSan (build-asan/)
#   ./setup.sh build   install and build only
#
# Environment: BUILD_DIR (default build), JOBS (default: all cores),
# AAPMT_SKIP_SANITIZE=1 skips the sanitizer pass of `test`;
# AAPMT_FUZZ_SECONDS=N fuzzes each reader N s in `test` (default 30; 0 skips).
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-demo}
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}

packages=(build-essential cmake pkg-config lua5.4 liblua5.4-dev lua-filesystem
          libopenblas-openmp-dev libreadline-dev libjpeg62-turbo-dev libstb-dev
          libutf8proc-dev libcjson-dev libssl-dev gnuplot-nox clang libclang-rt-14-dev)

# The tests also check files against PyTorch itself (a .pt aapmt writes
# loaded by torch.load; an exported model scored by the reference model):
# Debian's torch, about 4 minutes to install on two cores.
test_packages=(python3-torch python3-torchvision python3-pil)

install_missing() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    echo "setup: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() { # build DIR [cmake args...]
    local dir=$1
    shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}

run_tests() { # run_tests DIR
    (cd "$1" && ctest --output-on-failure -j "$jobs")
}

if [ "$mode" = test ]; then
    install_missing "${packages[@]}" "${test_packages[@]}"
else
    install_missing "${packages[@]}"
fi
case "$mode" in
build) build "$build_dir" ;;
demo)
    build "$build_dir"
    "$build_dir/aapmt" run experiments/demo.lua
    ;;
test)
    build "$build_dir"
    run_tests "$build_dir"
    fuzz_seconds=${AAPMT_FUZZ_SECONDS:-30}
    if [ "$fuzz_seconds" -gt 0 ]; then
        echo "setup: fuzzing each reader for ${fuzz_seconds} s (tests/fuzz/run.sh)"
        fuzz_build=$build_dir/fuzz
        case $fuzz_build in /*) ;; *) fuzz_build=$PWD/$fuzz_build ;; esac
        AAPMT_FUZZ_BUILD="$fuzz_build" tests/fuzz/run.sh "$fuzz_seconds" || { rc=$?; [ $rc -eq 77 ] || exit $rc; }
    fi
    if [ "${AAPMT_SKIP_SANITIZE:-0}" != 1 ]; then
        echo "setup: the same suite under AddressSanitizer + UndefinedBehaviorSanitizer"
        build "${build_dir}-asan" -DAAPMT_SANITIZE=ON
        ASAN_OPTIONS=detect_leaks=1 run_tests "${build_dir}-asan"
    fi
    ;;
*)
    echo "usage: ./setup.sh demo|test|build" >&2
    exit 2
    ;;
esac
