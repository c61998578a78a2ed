#!/usr/bin/env bash
# Builds the libFuzzer targets: tests/fuzz/fuzz_<target>.c against the core
# sources, all compiled by clang with AddressSanitizer + UBSan and libFuzzer's
# coverage, into BUILD (default build-fuzz/ in the repository root).
#
#   tests/fuzz/build.sh [BUILD]
#
# Incremental: a source is recompiled when it, or any header under core/ or
# tests/fuzz/, is newer than its object. Needs clang with its libFuzzer
# runtime (Debian: clang libclang-rt-14-dev); exits 77 saying what is missing
# otherwise, so ctest reports a skip.
#
# OpenMP pragmas are compiled out (clang without -fopenmp): the fuzzers run
# single-threaded, so a crash replays the same way, and no libomp is needed;
# tests/fuzz/include/omp.h declares the two omp_* calls, which libgomp
# (OpenBLAS's runtime) provides; -Wno-unused-* quiets the helpers only the
# OpenMP paths use. target_clones kernels are off under clang already
# (core/ops/ops_internal.h). Harnesses get _GNU_SOURCE (memfd_create).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-fuzz}
mkdir -p "$build/obj"
cc=${CLANG:-clang}
jobs=${JOBS:-2}

skip() { echo "fuzz build: $*" >&2; exit 77; }
command -v "$cc" >/dev/null || skip "no $cc (install the Debian packages clang and libclang-rt-14-dev)"
probe=$build/probe
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$probe.c"
"$cc" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" 2>"$probe.log" ||
    skip "$cc cannot link -fsanitize=fuzzer (install libclang-rt-14-dev): $(head -c 300 "$probe.log")"

# Dependencies, where CMakeLists.txt finds them.
openblas_inc=""
for d in /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/aarch64-linux-gnu/openblas-openmp \
         /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas; do
    [ -f "$d/cblas.h" ] && { openblas_inc=$d; break; }
done
lfs=""
for d in /usr/lib/x86_64-linux-gnu/lua/5.4 /usr/lib/aarch64-linux-gnu/lua/5.4 /usr/local/lib/lua/5.4; do
    [ -f "$d/lfs.so" ] && { lfs=$d/lfs.so; break; }
done
[ -n "$lfs" ] || skip "LuaFileSystem for Lua 5.4 not found (lua-filesystem)"

cflags=(-std=gnu11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Wno-source-uses-openmp -Wno-unused-function -Wno-unused-variable -fno-math-errno
        -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
        -I"$root/core" -I"$root/tests/fuzz/include" -I/usr/include/stb -I/usr/include/cjson -I/usr/include/lua5.4
        -DAAPMT_VERSION=\"fuzz\" -DAAPMT_FUZZ_ROOT=\"$root\" -DAAPMT_LFS_MODULE=\"$lfs\")
[ -n "$openblas_inc" ] && cflags+=(-I"$openblas_inc")
libs=(-lstb -lopenblas -ljpeg -lutf8proc -lcjson -lcrypto -llua5.4 -lgomp -lm -lpthread -ldl)
openblas_lib=""
for d in /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp; do
    [ -f "$d/libopenblas.so" ] && { openblas_lib=$d; break; }
done
[ -n "$openblas_lib" ] && libs=(-L"$openblas_lib" -Wl,-rpath,"$openblas_lib" "${libs[@]}")

# What to compile: the C library, the Lua binding (for the experiment
# target), and stb_image itself, so its PNG/BMP/TGA paths are instrumented too.
# The fuzzers parse files on the CPU, so they link the CPU-only stand-ins for
# the CUDA kernels (core/cuda/register.c) rather than needing nvcc.
cd "$root"
sources=(core/*.c core/ops/*.c core/io/*.c core/model/*.c core/data/*.c core/demo/*.c core/train/*.c core/cuda/register.c lua/binding/*.c tests/fuzz/stb_image_impl.c)
newest_header=$(find core lua/binding tests/fuzz/include -name '*.h' -printf '%T@\n' | sort -n | tail -1)
stale=()
for src in "${sources[@]}"; do
    obj=$build/obj/${src//\//_}.o
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
       awk -v h="$newest_header" -v o="$(stat -c %Y "$obj")" 'BEGIN { exit !(h > o) }'; then
        stale+=("$src")
    fi
done
export cc build
export cflags_str="${cflags[*]}"
if [ ${#stale[@]} -gt 0 ]; then
    echo "fuzz build: compiling ${#stale[@]} sources"
    printf '%s\n' "${stale[@]}" | xargs -P "$jobs" -I{} sh -c \
        'src={}; obj="$build/obj/$(echo "$src" | tr / _).o"; extra=""
         # stb does NULL + 0 and memcpy(NULL, p, 0) on an empty first IDAT:
         # harmless, upstream, not ours to fix.
         case $src in *stb_image_impl.c) extra=-fno-sanitize=pointer-overflow,nonnull-attribute ;; esac
         nice -n 10 $cc $cflags_str $extra -c "$src" -o "$obj" || exit 255'
fi

objs=()
for src in "${sources[@]}"; do objs+=("$build/obj/${src//\//_}.o"); done
for harness in tests/fuzz/fuzz_*.c; do
    target=$(basename "$harness" .c)
    exe=$build/$target
    if [ ! -x "$exe" ] || [ "$harness" -nt "$exe" ] || [ -n "$(find "$build/obj" -newer "$exe" -name '*.o' | head -1)" ] ||
       [ -n "$(find tests/fuzz -name '*.h' -newer "$exe" | head -1)" ]; then
        echo "fuzz build: linking $target"
        nice -n 10 "$cc" "${cflags[@]}" -D_GNU_SOURCE -fsanitize=fuzzer "$harness" "${objs[@]}" "${libs[@]}" -o "$exe"
    fi
done
