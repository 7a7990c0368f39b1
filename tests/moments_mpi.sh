#!/bin/sh
# The reductions of comm/ (Chan merge, gradient sum) on 1, 2 and 4 ranks.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_check_tests
for np in 1 2 4; do
    timeout 120 "$MPIEXEC" -n $np --oversubscribe "$top_builddir/tests/test_moments_mpi" || fail "-n $np"
done
