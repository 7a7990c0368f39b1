#!/bin/sh
# Outputs (docs/RELIABILITY.md, issue 12): every command checks, before any work, that
# each file it will write can be written, refuses to replace an existing file without
# --force and any output that is an input or another output (compared by identity); a
# failed run leaves every existing file as it was; compressed outputs reserve what they
# take.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"

# expect CODE PATTERN CMD...: exit status and a message on stderr.
expect() {
    want=$1; pat=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"; got=$?
    [ "$got" = "$want" ] || { cat "$TMP/out" "$TMP/err"; fail "exit $got, want $want: $*"; }
    grep -qF -- "$pat" "$TMP/err" || { cat "$TMP/err"; fail "stderr lacks '$pat': $*"; }
    echo "ok: exit $got, '$pat'"
}
# took SECONDS CMD...: fails if CMD ran longer (a check made after the work, not before).
quick() {
    s=$(($1 * SLOW)); shift
    t0=$(date +%s%N)
    "$@"; rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ $ms -le $((s * 1000)) ] || fail "took $ms ms (more than $s s): $*"
    return $rc
}
cd "$TMP" || fail "cd"
"$RMENS" synth --n 300 --seed 5 --out train.h5 --quiet || fail "synth"
"$RMENS" synth --n 40 --seed 6 --split test --out test.h5 --quiet || fail "synth"
SMALL="--data train.h5 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 8 --warmup 2 --eval-every 0 --quiet"
"$RMENS" train $SMALL --members 2 --steps 2 --out ck.h5 || fail "train"
printf '%s\n' '{"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": "\n\nHuman: a\n\nAssistant: y"}' \
    '{"chosen": "\n\nHuman: b\n\nAssistant: x", "rejected": "\n\nHuman: b\n\nAssistant: y"}' >in.jsonl

# ---- finding 3: a missing folder is found before any work, by every command
# (--steps 200000 would take minutes: the refusal must come first)
expect 2 "--out nodir/x.h5: the folder nodir does not exist" quick 20 "$RMENS" train $SMALL --steps 200000 --out nodir/x.h5
expect 2 "--out nodir/x.h5: the folder nodir does not exist" quick 20 "$RMENS" train $SMALL --steps 200000 --save-every 10 --out nodir/x.h5
expect 2 "--metrics nodir/m.jsonl: the folder nodir does not exist" quick 20 "$RMENS" train $SMALL --steps 200000 --out t1.h5 --metrics nodir/m.jsonl
expect 2 "--out nodir/s.h5: the folder nodir does not exist" "$RMENS" score --ckpt ck.h5 --data test.h5 --out nodir/s.h5
expect 2 "--json nodir/e.json: the folder nodir does not exist" "$RMENS" eval --ckpt ck.h5 --data test.h5 --json nodir/e.json
expect 2 "--val-out nodir/v.h5: the folder nodir does not exist" "$RMENS" prep in.jsonl --out p.h5 --val-out nodir/v.h5
expect 2 "--out nodir/p.h5: the folder nodir does not exist" "$RMENS" prep in.jsonl --out nodir/p.h5
expect 2 "--out nodir/s.h5: the folder nodir does not exist" "$RMENS" synth --n 10 --out nodir/s.h5
expect 2 "--out nodir/m.h5: the folder nodir does not exist" "$RMENS" merge --out nodir/m.h5 ck.h5
touch afile
expect 2 "--out afile/x.h5: afile is not a folder" "$RMENS" synth --n 10 --out afile/x.h5
[ ! -e t1.h5 ] && [ ! -e p.h5 ] || fail "a refused command wrote a file"
# a folder that cannot be written (a read-only file system: root's permissions bypass
# mode bits); mounting needs root, as in CI
mkdir ro
if mount -t tmpfs -o ro,size=1m rmens-ro "$TMP/ro" 2>/dev/null; then
    trap 'umount "$TMP/ro" 2>/dev/null || umount -l "$TMP/ro" 2>/dev/null; rm -rf "$TMP"' EXIT
    expect 2 "--out ro/x.h5: cannot write in the folder ro (Read-only file system)" \
        quick 20 "$RMENS" train $SMALL --steps 200000 --out ro/x.h5
    expect 2 "--val-out ro/v.h5: cannot write in the folder ro" "$RMENS" prep in.jsonl --out p.h5 --val-out ro/v.h5
    umount "$TMP/ro" || fail "umount"
    trap 'rm -rf "$TMP"' EXIT
else
    echo "note: cannot mount a read-only tmpfs here (not root?): the unwritable folder is not tested"
fi
echo "ok: finding 3"

# ---- finding 4: --metrics never truncates an input or an existing file without --force
cp train.h5 train0.h5
expect 2 "--metrics train.h5 is the same file as --data train.h5" "$RMENS" train $SMALL --steps 2 --out t2.h5 --metrics train.h5
expect 2 "--metrics train.h5 is the same file as --data train.h5" "$RMENS" train $SMALL --steps 2 --out t2.h5 --metrics train.h5 --force
cmp -s train.h5 train0.h5 || fail "--metrics destroyed the training data"
expect 2 "--out t2.h5 and --metrics t2.h5 are the same file" "$RMENS" train $SMALL --steps 2 --out t2.h5 --metrics t2.h5
echo keep >m.jsonl
expect 2 "--metrics m.jsonl already exists (pass --force to replace it)" "$RMENS" train $SMALL --steps 2 --out t2.h5 --metrics m.jsonl
[ "$(cat m.jsonl)" = keep ] || fail "--metrics truncated an existing file"
"$RMENS" train $SMALL --steps 2 --out t2.h5 --metrics m.jsonl --force || fail "--metrics --force"
grep -q '"type":"train"' m.jsonl || fail "--force did not write the metrics"
echo "ok: finding 4"

# ---- finding 5: same file by identity, not by spelling
expect 2 "--out v.h5 and --val-out ./v.h5 are the same file" "$RMENS" prep in.jsonl --out v.h5 --val-out ./v.h5
expect 2 "are the same file" "$RMENS" prep in.jsonl --out v.h5 --val-out "$TMP/v.h5"
mkdir sub
expect 2 "are the same file" "$RMENS" prep in.jsonl --out v.h5 --val-out sub/../v.h5
ln -s "$TMP" link
expect 2 "are the same file" "$RMENS" prep in.jsonl --out v.h5 --val-out link/v.h5
expect 2 "--out ./test.h5 is the same file as --data test.h5" "$RMENS" score --ckpt ck.h5 --data test.h5 --out ./test.h5 --force
expect 2 "--out link/ck.h5 is the same file as --ckpt ck.h5" "$RMENS" score --ckpt ck.h5 --data test.h5 --out link/ck.h5 --force
ln ck.h5 hard.h5
expect 2 "--json hard.h5 is the same file as --ckpt ck.h5" "$RMENS" eval --ckpt ck.h5 --data test.h5 --json hard.h5 --force
expect 2 "--out ./train.h5 is the same file as --data train.h5" "$RMENS" train $SMALL --steps 2 --out ./train.h5 --force
expect 2 "--out ck.h5 is the same file as part hard.h5" "$RMENS" merge --out ck.h5 --force hard.h5
cmp -s train.h5 train0.h5 || fail "an output replaced an input"
[ ! -e v.h5 ] || fail "prep wrote v.h5"
echo "ok: finding 5"

# ---- the doubtful: --out equal to the input with --force; a dangling symbolic link at --out
cp in.jsonl in0.jsonl
expect 2 "--out in.jsonl is the same file as input in.jsonl" "$RMENS" prep in.jsonl --out in.jsonl --force
cmp -s in.jsonl in0.jsonl || fail "prep --force replaced its input"
ln -s nowhere.h5 dangling.h5
expect 2 "--out dangling.h5 already exists as a dangling symbolic link (pass --force" "$RMENS" prep in.jsonl --out dangling.h5
expect 2 "--out dangling.h5 already exists as a dangling symbolic link" "$RMENS" synth --n 10 --out dangling.h5
[ -L dangling.h5 ] || fail "the dangling link was replaced without --force"
"$RMENS" prep in.jsonl --out dangling.h5 --force --quiet || fail "prep --force over a dangling link"
echo "ok: --out = input and dangling links"

# ---- finding 6: a prep --force that fails leaves the existing outputs as they were
"$RMENS" prep in.jsonl --out a.h5 --quiet || fail "prep a.h5"
cp a.h5 a0.h5
mkdir vdir.h5
"$RMENS" prep in.jsonl --out a.h5 --val-out vdir.h5 --val-fraction 0.5 --force >/dev/null 2>err && fail "prep onto a folder succeeded"
cmp -s a.h5 a0.h5 || fail "a failed prep --force removed or changed the existing --out (finding 6)"
# ... a --val-out that fails while being written (a file-size limit, as on a full disk)
"$PY" -c "
import json
for i in range(4000):
    print(json.dumps({'chosen': '\n\nHuman: q%d\n\nAssistant: ' % i + 'y' * 200, 'rejected': '\n\nHuman: q%d\n\nAssistant: n' % i}))" >big.jsonl
echo old >b.h5
RMENS_FAULT_FSIZE=60000 "$RMENS" prep big.jsonl --out a.h5 --val-out b.h5 --val-fraction 0.9 --force >/dev/null 2>err \
    && fail "prep past the file-size limit succeeded"
grep -q "b.h5" err || { cat err; fail "the message does not name the file that failed"; }
cmp -s a.h5 a0.h5 || fail "a failed prep --force changed the existing --out"
[ "$(cat b.h5)" = old ] || fail "a failed prep --force changed the existing --val-out"
ls | grep -q '\.tmp\.' && fail "a failed prep left a temporary: $(ls)"
echo "ok: finding 6"

# ---- finding 11: a compressed output reserves what it takes, not its uncompressed size
# 20000 pairs: about 10 MB of tokens, 0.5 MB written. Under a 3 MB file-size limit:
RMENS_FAULT_FSIZE=3000000 "$RMENS" synth --n 20000 --seed 1 --out big.h5 --quiet 2>err \
    || { cat err; fail "synth refused an output that fits (finding 11)"; }
RMENS_FAULT_FSIZE=3000000 "$RMENS" prep big.jsonl --out bigp.h5 --quiet 2>err \
    || { cat err; fail "prep refused an output that fits (finding 11)"; }
size=$(stat -c %s big.h5)
"$RMENS" info big.h5 | grep -q "records          20000 pairs" || fail "big.h5 unreadable"
# ... and a limit below the compressed size still fails cleanly, before HDF5 writes
RMENS_FAULT_FSIZE=$((size / 2)) "$RMENS" synth --n 20000 --seed 1 --out big2.h5 --quiet 2>err \
    && fail "synth past the file-size limit succeeded"
grep -q "big2.h5.tmp.[0-9]*: File too large" err || { cat err; fail "message: $(cat err)"; }
[ ! -e big2.h5 ] && ! ls | grep -q '\.tmp\.' || fail "a failed synth left a file: $(ls)"
echo "ok: finding 11 (a $size-byte output written under a 3 MB limit)"
