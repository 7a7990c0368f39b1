#!/bin/sh
# rmens eval: every figure of the JSON report recomputed independently (numpy) from the
# per-member rewards of rmens score, on 1 and 3 ranks; OOD; bad input.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
run() { np=$1; shift; timeout 300 "$MPIEXEC" -n "$np" --oversubscribe "$RMENS" "$@"; }

"$RMENS" synth --n 300 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" synth --n 150 --seed 6 --split test --traps 0.4 --out "$TMP/test.h5" --quiet || fail "synth"
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
"$PY" - "$TMP" <<'PYEOF' || fail "eval report"
import json, sys, h5py, numpy as np
d = sys.argv[1]
rep, rep3 = json.load(open(d + "/e1.json")), json.load(open(d + "/e3.json"))
s, o, data = h5py.File(d + "/s.h5"), h5py.File(d + "/o.h5"), h5py.File(d + "/test.h5")
W, L = s["chosen/rewards"][:].astype(np.float64), s["rejected/rewards"][:].astype(np.float64)
n, K = W.shape
sig = lambda x: 1 / (1 + np.exp(-x))

def ranks(v):  # average ranks, 1-based
    order = np.argsort(v, kind="stable"); r = np.empty(len(v)); sv = v[order]; i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sv[j + 1] == sv[i]: j += 1
        r[order[i:j + 1]] = (i + j) / 2 + 1; i = j + 1
    return r
def auroc(score, lab):
    pos, neg = score[lab == 1], score[lab == 0]
    if len(pos) == 0 or len(neg) == 0: return None
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return gt / (len(pos) * len(neg))
def ece(p, bins=15):
    c = np.maximum(p, 1 - p); ok = p > 0.5; b = np.minimum((c * bins).astype(int), bins - 1); e = 0
    for k in range(bins):
        m = b == k
        if m.any(): e += m.mean() * abs(ok[m].mean() - c[m].mean())
    return e
def close(a, b, what, tol=1e-6):
    assert (a is None and b is None) or abs(a - b) <= tol, (what, a, b)

for k in range(K):
    dk = W[:, k] - L[:, k]; pk = sig(dk); m = rep["members"][k]
    close(m["accuracy"], (dk > 0).mean(), "acc")
    close(m["brier"], ((1 - pk) ** 2).mean(), "brier")
    close(m["nll"], (-np.log(pk)).mean(), "nll")
    close(m["ece"], ece(pk), "ece")
    close(m["mean_margin"], dk.mean(), "margin", 1e-5)
mw, ml = W.mean(1), L.mean(1)
e = rep["ensemble"]
close(e["accuracy_mean"], (mw > ml).mean(), "mean")
close(e["accuracy_min"], (W.min(1) > L.min(1)).mean(), "min")
close(e["accuracy_uwo"], (mw - 0.3 * W.var(1) > ml - 0.3 * L.var(1)).mean(), "uwo")
pe = sig(W - L).mean(1)
close(e["ece"], ece(pe), "ens ece"); close(e["brier"], ((1 - pe) ** 2).mean(), "ens brier")
u = (W - L).std(1); wrong = (mw <= ml).astype(int)
close(rep["uncertainty"]["error_auroc"], auroc(u, wrong), "auroc", 1e-9)
order = np.argsort(u, kind="stable")
for c in (50, 80, 100):
    keep = int(np.ceil(c / 100 * n - 1e-9))
    close(rep["uncertainty"][f"accuracy_at_coverage_{c}"], (1 - wrong[order[:keep]]).mean(), f"coverage {c}")
def resp_len(side):
    off = data[side + "/offsets"][:]; return np.diff(off) - data["prompt_len"][:]
lw, ll = resp_len("chosen"), resp_len("rejected")
r_all, l_all = np.concatenate([mw, ml]), np.concatenate([lw, ll]).astype(float)
rho = np.corrcoef(ranks(r_all), ranks(l_all))[0, 1]
close(rep["length"]["spearman_reward_length"], rho, "spearman", 1e-6)
sh = lw < ll
close(rep["length"]["accuracy_chosen_shorter"], (mw > ml)[sh].mean() if sh.any() else None, "shorter")
trap = data["trap"][:]
for t, name in enumerate(("none", "length", "format", "confidence")):
    close(rep["traps"][name], (mw > ml)[trap == t].mean() if (trap == t).any() else None, "trap " + name)
R = np.concatenate([W, L]); Ro = o["rewards"][:].astype(np.float64)
a = np.concatenate([R.std(1), Ro.std(1)]); lab = np.r_[np.zeros(2 * n), np.ones(len(Ro))].astype(int)
close(rep["ood"]["auroc"], auroc(a, lab), "ood auroc", 1e-9)
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
