#!/bin/sh
# The MPI data-path tests on 4 ranks (bounded in time: a hang is a failure).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_check_tests
timeout 300 "$MPIEXEC" -n 4 --oversubscribe "$top_builddir/tests/test_dataset_mpi"
