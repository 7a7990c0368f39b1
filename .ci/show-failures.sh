#!/bin/bash
# After a failed make check (run from the build directory): the end of every failing
# test's log, and any sanitizer report anywhere in the logs, so that a CI log says why.
for trs in $(find tests -name '*.trs' -exec grep -l -E "^:test-result: (FAIL|ERROR)" {} + 2>/dev/null); do
    echo "===== ${trs%.trs}.log (last 60 lines) ====="
    tail -n 60 "${trs%.trs}.log"
done
find tests -name '*.log' -exec grep -h -B2 -A30 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" {} + 2>/dev/null | head -200
exit 0
