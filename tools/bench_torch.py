#!/usr/bin/python3
"""PyTorch baseline for `rmens bench`: the same GPT-2 reward model (Hugging Face
GPT2ForSequenceClassification architecture, written with torch ops), trained with the
Bradley-Terry loss and AdamW on padded batches, as a PyTorch user would run it.

  tools/bench_torch.py --layers 4 --heads 4 --embd 256 --ctx 256 --batch 8 --steps 10 \
                       [--threads N] [--data pairs.h5]
  tools/bench_torch.py --model DIR --ctx 512 --batch 4 ...   (as `rmens bench --model DIR`)

With --model, a Llama/Qwen2/Qwen3 reward model of that directory's config.json shape
(LlamaForSequenceClassification semantics: RMSNorm, RoPE, grouped-query attention (eager,
as transformers' default on CPU; Debian's torch 1.13 has no fused attention), SwiGLU;
freshly initialised: only the shape is read).

Without --data: random tokens filling the whole context (as `rmens bench`). With --data:
pairs from an rmens pairs file, each batch padded to its longest sequence (truncated
from the front to --ctx, as rmens does). Prints the same key=value line as rmens bench.
"""
import argparse, math, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(s, C, H):
        super().__init__()
        s.H = H
        s.ln_1, s.ln_2 = nn.LayerNorm(C, eps=1e-5), nn.LayerNorm(C, eps=1e-5)
        s.c_attn, s.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        s.c_fc, s.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(s, x, mask):
        B, T, C = x.shape
        q, k, v = s.c_attn(s.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, s.H, C // s.H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // s.H))
        att = att.masked_fill(mask[:, :, :T, :T] == 0, float("-inf")).softmax(dim=-1)
        x = x + s.c_proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))
        return x + s.mlp_proj(F.gelu(s.c_fc(s.ln_2(x)), approximate="tanh"))


class RewardModel(nn.Module):
    def __init__(s, V, T, L, H, C):
        super().__init__()
        s.wte, s.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        s.h = nn.ModuleList(Block(C, H) for _ in range(L))
        s.ln_f = nn.LayerNorm(C, eps=1e-5)
        s.score = nn.Linear(C, 1, bias=False)
        s.register_buffer("mask", torch.tril(torch.ones(T, T)).view(1, 1, T, T))

    def forward(s, idx, last):
        B, T = idx.shape
        x = s.wte(idx) + s.wpe(torch.arange(T))
        for b in s.h:
            x = b(x, s.mask)
        x = s.ln_f(x)
        return s.score(x[torch.arange(B), last]).squeeze(-1)   # HF: the last non-pad token


class RMSNorm(nn.Module):   # nn.RMSNorm is newer than Debian's torch
    def __init__(s, n, eps):
        super().__init__()
        s.w, s.eps = nn.Parameter(torch.ones(n)), eps

    def forward(s, x):
        return s.w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + s.eps))


class LlamaBlock(nn.Module):
    def __init__(s, c):
        super().__init__()
        C, s.H, s.KV = c["hidden_size"], c["num_attention_heads"], c.get("num_key_value_heads") or c["num_attention_heads"]
        s.D = c.get("head_dim") or C // s.H
        s.eps, s.qk = c.get("rms_norm_eps", 1e-6), c["model_type"] == "qwen3"
        bias = c["model_type"] == "qwen2"
        s.q = nn.Linear(C, s.H * s.D, bias=bias)
        s.k, s.v = nn.Linear(C, s.KV * s.D, bias=bias), nn.Linear(C, s.KV * s.D, bias=bias)
        s.o = nn.Linear(s.H * s.D, C, bias=False)
        s.n1, s.n2 = RMSNorm(C, eps=s.eps), RMSNorm(C, eps=s.eps)
        s.qn, s.kn = RMSNorm(s.D, eps=s.eps), RMSNorm(s.D, eps=s.eps)
        F_ = c["intermediate_size"]
        s.gate, s.up, s.down = nn.Linear(C, F_, bias=False), nn.Linear(C, F_, bias=False), nn.Linear(F_, C, bias=False)

    def forward(s, x, cos, sin):
        B, T, C = x.shape
        h = s.n1(x)
        q = s.q(h).view(B, T, s.H, s.D).transpose(1, 2)
        k = s.k(h).view(B, T, s.KV, s.D).transpose(1, 2)
        v = s.v(h).view(B, T, s.KV, s.D).transpose(1, 2)
        if s.qk:
            q, k = s.qn(q), s.kn(k)
        rot = lambda t: torch.cat((-t[..., s.D // 2:], t[..., :s.D // 2]), dim=-1)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = k.repeat_interleave(s.H // s.KV, dim=1), v.repeat_interleave(s.H // s.KV, dim=1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(s.D))   # Debian's torch has no fused attention
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).tril().logical_not(), float("-inf")).softmax(dim=-1)
        y = att @ v
        x = x + s.o(y.transpose(1, 2).reshape(B, T, s.H * s.D))
        h = s.n2(x)
        return x + s.down(F.silu(s.gate(h)) * s.up(h))


class LlamaRewardModel(nn.Module):
    def __init__(s, c):
        super().__init__()
        C = c["hidden_size"]
        s.embed = nn.Embedding(c["vocab_size"], C)
        s.layers = nn.ModuleList(LlamaBlock(c) for _ in range(c["num_hidden_layers"]))
        s.norm = RMSNorm(C, eps=c.get("rms_norm_eps", 1e-6))
        s.score = nn.Linear(C, 1, bias=False)
        D = s.layers[0].D
        s.inv = 1.0 / (float(c.get("rope_theta", 10000.0)) ** (torch.arange(0, D, 2).float() / D))

    def forward(s, idx, last):
        B, T = idx.shape
        f = torch.arange(T).float()[:, None] * s.inv[None, :]
        emb = torch.cat((f, f), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        x = s.embed(idx)
        for b in s.layers:
            x = b(x, cos, sin)
        x = s.norm(x)
        return s.score(x[torch.arange(B), last]).squeeze(-1)   # HF: the last non-pad token


def batches(args):
    rng = np.random.default_rng(1)
    if not args.data:
        idx = torch.from_numpy(rng.integers(0, 256, (2 * args.batch, args.ctx)))
        idx[:, -1] = 256
        last = torch.full((2 * args.batch,), args.ctx - 1)
        while True:
            yield idx, last
    import h5py
    f = h5py.File(args.data, "r")
    seqs = []
    for side in ("chosen", "rejected"):
        tok, off = f[side + "/tokens"][:], f[side + "/offsets"][:]
        seqs.append([tok[off[i]:off[i + 1]] for i in range(len(off) - 1)])
    n, i = len(seqs[0]), 0
    while True:
        rows = []
        for _ in range(args.batch):
            for side in (0, 1):
                rows.append(seqs[side][i % n][-args.ctx:])   # front truncation
            i += 1
        T = max(len(r) for r in rows)
        idx = torch.zeros((len(rows), T), dtype=torch.long)
        for k, r in enumerate(rows):
            idx[k, :len(r)] = torch.from_numpy(r.astype(np.int64))   # right padding
        yield idx, torch.tensor([len(r) - 1 for r in rows])


def main():
    ap = argparse.ArgumentParser()
    for k, v in dict(layers=4, heads=4, embd=256, ctx=256, batch=8, steps=10, threads=1).items():
        ap.add_argument("--" + k, type=int, default=v)
    ap.add_argument("--data")
    ap.add_argument("--model")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    if args.model:
        import json, os
        with open(os.path.join(args.model, "config.json")) as fh:
            c = json.load(fh)
        args.ctx = min(args.ctx, c["max_position_embeddings"])
        model = LlamaRewardModel(c)
    else:
        model = RewardModel(257, args.ctx, args.layers, args.heads, args.embd)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
    it = batches(args)

    def step():
        idx, last = next(it)
        r = model(idx, last).view(-1, 2)
        loss = -F.logsigmoid(r[:, 0] - r[:, 1]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        step()
    t_train, c_train = time.perf_counter() - t0, time.process_time() - c0
    with torch.no_grad():
        it = batches(args)   # the training batches again: 0 untimed (warm-up), then the timed ones
        model(*next(it))
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            idx, last = next(it)
            model(idx, last)
        t_score, c_score = time.perf_counter() - t0, time.process_time() - c0
    n = args.steps * args.batch
    print(f"torch: threads={args.threads} train {1e3 * t_train / args.steps:.1f} ms/step")
    # process CPU time (every thread; at 1 thread the figure a shared machine distorts least)
    print(f"train_pairs_per_s={n / t_train:.3f} score_pairs_per_s={n / t_score:.3f} "
          f"train_pairs_per_cpu_s={n / c_train:.3f} score_pairs_per_cpu_s={n / c_score:.3f}")


if __name__ == "__main__":
    main()
