#!/bin/sh
# rmens prep on real HH-RLHF data (../shared/data, skipped when absent), checked
# against the independent reference of docs/FORMAT.md (tests/reference.py):
# every written pair byte for byte, exactly the reference's skipped records,
# the documented --val-out split, and prep's speed.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_shared hh-rlhf/harmless-base/dev-1800.jsonl.gz
need_python h5py
need_python numpy
[ -x "$RMENS" ] || fail "$RMENS is not built"
REF="$top_srcdir/tests/reference.py"
IN="$SHARED/hh-rlhf/harmless-base/dev-1800.jsonl.gz"
MAX_S_PER_MB=1.0
failures=0
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

"$RMENS" prep "$IN" --out "$TMP/train.h5" --val-out "$TMP/val.h5" --val-fraction 0.1 --seed 1234 \
    >"$TMP/prep.log" 2>&1 || { cat "$TMP/prep.log" >&2; fail "rmens prep $IN"; }
sed 's/^/  | /' "$TMP/prep.log"
echo "ok: rmens prep wrote train.h5 and val.h5"

# every pair exact, source records right, the skip set the reference's (2 HH
# dialogues that differ before the last assistant turn), the split rule
# u < 0.1 for each pair's prompt, and no prompt in both files
"$PY" "$REF" compare "$IN" "$TMP/train.h5" "$TMP/val.h5" --val-fraction 0.1 --seed 1234 \
    --expect-skip "dialogues differ=2" --expect-written 1798 \
    || bad "prep output differs from the reference (docs/FORMAT.md)"
if grep -q 'dialogues differ.* 2$' "$TMP/prep.log"; then
    echo "ok: prep reports the 2 'dialogues differ' skips"
else
    bad "prep's summary does not report 2 'dialogues differ' skips"
fi

# speed: prep prints "(X s/MB)"
spmb=$(sed -n 's/.*(\([0-9.]*\) s\/MB).*/\1/p' "$TMP/prep.log" | head -n 1)
if [ -z "$spmb" ]; then
    bad "prep printed no s/MB figure"
else
    # A figure to read, not a timed test: the machine is shared (docs/PERFORMANCE.md).
    echo "prep speed: $spmb s/MB (goal: well under $MAX_S_PER_MB s/MB)"
fi

[ "$failures" = 0 ] || fail "$failures check(s) of hh_prep failed"
echo "PASS: hh_prep"
exit 0
