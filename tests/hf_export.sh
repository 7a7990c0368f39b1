#!/bin/sh
# Hugging Face directories in (train --init DIR, score --ckpt DIR) and out (rmens export),
# against the independent reference tests/hf_reference.py (safetensors parsed in Python,
# the network of tests/llama_reference.py, the reward read where transformers'
# *ForSequenceClassification reads it given the exported pad_token_id):
#   1. a Qwen3ForSequenceClassification fixture (BF16, one label): rmens score's rewards
#      equal the reference's (|c - r| <= 1e-4 max(|r|, 1e-2)): its score head is loaded;
#   2. a Qwen2ForCausalLM fixture (untied lm_head, 2 shards, F16): 2 members trained from
#      it on 2 ranks, exported with --all; each exported member run by the reference gives
#      the checkpoint's per-member rewards (same bound); `score --ckpt DIR` and
#      `train --init DIR` (lr 1e-12, one step) give them again (1e-5);
#   3. an ensemble trained from scratch (GPT-2, no config.json kept): its export's
#      config.json is written from the model's config, and the reference agrees again;
#   4. a GPTNeoXForCausalLM fixture (embed_out, old buffers): 2 members trained from it,
#      exported, each run by the reference's GPT-NeoX network (same bound), and
#      `score --ckpt` of an exported member gives its rewards again (1e-5).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
need_python h5py
need_python torch
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$TMP" || fail "no scratch directory"
FX="$top_srcdir/tests/hf_fixtures.py"
N=10   # pairs the reference recomputes

"$RMENS" synth --task sort --split train --n 200 --seed 1 --out train.h5 >synth.log 2>&1 || { cat synth.log; fail "synth"; }
"$RMENS" synth --task sort --split test --n 30 --seed 2 --out test.h5 >synth.log 2>&1 || { cat synth.log; fail "synth"; }

# compare GOT.h5 COLUMN REF.npy LABEL TOL: per-member rewards of a score file against the reference's
compare() {
    "$PY" - "$@" <<'EOF2' || fail "$4: rewards differ"
import sys
import h5py, numpy as np
got, col, ref, label, tol = sys.argv[1], int(sys.argv[2]), np.load(sys.argv[3]), sys.argv[4], float(sys.argv[5])
with h5py.File(got) as s:
    c = np.stack([s["chosen/rewards"][:len(ref), col], s["rejected/rewards"][:len(ref), col]], axis=1)
err = float(np.max(np.abs(c - ref) / np.maximum(np.abs(ref), 1e-2)))
print(f"{label}: {ref.size} rewards, worst relative error {err:.2e} (limit {tol:g}); rewards {ref.min():.3f} .. {ref.max():.3f}")
assert err <= tol, err
assert np.ptp(ref) > 1e-3, "the rewards do not depend on the input: the check cannot fail"
EOF2
}

# ---- 1. a classifier's score head is loaded
"$PY" "$FX" tiny rm --arch qwen3 --seq-cls --dtype BF16 --vocab 280 --seed 3 || fail "fixture rm"
"$RMENS" score --ckpt rm --data test.h5 --per-member --normalize none --out rm_scores.h5 >score.log 2>&1 ||
    { cat score.log; fail "rmens score --ckpt a Qwen3ForSequenceClassification directory"; }
"$PY" "$top_srcdir/tests/hf_reference.py" rewards rm test.h5 $N rm_ref.npy || fail "reference on rm"
compare rm_scores.h5 0 rm_ref.npy "Qwen3ForSequenceClassification fixture, score head loaded" 1e-4

# ---- 2. train --init a causal LM on 2 ranks, export, reference, back in
"$PY" "$FX" tiny lm --arch qwen2 --lm-head --dtype F16 --shards 2 --vocab 300 --seed 4 || fail "fixture lm"
mpirun_np 2 "$RMENS" train --init lm --data train.h5 --val test.h5 --members 2 --steps 20 --lr 1e-3 \
    --out ens.h5 >train.log 2>&1 || { cat train.log; fail "rmens train --init a Qwen2ForCausalLM directory"; }
# the fresh heads are drawn per member: one rank gives the same members bit for bit
"$RMENS" train --init lm --data train.h5 --val test.h5 --members 2 --steps 20 --lr 1e-3 --out ens1.h5 >train1.log 2>&1 ||
    { cat train1.log; fail "rmens train --init lm on one rank"; }
"$PY" - <<'EOF2' || fail "members differ between 1 and 2 ranks"
import h5py, numpy as np
with h5py.File("ens.h5") as a, h5py.File("ens1.h5") as b:
    for k in ("000", "001"):
        pa, pb = a[f"members/{k}/params"], b[f"members/{k}/params"]
        assert set(pa) == set(pb)
        for n in pa:
            assert np.array_equal(pa[n][...], pb[n][...]), (k, n)
    assert not np.array_equal(a["members/000/params/score.weight"][...], a["members/001/params/score.weight"][...])
print("members trained from lm on 1 and 2 ranks are bit-identical; the two fresh heads differ")
EOF2
"$RMENS" score --ckpt ens.h5 --data test.h5 --per-member --normalize none --out ens_scores.h5 >score.log 2>&1 ||
    { cat score.log; fail "rmens score ens.h5"; }
"$RMENS" info lm >info.log 2>&1 && grep -q "lm: Hugging Face model directory (read as Qwen2ForSequenceClassification" info.log &&
    grep -q "score head       absent" info.log || { cat info.log; fail "rmens info lm"; }
"$RMENS" info ens.h5 >info.log 2>&1 && grep -q "init             .*/lm (its config.json is kept" info.log ||
    { cat info.log; fail "rmens info ens.h5 does not name the --init directory"; }
"$RMENS" export --ckpt ens.h5 --all --out ex >export.log 2>&1 || { cat export.log; fail "rmens export --all"; }
cat export.log
for k in 0 1; do
    [ -f ex/member-$k/config.json ] && [ -f ex/member-$k/model.safetensors ] || fail "ex/member-$k is incomplete"
    "$PY" "$top_srcdir/tests/hf_reference.py" rewards ex/member-$k test.h5 $N ex$k.npy || fail "reference on ex/member-$k"
    compare ens_scores.h5 $k ex$k.npy "exported member $k (Qwen2ForSequenceClassification) vs rmens" 1e-4
done
"$PY" - "$top_srcdir/tests" <<'EOF2' || fail "the exported files"
import json, h5py, numpy as np, sys
sys.path.insert(0, "ex")
with h5py.File("ens.h5") as f:
    src = json.loads(f.attrs["hf_config"])
    init = open("lm/config.json").read()
assert src == json.loads(init), "the checkpoint's config text is not the --init directory's config.json"
for k in (0, 1):
    c = json.load(open(f"ex/member-{k}/config.json"))
    assert c["architectures"] == ["Qwen2ForSequenceClassification"], c["architectures"]
    assert c.get("num_labels", len(c["id2label"])) == 1 and len(c["id2label"]) == 1
    assert c["pad_token_id"] == 257, c["pad_token_id"]   # the first id past the byte tokenizer's 257
    assert c["torch_dtype"] == "float32"
    for key in ("hidden_size", "num_key_value_heads", "intermediate_size", "rope_theta", "vocab_size"):
        assert c[key] == src[key], key
    sys.path.insert(0, sys.argv[1])
    import hf_fixtures as hx
    names = set(hx.parse_st(f"ex/member-{k}/model.safetensors")[0])
    want = set(n for n in __import__("hf_reference").load_dir("lm")[1] if not n.startswith("lm_head")) | {"score.weight"}
    assert names == want, sorted(names ^ want)
    with h5py.File("ens.h5") as f:
        assert names == set(f["members/000/params"]), "checkpoint and export name the tensors differently"
print("exported: Qwen2ForSequenceClassification, one label, pad 257, every backbone field kept; tensors = the checkpoint's HF names, no lm_head")
EOF2
"$RMENS" score --ckpt ex/member-1 --data test.h5 --per-member --normalize none --out back1.h5 >score.log 2>&1 ||
    { cat score.log; fail "rmens score --ckpt ex/member-1"; }
"$RMENS" train --init ex/member-1 --data train.h5 --members 1 --steps 1 --lr 1e-12 --out back.h5 >train2.log 2>&1 ||
    { cat train2.log; fail "rmens train --init ex/member-1"; }
"$RMENS" score --ckpt back.h5 --data test.h5 --per-member --normalize none --out back2.h5 >score.log 2>&1 ||
    { cat score.log; fail "rmens score back.h5"; }
"$PY" - <<'EOF2' || fail "the export read back"
import h5py, numpy as np
with h5py.File("ens_scores.h5") as a, h5py.File("back1.h5") as b, h5py.File("back2.h5") as c:
    for side in ("chosen", "rejected"):
        want = a[f"{side}/rewards"][:, 1]
        for name, f in (("score --ckpt ex/member-1", b), ("train --init ex/member-1 (lr 1e-12)", c)):
            got = f[f"{side}/rewards"][:, 0]
            err = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-2)))
            assert err <= 1e-5, (name, side, err)
print("score --ckpt ex/member-1 and train --init ex/member-1 give member 1's rewards again (within 1e-5)")
EOF2

# ---- 3. from scratch (GPT-2): config.json written from the model's config
"$RMENS" train --data train.h5 --members 1 --steps 10 --layers 2 --heads 2 --embd 32 --ctx 128 \
    --out scratch.h5 >train3.log 2>&1 || { cat train3.log; fail "train from scratch"; }
"$RMENS" score --ckpt scratch.h5 --data test.h5 --per-member --normalize none --out scratch_scores.h5 >score.log 2>&1 ||
    { cat score.log; fail "score scratch.h5"; }
"$RMENS" export --ckpt scratch.h5 --member 0 --out gx >export.log 2>&1 || { cat export.log; fail "export scratch.h5"; }
grep -q "written from the model's config" export.log || { cat export.log; fail "export did not say where config.json came from"; }
grep -q "tokenizer     none copied: .*byte tokenizer" export.log || { cat export.log; fail "export did not say why no tokenizer"; }
"$PY" "$top_srcdir/tests/hf_reference.py" rewards gx test.h5 $N gx.npy || fail "reference on gx"
compare scratch_scores.h5 0 gx.npy "exported GPT2ForSequenceClassification (config written from the model's)" 1e-4

# ---- 4. GPT-NeoX: a GPTNeoXForCausalLM (embed_out, the old buffers; rotary_pct 0.25 of
# head_dim 16) trained from, exported, run by the reference (neox_reward), read back
"$PY" "$FX" neox nx --lm-head --vocab 300 --hidden 64 --heads 4 --inter 256 --ctx 256 --seed 5 || fail "fixture nx"
"$RMENS" train --init nx --data train.h5 --members 2 --steps 20 --lr 1e-3 --out nxens.h5 >train4.log 2>&1 ||
    { cat train4.log; fail "rmens train --init a GPTNeoXForCausalLM directory"; }
"$RMENS" score --ckpt nxens.h5 --data test.h5 --per-member --normalize none --out nx_scores.h5 >score.log 2>&1 ||
    { cat score.log; fail "rmens score nxens.h5"; }
"$RMENS" export --ckpt nxens.h5 --all --out nxex >export.log 2>&1 || { cat export.log; fail "rmens export nxens.h5"; }
for k in 0 1; do
    "$PY" "$top_srcdir/tests/hf_reference.py" rewards nxex/member-$k test.h5 $N nx$k.npy || fail "reference on nxex/member-$k"
    compare nx_scores.h5 $k nx$k.npy "exported member $k (GPTNeoXForSequenceClassification) vs rmens" 1e-4
done
"$RMENS" score --ckpt nxex/member-1 --data test.h5 --per-member --normalize none --out nxback.h5 >score.log 2>&1 ||
    { cat score.log; fail "rmens score --ckpt nxex/member-1"; }
"$PY" - "$top_srcdir/tests" <<'EOF2' || fail "the GPT-NeoX export"
import json, sys
import h5py, numpy as np
sys.path.insert(0, sys.argv[1])
import hf_fixtures as hx
src = json.load(open("nx/config.json"))
c = json.load(open("nxex/member-0/config.json"))
assert c["architectures"] == ["GPTNeoXForSequenceClassification"], c["architectures"]
for key in ("rotary_pct", "rotary_emb_base", "use_parallel_residual", "layer_norm_eps", "intermediate_size"):
    assert c[key] == src[key], key
names = set(hx.parse_st("nxex/member-0/model.safetensors")[0])
assert not any(n == "embed_out.weight" or n.endswith(("attention.bias", "masked_bias", "inv_freq")) for n in names), names
assert "gpt_neox.layers.1.attention.query_key_value.bias" in names and "score.weight" in names
with h5py.File("nx_scores.h5") as a, h5py.File("nxback.h5") as b:
    for side in ("chosen", "rejected"):
        want, got = a[f"{side}/rewards"][:, 1], b[f"{side}/rewards"][:, 0]
        err = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-2)))
        assert err <= 1e-5, (side, err)
print("GPT-NeoX export: GPTNeoXForSequenceClassification, backbone fields kept, no embed_out or buffers; "
      "score --ckpt nxex/member-1 gives member 1's rewards again (1e-5)")
EOF2

# ---- export refusals: nothing written, nothing left behind
"$RMENS" export --ckpt ens.h5 --member 0 --out ex >out.log 2>&1 && fail "export over a non-empty directory without --force"
grep -q "ex exists and is not an empty directory (--force replaces it)" out.log || { cat out.log; fail "message"; }
"$RMENS" export --ckpt ens.h5 --member 2 --out ex2 >out.log 2>&1 && fail "export of member 2 of 2"
grep -q "ens.h5 has members 0 to 1: there is no member 2" out.log || { cat out.log; fail "message"; }
"$RMENS" export --ckpt ens.h5 --member 0 --all --out ex2 >out.log 2>&1 && fail "export with --member and --all"
"$RMENS" export --ckpt ens.h5 --member 0 --out ex2 --tokenizer lm >out.log 2>&1 && fail "export --tokenizer without one"
grep -q "tokenizer lm: no tokenizer.json" out.log || { cat out.log; fail "message"; }
[ ! -e ex2 ] && [ -z "$(ls -d ex2.* ex.* 2>/dev/null)" ] || fail "a refused export left files: $(ls)"
"$RMENS" export --ckpt ens.h5 --member 0 --out ex --force >out.log 2>&1 || { cat out.log; fail "export --force"; }
[ -f ex/model.safetensors ] && [ ! -e ex/member-0 ] || fail "--force did not replace ex"
[ -z "$(ls -d ex.* 2>/dev/null)" ] || fail "export --force left $(ls -d ex.*)"
echo "PASS: Hugging Face directories in and out agree with the independent reference"
