#!/bin/sh
# The fuzz targets' seed corpus and crash reproducers (tests/fuzz/README.md), each input
# run once through its target without libFuzzer: replay_<name>, built by make check
# with the library under test (and by tests/fuzz/build.sh with the sanitizers). Every
# reproducer of a fixed bug in tests/fuzz/regress/ must pass for good.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck disable=SC1091
. "$top_srcdir/tests/lib.sh"
BIN="${FUZZ_REPLAY_DIR:-$top_builddir/tests/fuzz}"
export RMENS_FUZZ_TMPDIR="$TMP"
for t in prep dataset dataset_fields checkpoint checkpoint_fields request tokenizer encode safetensors hfconfig; do
    [ -x "$BIN/replay_$t" ] || fail "$BIN/replay_$t is not built"
    set -- "$top_srcdir/tests/fuzz/corpus/fuzz_$t"
    [ -d "$top_srcdir/tests/fuzz/regress/fuzz_$t" ] && set -- "$@" "$top_srcdir/tests/fuzz/regress/fuzz_$t"
    out=$("$BIN/replay_$t" "$@" 2>&1) || { echo "$out" | tail -n 40 >&2; fail "replay_$t $*"; }
    echo "ok: fuzz_$t: ${out##*replay: }"
done
