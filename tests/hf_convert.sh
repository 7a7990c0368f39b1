#!/bin/sh
# tools/hf_to_rmens.py against Hugging Face-style GPT-2 checkpoints made with torch:
#   1. to-rmens of a GPT2ForSequenceClassification state dict ("transformer." keys,
#      attn.bias / attn.masked_bias buffers, score.weight), a GPT2LMHeadModel one
#      (lm_head.weight, no score.weight) and a GPT2Model one (no prefix, no head):
#      every tensor bit-identical, no extra tensor, config attributes right
#   2. to-hf of the converted files: config.json fields, pytorch_model.bin with the
#      "transformer."-prefixed keys (+ score.weight), tensors bit-identical to the
#      originals; to-rmens of that output gives the same tensors again
#   3. rm_driver reads the converted classifier: its rewards match
#      tests/torch_reference.py computed straight from the HF state dict,
#      |c - r| <= 1e-4 * max(|r|, 1e-2); for the language models rm_driver starts a
#      fresh head (std near 0.02), keeps the body unchanged, and its rewards match the
#      reference run with that head
#   4. errors: a wrong-shaped tensor, a missing tensor, an unexpected block, a missing
#      config.json / pytorch_model.bin, a wrong-shaped rmens tensor: exit 1, a message
#      naming the tensor or file, and no output (nor a .tmp) left behind
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
need_python h5py
need_python torch
DRIVER="$top_builddir/tests/rm_driver"
[ -x "$DRIVER" ] || fail "$DRIVER is not built (make tests/rm_driver)"
CONV="$top_srcdir/tools/hf_to_rmens.py"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
conv() { "$PY" "$CONV" "$@"; }
failures=0
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# ------------------------------------------------------------ HF-style checkpoints
"$PY" - "$TMP" <<'EOF' || fail "writing the HF checkpoints"
import json, os, sys
import h5py, numpy as np, torch

d = sys.argv[1]
torch.manual_seed(7)
V, T, L, H, C = 257, 48, 2, 4, 32

def body(prefix):
    sd = {prefix + "wte.weight": 0.3 * torch.randn(V, C), prefix + "wpe.weight": 0.2 * torch.randn(T, C)}
    for i in range(L):
        p = f"{prefix}h.{i}."
        sd[p + "ln_1.weight"] = 1 + 0.1 * torch.randn(C)
        sd[p + "ln_1.bias"] = 0.1 * torch.randn(C)
        sd[p + "attn.bias"] = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)
        sd[p + "attn.masked_bias"] = torch.tensor(-1e4)
        sd[p + "attn.c_attn.weight"] = 0.25 * torch.randn(C, 3 * C)
        sd[p + "attn.c_attn.bias"] = 0.1 * torch.randn(3 * C)
        sd[p + "attn.c_proj.weight"] = 0.2 * torch.randn(C, C)
        sd[p + "attn.c_proj.bias"] = 0.1 * torch.randn(C)
        sd[p + "ln_2.weight"] = 1 + 0.1 * torch.randn(C)
        sd[p + "ln_2.bias"] = 0.1 * torch.randn(C)
        sd[p + "mlp.c_fc.weight"] = 0.25 * torch.randn(C, 4 * C)
        sd[p + "mlp.c_fc.bias"] = 0.1 * torch.randn(4 * C)
        sd[p + "mlp.c_proj.weight"] = 0.15 * torch.randn(4 * C, C)
        sd[p + "mlp.c_proj.bias"] = 0.1 * torch.randn(C)
    sd[prefix + "ln_f.weight"] = 1 + 0.1 * torch.randn(C)
    sd[prefix + "ln_f.bias"] = 0.1 * torch.randn(C)
    return sd

config = {"activation_function": "gelu_new", "attn_pdrop": 0.1, "bos_token_id": 256,
          "embd_pdrop": 0.1, "eos_token_id": 256, "initializer_range": 0.02,
          "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_embd": C, "n_head": H,
          "n_inner": None, "n_layer": L, "n_positions": T, "resid_pdrop": 0.1,
          "scale_attn_weights": True, "use_cache": True, "vocab_size": V}

def save(name, sd, arch, **extra):
    os.makedirs(f"{d}/{name}", exist_ok=True)
    with open(f"{d}/{name}/config.json", "w") as f:
        json.dump(dict(config, architectures=[arch], **extra), f, indent=2)
    torch.save(sd, f"{d}/{name}/pytorch_model.bin")

cls = body("transformer.")
cls["score.weight"] = 0.3 * torch.randn(1, C)
save("cls", cls, "GPT2ForSequenceClassification", num_labels=1, pad_token_id=256)
lm = body("transformer.")
lm["lm_head.weight"] = lm["transformer.wte.weight"]          # tied, as HF saves it
save("lm", lm, "GPT2LMHeadModel")
base = body("")
save("base", base, "GPT2Model")

# broken checkpoints
wrong = dict(cls)
wrong["transformer.h.1.mlp.c_fc.weight"] = wrong["transformer.h.1.mlp.c_fc.weight"].t().contiguous()
save("wrong_shape", wrong, "GPT2ForSequenceClassification")
missing = dict(cls)
del missing["transformer.h.0.ln_2.bias"]
save("missing_key", missing, "GPT2ForSequenceClassification")
extra = dict(cls)
extra["transformer.h.2.ln_1.weight"] = torch.ones(C)
save("extra_block", extra, "GPT2ForSequenceClassification")
os.makedirs(f"{d}/no_config")
torch.save(cls, f"{d}/no_config/pytorch_model.bin")
os.makedirs(f"{d}/no_weights")
with open(f"{d}/no_weights/config.json", "w") as f:
    json.dump(config, f)

# a few pairs: lengths 2..90 with n_ctx 48, both truncation branches
rng = np.random.default_rng(3)
cases = [(0, 2, 3), (5, 12, 30), (20, 70, 40), (10, 80, 50), (30, 48, 49), (0, 90, 10), (46, 48, 48)]
ch, rj, pl = [], [], []
for n, lc, lr in cases:
    pr = rng.integers(0, 256, n)
    ch.append(np.concatenate([pr, rng.integers(0, 256, lc - n - 1), [256]]))
    r = np.concatenate([pr, rng.integers(0, 256, lr - n - 1), [256]])
    if lc == lr:
        r[n] = (ch[-1][n] + 1) % 256
    rj.append(r)
    pl.append(n)
with h5py.File(f"{d}/pairs.h5", "w") as f:
    f.attrs["rmens_format"] = "pairs"
    f.attrs["rmens_version"] = 1
    f.attrs["vocab_size"] = V
    f.attrs["eot_token"] = 256
    f.attrs["tokenizer"] = "bytes"
    for name, seqs in (("chosen", ch), ("rejected", rj)):
        f[name + "/tokens"] = np.concatenate(seqs).astype(np.int32)
        f[name + "/offsets"] = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
    f["prompt_len"] = np.array(pl, np.int32)
EOF
NP=7

# ------------------------------------------------------------ 1. HF -> rmens
for m in cls lm base; do
    conv to-rmens "$TMP/$m" "$TMP/$m.h5" || bad "to-rmens $m"
    [ -e "$TMP/$m.h5.tmp" ] && bad "to-rmens $m left $m.h5.tmp"
done
conv to-rmens "$TMP/cls" "$TMP/cls.h5" >/dev/null 2>&1 && bad "to-rmens replaced an existing file without --force"
conv to-rmens "$TMP/cls" "$TMP/cls.h5" --force >/dev/null || bad "to-rmens --force"

# ------------------------------------------------------------ 2. rmens -> HF -> rmens
for m in cls lm; do
    conv to-hf "$TMP/$m.h5" "$TMP/${m}_back" 2>/dev/null || bad "to-hf $m"
    conv to-rmens "$TMP/${m}_back" "$TMP/${m}_again.h5" >/dev/null || bad "to-rmens ${m}_back"
done

# every tensor of every conversion, bit for bit (one Python process: torch loads slowly)
"$PY" - "$TMP" <<'EOF' || bad "converted tensors or config differ"
import json, sys
import h5py, numpy as np, torch
d = sys.argv[1]
bad = []

def hf_tensors(hf):
    """The HF state dict without buffers and lm_head."""
    sd = torch.load(f"{d}/{hf}/pytorch_model.bin", map_location="cpu")
    return {k: v for k, v in sd.items()
            if not k.endswith((".attn.bias", ".attn.masked_bias")) and not k.startswith("lm_head")}

def same_bits(a, b):
    return a.dtype == b.dtype == np.float32 and a.shape == b.shape and \
        np.array_equal(a.view(np.uint32), b.view(np.uint32))

def check_rmens(hf, model, want_score):
    """model (an rmens file) holds exactly the tensors of hf, bit for bit."""
    cfg = json.load(open(f"{d}/{hf}/config.json"))
    exp = {(k if k.startswith("transformer.") or k == "score.weight" else "transformer." + k): v.numpy()
           for k, v in hf_tensors(hf).items()}
    n0 = len(bad)
    with h5py.File(f"{d}/{model}", "r") as f:
        a = f.attrs
        fmt = a["rmens_format"]
        if (fmt.decode() if isinstance(fmt, bytes) else fmt) != "model" or int(a["rmens_version"]) != 1:
            bad.append(f"{model}: rmens_format/rmens_version")
        for k, ck in (("vocab_size", "vocab_size"), ("n_ctx", "n_positions"), ("n_layer", "n_layer"),
                      ("n_head", "n_head"), ("n_embd", "n_embd")):
            if int(a[k]) != cfg[ck]:
                bad.append(f"{model}: attribute {k} {int(a[k])}, config {cfg[ck]}")
        got = set(f["params"])
        if got != set(exp):
            bad.append(f"{model}: extra tensors {sorted(got - set(exp))}, missing {sorted(set(exp) - got)}")
        for k in sorted(got & set(exp)):
            if f["params/" + k].dtype != np.dtype("<f4") or not same_bits(f["params/" + k][...], exp[k]):
                bad.append(f"{model}: {k} differs from {hf}")
    if ("score.weight" in exp) != want_score:
        bad.append(f"{hf}: score.weight presence")
    if len(bad) == n0:
        print(f"{model}: {len(exp)} tensors bit-identical to {hf}/pytorch_model.bin")

def check_hf(orig, back):
    """to-hf output: config.json fields, keys in order, tensors bit for bit."""
    n0 = len(bad)
    c0, c1 = json.load(open(f"{d}/{orig}/config.json")), json.load(open(f"{d}/{back}/config.json"))
    want = {"model_type": "gpt2", "architectures": ["GPT2ForSequenceClassification"], "num_labels": 1,
            "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "n_inner": None}
    want.update({k: c0[k] for k in ("n_embd", "n_layer", "n_head", "n_positions", "vocab_size")})
    for k, v in want.items():
        if k not in c1 or c1[k] != v:
            bad.append(f"{back}/config.json: {k} = {c1.get(k, '(absent)')!r}, expected {v!r}")
    exp = hf_tensors(orig)
    sd1 = torch.load(f"{d}/{back}/pytorch_model.bin", map_location="cpu")
    if list(sd1) != list(exp):
        bad.append(f"{back}: keys {list(sd1)} differ from {list(exp)}")
    for k, v in exp.items():
        if k not in sd1 or not same_bits(sd1[k].numpy(), v.numpy()):
            bad.append(f"{back}: {k} differs from {orig}")
    if len(bad) == n0:
        print(f"{back}: config.json right, {len(sd1)} tensors bit-identical to {orig}")

for hf, model, score in (("cls", "cls.h5", 1), ("lm", "lm.h5", 0), ("base", "base.h5", 0),
                         ("cls", "cls_again.h5", 1), ("lm", "lm_again.h5", 0)):
    check_rmens(hf, model, score)
check_hf("cls", "cls_back")
check_hf("lm", "lm_back")
for b in bad:
    print("FAIL: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

# ------------------------------------------------------------ 3. rm_driver on converted models
for m in cls lm base; do
    "$DRIVER" "$TMP/$m.h5" "$TMP/pairs.h5" "$TMP/drv_$m.h5" --pairs $NP --steps 0 || bad "rm_driver on $m.h5"
done
"$PY" - "$TMP" "$top_srcdir/tests" $NP <<'EOF' || bad "rm_driver on converted models"
import sys
import h5py, numpy as np, torch
d, tests, B = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, tests)
import torch_reference as R
torch.set_num_threads(1)
bad = []
for m in ("cls", "lm", "base"):
    out = f"{d}/drv_{m}.h5"
    try:
        f = h5py.File(out, "r")
    except OSError:
        bad.append(f"{m}: no driver output")
        continue
    with f, h5py.File(f"{d}/{m}.h5", "r") as mf:
        got = f["rewards"][...].astype(np.float64)
        if m != "cls":      # a language model: rm_driver started a fresh head
            if "score.weight" not in f["params"]:
                bad.append(f"{m}: no score.weight in the driver's parameters")
                continue
            s = f["params/score.weight"][...]
            print(f"{m}: fresh head shape {list(s.shape)}, mean {s.mean():+.4f}, std {s.std():.4f} "
                  "(N(0, 0.02) expected)")
            if s.shape != (1, mf.attrs["n_embd"]) or not np.all(np.isfinite(s)) or \
                    not 0.008 < s.std() < 0.04 or abs(s.mean()) > 0.02:
                bad.append(f"{m}: the fresh head is not N(0, 0.02)-like")
        for k in mf["params"]:      # --steps 0: the body is what the file holds
            if not np.array_equal(mf["params/" + k][...], f["params/" + k][...]):
                bad.append(f"{m}: {k} changed without a step")
    # the reference reads the HF state dict itself (plus the driver's fresh head)
    cfg, params = R.hf_params(f"{d}/{m}", None if m == "cls" else out)
    ref = R.Reference(cfg, params, "float64")
    seqs, _, _ = ref.prepare(R.read_pairs(f"{d}/pairs.h5")[:B])
    with torch.no_grad():
        rc, rr = ref.rewards(seqs)
    r = torch.stack([rc, rr], 1).reshape(-1).numpy()
    if got.shape != r.shape or not np.all(np.isfinite(got)):
        bad.append(f"{m}: {got.size} rewards (finite: {np.all(np.isfinite(got))}), reference {r.size}")
        continue
    err = np.abs(got - r) / np.maximum(np.abs(r), 1e-2)
    print(f"{m}: {r.size} rewards, worst |c - r|/max(|r|, 1e-2) = {err.max():.3e} (limit 1e-4)")
    if not err.max() <= 1e-4:
        i = int(np.argmax(err))
        bad.append(f"{m}: reward {i} = {got[i]:.7g}, reference {r[i]:.7g}")
for b in bad:
    print("FAIL: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

# ------------------------------------------------------------ 4. errors
expect_error() {   # LABEL WORDS-THE-MESSAGE-MUST-CONTAIN OUTPUT -- conv args...
    label=$1; words=$2; out=$3; shift 4
    if conv "$@" >"$TMP/err.out" 2>&1; then bad "$label: accepted"; return; fi
    msg=$(cat "$TMP/err.out")
    for w in $words; do
        case "$msg" in *"$w"*) ;; *) bad "$label: message lacks '$w': $msg"; return ;; esac
    done
    [ -e "$out" ] && bad "$label: left $out"
    [ -e "$out.tmp" ] && bad "$label: left $out.tmp"
    echo "$label rejected: $msg"
}
expect_error "wrong shape" "transformer.h.1.mlp.c_fc.weight [128, 32] [32, 128]" "$TMP/w.h5" -- \
    to-rmens "$TMP/wrong_shape" "$TMP/w.h5"
expect_error "missing tensor" "transformer.h.0.ln_2.bias missing" "$TMP/m.h5" -- \
    to-rmens "$TMP/missing_key" "$TMP/m.h5"
expect_error "extra block" "transformer.h.2.ln_1.weight" "$TMP/e.h5" -- to-rmens "$TMP/extra_block" "$TMP/e.h5"
expect_error "no config.json" "config.json" "$TMP/n.h5" -- to-rmens "$TMP/no_config" "$TMP/n.h5"
expect_error "no pytorch_model.bin" "pytorch_model.bin" "$TMP/n.h5" -- to-rmens "$TMP/no_weights" "$TMP/n.h5"
expect_error "no directory" "nowhere" "$TMP/n.h5" -- to-rmens "$TMP/nowhere" "$TMP/n.h5"
"$PY" - "$TMP/cls.h5" "$TMP/bad.h5" <<'EOF' || fail "writing bad.h5"
import shutil, sys
import h5py, numpy as np
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    del f["params/transformer.ln_f.bias"]
    f["params/transformer.ln_f.bias"] = np.zeros(31, np.float32)
EOF
expect_error "rmens wrong shape" "/params/transformer.ln_f.bias [31] [32]" "$TMP/bad_hf/pytorch_model.bin" -- \
    to-hf "$TMP/bad.h5" "$TMP/bad_hf"
expect_error "rmens missing file" "nothere.h5" "$TMP/x_hf/pytorch_model.bin" -- to-hf "$TMP/nothere.h5" "$TMP/x_hf"

[ "$failures" -eq 0 ] || fail "$failures check(s) failed"
echo "PASS: hf_to_rmens.py converts both ways bit for bit; rm_driver rewards match the reference"
