#!/bin/sh
# The serial Check unit tests.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_check_tests
"$top_builddir/tests/test_unit" || fail "unit tests"
