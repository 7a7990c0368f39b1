#!/bin/sh
# rmens eval: every figure of the JSON report recomputed independently (numpy) from the
# per-member rewards of rmens score, on 1 and 3 ranks; OOD; bad input.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy

"$RMENS" synth --n 300 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" synth --n 150 --seed 6 --split test --traps 0.4 --trap-kinds all --out "$TMP/test.h5" --quiet || fail "synth"
"$RMENS" synth --n 40 --seed 7 --task add --split test --responses --out "$TMP/ood.h5" --quiet || fail "synth"
run 2 train --data "$TMP/train.h5" --members 3 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --steps 40 \
    --truncate-prompts --quiet --out "$TMP/ens.h5" || fail "train"
for np in 1 3; do
    run $np eval --ckpt "$TMP/ens.h5" --data "$TMP/test.h5" --ood "$TMP/ood.h5" --lambda 0.3 --json "$TMP/e$np.json" \
        >"$TMP/e$np.txt" || fail "eval -n $np"
done
grep -q "ensemble accuracy deciding by mean" "$TMP/e1.txt" || fail "no table"
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/test.h5" --out "$TMP/s.h5" --per-member --normalize member --quiet \
    || fail "score"
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/ood.h5" --out "$TMP/o.h5" --per-member --normalize member --quiet \
    || fail "score ood"
"$PY" - "$TMP" "$top_srcdir/tests" <<'PYEOF' || fail "eval report"
import json, sys, h5py, numpy as np
d = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from float_tol import tol_for, decision_range, auroc_range, coverage_range, spearman_range, ece_range, within
rep, rep3 = json.load(open(d + "/e1.json")), json.load(open(d + "/e3.json"))
s, o, data = h5py.File(d + "/s.h5"), h5py.File(d + "/o.h5"), h5py.File(d + "/test.h5")
W, L = s["chosen/rewards"][:].astype(np.float64), s["rejected/rewards"][:].astype(np.float64)
n, K = W.shape
# Figures that depend on an order are checked over the orders float32 rounding allows
# (tests/float_tol.py): another BLAS kernel may swap near-tied values.
tol = tol_for(W, L)
sig = lambda x: 1 / (1 + np.exp(-x))

def close(a, b, what, tol=1e-6):
    assert (a is None and b is None) or abs(a - b) <= tol, (what, a, b)

for k in range(K):
    dk = W[:, k] - L[:, k]; pk = sig(dk); m = rep["members"][k]
    within(m["accuracy"], decision_range(dk, tol), "acc")
    close(m["brier"], ((1 - pk) ** 2).mean(), "brier")
    close(m["nll"], (-np.log(pk)).mean(), "nll")
    within(m["ece"], ece_range(pk, dk > 0, 15, tol), "ece")
    close(m["mean_margin"], dk.mean(), "margin", 1e-5)
mw, ml = W.mean(1), L.mean(1)
e = rep["ensemble"]
within(e["accuracy_mean"], decision_range(mw - ml, tol), "mean")
within(e["accuracy_min"], decision_range(W.min(1) - L.min(1), tol), "min")
within(e["accuracy_uwo"], decision_range(mw - 0.3 * W.var(1) - (ml - 0.3 * L.var(1)), 4 * tol), "uwo")
pe = sig(W - L).mean(1)
within(e["ece"], ece_range(pe, pe > 0.5, 15, tol), "ens ece"); close(e["brier"], ((1 - pe) ** 2).mean(), "ens brier")
u = (W - L).std(1); wrong = (mw <= ml).astype(int)
# Which pairs are wrong is itself decided by mw - ml: a near-tie may be either.
union = lambda rs: None if rs[0] is None else (min(r[0] for r in rs), max(r[1] for r in rs))
labelings = [wrong, (mw - ml <= tol).astype(int), (mw - ml <= -tol).astype(int)]
within(rep["signals"]["std"]["error_auroc"], union([auroc_range(u, w, tol) for w in labelings]), "auroc")
for c in (50, 80, 100):
    keep = int(np.ceil(c / 100 * n - 1e-9))
    within(rep["signals"]["std"][f"accuracy_at_coverage_{c}"], union([coverage_range(u, w == 0, keep, tol) for w in labelings]),
           f"coverage {c}")
def resp_len(side):
    off = data[side + "/offsets"][:]; return np.diff(off) - data["prompt_len"][:]
lw, ll = resp_len("chosen"), resp_len("rejected")
r_all, l_all = np.concatenate([mw, ml]), np.concatenate([lw, ll]).astype(float)
within(rep["length"]["spearman_reward_length"], spearman_range(r_all, l_all, tol), "spearman")
sh = lw < ll
within(rep["length"]["accuracy_chosen_shorter"], decision_range((mw - ml)[sh], tol) if sh.any() else None, "shorter")
trap = data["trap"][:]
for t, name in enumerate(("none", "length", "format", "confidence", "sycophancy")):
    within(rep["traps"][name], decision_range((mw - ml)[trap == t], tol) if (trap == t).any() else None, "trap " + name)
R = np.concatenate([W, L]); Ro = o["rewards"][:].astype(np.float64)
a = np.concatenate([R.std(1), Ro.std(1)]); lab = np.r_[np.zeros(2 * n), np.ones(len(Ro))].astype(int)
within(rep["ood"]["auroc"], auroc_range(a, lab, tol), "ood auroc")
close(rep["ood"]["mean_disagreement_ood"], Ro.std(1).mean(), "ood mean", 1e-5)
# 3 ranks: the same report (rewards are bit-identical whatever P)
assert json.dumps(rep, sort_keys=True) == json.dumps(rep3, sort_keys=True), "P=3 report differs"
print("eval report matches the numpy recomputation; K =", K, "pairs =", n)
PYEOF
expect_fail() {
    pat=$1; shift
    "$@" >"$TMP/out" 2>"$TMP/err" && fail "succeeded: $*"
    grep -qF -- "$pat" "$TMP/err" || { cat "$TMP/err"; fail "no '$pat': $*"; }
    echo "ok: '$pat'"
}
expect_fail "is a responses file; eval needs pairs" run 2 eval --ckpt "$TMP/ens.h5" --data "$TMP/ood.h5"
expect_fail "--lambda: expected a non-negative number" run 2 eval --ckpt "$TMP/ens.h5" --data "$TMP/test.h5" --lambda -2
expect_fail "absent.h5" run 2 eval --ckpt "$TMP/absent.h5" --data "$TMP/test.h5"
expect_fail "already exists (pass --force" run 1 eval --ckpt "$TMP/ens.h5" --data "$TMP/test.h5" --json "$TMP/e1.json"
# --data given twice: the second is the out-of-distribution file, as with --ood
run 1 eval --ckpt "$TMP/ens.h5" --data "$TMP/test.h5" --data "$TMP/ood.h5" --lambda 0.3 --json "$TMP/e2.json" --quiet \
    || fail "--data twice"
"$PY" -c "
import json
a, b = json.load(open('$TMP/e1.json')), json.load(open('$TMP/e2.json'))
assert a['ood'] == b['ood'], (a['ood'], b['ood'])" || fail "--data twice differs from --ood"
echo "eval_mpi: all passed"
