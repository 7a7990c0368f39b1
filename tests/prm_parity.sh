#!/bin/sh
# The per-step head of a process reward model (tests/rm_driver on a steps file) against
# an independent PyTorch reference (tests/prm_torch.py): a random GPT-2 model (V 257,
# n_ctx 32, 2 layers, 2 heads, C 16) and a steps file written with h5py here (solutions of
# 4 to 50 tokens, some cut to the context with steps lost to the cut, hard, soft and
# unlabelled labels); logits, loss and every tensor's gradient, under the compact last
# layer and without it.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
need_python h5py
need_python torch
DRIVER="$top_builddir/tests/rm_driver"
[ -x "$DRIVER" ] || fail "$DRIVER is not built (make tests/rm_driver)"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
"$PY" - "$TMP" <<'PY' || fail "writing the model and steps files"
import sys, zlib
import h5py, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(20261207)
V, T, L, H, C = 257, 32, 2, 2, 16
with h5py.File(d + "/model.h5", "w") as f:
    for k, v in dict(rmens_format="model", rmens_version=1, vocab_size=V, n_ctx=T, n_layer=L, n_head=H, n_embd=C).items():
        f.attrs[k] = v
    shapes = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (T, C),
              "transformer.ln_f.weight": (C,), "transformer.ln_f.bias": (C,), "score.weight": (1, C)}
    for i in range(L):
        p = "transformer.h.%d." % i
        for n, s in [("ln_1.weight", (C,)), ("ln_1.bias", (C,)), ("attn.c_attn.weight", (C, 3 * C)),
                     ("attn.c_attn.bias", (3 * C,)), ("attn.c_proj.weight", (C, C)), ("attn.c_proj.bias", (C,)),
                     ("ln_2.weight", (C,)), ("ln_2.bias", (C,)), ("mlp.c_fc.weight", (C, 4 * C)),
                     ("mlp.c_fc.bias", (4 * C,)), ("mlp.c_proj.weight", (4 * C, C)), ("mlp.c_proj.bias", (C,))]:
            shapes[p + n] = s
    for n, s in shapes.items():
        v = rng.normal(0, 0.3, s).astype(np.float32)
        if n.endswith("ln_1.weight") or n.endswith("ln_2.weight") or n.endswith("ln_f.weight"):
            v += 1
        f["params/" + n] = v
toks, offs, so, se, sl, pl = [], [0], [0], [], [], []
for i, (n, p, k) in enumerate([(4, 1, 1), (12, 3, 3), (31, 5, 4), (32, 0, 6), (33, 4, 5), (50, 10, 6), (45, 30, 3)]):
    seq = list(rng.integers(0, 256, n - 1)) + [256]
    ends = sorted(rng.choice(np.arange(p + 1, n), size=min(k, n - 1 - p), replace=False).tolist())
    for e in ends:
        u = rng.random()
        sl.append(-1.0 if u < 0.2 else float(rng.integers(0, 2)) if u < 0.7 else round(float(rng.random()), 3))
    toks += seq; offs.append(len(toks)); se += ends; so.append(len(se)); pl.append(p)
with h5py.File(d + "/steps.h5", "w") as f:
    for k, v in dict(rmens_format="steps", rmens_version=1, vocab_size=V, eot_token=256, tokenizer="bytes").items():
        f.attrs[k] = v
    f["steps/tokens"] = np.asarray(toks, np.int32); f["steps/offsets"] = np.asarray(offs, np.int64)
    f["steps/step_offsets"] = np.asarray(so, np.int64); f["steps/step_end"] = np.asarray(se, np.int32)
    f["steps/step_label"] = np.asarray(sl, np.float32); f["prompt_len"] = np.asarray(pl, np.int32)
PY
"$top_builddir/rmens" info "$TMP/steps.h5" >/dev/null || fail "the steps file written with h5py is refused"
for compact in 1 0; do
    "$DRIVER" "$TMP/model.h5" "$TMP/steps.h5" "$TMP/out$compact.h5" --pairs 7 --compact $compact >/dev/null ||
        fail "rm_driver on the steps file (compact $compact)"
    "$PY" "$top_srcdir/tests/prm_torch.py" "$TMP/model.h5" "$TMP/steps.h5" "$TMP/out$compact.h5" 7 ||
        fail "per-step head differs from the PyTorch reference (compact $compact)"
done
echo "PASS: prm_parity"
