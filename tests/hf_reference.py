#!/usr/bin/python3
"""A Hugging Face reward-model directory read and run apart from rmens' C code.

  * config.json and the safetensors weights (model.safetensors, or the shards that
    model.safetensors.index.json names) are parsed here (tests/hf_fixtures.py's parser,
    written from the format's specification), F32/F16/BF16 to float;
  * the network is tests/llama_reference.py's (Llama, Qwen2, Qwen3) or
    tests/torch_reference.py's (GPT-2), both written from transformers' modelling code;
  * the reward is read where transformers' *ForSequenceClassification reads it in a
    right-padded batch: the rightmost token that is not config.pad_token_id (current
    transformers); the older rule, the token before the first pad, is checked to agree.

  hf_reference.py rewards DIR PAIRS.h5 N OUT.npy   rewards [N, 2] (chosen, rejected) of
                                                   the first N pairs, truncated as rmens does
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
    c = flat(cfg)
    return lambda toks: float(lr.reward(P, c, toks))


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
    if len(sys.argv) != 6 or sys.argv[1] != "rewards":
        sys.exit(__doc__)
    np.save(sys.argv[5], rewards(sys.argv[2], sys.argv[3], int(sys.argv[4])))
