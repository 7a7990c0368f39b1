#!/bin/sh
# Hugging Face checkpoints (io/safetensors, io/hfconfig): fixtures in exact Hugging Face
# layout written by tests/hf_fixtures.py (torch and numpy, the format by hand from its
# specification), read by rmens and compared value for value, bit for bit; configs read
# field for field; rmens' writer read back by the Python side; every broken input refused
# with a message naming the file and the tensor or field.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python torch
need_python numpy
TOOL="$top_builddir/tests/hf_tool"
FIX="$top_srcdir/tests/hf_fixtures.py"
[ -x "$TOOL" ] || fail "$TOOL is not built"

"$PY" "$FIX" write "$TMP/fx" || fail "writing the fixtures"
: >"$TMP/checks"
for d in gpt2 gpt2_hub smollm2 qwen25 qwen3 pythia special.safetensors; do
    "$TOOL" dump "$TMP/fx/$d" "$TMP/$d.dump" >"$TMP/$d.list" || fail "hf_tool dump $d"
    echo "dump $TMP/fx/$d $TMP/$d.list $TMP/$d.dump" >>"$TMP/checks"
done
for d in gpt2 gpt2_hub smollm2 qwen25 qwen3 pythia llama32 llama_bare neox_new; do
    "$TOOL" config "$TMP/fx/$d" >"$TMP/$d.cfg" || fail "hf_tool config $d"
    echo "config $TMP/fx/$d $TMP/$d.cfg" >>"$TMP/checks"
done
# tensors by canonical name (io/hfdir): the Hub's bare GPT-2 gives the values of the
# same weights saved with the "transformer." prefix; its head is absent
cut -f1 "$TMP/gpt2.list" | grep -v '^#' | grep -v '^score.weight$' >"$TMP/names"
"$TOOL" hfdump "$TMP/fx/gpt2" "$TMP/canon-prefixed" <"$TMP/names" >"$TMP/out" || fail "hfdump gpt2"
"$TOOL" hfdump "$TMP/fx/gpt2_hub" "$TMP/canon-bare" <"$TMP/names" >"$TMP/out" || fail "hfdump gpt2_hub"
[ -s "$TMP/canon-bare" ] && cmp -s "$TMP/canon-prefixed" "$TMP/canon-bare" || fail "canonical names read different tensors"
echo score.weight | "$TOOL" hfdump "$TMP/fx/gpt2_hub" "$TMP/canon-head" >"$TMP/out" || fail "hfdump score.weight"
grep -q "^absent score.weight" "$TMP/out" && grep -q "no tensor score.weight" "$TMP/out" || fail "the head of a bare GPT-2: $(cat "$TMP/out")"
echo transformer.h.9.ln_1.weight | "$TOOL" hfdump "$TMP/fx/gpt2_hub" "$TMP/canon-head" >"$TMP/out" || fail "hfdump h.9"
grep -q "no tensor transformer.h.9.ln_1.weight (as the checkpoint stores the bare backbone: h.9.ln_1.weight)" "$TMP/out" ||
    fail "a tensor absent from a bare checkpoint: $(cat "$TMP/out")"
echo "ok: canonical names over prefixed and bare checkpoints"

# the writer, F32 and BF16: read back by the Python parser, and by rmens again
for dt in F32 BF16; do
    for d in qwen25 special.safetensors; do
        out="$TMP/out-$d-$dt.safetensors"
        "$TOOL" write "$TMP/fx/$d" "$out" "$dt" || fail "hf_tool write $d $dt"
        "$TOOL" list "$out" >/dev/null || fail "rmens cannot read what it wrote ($d, $dt)"
        echo "written $out $TMP/fx/$d $dt" >>"$TMP/checks"
    done
done
# a reward model's config.json on each backbone, read back by both sides
for d in gpt2 smollm2 qwen25 qwen3 pythia llama32 neox_new; do
    mkdir "$TMP/rm-$d"
    pad=7
    "$TOOL" rmconfig "$TMP/fx/$d" "$TMP/rm-$d/config.json" "$pad" float32 || fail "hf_tool rmconfig $d"
    "$TOOL" config "$TMP/rm-$d" >"$TMP/rm-$d.cfg" || fail "hf_tool config on the reward model's config of $d"
    grep -qx "sequence_classification=1" "$TMP/rm-$d.cfg" && grep -qx "num_labels=1" "$TMP/rm-$d.cfg" &&
        grep -qx "pad_token_id=$pad" "$TMP/rm-$d.cfg" || fail "$d: the reward model's config reads wrong"
    echo "rmconfig $TMP/fx/$d $TMP/rm-$d/config.json $pad float32" >>"$TMP/checks"
    echo "config $TMP/rm-$d $TMP/rm-$d.cfg" >>"$TMP/checks"
done
"$TOOL" rmconfig "$TMP/fx/qwen3" "$TMP/rm-bad.json" 1100 float32 2>"$TMP/err" && fail "a pad id past the vocabulary was written"
grep -q "pad_token_id 1100" "$TMP/err" || fail "the pad id's message: $(cat "$TMP/err")"
[ -e "$TMP/rm-bad.json" ] && fail "a refused config was written"
ls "$TMP"/out-*.tmp.* 2>/dev/null && fail "a temporary file was left"
ls "$TMP"/rm-*/*.tmp.* 2>/dev/null && fail "a temporary file was left"
"$PY" "$FIX" check "$TMP/checks" || fail "rmens and the Python side disagree"

# broken inputs: a non-zero status and a message naming the file and the tensor or field
n=0
while IFS="$(printf '\t')" read -r name cmd dir rest; do
    set -- $cmd
    sub=$1
    shift
    if "$TOOL" "$sub" "$dir" "$@" >"$TMP/out" 2>"$TMP/err"; then
        fail "$name: accepted ($(cat "$TMP/out" | head -3))"
    fi
    msg=$(cat "$TMP/err")
    case "$msg" in hf_tool:*) ;; *) fail "$name: no message ($msg)" ;; esac
    echo "$rest" | tr '\t' '\n' | while read -r want; do
        [ -z "$want" ] && continue
        case "$msg" in *"$want"*) ;; *) echo "FAIL: $name: the message lacks \"$want\": $msg" >&2; exit 1 ;; esac
    done || exit 1
    n=$((n + 1))
done <"$TMP/fx/bad/cases.tsv"
[ "$n" -ge 40 ] || fail "only $n broken inputs ran"
echo "ok: $n broken inputs refused with the file and the tensor or field named"
# the writer refuses what it cannot write and leaves nothing
mkdir "$TMP/ro" && chmod 500 "$TMP/ro"
if [ "$(id -u)" != 0 ]; then
    "$TOOL" write "$TMP/fx/gpt2" "$TMP/ro/x.safetensors" F32 2>/dev/null && fail "wrote into a read-only folder"
fi
"$TOOL" write "$TMP/fx/gpt2" "$TMP/nodir/x.safetensors" F32 2>"$TMP/err" && fail "wrote into a missing folder"
grep -q "nodir/x.safetensors" "$TMP/err" || fail "the writer's message does not name the file: $(cat "$TMP/err")"
echo "ok: Hugging Face checkpoints"
