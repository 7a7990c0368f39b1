#!/bin/sh
# The rmens program on bad input: a clear message (once, from rank 0), the same
# non-zero exit on every rank, no output file; and the happy path's printed values.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"

# expect CODE PATTERN CMD...: runs CMD, checks its exit status and that stderr has PATTERN.
expect() {
    want=$1; pat=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"; got=$?
    [ "$got" = "$want" ] || { cat "$TMP/err"; fail "exit $got, want $want: $*"; }
    grep -qF -- "$pat" "$TMP/err" || { cat "$TMP/err"; fail "stderr lacks '$pat': $*"; }
    echo "ok: exit $got, '$pat': $*"
}

printf '%s\n' '{"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": "\n\nHuman: a\n\nAssistant: y"}' \
    '{"chosen": "\n\nHuman: a\n\nAssistant: x", ' >"$TMP/bad.jsonl"
printf 'not hdf5\n' >"$TMP/notes.txt"

expect 2 "usage: rmens" "$RMENS"
expect 2 "unknown command 'bogus'" "$RMENS" bogus
expect 2 "--out FILE is required" "$RMENS" prep "$TMP/bad.jsonl"
expect 2 "unknown or incomplete option '--frobnicate'" "$RMENS" prep --frobnicate "$TMP/bad.jsonl"
expect 2 "--val-fraction: not a number" "$RMENS" prep "$TMP/bad.jsonl" --out "$TMP/o.h5" --val-fraction x
expect 1 "bad.jsonl:2: malformed JSON" "$RMENS" prep "$TMP/bad.jsonl" --out "$TMP/o.h5"
[ ! -e "$TMP/o.h5" ] || fail "prep left an output file after an error"
ls "$TMP" | grep -q tmp && fail "prep left a temporary file"
expect 1 "cannot open" "$RMENS" prep "$TMP/absent.jsonl" --out "$TMP/o.h5"
expect 1 "not an HDF5 file" "$RMENS" info "$TMP/notes.txt"
expect 1 "cannot open" "$RMENS" info "$TMP/absent.h5"
expect 2 "--task: unknown task 'nope'" "$RMENS" synth --task nope --out "$TMP/s.h5"
expect 2 "--traps: expected a number in [0, 1]" "$RMENS" synth --traps 2 --out "$TMP/s.h5"
expect 2 "--bias: expected FEATURE=P" "$RMENS" synth --bias tone=0.2 --out "$TMP/s.h5"
expect 2 "--bias: expected FEATURE=P" "$RMENS" synth --bias length=1.5 --out "$TMP/s.h5"
expect 2 "--bt-noise: expected a finite non-negative number" "$RMENS" synth --bt-noise -1 --out "$TMP/s.h5"
expect 2 "--trap-kinds: expected a comma-separated list" "$RMENS" synth --trap-kinds length,tone --out "$TMP/s.h5"
expect 2 "--candidates: expected an integer in 1..65536" "$RMENS" synth --candidates 0 --out "$TMP/s.h5"
expect 2 "--bias and --bt-noise shape the labels of pairs" "$RMENS" synth --candidates 4 --bt-noise 1 --out "$TMP/s.h5"

# Happy path, with values checked.
"$RMENS" synth --n 10 --seed 3 --out "$TMP/s.h5" >"$TMP/out" || fail "synth failed"
grep -q "wrote 10 pairs of task sort (train split, seed 3)" "$TMP/out" || fail "synth summary: $(cat "$TMP/out")"
"$RMENS" info "$TMP/s.h5" --show 9 >"$TMP/out" || fail "info failed"
grep -q "records          10 pairs" "$TMP/out" || fail "info count"
grep -q "gold reward      chosen mean 1.0000" "$TMP/out" || fail "info gold"
grep -q "^record 9" "$TMP/out" || fail "info --show 9"
expect 2 "--show 10 is past the last record (10 records)" "$RMENS" info "$TMP/s.h5" --show 10
cp "$TMP/s.h5" "$TMP/before.h5"
expect 2 "already exists (pass --force" "$RMENS" synth --n 5 --out "$TMP/s.h5"
cmp -s "$TMP/s.h5" "$TMP/before.h5" || fail "synth touched an existing file without --force"
"$RMENS" synth --n 5 --out "$TMP/s.h5" --force --quiet >"$TMP/out" || fail "synth --force"
[ ! -s "$TMP/out" ] || fail "--quiet printed: $(cat "$TMP/out")"
"$RMENS" prep --help | grep -q "sharegpt" || fail "prep --help"

# Under MPI: every rank exits non-zero, the message is printed once.
for np in 2 4; do
    timeout 120 "$MPIEXEC" -n $np --oversubscribe "$RMENS" prep "$TMP/bad.jsonl" --out "$TMP/o.h5" \
        >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "mpiexec -n $np prep on bad input: exit $rc"
    n=$(grep -c "bad.jsonl:2: malformed JSON" "$TMP/err")
    [ "$n" = 1 ] || { cat "$TMP/err"; fail "-n $np: message printed $n times, want once"; }
    [ ! -e "$TMP/o.h5" ] || fail "-n $np: output written"
    timeout 120 "$MPIEXEC" -n $np --oversubscribe "$RMENS" info "$TMP/s.h5" >"$TMP/out" 2>"$TMP/err" \
        || fail "-n $np info failed"
    n=$(grep -c "records          5 pairs" "$TMP/out")
    [ "$n" = 1 ] || fail "-n $np: info printed $n times, want once"
    echo "ok: mpiexec -n $np: one message, non-zero exit, no output"
done
echo "cli_errors: all passed"
