#!/bin/bash
# Builds the fuzz targets (tests/fuzz/README.md) into BUILD_DIR (default /tmp/rmens-fuzz):
#   BUILD_DIR/fuzz_<name>    libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer
#   BUILD_DIR/replay_<name>  the same target and sanitizers without libFuzzer: runs each
#                            file (or directory of files) named on its command line once
# The library is compiled from its sources in Makefile.am (librmens_la_SOURCES), with
# clang through Open MPI's wrapper, outside the source tree: nothing is written there.
# Needs clang, libclang-rt-14-dev (the sanitizer and libFuzzer runtimes) and the
# project's build dependencies. CC_FUZZ overrides the compiler (default: clang).
#
#   tests/fuzz/build.sh [BUILD_DIR]
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/rmens-fuzz}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
targets="fuzz_prep fuzz_dataset fuzz_dataset_fields fuzz_checkpoint fuzz_checkpoint_fields fuzz_request fuzz_tokenizer fuzz_encode fuzz_safetensors fuzz_hfconfig"

export OMPI_CC=${CC_FUZZ:-clang}
command -v "$OMPI_CC" >/dev/null || { echo "build.sh: $OMPI_CC not found (Debian: clang)" >&2; exit 1; }
command -v mpicc >/dev/null || { echo "build.sh: mpicc not found (Debian: libopenmpi-dev)" >&2; exit 1; }
hdf5="hdf5-openmpi"
pkg-config --exists "$hdf5" || hdf5=hdf5

mkdir -p "$out/obj" "$out/include"
out=$(cd "$out" && pwd)

# config.h: the one ./configure wrote in the source tree, else a minimal one here
# (only the package name and version are used by the library).
if [ ! -f "$src/config.h" ]; then
    version=$(sed -n 's/^AC_INIT(\[rmens\], *\[\([^]]*\)\].*/\1/p' "$src/configure.ac")
    printf '#define PACKAGE "rmens"\n#define PACKAGE_VERSION "%s"\n#define VERSION "%s"\n' \
        "$version" "$version" >"$out/include/config.h"
fi

# The library's C sources, as Makefile.am lists them (every = and += block, continuation
# lines joined).
lib_sources=$(awk '/^librmens_la_SOURCES[ \t]*\+?=/ { on = 1 } on { print; if (!/\\$/) on = 0 }' "$src/Makefile.am" |
              sed 's/\\//g' | tr -s '[:blank:]' '\n' | grep '\.c$')
[ -n "$lib_sources" ] || { echo "build.sh: no librmens_la_SOURCES in $src/Makefile.am" >&2; exit 1; }

# shellcheck disable=SC2207  # the pkg-config flags are words by design
cflags=(-g -O1 -fno-omit-frame-pointer -std=gnu11
        -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wno-pass-failed
        -fopenmp-simd -fno-math-errno -fno-trapping-math
        -I"$src" -I"$out/include"
        $(pkg-config --cflags "$hdf5") $(pkg-config --cflags openblas) $(pkg-config --cflags json-c)
        $(pkg-config --cflags libmicrohttpd) $(pkg-config --cflags libpcre2-8 icu-uc nettle))
# shellcheck disable=SC2207
libs=($(pkg-config --libs "$hdf5") $(pkg-config --libs openblas) -ljson-c -lz -lm -lpthread
      $(pkg-config --libs libmicrohttpd) $(pkg-config --libs libpcre2-8 icu-uc nettle))
san_compile=("-fsanitize=fuzzer-no-link,address,undefined" -fno-sanitize-recover=undefined)
san_fuzz=("-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=undefined)
san_replay=("-fsanitize=address,undefined" -fno-sanitize-recover=undefined)

# Compiles one source file (relative to the source tree) into BUILD_DIR/obj.
obj_of() { local f=${1%.c}; echo "$out/obj/${f//\//_}.o"; }
compile() { mpicc "${cflags[@]}" "${san_compile[@]}" -c "$src/$1" -o "$(obj_of "$1")"; }

sources=()
for f in $lib_sources tests/fuzz/fuzz_util.c tests/fuzz/replay_main.c; do
    sources+=("$f")
done
for t in $targets; do
    sources+=("tests/fuzz/$t.c")
done

echo "build.sh: compiling ${#sources[@]} files with $OMPI_CC into $out ($jobs at a time)"
pids=()
failed=0
for f in "${sources[@]}"; do
    compile "$f" &
    pids+=($!)
    if [ "${#pids[@]}" -ge "$jobs" ]; then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do
    wait "$p" || failed=1
done
[ "$failed" = 0 ] || { echo "build.sh: compilation failed" >&2; exit 1; }

objects=()
for f in $lib_sources; do
    objects+=("$(obj_of "$f")")
done
util=$(obj_of tests/fuzz/fuzz_util.c)
replay_main=$(obj_of tests/fuzz/replay_main.c)

for t in $targets; do
    obj=$(obj_of "tests/fuzz/$t.c")
    mpicc "${san_fuzz[@]}" -o "$out/$t" "$obj" "$util" "${objects[@]}" "${libs[@]}"
    mpicc "${san_replay[@]}" -o "$out/replay_${t#fuzz_}" "$obj" "$util" "$replay_main" "${objects[@]}" "${libs[@]}"
    echo "build.sh: $out/$t, $out/replay_${t#fuzz_}"
done
