#!/bin/sh
# The "doubtful" list of issue 12 (docs/RELIABILITY.md), each case reproduced: what the
# pass found, and what rmens does now. Signals are in tests/signals.sh, outputs (a
# dangling link at --out, --out = input) in tests/outputs.sh.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
cd "$TMP" || fail "cd"
expect() {
    want=$1; pat=$2; shift 2
    "$@" >out 2>err; got=$?
    [ "$got" = "$want" ] || { cat out err; fail "exit $got, want $want: $*"; }
    grep -qF -- "$pat" err || { cat err; fail "stderr lacks '$pat': $*"; }
    echo "ok: exit $got, '$pat'"
}
"$RMENS" synth --n 200 --seed 5 --out train.h5 --quiet || fail "synth"
"$RMENS" synth --n 40 --seed 6 --split test --out test.h5 --quiet || fail "synth"
SMALL="--data train.h5 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 8 --warmup 2 --eval-every 0 --quiet"
"$RMENS" train $SMALL --members 2 --steps 3 --out ck.h5 || fail "train"

# ---- eot_token recorded in checkpoints and compared; train --val checks the tokenizer
"$PY" -c "import h5py; print(h5py.File('ck.h5').attrs['eot_token'])" | grep -qx 256 || fail "eot_token not recorded"
"$PY" - <<'PY' || fail "making files with another end-of-text and another tokenizer"
import shutil, h5py
shutil.copy("test.h5", "eot0.h5")
with h5py.File("eot0.h5", "r+") as f:      # the same bytes, but end-of-text is token 0
    f.attrs["eot_token"] = 0
    for side in ("chosen", "rejected"):
        t = f[side + "/tokens"][...]
        t[t == 256] = 0
        del f[side + "/tokens"]
        f.create_dataset(side + "/tokens", data=t, chunks=True, fletcher32=True)
shutil.copy("test.h5", "othertok.h5")
with h5py.File("othertok.h5", "r+") as f:
    f.attrs["tokenizer"] = "gpt2-like"
PY
"$RMENS" info eot0.h5 >/dev/null || fail "eot0.h5 is not a valid file"
expect 2 "the data ends sequences with token 0 but ck.h5 was trained with end-of-text 256" \
    "$RMENS" score --ckpt ck.h5 --data eot0.h5 --out s.h5
expect 2 "end-of-text 256" "$RMENS" eval --ckpt ck.h5 --data eot0.h5
expect 2 "eot0.h5 was tokenized by \"bytes\" (end-of-text 0), train.h5 by \"bytes\" (end-of-text 256)" \
    "$RMENS" train $SMALL --members 2 --steps 3 --out v.h5 --val eot0.h5
expect 2 "othertok.h5 was tokenized by \"gpt2-like\"" "$RMENS" train $SMALL --members 2 --steps 3 --out v.h5 --val othertok.h5
echo "ok: end-of-text and tokenizer compared"

# ---- score --lambda 1e300: uwo would be -inf for every sequence
expect 2 "--lambda 1e+300: uwo = mean - lambda var of sequence 0 is" \
    "$RMENS" score --ckpt ck.h5 --data test.h5 --out s.h5 --lambda 1e300
[ ! -e s.h5 ] || fail "a refused score wrote its output"
"$RMENS" score --ckpt ck.h5 --data test.h5 --out s.h5 --lambda 1e3 --quiet || fail "--lambda 1e3"
echo "ok: lambda"

# ---- integer options saturating (strtoll clamps to 2^63 - 1 with ERANGE)
expect 2 "--seed: not a non-negative integer: '100000000000000000000000'" \
    "$RMENS" prep in.jsonl --out p.h5 --seed 100000000000000000000000
expect 2 "--seed: expected an integer >= 0, got '100000000000000000000000'" \
    "$RMENS" train $SMALL --out t.h5 --seed 100000000000000000000000
expect 2 "--n: " "$RMENS" synth --out x.h5 --n 99999999999999999999999
# ---- --val-fraction without --val-out
printf '%s\n' '{"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": "\n\nHuman: a\n\nAssistant: y"}' >in.jsonl
expect 2 "--val-fraction needs --val-out" "$RMENS" prep in.jsonl --out p.h5 --val-fraction 5
[ ! -e p.h5 ] || fail "prep wrote p.h5"
# ---- bench and synth sizes: refused at once, not after minutes
t0=$(date +%s)
expect 2 "bench needs about" "$RMENS" bench --batch 100000000
expect 2 "must fit a 32-bit int" "$RMENS" bench --ctx 100000000000
expect 2 "synth needs about" "$RMENS" synth --n 100000000000 --out huge.h5
[ $(($(date +%s) - t0)) -lt $((60 * SLOW)) ] || fail "the size refusals took a minute or more"
echo "ok: options"

# ---- JSON: RFC 8259 (what json-c would also accept is refused), a BOM, lone surrogates
for t in "{'chosen': 'a'}|a single-quoted string" '{"margin": NaN}|NaN or Infinity' '{"a": 1 /* c */}|a comment' \
         '{"a": 1,}|a comma before a closing bracket' '[1, 2,]|a comma before a closing bracket' \
         '{"a": 01}|a number with a leading zero'; do
    printf '%s\n' "${t%%|*}" >bad.jsonl
    expect 1 "malformed JSON at byte" "$RMENS" prep bad.jsonl --out b.h5
    grep -qF "${t#*|}" err || { cat err; fail "message for ${t%%|*}"; }
done
"$PY" - <<'PY' || fail "writing the BOM and surrogate files"
import json
recs = [{"chosen": f"\n\nHuman: q{i}\n\nAssistant: yes", "rejected": f"\n\nHuman: q{i}\n\nAssistant: no"} for i in range(5)]
text = "".join(json.dumps(r) + "\n" for r in recs)
open("plain.jsonl", "w").write(text)
open("bom.jsonl", "wb").write(b"\xef\xbb\xbf" + text.encode())
# lone surrogates: a high alone, a low alone, a valid pair, an escaped backslash before "ud800"
line = r'{"chosen": "\n\nHuman: a\ud83d\ude00 \ud800 \\ud800 \udc01\n\nAssistant: x\udbff", "rejected": "\n\nHuman: a\ud83d\ude00 \ud800 \\ud800 \udc01\n\nAssistant: y"}'
open("sur.jsonl", "w").write(text + line + "\n")
# the reference count: Python keeps lone surrogates as code points D800-DFFF
n = sum(1 for v in json.loads(line).values() for ch in v if 0xD800 <= ord(ch) <= 0xDFFF)
open("sur.count", "w").write(str(n))
PY
"$RMENS" prep plain.jsonl --out plain.h5 --quiet || fail "plain"
"$RMENS" prep bom.jsonl --out bom.h5 --quiet || fail "a UTF-8 byte order mark was refused"
cmp -s plain.h5 bom.h5 || "$PY" -c "
import h5py, numpy as np, sys
a, b = h5py.File('plain.h5'), h5py.File('bom.h5')
sys.exit(any(not np.array_equal(a[k][...], b[k][...]) for k in ('chosen/tokens', 'rejected/tokens', 'prompt_len')))" \
    || fail "the BOM file gave other pairs"
"$RMENS" prep sur.jsonl --out sur.h5 >out 2>err || { cat err; fail "surrogates"; }
grep -q "warning: $(cat sur.count) \\\\u escapes of lone UTF-16 surrogates (first at sur.jsonl, line 6" out \
    || { cat out; fail "lone surrogates not counted as Python counts them ($(cat sur.count))"; }
echo "ok: JSON dialect, BOM, $(cat sur.count) lone surrogates counted"

# ---- a margin beyond float32: the input line, and --skip-bad skips it
{ cat plain.jsonl; printf '%s\n' '{"chosen": "\n\nHuman: m\n\nAssistant: x", "rejected": "\n\nHuman: m\n\nAssistant: y", "margin": 1e300}'; } >m.jsonl
"$PY" -c "
import json
rows = [json.loads(l) for l in open('m.jsonl')]
for r in rows[:5]: r['margin'] = 1.5
open('m.jsonl', 'w').write(''.join(json.dumps(r) + '\n' for r in rows))"
expect 1 "m.jsonl:6: the margin 1e+300 does not fit a float32" "$RMENS" prep m.jsonl --out m.h5
"$RMENS" prep m.jsonl --out m.h5 --skip-bad >out 2>err || { cat err; fail "--skip-bad stopped at the margin"; }
grep -q "pairs written    5" out && grep -q "malformed record (--skip-bad) *1" out || { cat out; fail "--skip-bad counts"; }
echo "ok: margin overflow"

# ---- info: a checkpoint claiming step 200000 of 20
cp ck.h5 future.h5
"$PY" -c "import h5py; h5py.File('future.h5', 'r+').attrs['step'] = 200000"
expect 1 "step 200000 of 3: a run never passes its last step" "$RMENS" info future.h5
expect 1 "step 200000 of 3" "$RMENS" score --ckpt future.h5 --data test.h5 --out f.h5
echo "ok: info refuses step > steps"
