#!/bin/bash
# CI: the libFuzzer targets (tests/fuzz/README.md), each for FUZZ_SECONDS (default 30:
# ten targets or more, and CI stays under an hour),
# after ./configure && make, as root. Fails on any crash, hang, leak, sanitizer report
# or failed oracle in rmens code. Needs clang and libclang-rt-14-dev besides the build
# dependencies (installed by the CI image, not here).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${FUZZ_BUILD_DIR:-/tmp/rmens-fuzz}
tests/fuzz/build.sh "$build"
tests/fuzz/run.sh "$build" "${FUZZ_SECONDS:-30}"
