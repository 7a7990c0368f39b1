#!/bin/sh
# GPT-NeoX (Pythia) reward models in C (tests/rm_driver reading Hugging Face directories)
# against the independent PyTorch reference tests/hf_reference.py (neox_reward, written
# from transformers' modeling_gpt_neox.py; safetensors parsed in Python):
#   par   GPTNeoXForSequenceClassification at Pythia-160m's shape cut to 2 layers (hidden
#         768, 12 heads, rotary_pct 0.25, vocab 50304, intermediate 3072, parallel
#         residual, attention biases), BF16 in 2 shards, with the attention.bias,
#         masked_bias and rotary_emb.inv_freq buffers old checkpoints hold;
#   par1k the same with vocab 1024, F32 unsharded;
#   seq   the same widths with use_parallel_residual false, no attention biases,
#         transformers' newer key names (partial_rotary_factor 0.25, rope_theta 1000),
#         vocab 1024, F32 unsharded.
# max_position_embeddings is 64 (the pairs' truncation rule is exercised; RoPE does not
# depend on it). Pairs with shared prompts, no prompt and both truncation branches, under
# --share/--compact on and off: rewards and loss within 1e-4 (relative), every gradient
# within 1e-3 of its tensor's largest, then 1-2 AdamW steps (losses, gradient norms 1e-3,
# parameters 1e-2 of the summed learning rates), as tests/llama_parity.sh.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
need_python h5py
need_python torch
DRIVER="$top_builddir/tests/rm_driver"
[ -x "$DRIVER" ] || fail "$DRIVER is not built (make tests/rm_driver)"
REF="$top_srcdir/tests/hf_reference.py"
FX="$top_srcdir/tests/hf_fixtures.py"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

"$PY" "$FX" neox "$TMP/par" --seq-cls --dtype BF16 --shards 2 --seed 21 || fail "fixture par"
"$PY" "$FX" neox "$TMP/par1k" --seq-cls --vocab 1024 --seed 23 || fail "fixture par1k"
"$PY" "$FX" neox "$TMP/seq" --seq-cls --vocab 1024 --sequential --no-bias --new-names --base 1000 --seed 22 ||
    fail "fixture seq"
"$PY" - "$TMP" <<'EOF' || fail "writing the pairs file"
import sys
import h5py, numpy as np

rng = np.random.default_rng(20261208)
# (prompt_len, len(chosen), len(rejected)) with n_ctx 64; c = max(lc, lr) - 64
# (the first 4, which the runs use: no prompt, shared prompts, both truncation branches)
cases = [(0, 2, 3), (5, 10, 40), (20, 90, 30), (50, 80, 70), (30, 31, 33), (12, 47, 13)]
chosen, rejected, pl = [], [], []
for n, lc, lr in cases:
    prompt = rng.integers(0, 256, n)
    body = lambda m: np.concatenate([prompt, rng.integers(0, 256, m - n - 1), [256]])
    chosen.append(body(lc))
    rejected.append(body(lr))
    pl.append(n)
with h5py.File(sys.argv[1] + "/pairs.h5", "w") as f:
    f.attrs["rmens_format"] = "pairs"
    f.attrs["rmens_version"] = 1
    f.attrs["vocab_size"] = 257
    f.attrs["eot_token"] = 256
    f.attrs["tokenizer"] = "bytes"
    for name, seqs in (("chosen", chosen), ("rejected", rejected)):
        f[name + "/tokens"] = np.concatenate(seqs).astype(np.int32)
        f[name + "/offsets"] = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
    f["prompt_len"] = np.array(pl, np.int32)
    f["margin"] = rng.uniform(-1, 3, len(cases)).astype(np.float32)
EOF

failures=0
# model label steps share compact margin-scale center lr warmup total min-lr-frac wd clip
run() {
    model=$1 label=$1_$2
    opts="--pairs 4 --steps $3 --share $4 --compact $5 --margin-scale $6 --center $7 \
--lr $8 --warmup $9 --total ${10} --min-lr-frac ${11} --wd ${12} --clip ${13}"
    # the two sides at once (2 cores)
    # shellcheck disable=SC2086
    "$DRIVER" "$TMP/$model" "$TMP/pairs.h5" "$TMP/c_$label.h5" $opts >"$TMP/drv.log" 2>&1 &
    drv=$!
    # shellcheck disable=SC2086
    "$PY" "$REF" run "$TMP/$model" "$TMP/pairs.h5" "$TMP/r_$label.h5" $opts || ref=1
    wait $drv ||
        { cat "$TMP/drv.log" >&2; echo "FAIL: rm_driver $label: $opts" >&2; failures=$((failures + 1)); return; }
    [ -z "${ref:-}" ] || { echo "FAIL: reference $label" >&2; failures=$((failures + 1)); ref=; return; }
    echo "$label: $opts"
    "$PY" "$top_srcdir/tests/torch_reference.py" compare "$TMP/c_$label.h5" "$TMP/r_$label.h5" --label "$label" \
        --tol-rewards 1e-4 --tol-loss 1e-4 --tol-grads 1e-3 --tol-losses 1e-3 \
        --tol-norms 1e-3 --tol-params 1e-2 || failures=$((failures + 1))
    rm -f "$TMP/c_$label.h5" "$TMP/r_$label.h5"
}

# The full vocabulary once (its float64 reference dominates the time), the other
# settings at vocab 1024. Learning rates of at least 5e-5: the parameter bound is relative
# to the summed learning rate, and embeddings of std 1 (values up to 5.6, whose float32
# spacing is 4.8e-7) that weight decay alone moves need sum(lr) well above 1e-5.
#   model  label steps share compact ms  center lr    warmup total minfrac wd   clip
run par    s1c1  2     1     1       0.3 0.05   5e-5  1      2     0.1     0.1  1
run par1k  s0c0  2     0     0       1   0      5e-5  0      2     0       0.01 0
run seq    s1c1  2     1     1       0.5 0      5e-5  1      2     0.1     0.1  1
run seq    s0c0  1     0     0       0   0.05   1e-4  0      1     0       0.05 100

[ "$failures" -eq 0 ] || fail "$failures run(s) differ from the PyTorch reference"
echo "PASS: rm_driver matches the PyTorch GPT-NeoX reference (parallel and sequential residual) in 4 runs (Pythia-160m widths, 2 layers)"
