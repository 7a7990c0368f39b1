#!/bin/bash
# The whole test suite again, built with AddressSanitizer + UndefinedBehaviorSanitizer
# (configure --enable-sanitizers), in a separate copy of the tree; then the serial unit
# tests under valgrind memcheck and two scoring threads under helgrind. Any sanitizer
# report, memcheck or helgrind error fails CI.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/rmens-san.XXXXXX)
git -C "$src" archive HEAD | tar -x -C "$dir"
cd "$dir"
autoreconf -fi >/dev/null
./configure --enable-sanitizers --enable-fault-injection >/dev/null
make -j2 >/dev/null

# Full stacks (Open MPI is built without frame pointers), components kept loaded so
# their frames can be named, leaks of Open MPI's own allocations suppressed by library.
export OMPI_MCA_mca_base_component_disable_dlclose=1
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=0
export LSAN_OPTIONS=suppressions=$dir/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Instrumented code is slower: give each Check test more than its default 4 s.
export CK_TIMEOUT_MULTIPLIER=10
# LeakSanitizer's own stop-the-world tracer now and then crashes at a process's exit
# while Open MPI's threads wind down ("Tracer caught signal 11 ... LeakSanitizer has
# encountered a fatal error", google/sanitizers#1353): a failure of the tool, not a
# report. Tests that failed only that way are run once more (make recheck); any other
# failure, or the same crash again, fails CI.
lsan_crash_only() {
    local trs log any=0
    for trs in $(find tests -name '*.trs' -exec grep -l -E "^:test-result: (FAIL|ERROR)" {} +); do
        log=${trs%.trs}.log
        any=1
        grep -q "LeakSanitizer has encountered a fatal error" "$log" || return 1
        grep -q -E "ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:" "$log" && return 1
    done
    [ $any = 1 ]
}
if ! make -j2 check; then
    if lsan_crash_only; then
        echo "LeakSanitizer's tracer crashed (not a report); running those tests again:"
        find tests -name '*.trs' -exec grep -l -E "^:test-result: (FAIL|ERROR)" {} +
        make -j2 recheck || { .ci/show-failures.sh; exit 1; }
    else
        .ci/show-failures.sh
        exit 1
    fi
fi
# Nothing may have been reported even where a test tolerated a failing command.
if grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" tests/*.log; then
    echo "sanitizer reports in the logs above" >&2
    exit 1
fi
echo "sanitizers: make check clean"

# valgrind memcheck on the serial unit tests, in the normal build (valgrind and ASan
# do not mix), with Open MPI's own suppression file.
cd "$src"
CK_FORK=no CK_TIMEOUT_MULTIPLIER=20 ./libtool --mode=execute valgrind --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite --suppressions=/usr/share/openmpi/openmpi-valgrind.supp \
    --gen-suppressions=no tests/test_unit
echo "valgrind: unit tests clean"
# helgrind on two threads scoring their own ensembles (rmens.h's advice): no data race.
RMENS_NO_SKIP=1 make check TESTS=tests/threads.sh || { .ci/show-failures.sh; exit 1; }
echo "helgrind: two scoring threads clean"
