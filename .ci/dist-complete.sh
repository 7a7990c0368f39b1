#!/bin/bash
# After make dist (or distcheck): every file git tracks is in the release tarball,
# except the repository's own housekeeping. distcheck's test run (a part of the suite,
# for CI's time) then needs no test to prove a file was forgotten in EXTRA_DIST.
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=$(ls -t rmens-*.tar.gz | head -1)
top=${tarball%.tar.gz}
missing=$(comm -23 <(git ls-files | grep -v -E '^(\.gitignore|m4/\.keep)$' | sort) \
                   <(tar tzf "$tarball" | sed "s|^$top/||" | sort))
if [ -n "$missing" ]; then
    echo "dist-complete: $tarball lacks files git tracks (add them to EXTRA_DIST or a _SOURCES list):" >&2
    echo "$missing" >&2
    exit 1
fi
echo "dist-complete: $tarball holds all $(git ls-files | wc -l) tracked files but .gitignore and m4/.keep"
