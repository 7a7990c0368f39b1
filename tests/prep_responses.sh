#!/bin/sh
# rmens prep --responses: prompts and responses to score (every record form of
# docs/FORMAT.md, several responses per prompt, HH-RLHF's real text) -> a responses file
# compared record by record with an independent reader (tests/reference_responses.py,
# h5py); rmens score on it keeps /prompt_id; rmens info describes both; bad input.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
REF="$top_srcdir/tests/reference_responses.py"
cat >"$TMP/r.jsonl" <<'JSON'
{"prompt": "What is 2+2?", "response": "4"}
{"prompt": "What is 2+2?", "response": " Four.", "id": 7}
{"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "responses": ["Hello", {"role": "assistant", "content": "Hey"}, [{"role": "assistant", "content": "Yo"}, {"role": "user", "content": "ok"}], ""]}
{"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "It is 4"}]}
{"conversations": [{"from": "human", "value": "Name a color"}, {"from": "gpt", "value": "Blue"}]}
{"prompt": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Again?\n\nAssistant:", "responses": ["Sure", "No", "Sure"]}
{"prompt": "Ünïcödé 日本語 🙂", "response": [{"role": "assistant", "content": [{"type": "text", "text": "ok "}, {"type": "text", "text": "🙂"}]}]}
{"prompt": [{"role": "user", "content": "Hi"}], "response": "Hello again"}
JSON
"$RMENS" prep --responses "$TMP/r.jsonl" --out "$TMP/r.h5" >"$TMP/out" || { cat "$TMP/out"; fail "prep --responses"; }
cat "$TMP/out"
grep -q "responses written 12 to 6 prompts" "$TMP/out" || fail "summary"
"$PY" "$REF" compare "$TMP/r.jsonl" "$TMP/r.h5" --expect-empty 1 || fail "hand-made records differ from the reference"
# the same records gzip-compressed, as a JSON array
"$PY" -c "
import json, gzip, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
gzip.open(sys.argv[2], 'wt').write(json.dumps(recs))" "$TMP/r.jsonl" "$TMP/r.json.gz"
"$RMENS" prep --responses "$TMP/r.json.gz" --out "$TMP/rz.h5" --quiet || fail "prep --responses (gzip array)"
"$PY" "$REF" compare "$TMP/r.json.gz" "$TMP/rz.h5" --expect-empty 1 || fail "gzip array differs from the reference"
"$RMENS" info "$TMP/r.h5" >"$TMP/info" || fail "info"
grep -q "prompts          6 (/prompt_id); responses per prompt min 1, median 3, max 3" "$TMP/info" || { cat "$TMP/info"; fail "info: groups"; }
"$RMENS" info "$TMP/r.h5" --show 9 | grep -q "source record 5), prompt 3" || fail "info --show: prompt id"

# rmens synth --responses groups each pair's two responses
"$RMENS" synth --responses --n 6 --seed 3 --out "$TMP/sr.h5" --quiet || fail "synth --responses"
"$PY" -c "
import h5py, numpy as np, sys
p = h5py.File(sys.argv[1])['prompt_id'][:]
assert (p == np.arange(12) // 2).all(), p" "$TMP/sr.h5" || fail "synth --responses prompt_id"

# Real text: HH-RLHF's dialogues as prompts, both answers of each as two responses.
if [ -r "$SHARED/hh-rlhf/harmless-base/dev-1800.jsonl.gz" ]; then
    "$PY" - "$SHARED/hh-rlhf/harmless-base/dev-1800.jsonl.gz" "$TMP/hh.jsonl" <<'PYEOF' || fail "HH responses input"
import gzip, json, sys
H = "\n\nAssistant:"
with gzip.open(sys.argv[1], "rt", encoding="utf-8") as f, open(sys.argv[2], "w") as out:
    for line in f:
        r = json.loads(line)
        k = r["chosen"].rfind(H) + len(H)
        p = r["chosen"][:k]
        resp = [r["chosen"][k:]] + ([r["rejected"][k:]] if r["rejected"].startswith(p) else [])
        out.write(json.dumps({"prompt": p, "responses": resp}) + "\n")
PYEOF
    "$RMENS" prep --responses "$TMP/hh.jsonl" --out "$TMP/hh.h5" >"$TMP/out" || { cat "$TMP/out"; fail "prep --responses on HH"; }
    cat "$TMP/out"
    "$PY" "$REF" compare "$TMP/hh.jsonl" "$TMP/hh.h5" || fail "HH responses differ from the reference"
else
    echo "SKIP (part): $SHARED/hh-rlhf is absent"
fi

# rmens score on it: /prompt_id copied; every aggregate recomputed from the per-member rewards.
"$RMENS" synth --n 200 --seed 1 --out "$TMP/t.h5" --quiet || fail "synth"
"$RMENS" train --data "$TMP/t.h5" --members 2 --layers 1 --heads 2 --embd 32 --ctx 64 --steps 10 \
    --truncate-prompts --out "$TMP/e.h5" --quiet || fail "train"
"$RMENS" score --ckpt "$TMP/e.h5" --data "$TMP/r.h5" --out "$TMP/s.h5" --per-member --lambda 0.3 --quiet || fail "score"
"$PY" - "$TMP/r.h5" "$TMP/s.h5" <<'PYEOF' || fail "scores of a responses file"
import sys, h5py, numpy as np
r, s = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
assert (s["prompt_id"][:] == r["prompt_id"][:]).all()
R = s["rewards"][:].astype(np.float64)
assert R.shape == (len(r["prompt_id"]), 2), R.shape
for name, want in (("mean", R.mean(1)), ("min", R.min(1)), ("max", R.max(1)), ("var", R.var(1)),
                   ("std", R.std(1)), ("uwo", R.mean(1) - 0.3 * R.var(1)), ("wco", R.min(1))):
    got = s[name][:]
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6), (name, got, want)
t, o = r["responses/tokens"][:], r["responses/offsets"][:]
seqs = [bytes(t[o[i]:o[i + 1]]) for i in range(len(o) - 1)]
# record 6 holds "Sure" twice for one prompt: the same sequence, the same rewards up to
# float32 rounding (a row's place in a BLAS block changes its rounding, not its value)
dup = [i for i in range(len(seqs)) for j in range(i) if seqs[i] == seqs[j]]
assert dup, "no duplicate response in the input"
for i in dup:
    j = seqs.index(seqs[i])
    assert np.allclose(R[i], R[j], rtol=1e-5, atol=1e-6), (i, j, R[i], R[j])
print("scores: per-member aggregates and prompt_id check out")
PYEOF
"$RMENS" info "$TMP/s.h5" --show 2 >"$TMP/info" || { cat "$TMP/info"; fail "info on a scores file"; }
cat "$TMP/info"
grep -q "rmens scores file" "$TMP/info" && grep -q "prompts          6" "$TMP/info" && grep -q "^record 2" "$TMP/info" \
    || fail "info on a scores file"
"$RMENS" score --ckpt "$TMP/e.h5" --data "$TMP/t.h5" --out "$TMP/sp.h5" --quiet || fail "score pairs"
"$RMENS" info "$TMP/sp.h5" | grep -q "chosen preferred" || fail "info on a pairs scores file"

# Bad input: FILE:LINE and what, no output file.
expect_fail() {
    pat=$1; shift
    rm -f "$TMP/bad.h5"
    "$@" >"$TMP/out" 2>"$TMP/err" && fail "succeeded: $*"
    grep -qF -- "$pat" "$TMP/err" || { cat "$TMP/err"; fail "no '$pat': $*"; }
    [ -e "$TMP/bad.h5" ] && fail "an output file was left: $*"
    echo "ok: '$pat'"
}
printf '{"prompt": "a", "response": "b"}\n{"prompt": "a"}\n' >"$TMP/b1.jsonl"
expect_fail "b1.jsonl:2: a responses record needs" "$RMENS" prep --responses "$TMP/b1.jsonl" --out "$TMP/bad.h5"
printf '{"prompt": "a", "response": {"role": "user", "content": "b"}}\n' >"$TMP/b2.jsonl"
expect_fail "b2.jsonl:1: the response must be an assistant message" "$RMENS" prep --responses "$TMP/b2.jsonl" --out "$TMP/bad.h5"
printf '{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}\n' >"$TMP/b3.jsonl"
expect_fail "b3.jsonl:1: the last message of the conversation must be the assistant's" "$RMENS" prep --responses "$TMP/b3.jsonl" --out "$TMP/bad.h5"
printf '{"prompt": 3, "response": "b"}\n' >"$TMP/b4.jsonl"
expect_fail "b4.jsonl:1: field \"prompt\" is int" "$RMENS" prep --responses "$TMP/b4.jsonl" --out "$TMP/bad.h5"
printf '{"prompt": "a", "responses": []}\n' >"$TMP/b5.jsonl"
expect_fail "b5.jsonl:1: field \"responses\" is empty" "$RMENS" prep --responses "$TMP/b5.jsonl" --out "$TMP/bad.h5"
printf '{"prompt": "a", "response": ""}\n' >"$TMP/b6.jsonl"
expect_fail "no usable responses" "$RMENS" prep --responses "$TMP/b6.jsonl" --out "$TMP/bad.h5"
expect_fail "--val-out: a responses file is not split" "$RMENS" prep --responses "$TMP/r.jsonl" --out "$TMP/bad.h5" --val-out "$TMP/v.h5"
# --skip-bad skips and counts
"$RMENS" prep --responses --skip-bad "$TMP/b1.jsonl" --out "$TMP/sk.h5" >"$TMP/out" || fail "--skip-bad"
grep -q "skipped           1 (malformed record" "$TMP/out" || { cat "$TMP/out"; fail "--skip-bad count"; }
# a pairs file must not carry /prompt_id
"$PY" -c "
import h5py, numpy as np, shutil, sys
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], 'a') as f: f['prompt_id'] = np.zeros(len(f['prompt_len']), np.int64)" "$TMP/t.h5" "$TMP/pid.h5"
expect_fail "a pairs file has no /prompt_id" "$RMENS" info "$TMP/pid.h5"
"$PY" -c "
import h5py, sys
with h5py.File(sys.argv[1], 'a') as f: f['prompt_id'][0] = 99" "$TMP/r.h5"
expect_fail "record 0: prompt_id = 99 must be in [0, N = 12)" "$RMENS" info "$TMP/r.h5"
echo "prep_responses: all passed"
