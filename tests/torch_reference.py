#!/usr/bin/python3
"""Independent PyTorch reference for the rmens reward model (tests/torch_parity.sh,
tests/hf_convert.sh).

Written from docs/FORMAT.md ("model" and "pairs" files, the truncation rule) and the
header comment of tests/rm_driver.c only; no rmens C source was consulted.

  * the model: Hugging Face GPT2ForSequenceClassification (num_labels = 1) in plain
    torch ops: wte + wpe, pre-LayerNorm blocks (eps 1e-5), causal attention with
    n_head heads (scale 1/sqrt(head_dim)), MLP 4C with GELU (tanh approximation),
    ln_f, score (C -> 1, no bias) at the last token of each sequence;
  * each sequence is run on its own: no padding, no batching, ordinary causal
    attention over the whole kept sequence, positions 0 .. len-1;
  * pairs are truncated to n_ctx by the documented front rule (truncate_pair);
  * Bradley-Terry loss  mean_i -logsigmoid(rc_i - rr_i - margin_scale*margin_i)
                        + center * mean_i (rc_i + rr_i)^2;
  * torch.optim.AdamW(betas=(0.9, 0.999), eps=1e-8), weight decay on the 2-D tensors
    only, clip_grad_norm_ before each step, linear warmup then cosine to
    lr*min_lr_frac (lr_at).

Command line (exit 0 ok, 1 failed check, 2 usage):
  torch_reference.py run MODEL.h5 PAIRS.h5 OUT.h5 [rm_driver options] [--dtype float64]
      writes what tests/rm_driver writes (rewards, grads, loss, cut, losses,
      grad_norms, params), computed by the reference
  torch_reference.py compare DRIVER_OUT.h5 REF_OUT.h5 [--label NAME] [tolerances]
      checks the driver's output against the reference's, prints the worst errors
  torch_reference.py hf-rewards HF_DIR PAIRS.h5 OUT.npy --pairs B [--score-from H5]
      rewards of the first B pairs from a Hugging Face state dict (pytorch_model.bin)
"""

import argparse
import json
import math
import os
import sys

import numpy as np


def _torch():
    import torch
    return torch


# ------------------------------------------------------------------ the model

def block_names(i):
    p = f"transformer.h.{i}."
    return [p + s for s in ("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                            "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                            "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")]


def param_shapes(cfg, with_score=True):
    """HF name -> shape, in state-dict order (FORMAT.md, "model" files)."""
    V, T, C, L = cfg["vocab_size"], cfg["n_ctx"], cfg["n_embd"], cfg["n_layer"]
    shapes = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (T, C)}
    for i in range(L):
        n = block_names(i)
        for name, shp in zip(n, [(C,), (C,), (C, 3 * C), (3 * C,), (C, C), (C,), (C,), (C,),
                                 (C, 4 * C), (4 * C,), (4 * C, C), (C,)]):
            shapes[name] = shp
    shapes["transformer.ln_f.weight"] = (C,)
    shapes["transformer.ln_f.bias"] = (C,)
    if with_score:
        shapes["score.weight"] = (1, C)
    return shapes


CFG_KEYS = ("vocab_size", "n_ctx", "n_layer", "n_head", "n_embd")


def load_model_h5(path):
    """(cfg, {name: float32 ndarray}) from an rmens model file."""
    import h5py
    with h5py.File(path, "r") as f:
        fmt = f.attrs["rmens_format"]
        fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
        if fmt != "model":
            raise ValueError(f"{path}: rmens_format is {fmt!r}, not 'model'")
        cfg = {k: int(f.attrs[k]) for k in CFG_KEYS}
        params = {}
        for name in f["params"]:
            params[name] = np.asarray(f["params"][name][...], np.float32)
    return cfg, params


def read_h5_group_tensors(path, group):
    import h5py
    with h5py.File(path, "r") as f:
        return {k: np.asarray(v[...]) for k, v in f[group].items()}


def gelu_tanh(x):
    torch = _torch()
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def reward(P, cfg, tokens):
    """Reward of one sequence (1-D int list/array, len <= n_ctx): a 0-d tensor."""
    torch = _torch()
    F = torch.nn.functional
    C, H = cfg["n_embd"], cfg["n_head"]
    D = C // H
    T = len(tokens)
    assert 1 <= T <= cfg["n_ctx"], T
    idx = torch.as_tensor(np.asarray(tokens, np.int64))
    x = P["transformer.wte.weight"][idx] + P["transformer.wpe.weight"][:T]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        h = F.layer_norm(x, (C,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], 1e-5)
        qkv = h @ P[p + "attn.c_attn.weight"] + P[p + "attn.c_attn.bias"]       # [T, 3C]
        q, k, v = qkv.split(C, dim=1)
        q = q.reshape(T, H, D).transpose(0, 1)                                  # [H, T, D]
        k = k.reshape(T, H, D).transpose(0, 1)
        v = v.reshape(T, H, D).transpose(0, 1)
        att = (q @ k.transpose(1, 2)) / math.sqrt(D)                            # [H, T, T]
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, C)
        x = x + y @ P[p + "attn.c_proj.weight"] + P[p + "attn.c_proj.bias"]
        h = F.layer_norm(x, (C,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], 1e-5)
        h = gelu_tanh(h @ P[p + "mlp.c_fc.weight"] + P[p + "mlp.c_fc.bias"])
        x = x + h @ P[p + "mlp.c_proj.weight"] + P[p + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (C,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], 1e-5)
    return x[T - 1] @ P["score.weight"][0]


# ------------------------------------------------------------------ the data

def read_pairs(path):
    """[(chosen, rejected, prompt_len, margin)] from a pairs file (margin 0 if absent)."""
    import h5py
    with h5py.File(path, "r") as f:
        ct, co = f["chosen/tokens"][...], f["chosen/offsets"][...]
        rt, ro = f["rejected/tokens"][...], f["rejected/offsets"][...]
        pl = f["prompt_len"][...]
        n = len(pl)
        mg = f["margin"][...].astype(np.float64) if "margin" in f else np.zeros(n)
    return [(ct[co[i]:co[i + 1]].astype(np.int64), rt[ro[i]:ro[i + 1]].astype(np.int64),
             int(pl[i]), float(mg[i])) for i in range(n)]


def truncate_pair(ch, rj, pl, n_ctx):
    """FORMAT.md: c = max(lc, lr) - n_ctx; if 0 < c < prompt_len both lose c tokens from
    the front (the prompt shrinks by c); if c >= prompt_len each keeps its own last
    n_ctx tokens and no prompt is shared. Returns (ch, rj, prompt_len, was_cut)."""
    c = max(len(ch), len(rj)) - n_ctx
    if c <= 0:
        return ch, rj, pl, False
    if c < pl:
        return ch[c:], rj[c:], pl - c, True
    return ch[-n_ctx:], rj[-n_ctx:], 0, True


# ------------------------------------------------------------------ loss, optimizer

def bt_loss(rc, rr, margins, margin_scale, center):
    torch = _torch()
    F = torch.nn.functional
    d = rc - rr - margin_scale * margins
    loss = (-F.logsigmoid(d)).mean()
    if center != 0:
        loss = loss + center * ((rc + rr) ** 2).mean()
    return loss


def lr_at(t, lr, warmup, total, min_lr_frac):
    """Learning rate of 0-based step t."""
    if t < warmup:
        return lr * (t + 1) / warmup
    lo = lr * min_lr_frac
    p = 1.0 if total <= warmup else min(1.0, (t - warmup) / (total - warmup))
    return lo + 0.5 * (lr - lo) * (1.0 + math.cos(math.pi * p))


def f32(x):
    """The value the C driver parses with strtof."""
    return float(np.float32(x))


class Reference:
    def __init__(self, cfg, params, dtype="float64"):
        torch = _torch()
        self.cfg = cfg
        self.dt = torch.float64 if dtype == "float64" else torch.float32
        self.P = {k: torch.tensor(np.asarray(v, np.float32), dtype=self.dt).requires_grad_(True)
                  for k, v in params.items()}

    def prepare(self, pairs):
        """Truncated batch: (list of (chosen, rejected)), margins tensor, number cut."""
        torch = _torch()
        seqs, margins, cut = [], [], 0
        for ch, rj, pl, mg in pairs:
            ch2, rj2, _, was = truncate_pair(ch, rj, pl, self.cfg["n_ctx"])
            cut += was
            seqs.append((ch2, rj2))
            margins.append(mg)
        return seqs, torch.tensor(np.array(margins, np.float32), dtype=self.dt), cut

    def rewards(self, seqs):
        torch = _torch()
        rc = torch.stack([reward(self.P, self.cfg, c) for c, _ in seqs])
        rr = torch.stack([reward(self.P, self.cfg, r) for _, r in seqs])
        return rc, rr

    def loss(self, seqs, margins, margin_scale, center):
        rc, rr = self.rewards(seqs)
        return bt_loss(rc, rr, margins, margin_scale, center), rc, rr

    def optimizer(self, wd):
        torch = _torch()
        decay = [p for p in self.P.values() if p.dim() == 2]
        rest = [p for p in self.P.values() if p.dim() != 2]
        return torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                                  {"params": rest, "weight_decay": 0.0}],
                                 lr=0.0, betas=(0.9, 0.999), eps=1e-8)

    def grad_norm(self):
        torch = _torch()
        return float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in self.P.values())))


def dense_grads(P):
    """A reward function may gather embedding rows with sparse gradients (a 50k-row
    vocabulary then costs one dense gradient per pass, not one per sequence): made dense
    for the optimizer and the output."""
    for p in P.values():
        if p.grad is not None and p.grad.is_sparse:
            p.grad = p.grad.to_dense()


def run(model, pairs_path, B, share=1, compact=1, steps=0, lr=0.0, warmup=0, total=0,
        min_lr_frac=0.0, wd=0.0, clip=0.0, margin_scale=0.0, center=0.0, dtype="float64",
        params=None, cfg=None):
    """Everything rm_driver computes (share/compact do not change the mathematics)."""
    torch = _torch()
    if params is None:
        cfg, params = load_model_h5(model)
    ref = Reference(cfg, params, dtype)
    pairs = read_pairs(pairs_path)[:B]
    seqs, margins, cut = ref.prepare(pairs)
    lr, min_lr_frac, wd, clip = f32(lr), f32(min_lr_frac), f32(wd), f32(clip)
    margin_scale, center = f32(margin_scale), f32(center)

    loss0, rc, rr = ref.loss(seqs, margins, margin_scale, center)
    loss0.backward()
    dense_grads(ref.P)
    out = {"rewards": torch.stack([rc, rr], 1).reshape(-1).detach().double().numpy(),
           "loss": float(loss0), "cut": cut,
           "grads": {k: p.grad.detach().double().numpy().copy() for k, p in ref.P.items()}}
    opt = ref.optimizer(wd)
    params_list = list(ref.P.values())
    losses, norms = [], []
    for t in range(steps):
        opt.zero_grad(set_to_none=False)
        loss, _, _ = ref.loss(seqs, margins, margin_scale, center)
        loss.backward()
        dense_grads(ref.P)
        losses.append(float(loss))
        if clip > 0:
            norms.append(float(torch.nn.utils.clip_grad_norm_(params_list, max_norm=clip)))
        else:
            norms.append(ref.grad_norm())
        for g in opt.param_groups:
            g["lr"] = lr_at(t, lr, warmup, total, min_lr_frac)
        opt.step()
    out["clip"] = clip
    out["lr_sum"] = sum(lr_at(t, lr, warmup, total, min_lr_frac) for t in range(steps))
    out["losses"] = np.array(losses, np.float64)
    out["grad_norms"] = np.array(norms, np.float64)
    out["params"] = {k: p.detach().double().numpy().copy() for k, p in ref.P.items()}
    return out


def write_out(path, out):
    import h5py
    with h5py.File(path, "w") as f:
        f["rewards"] = out["rewards"]
        f.attrs["loss"] = out["loss"]
        f.attrs["cut"] = out["cut"]
        f.attrs["lr_sum"] = out["lr_sum"]
        f.attrs["clip"] = out["clip"]
        f["losses"] = out["losses"]
        f["grad_norms"] = out["grad_norms"]
        for g in ("grads", "params"):
            for k, v in out[g].items():
                f[f"{g}/{k}"] = v


def read_out(path):
    import h5py
    with h5py.File(path, "r") as f:
        o = {"rewards": f["rewards"][...].astype(np.float64), "loss": float(f.attrs["loss"]),
             "cut": int(f.attrs["cut"]), "lr_sum": float(f.attrs.get("lr_sum", 0.0)),
             "clip": float(f.attrs.get("clip", 0.0)),
             "losses": f["losses"][...].astype(np.float64) if "losses" in f else np.zeros(0),
             "grad_norms": f["grad_norms"][...].astype(np.float64) if "grad_norms" in f else np.zeros(0)}
        for g in ("grads", "params"):
            o[g] = {k: v[...].astype(np.float64) for k, v in f[g].items()} if g in f else {}
    return o


# ------------------------------------------------------------------ comparison

def rel_err(a, b, floor):
    """max |a-b| / max(|b|, floor), elementwise."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


def compare(got, ref, label, tol):
    """A list of failure strings; prints the worst error of every quantity."""
    bad = []

    def check(what, err, limit):
        flag = "ok" if err <= limit else "FAIL"
        print(f"  {label:<14} {what:<34} worst {err:.3e}  (limit {limit:.0e}) {flag}")
        if not err <= limit:     # NaN fails too
            bad.append(f"{label}: {what} error {err:.3e} > {limit:.0e}")

    if got["rewards"].shape != ref["rewards"].shape:
        return [f"{label}: {got['rewards'].size} rewards, reference {ref['rewards'].size}"]
    check("rewards |d|/max(|r|,1e-2)", rel_err(got["rewards"], ref["rewards"], 1e-2), tol["rewards"])
    check("loss |d|/max(|l|,1e-2)", rel_err(got["loss"], ref["loss"], 1e-2), tol["loss"])
    if got["cut"] != ref["cut"]:
        bad.append(f"{label}: cut {got['cut']}, reference {ref['cut']}")
    print(f"  {label:<14} {'cut':<34} driver {got['cut']}, reference {ref['cut']}")

    # gradients: per tensor, max|d| / max|g_ref| of that tensor (at least 1e-3 of the
    # largest gradient of all, for tensors whose gradient is exactly zero in theory)
    missing = sorted(set(ref["grads"]) ^ set(got["grads"]))
    if missing:
        bad.append(f"{label}: gradient tensors differ in name: {missing[:5]}")
    gfloor = 1e-3 * max([float(np.max(np.abs(v))) for v in ref["grads"].values()] + [0.0])
    worst, wname = 0.0, ""
    for k in ref["grads"]:
        if k not in got["grads"]:
            continue
        g, r = got["grads"][k], ref["grads"][k]
        if g.shape != r.shape:
            bad.append(f"{label}: grad {k} shape {g.shape}, reference {r.shape}")
            continue
        scale = max(float(np.max(np.abs(r))), gfloor, 1e-30)
        e = float(np.max(np.abs(g - r))) / scale
        if not e <= tol["grads"]:
            bad.append(f"{label}: grad {k} error {e:.3e} of max|g| {scale:.3e}")
        if not e <= worst:
            worst, wname = e, k
    print(f"  {label:<14} {'grads |d|/max|g| per tensor':<34} worst {worst:.3e}  (limit "
          f"{tol['grads']:.0e}) {'ok' if worst <= tol['grads'] else 'FAIL'}  [{wname}]")

    if len(got["losses"]) != len(ref["losses"]):
        bad.append(f"{label}: {len(got['losses'])} losses, reference {len(ref['losses'])}")
    else:
        check("losses |d|/max(|l|,1e-2)", rel_err(got["losses"], ref["losses"], 1e-2), tol["losses"])
        check("grad norms |d|/|n|", rel_err(got["grad_norms"], ref["grad_norms"], 1e-12), tol["norms"])
        n = ref["grad_norms"]
        if len(n):
            clipped = int(np.sum(n > ref["clip"])) if ref["clip"] > 0 else 0
            print(f"  {label:<14} {'grad norm':<34} {n[0]:.3g} -> {n[-1]:.3g}, clipped in "
                  f"{clipped} of {len(n)} steps; loss {ref['losses'][0]:.4f} -> {ref['losses'][-1]:.4f}")

    # parameters after the steps, per element. AdamW moves a coordinate by about lr per
    # step whatever its gradient's size, so the scale is S = sum_t lr_t. Coordinates whose
    # first reference gradient is below 1e-6 of the largest (structurally zero: the key
    # part of c_attn.bias, whose gradient vanishes because softmax ignores a shift shared
    # by all keys; ln_f.bias when the two rewards' gradients cancel) see only float32
    # rounding noise in the driver, which Adam scales up to a step of up to
    # lr*(1-beta1)/sqrt(1-beta2) = 3.16 lr (Kingma & Ba, sec. 2.1): for them only
    # |c - r| <= 3.2 S is required; all others need |c - r| <= tol * S. Coordinates
    # whose first gradient is exactly 0 in both (rows of wte and wpe that no kept token
    # uses) are held to the strict bound: only weight decay moves them.
    NOISE = 3.2
    S = ref["lr_sum"]
    gmax = max([float(np.max(np.abs(v))) for v in ref["grads"].values()] + [0.0])
    worst, wname, nworst, nname, nnoise = 0.0, "", 0.0, "", 0
    for k in ref["params"]:
        if k not in got["params"]:
            bad.append(f"{label}: no parameter {k} in the driver output")
            continue
        g, r = got["params"][k], ref["params"][k]
        if g.shape != r.shape:
            bad.append(f"{label}: param {k} shape {g.shape}, reference {r.shape}")
            continue
        if S <= 0:
            e = float(np.max(np.abs(g - r)))
            if not e <= 1e-7 * max(float(np.max(np.abs(r))), 1.0):
                bad.append(f"{label}: param {k} changed by {e:.3e} without any step")
            continue
        gr, gc = ref["grads"][k], got["grads"][k]
        noise = (np.abs(gr) <= 1e-6 * gmax) & ((gr != 0) | (gc != 0))
        nnoise += int(noise.sum())
        d = np.abs(g - r) / S
        e = float(np.max(np.where(noise, 0.0, d)))
        n = float(np.max(np.where(noise, d, 0.0)))
        if not e <= tol["params"]:
            i = np.unravel_index(np.argmax(np.where(noise, 0.0, d)), d.shape)
            bad.append(f"{label}: param {k}{list(i)} = {g[i]:.7g}, reference {r[i]:.7g}"
                       f" (error {e:.3e} of sum(lr) {S:.3e})")
        if not n <= NOISE:
            bad.append(f"{label}: param {k} (zero-gradient coordinates) error {n:.3e} of sum(lr)")
        if not e <= worst:
            worst, wname = e, k
        if not n <= nworst:
            nworst, nname = n, k
    if S > 0:
        print(f"  {label:<14} {'params |d|/sum(lr)':<34} worst {worst:.3e}  (limit "
              f"{tol['params']:.0e}) {'ok' if worst <= tol['params'] else 'FAIL'}  [{wname}]")
        print(f"  {label:<14} {'  zero-grad coords (%d)' % nnoise:<34} worst {nworst:.3e}  (limit "
              f"{NOISE:.1f}) {'ok' if nworst <= NOISE else 'FAIL'}  [{nname}]")
    return bad


# ------------------------------------------------------------------ HF state dicts

def hf_params(hf_dir, score_from=None):
    """(cfg, params) straight from a Hugging Face GPT-2 directory (config.json,
    pytorch_model.bin), keys normalised to 'transformer.'-prefixed names; buffers and
    lm_head dropped. score.weight may come from another rmens file (score_from's /params)."""
    torch = _torch()
    with open(os.path.join(hf_dir, "config.json")) as fh:
        c = json.load(fh)
    cfg = {"vocab_size": c["vocab_size"], "n_ctx": c.get("n_positions", c.get("n_ctx")),
           "n_layer": c["n_layer"], "n_head": c["n_head"], "n_embd": c["n_embd"]}
    sd = torch.load(os.path.join(hf_dir, "pytorch_model.bin"), map_location="cpu")
    params = {}
    for k, v in sd.items():
        if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias") or k.startswith("lm_head"):
            continue
        if k != "score.weight" and not k.startswith("transformer."):
            k = "transformer." + k
        params[k] = v.detach().float().numpy()
    if score_from is not None:
        import h5py
        with h5py.File(score_from, "r") as f:
            params["score.weight"] = np.asarray(f["params/score.weight"][...], np.float32)
    return cfg, params


# ------------------------------------------------------------------ command line

def add_driver_opts(ap):
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--share", type=int, default=1)
    ap.add_argument("--compact", type=int, default=1)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.0)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--total", type=int, default=0)
    ap.add_argument("--min-lr-frac", type=float, default=0.0)
    ap.add_argument("--wd", type=float, default=0.0)
    ap.add_argument("--clip", type=float, default=0.0)
    ap.add_argument("--margin-scale", type=float, default=0.0)
    ap.add_argument("--center", type=float, default=0.0)


def main(argv):
    ap = argparse.ArgumentParser(prog="torch_reference.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("model")
    r.add_argument("pairs_file")
    r.add_argument("out")
    r.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    r.add_argument("--threads", type=int, default=1)
    add_driver_opts(r)
    c = sub.add_parser("compare")
    c.add_argument("got")
    c.add_argument("ref")
    c.add_argument("--label", default="")
    c.add_argument("--tol-rewards", type=float, default=1e-4)
    c.add_argument("--tol-loss", type=float, default=1e-4)
    c.add_argument("--tol-grads", type=float, default=1e-3)
    c.add_argument("--tol-losses", type=float, default=1e-3)
    c.add_argument("--tol-norms", type=float, default=1e-3)
    c.add_argument("--tol-params", type=float, default=1e-2)
    h = sub.add_parser("hf-rewards")
    h.add_argument("hf_dir")
    h.add_argument("pairs_file")
    h.add_argument("out")
    h.add_argument("--pairs", type=int, default=4)
    h.add_argument("--score-from")
    h.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    a = ap.parse_args(argv)

    if a.cmd == "run":
        torch = _torch()
        torch.set_num_threads(a.threads)
        out = run(a.model, a.pairs_file, a.pairs, a.share, a.compact, a.steps, a.lr, a.warmup,
                  a.total, a.min_lr_frac, a.wd, a.clip, a.margin_scale, a.center, a.dtype)
        write_out(a.out, out)
        return 0
    if a.cmd == "compare":
        tol = {"rewards": a.tol_rewards, "loss": a.tol_loss, "grads": a.tol_grads,
               "losses": a.tol_losses, "norms": a.tol_norms, "params": a.tol_params}
        bad = compare(read_out(a.got), read_out(a.ref), a.label, tol)
        for b in bad[:12]:
            print("FAIL: " + b, file=sys.stderr)
        if len(bad) > 12:
            print(f"FAIL: ... and {len(bad) - 12} more", file=sys.stderr)
        return 1 if bad else 0
    if a.cmd == "hf-rewards":
        torch = _torch()
        torch.set_num_threads(1)
        cfg, params = hf_params(a.hf_dir, a.score_from)
        ref = Reference(cfg, params, a.dtype)
        seqs, _, _ = ref.prepare(read_pairs(a.pairs_file)[:a.pairs])
        with torch.no_grad():
            rc, rr = ref.rewards(seqs)
        np.save(a.out, torch.stack([rc, rr], 1).reshape(-1).double().numpy())
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
