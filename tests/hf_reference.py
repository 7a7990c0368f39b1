#!/usr/bin/python3
"""A Hugging Face reward-model directory read and run apart from rmens' C code.

  * config.json and the safetensors weights (model.safetensors, or the shards that
    model.safetensors.index.json names) are parsed here (tests/hf_fixtures.py's parser,
    written from the format's specification), F32/F16/BF16 to float;
  * the network is tests/llama_reference.py's (Llama, Qwen2, Qwen3),
    tests/torch_reference.py's (GPT-2), both written from transformers' modelling code,
    or neox_reward below (GPT-NeoX, from modeling_gpt_neox.py);
  * the reward is read where transformers' *ForSequenceClassification reads it in a
    right-padded batch: the rightmost token that is not config.pad_token_id (current
    transformers); the older rule, the token before the first pad, is checked to agree.

  hf_reference.py rewards DIR PAIRS.h5 N OUT.npy   rewards [N, 2] (chosen, rejected) of
                                                   the first N pairs, truncated as rmens does
  hf_reference.py run DIR PAIRS.h5 OUT.h5 [opts]   what tests/rm_driver computes (rewards, loss,
                                                   gradients, AdamW steps; options as
                                                   torch_reference.py's run) for a directory
                                                   holding score.weight
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_fixtures as hx  # noqa: E402
import llama_reference as lr  # noqa: E402
import torch_reference as tr  # noqa: E402


def load_dir(d):
    """(config dict, {name: float32 ndarray}) of a Hugging Face directory."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    params = {}
    for fn in files:
        tensors, _ = hx.parse_st(os.path.join(d, fn))
        for name, (dtype, shape, raw) in tensors.items():
            if dtype not in ("F32", "F16", "BF16"):   # buffers: GPT-NeoX's boolean causal mask
                continue
            params[name] = np.array(hx.to_f32(dtype, raw, shape), np.float32)
    return cfg, params


def flat(cfg):
    """config.json with nested objects as "a.b" keys (llama_reference's convention)."""
    out = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        out[k] = v
    return out


def hf_last_index(row, pad):
    """transformers' *ForSequenceClassification on a right-padded row: the rightmost
    non-pad token; the older rule (first pad - 1, modulo the length) must agree."""
    row = np.asarray(row)
    non_pad = (row != pad).astype(np.int64)
    new = int(np.argmax(np.arange(len(row)) * non_pad))
    old = (int(np.argmax(row == pad)) - 1) % len(row) if (row == pad).any() else len(row) - 1
    assert new == old, f"the two transformers rules read tokens {new} and {old}"
    return new


def neox_reward(P, cfg, tokens):
    """GPTNeoXForSequenceClassification (num_labels 1) at the last token, from
    modeling_gpt_neox.py: embed_in; per layer input_layernorm (nn.LayerNorm, layer_norm_eps),
    query_key_value viewed as [T, heads, 3 * head_size] and cut into q | k | v per head,
    rotate-half RoPE on the first int(head_size * rotary_pct) channels of q and k (inv_freq
    1 / base^(arange(0, dim, 2) / dim) in float32), causal softmax(q k^T / sqrt(head_size)) v,
    dense; use_parallel_residual: x + attn(ln1(x)) + mlp(ln2(x)), else x + attn(ln1(x)) then
    + mlp(ln2(that)); mlp dense_4h_to_h(gelu(dense_h_to_4h)) with exact gelu (ACT2FN "gelu");
    final_layer_norm; score without bias."""
    import torch
    F = torch.nn.functional
    C, NH = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    HD = C // NH
    eps = float(cfg.get("layer_norm_eps", 1e-5))
    pct = float(cfg.get("partial_rotary_factor", cfg.get("rotary_pct", 0.25)))
    base = float(cfg.get("rope_theta", cfg.get("rotary_emb_base", 10000)))
    assert cfg.get("hidden_act", "gelu") == "gelu" and not cfg.get("rope_scaling")
    rot = int(HD * pct)
    T = len(tokens)
    x = F.embedding(torch.as_tensor(np.asarray(tokens, np.int64)), P["gpt_neox.embed_in.weight"], sparse=True)
    inv = 1.0 / (base ** (torch.arange(0, rot, 2, dtype=torch.int64).float() / rot))
    freqs = torch.outer(torch.arange(T, dtype=torch.int64).type_as(inv), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    causal = torch.ones(T, T, dtype=torch.bool).tril()

    def ln(h, name):
        return F.layer_norm(h, (C,), P[name + ".weight"], P[name + ".bias"], eps)

    def lin(h, name):
        y = h @ P[name + ".weight"].T
        return y + P[name + ".bias"] if name + ".bias" in P else y

    def rope(t):
        r, keep = t[..., :rot], t[..., rot:]
        half = torch.cat((-r[..., rot // 2:], r[..., :rot // 2]), dim=-1)
        return torch.cat((r * cos + half * sin, keep), dim=-1)

    for i in range(int(cfg["num_hidden_layers"])):
        p = f"gpt_neox.layers.{i}."
        qkv = lin(ln(x, p + "input_layernorm"), p + "attention.query_key_value").view(T, NH, 3 * HD).permute(1, 0, 2)
        q, k, v = rope(qkv[..., :HD]), rope(qkv[..., HD:2 * HD]), qkv[..., 2 * HD:]
        att = ((q @ k.transpose(1, 2)) * HD ** -0.5).masked_fill(~causal, float("-inf")).softmax(dim=-1)
        a = lin((att @ v).permute(1, 0, 2).reshape(T, C), p + "attention.dense")

        def mlp(h):
            return lin(F.gelu(lin(ln(h, p + "post_attention_layernorm"), p + "mlp.dense_h_to_4h")), p + "mlp.dense_4h_to_h")
        if cfg.get("use_parallel_residual", True):
            x = mlp(x) + a + x
        else:
            x = x + a
            x = mlp(x) + x
    x = ln(x, "gpt_neox.final_layer_norm")
    return x[T - 1] @ P["score.weight"][0]


def reward_fn(cfg, params):
    """(tokens -> reward) for the directory's architecture, in float64."""
    import torch
    P = {k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()}
    if cfg["model_type"] == "gpt2":
        c = {"vocab_size": cfg["vocab_size"], "n_ctx": cfg["n_positions"], "n_layer": cfg["n_layer"],
             "n_head": cfg["n_head"], "n_embd": cfg["n_embd"]}
        P = {(k if k == "score.weight" or k.startswith("transformer.") else "transformer." + k): v
             for k, v in P.items()}
        return lambda toks: float(tr.reward(P, c, toks))
    if cfg["model_type"] == "gpt_neox":
        return lambda toks: float(neox_reward(P, cfg, toks))
    c = flat(cfg)
    return lambda toks: float(lr.reward(P, c, toks))


# Stored tensors a reward model has no use for (language-model heads, buffers).
UNUSED = ("lm_head.weight", "embed_out.weight", ".attention.bias", ".attention.masked_bias", ".rotary_emb.inv_freq",
          ".attn.bias", ".attn.masked_bias")


def run(argv):
    """tests/rm_driver's computation for a Hugging Face directory (rewards, loss,
    gradients, AdamW steps) through torch_reference.run with this directory's network."""
    import argparse
    ap = argparse.ArgumentParser(prog="hf_reference.py run")
    ap.add_argument("dir")
    ap.add_argument("pairs_file")
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    tr.add_driver_opts(ap)
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    cfg, params = load_dir(a.dir)
    params = {k: v for k, v in params.items() if not k.endswith(UNUSED)}
    assert "score.weight" in params, "the directory holds no score head"
    if cfg["model_type"] == "gpt_neox":
        net, c = neox_reward, dict(cfg)
    else:
        net, c = lr.reward, flat(cfg)
    c["n_ctx"] = int(cfg["max_position_embeddings"])
    tr.reward = net   # the shared Reference calls reward(P, cfg, tokens)
    out = tr.run(a.dir, a.pairs_file, a.pairs, a.share, a.compact, a.steps, a.lr, a.warmup, a.total,
                 a.min_lr_frac, a.wd, a.clip, a.margin_scale, a.center, a.dtype, params=params, cfg=c)
    tr.write_out(a.out, out)


def rewards(d, pairs_path, n):
    import torch
    torch.set_num_threads(1)
    cfg, params = load_dir(d)
    assert cfg["architectures"][0].endswith("ForSequenceClassification"), cfg["architectures"]
    assert params["score.weight"].shape == (1, cfg.get("hidden_size", cfg.get("n_embd"))), \
        params["score.weight"].shape
    f = reward_fn(cfg, params)
    n_ctx = cfg.get("max_position_embeddings", cfg.get("n_positions"))
    pad = cfg.get("pad_token_id")
    pairs = tr.read_pairs(pairs_path)[:n]
    out = np.zeros((len(pairs), 2))
    for i, (ch, rj, pl, _) in enumerate(pairs):
        ch, rj, _, _ = tr.truncate_pair(ch, rj, pl, int(n_ctx))
        width = max(len(ch), len(rj)) + 3
        for s, seq in enumerate((ch, rj)):
            seq = [int(t) for t in seq]
            if pad is None:
                last = len(seq) - 1
            else:
                last = hf_last_index(seq + [pad] * (width - len(seq)), pad)
            with torch.no_grad():
                out[i, s] = f(seq[:last + 1])   # causal: the state at `last` sees tokens 0..last
            assert last == len(seq) - 1, f"pair {i}: transformers would read token {last} of {len(seq)}"
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        sys.exit(run(sys.argv[2:]))
    if len(sys.argv) != 6 or sys.argv[1] != "rewards":
        sys.exit(__doc__)
    np.save(sys.argv[5], rewards(sys.argv[2], sys.argv[3], int(sys.argv[4])))
