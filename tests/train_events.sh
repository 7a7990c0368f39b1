#!/bin/sh
# The trainer's events (tests/test_train_events.c) on 1 and 2 ranks.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_check_tests
for np in 1 2; do
    timeout 300 "$MPIEXEC" -n $np --oversubscribe "$top_builddir/tests/test_train_events" || fail "-n $np"
done
