#!/bin/sh
# tools/rmens-active-learning at the smallest scale (1 seed, random and bald, one round):
# the experiment of docs/EVALUATION.md runs end to end; its labelled set is the seed set
# plus the picks, each labelled towards the higher gold reward except the noisy labels it
# counts; every arm starts from the same ensemble; its accuracies equal rmens eval's
# (deciding by mean) on the same test pairs; rmens-plot --active draws it.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
need_python h5py
need_python matplotlib
export MPLCONFIGDIR="$TMP/mpl"
W="$TMP/al"
timeout 600 "$PY" "$top_srcdir/tools/rmens-active-learning" "$W" --rmens "$RMENS" --mpiexec "$MPIEXEC" --seeds 4 \
    --acquisitions random,bald --rounds 1 --seed-pairs 60 --pool 200 --budget 40 --test 200 --members 3 \
    --first-steps 30 --epochs 1 --keep >"$TMP/al.txt" 2>&1 || { cat "$TMP/al.txt"; fail "rmens-active-learning"; }
grep -q "labels to reach random's final mean accuracy" "$TMP/al.txt" || { cat "$TMP/al.txt"; fail "summary"; }
for acq in random bald; do
    run 2 eval --ckpt "$W/seed4/$acq/ens1.h5" --data "$W/seed4/test.h5" --json "$TMP/$acq.json" >/dev/null \
        || fail "eval $acq"
done
run 2 eval --ckpt "$W/seed4/ens0.h5" --data "$W/seed4/test.h5" --json "$TMP/ens0.json" >/dev/null || fail "eval ens0"
"$PY" - "$W" "$TMP" <<'PYEOF' || fail "experiment"
import sys, json, h5py, numpy as np
w, t = sys.argv[1], sys.argv[2]
res = json.load(open(w + "/results.json"))
runs = {r["acquisition"]: r for r in res["runs"]}
assert set(runs) == {"random", "bald"} and all(r["seed"] == 4 for r in runs.values())
acc0 = json.load(open(t + "/ens0.json"))["ensemble"]["accuracy_mean"]
def seqs(f, side):
    tok, off = f[side + "/tokens"][:], f[side + "/offsets"][:]
    return [tok[off[i]:off[i + 1]].tobytes() for i in range(len(off) - 1)]
for acq, r in runs.items():
    assert r["labels"] == [60, 100], r
    # the same starting ensemble, and eval's accuracy by mean at both points
    assert abs(r["accuracy"][0] - acc0) < 1e-12, (acq, r["accuracy"][0], acc0)
    got = json.load(open(f"{t}/{acq}.json"))["ensemble"]["accuracy_mean"]
    assert abs(r["accuracy"][1] - got) < 1e-12, (acq, r["accuracy"][1], got)
    lab, seed, picked = (h5py.File(f"{w}/seed4/{n}.h5") for n in (f"{acq}/labelled1", "labelled0", f"{acq}/picked1"))
    assert len(lab["prompt_len"]) == 100
    for side in ("chosen", "rejected"):  # the seed set first, as labelled
        assert seqs(lab, side)[:60] == seqs(seed, side)
    # then the picks, each labelled one way or the other
    pc, pr = seqs(picked, "chosen"), seqs(picked, "rejected")
    lc, lr = seqs(lab, "chosen")[60:], seqs(lab, "rejected")[60:]
    assert sorted(map(sorted, zip(pc, pr))) == sorted(map(sorted, zip(lc, lr))), acq
    g = lab["chosen/gold"][60:] - lab["rejected/gold"][60:]
    assert np.all(g != 0) and int((g < 0).sum()) == r["noisy_labels"][0], (acq, (g < 0).sum(), r["noisy_labels"])
    assert (g < 0).mean() < 0.3, acq  # beta 0.1 on gold gaps of 0.25 and more: few noisy labels
print("experiment: labelled sets, shared start, accuracies = rmens eval", {a: r["accuracy"] for a, r in runs.items()})
PYEOF
timeout 120 "$PY" "$top_srcdir/tools/rmens-plot" "$TMP/fig" --active "$W/results.json" >"$TMP/plot.txt" 2>&1 \
    || { cat "$TMP/plot.txt"; fail "rmens-plot --active"; }
[ -s "$TMP/fig/active.png" ] || fail "no active.png"
grep -q "random (1 seed)" "$TMP/fig/active.svg" && grep -q "bald (1 seed)" "$TMP/fig/active.svg" \
    || fail "the legend of active.svg"
echo "active learning: all passed"
