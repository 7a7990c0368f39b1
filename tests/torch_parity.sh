#!/bin/sh
# The C reward model (tests/rm_driver) against an independent PyTorch reference
# (tests/torch_reference.py, written from docs/FORMAT.md and the driver's header only).
#
# A random GPT-2 reward model (V 257, n_ctx 64, 2 layers, 2 heads, C 32) and a pairs file
# with hand-picked lengths (prompt_len 0 .. 63, sequences 2 .. 100, both truncation
# branches and their boundary c = prompt_len) are written with h5py; the driver runs on
# them under --share 0/1 x --compact 0/1 with different margin/centering/optimizer
# settings, and every run is compared with the float64 reference:
#   rewards           |c - r| <= 1e-4 * max(|r|, 1e-2)        (each of the 2B rewards)
#   first loss        |c - r| <= 1e-4 * max(|r|, 1e-2)
#   gradients         max|c - r| <= 1e-3 * max(max|r|, 1e-3 * G) (per tensor, all tensors;
#                     G = the largest |gradient| of any tensor, for gradients that are
#                     exactly zero in theory, e.g. ln_f.bias when --center 0)
#   10 losses         |c - r| <= 1e-3 * max(|r|, 1e-2)          (each step)
#   grad norms        |c - r| <= 1e-3 * |r|                     (pre-clip, each step)
#   params, 10 steps  |c - r| <= 1e-2 * S, S = sum of the 10 learning rates (AdamW moves
#                     each coordinate by about lr per step), per element; coordinates
#                     whose reference gradient is below 1e-6 * G, but not exactly 0 in both
#                     (structurally zero in theory: the key part of c_attn.bias, where the
#                     driver's float32 rounding noise is scaled up by Adam to steps of up
#                     to 3.16 lr) only |c - r| <= 3.2 S
#   cut               equal to the reference's count of truncated pairs
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
need_python h5py
need_python torch
DRIVER="$top_builddir/tests/rm_driver"
[ -x "$DRIVER" ] || fail "$DRIVER is not built (make tests/rm_driver)"
REF="$top_srcdir/tests/torch_reference.py"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

"$PY" - "$TMP" <<'EOF' || fail "writing the model and pairs files"
import sys
import h5py, numpy as np

d = sys.argv[1]
rng = np.random.default_rng(20240611)
V, T, L, H, C = 257, 64, 2, 2, 32

def mat(*shape, std=0.25):
    return (std * rng.standard_normal(shape)).astype(np.float32)

with h5py.File(d + "/model.h5", "w") as f:
    f.attrs["rmens_format"] = "model"
    f.attrs["rmens_version"] = 1
    for k, v in (("vocab_size", V), ("n_ctx", T), ("n_layer", L), ("n_head", H), ("n_embd", C)):
        f.attrs[k] = v
    f.attrs["architecture"] = "GPT2ForSequenceClassification"
    f.attrs["tokenizer"] = "bytes"
    p = {"transformer.wte.weight": mat(V, C, std=0.3), "transformer.wpe.weight": mat(T, C, std=0.2)}
    for i in range(L):
        b = f"transformer.h.{i}."
        p[b + "ln_1.weight"] = 1 + mat(C, std=0.1)
        p[b + "ln_1.bias"] = mat(C, std=0.1)
        p[b + "attn.c_attn.weight"] = mat(C, 3 * C)
        p[b + "attn.c_attn.bias"] = mat(3 * C, std=0.1)
        p[b + "attn.c_proj.weight"] = mat(C, C, std=0.2)
        p[b + "attn.c_proj.bias"] = mat(C, std=0.1)
        p[b + "ln_2.weight"] = 1 + mat(C, std=0.1)
        p[b + "ln_2.bias"] = mat(C, std=0.1)
        p[b + "mlp.c_fc.weight"] = mat(C, 4 * C)
        p[b + "mlp.c_fc.bias"] = mat(4 * C, std=0.1)
        p[b + "mlp.c_proj.weight"] = mat(4 * C, C, std=0.15)
        p[b + "mlp.c_proj.bias"] = mat(C, std=0.1)
    p["transformer.ln_f.weight"] = 1 + mat(C, std=0.1)
    p["transformer.ln_f.bias"] = mat(C, std=0.1)
    p["score.weight"] = mat(1, C, std=0.3)
    for k, v in p.items():
        f["params/" + k] = v

# (prompt_len, len(chosen), len(rejected)) with n_ctx 64; c = max(lc, lr) - 64
cases = [
    (0, 2, 3),        # no prompt, shortest sequences
    (5, 10, 40),
    (30, 31, 33),     # a one-token response
    (50, 80, 70),     # c = 16 < 50: both cut by 16, prompt 34 left
    (20, 90, 30),     # c = 26 >= 20: own last 64 each (rejected kept whole)
    (0, 100, 100),    # c = 36 >= 0
    (36, 100, 60),    # c = 36 = prompt_len: the second branch
    (37, 100, 45),    # c = 36 < 37: the first branch, one prompt token left
    (10, 64, 64),     # exactly n_ctx: not cut
    (10, 65, 20),     # c = 1 < 10
    (63, 64, 65),     # c = 1 < 63, prompt 62 left
    (1, 2, 100),      # c = 36 >= 1, chosen kept whole
    (60, 99, 100),    # c = 36 < 60
    (0, 64, 65),      # c = 1 >= 0, no prompt
    (12, 47, 13),
    (3, 70, 71),      # c = 7 >= 3
]
chosen, rejected, pl = [], [], []
for k, (n, lc, lr) in enumerate(cases):
    prompt = rng.integers(0, 256, n)
    body = lambda m: np.concatenate([prompt, rng.integers(0, 256, m - n - 1), [256]])
    c, r = body(lc), body(lr)
    if lc == lr and k % 2:
        r[n] = (c[n] + 1) % 256     # responses differ from their first token
    chosen.append(c)
    rejected.append(r)
    pl.append(n)
margin = rng.uniform(-1, 3, len(cases)).astype(np.float32)
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
    f["margin"] = margin
print(f"wrote a {L}-layer model (C {C}, n_ctx {T}) and {len(cases)} pairs")
EOF

B=16
failures=0
# label share compact margin-scale center lr warmup total min-lr-frac wd clip
run() {
    label=$1
    opts="--pairs $B --share $2 --compact $3 --margin-scale $4 --center $5 --steps 10 \
--lr $6 --warmup $7 --total $8 --min-lr-frac $9 --wd ${10} --clip ${11}"
    # shellcheck disable=SC2086
    "$DRIVER" "$TMP/model.h5" "$TMP/pairs.h5" "$TMP/c_$label.h5" $opts >"$TMP/drv.log" 2>&1 ||
        { cat "$TMP/drv.log" >&2; echo "FAIL: rm_driver $label: $opts" >&2; failures=$((failures + 1)); return; }
    # shellcheck disable=SC2086
    "$PY" "$REF" run "$TMP/model.h5" "$TMP/pairs.h5" "$TMP/r_$label.h5" $opts ||
        { echo "FAIL: reference $label" >&2; failures=$((failures + 1)); return; }
    echo "$label: $opts"
    "$PY" "$REF" compare "$TMP/c_$label.h5" "$TMP/r_$label.h5" --label "$label" \
        --tol-rewards 1e-4 --tol-loss 1e-4 --tol-grads 1e-3 --tol-losses 1e-3 \
        --tol-norms 1e-3 --tol-params 1e-2 || failures=$((failures + 1))
}

#   label         share compact ms  center lr    warmup total minfrac wd   clip
run s0c0          0     0       0   0      3e-3  3      10    0.1     0.1  0.5
run s1c0          1     0       0.5 0.01   2e-3  0      10    0       0.05 0
run s0c1          0     1       1   0.1    3e-3  2      6     0.2     0.01 100
run s1c1          1     1       0.3 0.05   1e-3  4      4     0.1     0.1  1

[ "$failures" -eq 0 ] || fail "$failures run(s) differ from the PyTorch reference"
echo "PASS: rm_driver matches the PyTorch reference in 4 configurations"
