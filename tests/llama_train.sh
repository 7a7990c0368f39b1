#!/bin/sh
# A Llama-family ensemble end to end under MPI: `rmens train --init` from a random
# Qwen3-shaped language-model checkpoint (grouped-query heads, head_dim != C/heads, q/k
# norms; no score head, so each member draws its own), 2 members on 2 ranks, then
# `rmens score` of the checkpoint; the scores are recomputed from the checkpoint's
# weights by the independent PyTorch reference (tests/llama_reference.py):
#   per-member rewards  |c - r| <= 1e-4 * max(|r|, 1e-2)
# and training must have moved the weights and the two members' heads must differ.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
need_python h5py
need_python torch
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$TMP" || fail "no scratch directory"

"$RMENS" synth --task sort --split train --n 240 --seed 1 --out train.h5 >synth.log 2>&1 || { cat synth.log; fail "synth"; }
"$RMENS" synth --task sort --split test --n 40 --seed 2 --out test.h5 >synth.log 2>&1 || { cat synth.log; fail "synth"; }

"$PY" - <<'EOF' || fail "writing the checkpoint"
import h5py, numpy as np
rng = np.random.default_rng(7)
V, T, L, C, H, KV, D, FF = 257, 256, 2, 64, 4, 2, 32, 96
with h5py.File("lm.h5", "w") as f:
    f.attrs["rmens_format"] = "model"
    f.attrs["rmens_version"] = 1
    for k, v in (("vocab_size", V), ("n_ctx", T), ("n_layer", L), ("n_head", H), ("n_embd", C)):
        f.attrs[k] = v
    f.attrs["tokenizer"] = "bytes"
    for k, v in dict(model_type="qwen3", vocab_size=V, max_position_embeddings=T, num_hidden_layers=L,
                     hidden_size=C, num_attention_heads=H, num_key_value_heads=KV, head_dim=D,
                     intermediate_size=FF, rope_theta=1000000.0, rms_norm_eps=1e-6).items():
        f.attrs[k] = v
    mat = lambda *s: (0.1 * rng.standard_normal(s)).astype(np.float32)
    p = {"model.embed_tokens.weight": mat(V, C), "model.norm.weight": 1 + mat(C)}
    for i in range(L):
        b = f"model.layers.{i}."
        p[b + "input_layernorm.weight"] = 1 + mat(C)
        p[b + "post_attention_layernorm.weight"] = 1 + mat(C)
        p[b + "self_attn.q_proj.weight"] = mat(H * D, C)
        p[b + "self_attn.k_proj.weight"] = mat(KV * D, C)
        p[b + "self_attn.v_proj.weight"] = mat(KV * D, C)
        p[b + "self_attn.o_proj.weight"] = mat(C, H * D)
        p[b + "self_attn.q_norm.weight"] = 1 + mat(D)
        p[b + "self_attn.k_norm.weight"] = 1 + mat(D)
        p[b + "mlp.gate_proj.weight"] = mat(FF, C)
        p[b + "mlp.up_proj.weight"] = mat(FF, C)
        p[b + "mlp.down_proj.weight"] = mat(C, FF)
    for k, v in p.items():
        f["params/" + k] = v
EOF

mpirun_np 2 "$RMENS" train --init lm.h5 --data train.h5 --val test.h5 --members 2 --steps 40 --lr 1e-3 \
    --out ens.h5 >train.log 2>&1 || { cat train.log; fail "rmens train --init a qwen3 checkpoint"; }
"$RMENS" score --ckpt ens.h5 --data test.h5 --per-member --normalize none --out scores.h5 >score.log 2>&1 ||
    { cat score.log; fail "rmens score"; }

"$PY" - "$top_srcdir/tests" <<'EOF' || fail "scores differ from the PyTorch reference"
import sys
sys.path.insert(0, sys.argv[1])
import h5py, numpy as np, torch
import llama_reference as lr, torch_reference as tr
torch.set_num_threads(1)
with h5py.File("ens.h5") as f, h5py.File("lm.h5") as g, h5py.File("scores.h5") as s:
    cfg = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    pairs = tr.read_pairs("test.h5")[:12]
    init = {k: g["params"][k][...] for k in g["params"]}
    heads = []
    for k in range(2):
        P = {n: torch.tensor(f[f"members/{k:03d}/params"][n][...], dtype=torch.float64)
             for n in f[f"members/{k:03d}/params"]}
        moved = max(float(np.max(np.abs(P[n].numpy() - init[n]))) for n in init)
        assert moved > 1e-4, f"member {k}: weights did not move from --init ({moved})"
        heads.append(P["score.weight"].numpy())
        worst = 0.0
        for i, (ch, rj, pl, _) in enumerate(pairs):
            ch, rj, _, _ = tr.truncate_pair(ch, rj, pl, int(cfg["max_position_embeddings"]))
            for side, seq in (("chosen", ch), ("rejected", rj)):
                with torch.no_grad():
                    r = float(lr.reward(P, cfg, seq))
                c = float(s[f"{side}/rewards"][i, k])
                worst = max(worst, abs(c - r) / max(abs(r), 1e-2))
        print(f"member {k}: {len(pairs)} pairs, worst reward error {worst:.2e} (limit 1e-4), "
              f"weights moved up to {moved:.3g} from --init")
        assert worst <= 1e-4, worst
    assert np.max(np.abs(heads[0] - heads[1])) > 1e-3, "the two members share one score head"
EOF
echo "PASS: a Qwen3-shaped ensemble trained from --init under MPI scores as the PyTorch reference"
