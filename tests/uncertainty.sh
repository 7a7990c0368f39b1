#!/bin/sh
# Error signals and the pair uncertainty (issue 17): eval's per-signal AUROC, AURC and
# selective accuracy, and score's /p and /uncertainty of a pairs file, recomputed
# independently in numpy (tests/uncertainty_reference.py) from score --per-member.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
run() { np=$1; shift; timeout 300 "$MPIEXEC" -n "$np" --oversubscribe "$RMENS" "$@"; }

"$RMENS" synth --n 300 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" synth --n 200 --seed 6 --split test --traps 0.3 --out "$TMP/test.h5" --quiet || fail "synth"
run 2 train --data "$TMP/train.h5" --members 4 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --steps 40 \
    --truncate-prompts --quiet --out "$TMP/ens.h5" || fail "train"
run 2 eval --ckpt "$TMP/ens.h5" --data "$TMP/test.h5" --json "$TMP/e.json" >"$TMP/e.txt" || fail "eval"
grep -q "entropy (uncertainty)" "$TMP/e.txt" || { cat "$TMP/e.txt"; fail "no signal table"; }
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/test.h5" --out "$TMP/s.h5" --per-member --normalize member --quiet \
    || fail "score"
run 2 score --ckpt "$TMP/ens.h5" --data "$TMP/test.h5" --out "$TMP/raw.h5" --per-member --normalize none --quiet \
    || fail "score raw"
"$PY" - "$TMP" "$top_srcdir/tests" <<'PYEOF' || fail "signals"
import json, sys, h5py, numpy as np
d = sys.argv[1]
sys.path.insert(0, sys.argv[2])
import uncertainty_reference as ref
from float_tol import tol_for, auroc_range, within
rep = json.load(open(d + "/e.json"))
s, raw, ck = h5py.File(d + "/s.h5"), h5py.File(d + "/raw.h5"), h5py.File(d + "/ens.h5")
W, L = s["chosen/rewards"][:].astype(np.float64), s["rejected/rewards"][:].astype(np.float64)
n, K = W.shape
tol = tol_for(W, L)
# Which pairs are wrong is decided by mean(W) - mean(L): near-ties (float32) may go either way.
dm = W.mean(1) - L.mean(1)
labelings = [(dm <= 0).astype(int), (dm <= tol).astype(int), (dm <= -tol).astype(int)]
sig = ref.signals(W - L)
assert set(rep["signals"]) == set(ref.NAMES), rep["signals"].keys()
assert rep["uncertainty"]["signal"] == "entropy"
for g in ref.NAMES:
    got, u = rep["signals"][g], sig[g]
    lo = min(auroc_range(u, w, 1e-12)[0] for w in labelings); hi = max(auroc_range(u, w, 1e-12)[1] for w in labelings)
    within(got["error_auroc"], (lo, hi), g + " auroc")
    a = [ref.aurc(u, w) for w in labelings]
    within(got["aurc"], (min(a), max(a)), g + " aurc")
    for c in (50, 80, 100):
        a = [ref.selective_accuracy(u, w, c / 100) for w in labelings]
        within(got[f"accuracy_at_coverage_{c}"], (min(a), max(a)), f"{g} coverage {c}")
    print(f"{g:8s} AUROC {got['error_auroc']:.4f} AURC {got['aurc']:.4f} acc@50 {got['accuracy_at_coverage_50']:.4f}")
for key in ("error_auroc", "aurc", "accuracy_at_coverage_50"):
    assert rep["uncertainty"][key] == rep["signals"]["entropy"][key]
# score: P(chosen > rejected) and its uncertainty in the members' own scale, whatever
# --normalize: standardised margins times each member's reward_std.
rstd = np.array([ck[f"members/{k:03d}"].attrs["reward_std"] for k in range(K)], dtype=np.float64)
D = (W - L) * rstd
p = (1 / (1 + np.exp(-D))).mean(1)
h = -(p * np.log(p) + (1 - p) * np.log1p(-p))
assert np.allclose(h, ref.signals(D)["entropy"], atol=1e-12)
for f in (s, raw):
    assert f["p"].shape == (n,) and f["uncertainty"].shape == (n,)
    assert np.abs(f["p"][:] - p).max() < 2e-5, np.abs(f["p"][:] - p).max()
    assert np.abs(f["uncertainty"][:] - h).max() < 2e-5, np.abs(f["uncertainty"][:] - h).max()
Dr = raw["chosen/rewards"][:].astype(np.float64) - raw["rejected/rewards"][:].astype(np.float64)
assert np.allclose(Dr, D, rtol=1e-4, atol=1e-4)
print("signals and score's p/uncertainty match numpy; K =", K, "pairs =", n)
PYEOF
echo "uncertainty: all passed"
