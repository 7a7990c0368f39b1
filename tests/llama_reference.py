#!/usr/bin/python3
"""Independent PyTorch reference for rmens's Llama-family reward models (tests/llama_parity.sh).

Written from Hugging Face's modelling semantics (modeling_llama.py, modeling_qwen2.py,
modeling_qwen3.py, modeling_rope_utils.py: LlamaForSequenceClassification with
num_labels = 1) in plain torch ops, not from the rmens C sources:

  * embed_tokens; per layer: input_layernorm (RMSNorm: x * rsqrt(mean(x^2) + eps) *
    weight), q/k/v projections (nn.Linear, [out, in]; biases when the file has them),
    Qwen3's per-head q_norm/k_norm (RMSNorm over head_dim) before RoPE, RoPE in the
    rotate-half convention on the first int(head_dim * partial_rotary_factor) channels
    (inv_freq = 1 / theta^(arange(0, dim, 2) / dim) in float32; rope_type llama3
    rescales it as _compute_llama3_parameters does), key/value heads repeated for the
    query heads (repeat_kv), causal softmax(q k^T / sqrt(head_dim)) v, o_proj, residual;
    post_attention_layernorm, down_proj(silu(gate_proj(h)) * up_proj(h)), residual;
    final norm; score (hidden -> 1, no bias) at the last token of each sequence;
  * every sequence on its own at positions 0 .. len-1, truncated by the documented rule.

The data, loss, optimizer, output format and comparison are tests/torch_reference.py's
(shared with the GPT-2 reference). Command line as torch_reference.py's `run`.
"""

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as tr  # noqa: E402


def load_model_h5(path):
    """(cfg, {name: float32 ndarray}): cfg holds the config.json keys the file keeps."""
    import h5py
    with h5py.File(path, "r") as f:
        cfg = {}
        for k, v in f.attrs.items():
            cfg[k] = v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)
        params = {name: np.asarray(f["params"][name][...], np.float32) for name in f["params"]}
    return cfg, params


def inv_freq(cfg, head_dim):
    torch = tr._torch()
    dim = int(head_dim * float(cfg.get("partial_rotary_factor", 1.0)))
    base = float(cfg.get("rope_theta", 10000.0))
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    if cfg.get("rope_scaling.rope_type", "default") == "llama3":
        factor = float(cfg["rope_scaling.factor"])
        lo, hi = float(cfg["rope_scaling.low_freq_factor"]), float(cfg["rope_scaling.high_freq_factor"])
        old = float(cfg["rope_scaling.original_max_position_embeddings"])
        lo_wave, hi_wave = old / lo, old / hi
        wave = 2 * math.pi / inv
        scaled = torch.where(wave > lo_wave, inv / factor, inv)
        smooth = (old / wave - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wave < hi_wave) * ~(wave > lo_wave)
        inv = torch.where(medium, smoothed, scaled)
    return inv, dim


def rms_norm(x, w, eps):
    torch = tr._torch()
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    torch = tr._torch()
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin, rot):
    """x [heads, T, D]; the first rot channels rotate, the rest pass (partial rotary)."""
    torch = tr._torch()
    xr, xp = x[..., :rot], x[..., rot:]
    return torch.cat((xr * cos + rotate_half(xr) * sin, xp), dim=-1)


def reward(P, cfg, tokens):
    torch = tr._torch()
    C, NH = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    NKV = int(cfg.get("num_key_value_heads", 0) or NH)
    HD = int(cfg.get("head_dim", 0) or C // NH)
    eps = float(cfg.get("rms_norm_eps", 1e-6))
    qk_norm = cfg.get("model_type") == "qwen3"
    T = len(tokens)
    idx = torch.as_tensor(np.asarray(tokens, np.int64))
    x = P["model.embed_tokens.weight"][idx]
    inv, rot = inv_freq(cfg, HD)
    freqs = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]     # float32, as HF
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    causal = torch.ones(T, T, dtype=torch.bool).tril()

    def lin(h, name):
        y = h @ P[name + ".weight"].T
        return y + P[name + ".bias"] if name + ".bias" in P else y

    for i in range(int(cfg["num_hidden_layers"])):
        p = f"model.layers.{i}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(T, NH, HD).transpose(0, 1)
        k = lin(h, p + "self_attn.k_proj").view(T, NKV, HD).transpose(0, 1)
        v = lin(h, p + "self_attn.v_proj").view(T, NKV, HD).transpose(0, 1)
        if qk_norm:
            q = rms_norm(q, P[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, P[p + "self_attn.k_norm.weight"], eps)
        q, k = apply_rope(q, cos, sin, rot), apply_rope(k, cos, sin, rot)
        k = k.repeat_interleave(NH // NKV, dim=0)
        v = v.repeat_interleave(NH // NKV, dim=0)
        att = (q @ k.transpose(1, 2)) * HD ** -0.5
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, NH * HD)
        x = x + lin(y, p + "self_attn.o_proj")
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(lin(h, p + "mlp.gate_proj"))
        x = x + lin(g * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms_norm(x, P["model.norm.weight"], eps)
    return x[T - 1] @ P["score.weight"][0]


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="llama_reference.py")
    ap.add_argument("cmd", choices=("run",))
    ap.add_argument("model")
    ap.add_argument("pairs_file")
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    tr.add_driver_opts(ap)
    a = ap.parse_args(argv)
    torch = tr._torch()
    torch.set_num_threads(1)
    cfg, params = load_model_h5(a.model)
    cfg["n_ctx"] = int(cfg["max_position_embeddings"])
    tr.reward = reward   # the shared Reference calls reward(P, cfg, tokens)
    out = tr.run(a.model, a.pairs_file, a.pairs, a.share, a.compact, a.steps, a.lr, a.warmup, a.total,
                 a.min_lr_frac, a.wd, a.clip, a.margin_scale, a.center, a.dtype, params=params, cfg=cfg)
    tr.write_out(a.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
