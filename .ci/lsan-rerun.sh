#!/bin/bash
# After a failed sanitized `make check` (run in the build directory): LeakSanitizer's own
# stop-the-world tracer now and then crashes at a process's exit while Open MPI's threads
# wind down ("Tracer caught signal 11 ... LeakSanitizer has encountered a fatal error",
# google/sanitizers#1353): a failure of the tool, not a report. Each test that failed
# only that way is run again by itself, at most MAX times (default 2); a test whose log
# holds any sanitizer report or that failed otherwise fails at once, whatever the
# others did. Exit 0 when every failed test passed on a rerun.
#
#   .ci/lsan-rerun.sh [MAX]   (RERUN: the command, given TESTS=...; default make -j2 check;
#                             each rerun is stopped after RERUN_TIMEOUT s, default 1800)
set -uo pipefail
max=${1:-2}
rerun=${RERUN:-make -j2 check}
failed() { find tests -name '*.trs' -exec grep -l -E "^:test-result: (FAIL|ERROR)" {} + 2>/dev/null | sed 's/\.trs$//' | sort; }
# tracer_only TEST: its log shows the tracer's crash and no report of any sanitizer.
tracer_only() {
    local log=$1.log
    grep -q "Tracer caught signal" "$log" && grep -q "LeakSanitizer has encountered a fatal error" "$log" || return 1
    ! grep -q -E "ERROR: (Address|Leak|UndefinedBehavior|Thread|Memory)Sanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer" "$log"
}
for attempt in $(seq 0 "$max"); do
    tests=$(failed)
    [ -z "$tests" ] && { [ "$attempt" = 0 ] || echo "lsan-rerun: every tracer crash passed on a rerun"; exit 0; }
    real=""
    for t in $tests; do tracer_only "$t" || real="$real $t"; done
    if [ -n "$real" ]; then
        echo "lsan-rerun: failed for a reason other than the tracer's crash:$real" >&2
        exit 1
    fi
    if [ "$attempt" = "$max" ]; then
        echo "lsan-rerun: the tracer crashed in $(echo $tests) on $((max + 1)) runs in a row" >&2
        exit 1
    fi
    for t in $tests; do
        echo "lsan-rerun: LeakSanitizer's tracer crashed in $t (not a report); run $((attempt + 1)) of $max"
        timeout "${RERUN_TIMEOUT:-1800}" $rerun TESTS="$t" >/dev/null 2>&1 || true
    done
done
