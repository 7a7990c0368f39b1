#!/bin/sh
# The C Llama-family reward models (tests/rm_driver) against an independent PyTorch
# reference (tests/llama_reference.py, written from Hugging Face's modelling semantics).
#
# Random-weight models in rmens "model" files (Hugging Face names, config.json keys as
# attributes), cut to 2 layers but with the real head counts, GQA ratios, head_dim,
# biases, norms and rope settings of
#   smollm2   SmolLM2-135M   (llama: C 576, 9 heads / 3 kv, head_dim 64, theta 1e5)
#   qwen25    Qwen2.5-0.5B   (qwen2: C 896, 14 / 2, head_dim 64, q/k/v biases, theta 1e6)
#   qwen3     Qwen3-0.6B     (qwen3: C 1024, 16 / 8, head_dim 128 != C/heads, q/k norms)
#   rope      a small llama with rope_scaling llama3 (high, medium and low frequencies
#             all present) and partial rotary 0.5 (GPT-NeoX's convention)
# and a byte vocabulary (V 257, n_ctx 64); intermediate_size is SmolLM2's but cut to 1024
# for the two Qwen shapes (their 4864 and 3072 only slow the float64 reference). Pairs
# with shared prompts, no prompt and both truncation branches. Each runs forward,
# backward and 2 to 10 AdamW steps under --share and --compact settings; tolerances as
# tests/torch_parity.sh: rewards and loss 1e-4 relative,
# every gradient 1e-3 of its tensor's largest, losses and gradient norms 1e-3, parameters
# after the steps 1e-2 of the summed learning rates.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
need_python h5py
need_python torch
DRIVER="$top_builddir/tests/rm_driver"
[ -x "$DRIVER" ] || fail "$DRIVER is not built (make tests/rm_driver)"
REF="$top_srcdir/tests/llama_reference.py"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

"$PY" - "$TMP" <<'EOF' || fail "writing the model and pairs files"
import sys
import h5py, numpy as np

d = sys.argv[1]
rng = np.random.default_rng(20261207)
V, T, L = 257, 64, 2
configs = {
    "smollm2": dict(model_type="llama", hidden_size=576, num_attention_heads=9, num_key_value_heads=3,
                    head_dim=64, intermediate_size=1536, rope_theta=100000.0, rms_norm_eps=1e-5,
                    tie_word_embeddings=1, attention_bias=0),
    "qwen25": dict(model_type="qwen2", hidden_size=896, num_attention_heads=14, num_key_value_heads=2,
                   intermediate_size=1024, rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=1),
    "qwen3": dict(model_type="qwen3", hidden_size=1024, num_attention_heads=16, num_key_value_heads=8,
                  head_dim=128, intermediate_size=1024, rope_theta=1000000.0, rms_norm_eps=1e-6,
                  tie_word_embeddings=1, attention_bias=0),
    "rope": dict(model_type="llama", hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                 intermediate_size=96, rope_theta=10000.0, rms_norm_eps=1e-5, partial_rotary_factor=0.5,
                 attention_bias=1, **{"rope_scaling.rope_type": "llama3", "rope_scaling.factor": 8.0,
                                      "rope_scaling.low_freq_factor": 1.0, "rope_scaling.high_freq_factor": 4.0,
                                      "rope_scaling.original_max_position_embeddings": 64}),
}

def mat(*shape, std):
    return (std * rng.standard_normal(shape)).astype(np.float32)

for name, c in configs.items():
    C, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    D = c.get("head_dim", C // H)
    FF = c["intermediate_size"]
    bias = c["model_type"] == "qwen2" or c.get("attention_bias", 0)
    with h5py.File(f"{d}/{name}.h5", "w") as f:
        f.attrs["rmens_format"] = "model"
        f.attrs["rmens_version"] = 1
        for k, v in (("vocab_size", V), ("n_ctx", T), ("n_layer", L), ("n_head", H), ("n_embd", C)):
            f.attrs[k] = v
        f.attrs["tokenizer"] = "bytes"
        for k, v in dict(c, vocab_size=V, max_position_embeddings=T, num_hidden_layers=L).items():
            f.attrs[k] = v
        s = C ** -0.5   # keeps activations O(1) whatever the width
        p = {"model.embed_tokens.weight": mat(V, C, std=1.0)}
        for i in range(L):
            b = f"model.layers.{i}."
            p[b + "input_layernorm.weight"] = 1 + mat(C, std=0.1)
            for n, o in (("q", H * D), ("k", KV * D), ("v", KV * D)):
                p[b + f"self_attn.{n}_proj.weight"] = mat(o, C, std=s)
                if bias:
                    p[b + f"self_attn.{n}_proj.bias"] = mat(o, std=0.3)
            if c["model_type"] == "qwen3":
                p[b + "self_attn.q_norm.weight"] = 1 + mat(D, std=0.2)
                p[b + "self_attn.k_norm.weight"] = 1 + mat(D, std=0.2)
            p[b + "self_attn.o_proj.weight"] = mat(C, H * D, std=(H * D) ** -0.5)
            if c["model_type"] == "llama" and bias:
                p[b + "self_attn.o_proj.bias"] = mat(C, std=0.1)
            p[b + "post_attention_layernorm.weight"] = 1 + mat(C, std=0.1)
            p[b + "mlp.gate_proj.weight"] = mat(FF, C, std=s)
            p[b + "mlp.up_proj.weight"] = mat(FF, C, std=s)
            p[b + "mlp.down_proj.weight"] = mat(C, FF, std=FF ** -0.5)
        p["model.norm.weight"] = 1 + mat(C, std=0.1)
        p["score.weight"] = mat(1, C, std=s)   # rewards O(1): the loss does not saturate within the steps
        for k, v in p.items():
            f["params/" + k] = v

# (prompt_len, len(chosen), len(rejected)) with n_ctx 64; c = max(lc, lr) - 64
cases = [(0, 2, 3), (5, 10, 40), (30, 31, 33), (50, 80, 70), (20, 90, 30), (36, 100, 60), (10, 64, 64),
         (12, 47, 13)]
chosen, rejected, pl = [], [], []
for k, (n, lc, lr) in enumerate(cases):
    prompt = rng.integers(0, 256, n)
    body = lambda m: np.concatenate([prompt, rng.integers(0, 256, m - n - 1), [256]])
    c, r = body(lc), body(lr)
    if lc == lr:
        r[n] = (c[n] + 1) % 256     # responses differ from their first token
    chosen.append(c)
    rejected.append(r)
    pl.append(n)
with h5py.File(d + "/pairs.h5", "w") as f:
    f.attrs["rmens_format"] = "pairs"
    f.attrs["rmens_version"] = 1
    f.attrs["vocab_size"] = V
    f.attrs["eot_token"] = 256
    f.attrs["tokenizer"] = "bytes"
    for name, seqs in (("chosen", chosen), ("rejected", rejected)):
        f[name + "/tokens"] = np.concatenate(seqs).astype(np.int32)
        f[name + "/offsets"] = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
    f["prompt_len"] = np.array(pl, np.int32)
    f["margin"] = rng.uniform(-1, 3, len(cases)).astype(np.float32)
print(f"wrote {len(configs)} {L}-layer models and {len(cases)} pairs")
EOF

failures=0
# model label steps share compact margin-scale center lr warmup total min-lr-frac wd clip
run() {
    model=$1 label=$1_$2
    opts="--pairs 6 --steps $3 --share $4 --compact $5 --margin-scale $6 --center $7 \
--lr $8 --warmup $9 --total ${10} --min-lr-frac ${11} --wd ${12} --clip ${13}"
    # shellcheck disable=SC2086
    "$DRIVER" "$TMP/$model.h5" "$TMP/pairs.h5" "$TMP/c_$label.h5" $opts >"$TMP/drv.log" 2>&1 ||
        { cat "$TMP/drv.log" >&2; echo "FAIL: rm_driver $label: $opts" >&2; failures=$((failures + 1)); return; }
    # shellcheck disable=SC2086
    "$PY" "$REF" run "$TMP/$model.h5" "$TMP/pairs.h5" "$TMP/r_$label.h5" $opts ||
        { echo "FAIL: reference $label" >&2; failures=$((failures + 1)); return; }
    echo "$label: $opts"
    "$PY" "$top_srcdir/tests/torch_reference.py" compare "$TMP/c_$label.h5" "$TMP/r_$label.h5" --label "$label" \
        --tol-rewards 1e-4 --tol-loss 1e-4 --tol-grads 1e-3 --tol-losses 1e-3 \
        --tol-norms 1e-3 --tol-params 1e-2 || failures=$((failures + 1))
}

# Learning rates of fine-tuning (1e-4 .. 3e-4): larger ones send these widths into a
# regime where float32 and float64 trajectories part within 10 Adam steps.
#   model  label steps share compact ms  center lr    warmup total minfrac wd   clip
run smollm2 s1c1 10   1     1       0.3 0.05   2e-4  4      10    0.1     0.1  1
run smollm2 s0c0 3    0     0       1   0      3e-4  1      3     0.2     0.01 100
run qwen25  s0c1 3    0     1       0.5 0      1e-4  1      3     0.1     0.1  1
run qwen3   s1c0 2    1     0       0.5 0      1e-4  0      2     0       0.05 0
run rope    s1c1 10   1     1       0.3 0.05   3e-3  4      10    0.1     0.1  1
run rope    s0c0 10   0     0       0   0      3e-3  3      10    0.1     0.1  0.5

[ "$failures" -eq 0 ] || fail "$failures run(s) differ from the PyTorch reference"
echo "PASS: rm_driver matches the PyTorch Llama/Qwen2/Qwen3 reference in 6 runs"
