#!/bin/sh
# The tokenizer unit tests (tests/test_text.c): hand-worked cases, malformed files.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_check_tests
"$top_builddir/tests/test_text" || fail "tokenizer unit tests"
