#!/bin/sh
# What rmens prep reads (io/records.c; docs/RELIABILITY.md, issue 12):
#  7. a NUL byte in a JSON Lines line is refused as that line's error: the next line is
#     read on its own, and --skip-bad keeps every other record with its own number;
#  8. an input that is a pipe is read once, from its first byte (plain and gzip);
#  9. every gzip member is read; trailing garbage or a damaged member is refused, as
#     gzip -t refuses it (gzip -t is the reference, run on the same files).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
command -v gzip >/dev/null || skip "no gzip"
cd "$TMP" || fail "cd"
"$PY" - <<'PY'
import json
with open("in.jsonl", "w") as f:
    for i in range(20):
        f.write(json.dumps({"chosen": f"\n\nHuman: q{i}\n\nAssistant: yes {i}",
                            "rejected": f"\n\nHuman: q{i}\n\nAssistant: no {i}"}) + "\n")
PY
# source_record of every pair written (the 0-based input line of each)
records() { "$PY" -c "import h5py; print(' '.join(str(x) for x in h5py.File('$1')['source_record'][...]))"; }
# tokens of both sides, for comparing two files' pairs
pairs() { "$PY" -c "
import h5py, hashlib
f = h5py.File('$1'); h = hashlib.sha256()
for k in ('chosen/tokens', 'chosen/offsets', 'rejected/tokens', 'rejected/offsets', 'prompt_len', 'source_record'):
    h.update(f[k][...].tobytes())
print(h.hexdigest())"; }

# ---- 7: a NUL byte inside line 2
"$PY" - <<'PY'
lines = open("in.jsonl", "rb").read().split(b"\n")[:5]
lines[1] = lines[1].replace(b"yes 1", b"ye\x00s 1")
open("nul.jsonl", "wb").write(b"\n".join(lines) + b"\n")
PY
"$RMENS" prep nul.jsonl --out n.h5 >out 2>err && fail "a line with a NUL byte was accepted"
grep -q "nul.jsonl:2: a NUL byte at byte" err || { cat err; fail "the message does not name line 2 and the NUL byte"; }
"$RMENS" prep nul.jsonl --out n.h5 --skip-bad >out 2>err || { cat err; fail "--skip-bad"; }
grep -q "records read     5" out || { cat out; fail "records read"; }
grep -q "pairs written    4" out || { cat out; fail "a valid record vanished with the NUL line"; }
[ "$(records n.h5)" = "0 2 3 4" ] || fail "record numbers after the NUL line: $(records n.h5), want 0 2 3 4"
echo "ok: 7 (a NUL byte is line 2's error; lines 3-5 keep their numbers)"

# ---- 8: pipes, plain and gzip, with and without --skip-bad
"$RMENS" prep in.jsonl --out file.h5 --quiet || fail "prep from the file"
ref=$(pairs file.h5)
gzip -c in.jsonl >in.jsonl.gz
for skip in "" --skip-bad; do
    cat in.jsonl | "$RMENS" prep /dev/stdin --out p.h5 --force --quiet $skip 2>err || { cat err; fail "prep from a pipe $skip"; }
    [ "$(pairs p.h5)" = "$ref" ] || fail "a pipe gave other pairs than the file $skip: $(records p.h5)"
    cat in.jsonl.gz | "$RMENS" prep /dev/stdin --out p.h5 --force --quiet $skip 2>err \
        || { cat err; fail "prep from a gzip pipe $skip"; }
    [ "$(pairs p.h5)" = "$ref" ] || fail "a gzip pipe gave other pairs than the file $skip"
    # a named pipe, as <(zcat ...) gives
    rm -f fifo; mkfifo fifo || fail "mkfifo"
    gzip -dc in.jsonl.gz >fifo &
    "$RMENS" prep fifo --out p.h5 --force --quiet $skip 2>err || { cat err; fail "prep from a fifo $skip"; }
    wait
    [ "$(pairs p.h5)" = "$ref" ] || fail "a fifo gave other pairs than the file $skip"
done
# a JSON array through a pipe
"$PY" -c "import json; print(json.dumps([json.loads(l) for l in open('in.jsonl')]))" >arr.json
"$RMENS" prep arr.json --out a1.h5 --quiet || fail "array file"
cat arr.json | "$RMENS" prep /dev/stdin --out a2.h5 --quiet 2>err || { cat err; fail "array from a pipe"; }
[ "$(pairs a1.h5)" = "$(pairs a2.h5)" ] || fail "an array from a pipe differs"
echo "ok: 8 (pipes read from their first byte)"

# ---- 9: gzip members, trailing garbage, damaged members; gzip -t is the reference
head -n 10 in.jsonl | gzip -c >a.gz
tail -n 10 in.jsonl | gzip -c >b.gz
cat a.gz b.gz >two.gz
gzip -t two.gz || fail "reference: gzip -t rejects two.gz"
"$RMENS" prep two.gz --out two.h5 --quiet || fail "two members"
[ "$(pairs two.h5)" = "$ref" ] || fail "two gzip members did not give all 20 pairs: $(records two.h5)"
(cat a.gz b.gz; printf 'trailing garbage') >garbage.gz
(cat a.gz b.gz; head -c 1000 /dev/zero) >zeros.gz
"$PY" - <<'PY'
a, b = open("a.gz", "rb").read(), open("b.gz", "rb").read()
d = bytearray(a + b); d[len(a)] ^= 0xFF            # second member's magic
open("magic.gz", "wb").write(bytes(d))
d = bytearray(a + b); d[len(a) + 20] ^= 0x55       # second member's deflate data
open("data.gz", "wb").write(bytes(d))
d = bytearray(a + b); d[-5] ^= 0x01                # second member's CRC-32 trailer
open("trailer.gz", "wb").write(bytes(d))
open("cut.gz", "wb").write(a + b[:-9])             # second member cut short
PY
for f in garbage magic data trailer cut zeros; do
    gzip -t $f.gz 2>/dev/null; ref_rc=$?
    "$RMENS" prep $f.gz --out g.h5 --force --quiet 2>err; rc=$?
    "$RMENS" prep $f.gz --out g.h5 --force --quiet --skip-bad 2>err2; rc2=$?
    if [ $ref_rc -eq 0 ]; then
        [ $rc -eq 0 ] && [ "$(pairs g.h5)" = "$ref" ] || { cat err; fail "$f.gz: gzip -t accepts it, rmens did not read it all"; }
    else
        [ $rc -ne 0 ] && [ $rc2 -ne 0 ] || fail "$f.gz: gzip -t refuses it (exit $ref_rc), rmens prep exit $rc/$rc2"
        grep -q "$f.gz: .*gzip" err || { cat err; fail "$f.gz: message"; }
    fi
    echo "ok: $f.gz: gzip -t exit $ref_rc, rmens prep exit $rc: $(cat err)"
done
echo "ok: 9"
