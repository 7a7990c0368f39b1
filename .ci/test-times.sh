#!/bin/bash
# .ci/test-times.sh [DIR]: the wall time of every test of the last suite run in the build
# directory DIR (default .), slowest first, with the total (tests/timed.sh wrote them).
set -euo pipefail
cd "${1:-.}"
grep -h '^# rmens-test-time ' tests/*.log tests/fuzz/*.log 2>/dev/null |
    awk '{ t[$3] = $4; sum += $4 } END { for (k in t) printf "%8.1f s  %s\n", t[k], k; printf "%8.1f s  total\n", sum }' |
    sort -rn
