#!/bin/bash
# LOG_COMPILER of the suite: runs one test and appends its wall time to its log, so that
# `.ci/test-times.sh` can list the slowest (CI runs the suite four times; its time is
# budgeted). The test's exit status is passed on unchanged (77 skip, 99 hard error).
start=$(date +%s%N)
"$@"
rc=$?
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
printf '# rmens-test-time %s %d.%03d s\n' "$1" $((ms / 1000)) $((ms % 1000))
exit $rc
