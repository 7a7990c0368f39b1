#!/bin/sh
# Pair weights (/weight, docs/TRAINING.md "Pair weights") in training and evaluation.
# Synthetic sort pairs, every other one with its sides swapped (a wrong label): trained
# unweighted, the wrong half cancels the right one (validation accuracy near 0.5); with
# the wrong half weighted 0.05 the member learns (far higher accuracy). A file whose
# weights are all 1 trains bit-identically to the file without /weight. Data-parallel
# (2 ranks, one member) agrees with 1 rank after 24 steps: the weighted mean's
# denominator is the whole batch's. rmens eval's and the trainer's accuracies on a weighted validation file are
# the weighted means computed in numpy from the members' rewards (rmens score).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$RMENS" synth --task sort --split train --n 1200 --seed 1 --out "$TMP/t.h5" --quiet || fail "synth train"
"$RMENS" synth --task sort --split test --n 300 --seed 2 --out "$TMP/v.h5" --quiet || fail "synth test"
cat >"$TMP/mk.py" <<'PYEOF'
import sys
import h5py
import numpy as np
src, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
f = h5py.File(src, "r")
n = len(f["prompt_len"])
seqs = {s: [f[s + "/tokens"][f[s + "/offsets"][i]:f[s + "/offsets"][i + 1]] for i in range(n)]
        for s in ("chosen", "rejected")}
flip = (np.arange(n) % 2 == 1) & (mode != "val")   # every other pair's sides swapped
with h5py.File(out, "w") as g:
    for k, v in f.attrs.items():
        g.attrs[k] = v
    for s, o in (("chosen", "rejected"), ("rejected", "chosen")):
        seq = [seqs[o][i] if flip[i] else seqs[s][i] for i in range(n)]
        g[s + "/tokens"] = np.concatenate(seq).astype(np.int32)
        g[s + "/offsets"] = np.cumsum([0] + [len(x) for x in seq]).astype(np.int64)
    g["prompt_len"] = f["prompt_len"][:]
    if mode == "weighted":
        g["weight"] = np.where(flip, 0.05, 1.0).astype(np.float32)
    elif mode == "ones":
        g["weight"] = np.ones(n, np.float32)
    elif mode == "val":
        g["weight"] = (0.1 + 3 * np.random.default_rng(5).random(n)).astype(np.float32)
PYEOF
for m in plain weighted ones; do "$PY" "$TMP/mk.py" "$TMP/t.h5" "$TMP/$m.h5" "$m" || fail "making $m.h5"; done
"$PY" "$TMP/mk.py" "$TMP/v.h5" "$TMP/vw.h5" val || fail "making vw.h5"

ARGS="--members 1 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --epochs 4 --eval-every 0 --lr 3e-3 --quiet"
for m in plain weighted ones; do
    # shellcheck disable=SC2086
    mpirun_np 1 "$RMENS" train --data "$TMP/$m.h5" --val "$TMP/v.h5" $ARGS --out "$TMP/$m-ens.h5" || fail "train on $m.h5"
done
# 24 steps: data-parallel sums change round-off, which long runs amplify (docs/TRAINING.md)
for np in 1 2; do
    # shellcheck disable=SC2086
    mpirun_np $np "$RMENS" train --data "$TMP/weighted.h5" --val "$TMP/v.h5" $ARGS --steps 24 --out "$TMP/dp$np-ens.h5" ||
        fail "train on weighted.h5, $np ranks"
done
"$PY" - "$TMP" <<'PYEOF' || fail "weights in training"
import sys
import h5py
import numpy as np
T = sys.argv[1]
def attr(f, k): return float(h5py.File(T + "/" + f + "-ens.h5")["members/000"].attrs[k])
plain, weighted = attr("plain", "val_accuracy"), attr("weighted", "val_accuracy")
print("validation accuracy: unweighted %.4f, wrong half weighted 0.05: %.4f" % (plain, weighted))
assert weighted >= plain + 0.15, "the weights did not change what was learned"
assert abs(plain - 0.5) < 0.1, "half the labels wrong, unweighted, should learn next to nothing"
a, b = h5py.File(T + "/plain-ens.h5")["members/000/params"], h5py.File(T + "/ones-ens.h5")["members/000/params"]
assert all(np.array_equal(a[k][:], b[k][:]) for k in a), "weights of 1 train differently from no /weight"
print("ok: weights of 1 give bit-identical weights to the file without /weight")
d1, d2 = attr("dp1", "val_loss"), attr("dp2", "val_loss")
print("weighted, 24 steps, 1 rank vs 2 ranks data-parallel: val_loss %.6f vs %.6f" % (d1, d2))
assert abs(d1 - d2) < 1e-3, "data-parallel weighted training departs from 1 rank"
o1, o2 = attr("dp1", "oob_loss"), attr("dp2", "oob_loss")
print("  out-of-bag loss %.6f vs %.6f" % (o1, o2))
assert abs(o1 - o2) < 1e-3
PYEOF

# weighted metrics: eval and the trainer against numpy on the members' rewards
mpirun_np 1 "$RMENS" eval --ckpt "$TMP/weighted-ens.h5" --data "$TMP/vw.h5" --normalize none --json "$TMP/e.json" \
    --quiet || fail "eval on a weighted file"
mpirun_np 1 "$RMENS" score --ckpt "$TMP/weighted-ens.h5" --data "$TMP/vw.h5" --normalize none --per-member \
    --out "$TMP/s.h5" --quiet || fail "score on a weighted file"
# shellcheck disable=SC2086
mpirun_np 1 "$RMENS" train --data "$TMP/weighted.h5" --val "$TMP/vw.h5" $ARGS --steps 40 --out "$TMP/wv-ens.h5" ||
    fail "train with a weighted validation file"
mpirun_np 1 "$RMENS" score --ckpt "$TMP/wv-ens.h5" --data "$TMP/vw.h5" --normalize none --per-member \
    --out "$TMP/s2.h5" --quiet || fail "score (2)"
"$PY" - "$TMP" <<'PYEOF' || fail "weighted metrics"
import json, sys
import h5py
import numpy as np
T = sys.argv[1]
w = h5py.File(T + "/vw.h5")["weight"][:].astype(np.float64)
def weighted(scores):
    s = h5py.File(scores)
    d = s["chosen/rewards"][:, 0].astype(np.float64) - s["rejected/rewards"][:, 0]
    return np.sum(w * (d > 0)) / np.sum(w), np.sum(w * d) / np.sum(w), np.mean(d > 0)
acc, margin, plain = weighted(T + "/s.h5")
e = json.load(open(T + "/e.json"))
got = e["members"][0]["accuracy"]
print("eval accuracy %.6f, numpy weighted %.6f (unweighted %.6f)" % (got, acc, plain))
assert abs(got - acc) < 1e-9 and abs(e["members"][0]["mean_margin"] - margin) < 1e-5
assert abs(e["ensemble"]["accuracy_mean"] - acc) < 1e-9   # one member: the mean rule is the member
assert abs(acc - plain) > 1e-6, "the test's weights do not change the accuracy: it would not tell"
acc2, margin2, _ = weighted(T + "/s2.h5")
m = h5py.File(T + "/wv-ens.h5")["members/000"].attrs
print("trainer val_accuracy %.6f, numpy weighted %.6f" % (m["val_accuracy"], acc2))
assert abs(m["val_accuracy"] - acc2) < 1e-9 and abs(m["val_margin"] - margin2) < 1e-5
print("ok: eval's and the trainer's accuracy and margin are the weighted means")
PYEOF
echo "PASS: train_weights"
exit 0
