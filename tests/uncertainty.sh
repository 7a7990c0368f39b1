#!/bin/sh
# Error signals and the pair uncertainty (issue 17): eval's per-signal AUROC, AURC and
# selective accuracy, and score's /p and /uncertainty of a pairs file, recomputed
# independently in numpy (tests/uncertainty_reference.py) from score --per-member.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy

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
# Temperature scaling: fitted on these pairs, checked against a brute-force grid; recorded
# in a copy of the checkpoint (members untouched), then applied by score; a second writer
# is refused.
cp "$TMP/ens.h5" "$TMP/enst.h5"
run 2 eval --ckpt "$TMP/enst.h5" --data "$TMP/test.h5" --write-temperature --json "$TMP/t.json" >"$TMP/t.txt" \
    || fail "eval --write-temperature"
grep -q "temperatures recorded in" "$TMP/t.txt" || { cat "$TMP/t.txt"; fail "no temperature table"; }
ls "$TMP" | grep -q "enst.h5.tmp\|enst.h5.lock" && fail "a temporary or lock file was left"
run 2 score --ckpt "$TMP/enst.h5" --data "$TMP/test.h5" --out "$TMP/st.h5" --quiet || fail "score calibrated"
"$RMENS" info "$TMP/enst.h5" >"$TMP/info.txt" || fail "info of the calibrated checkpoint"
grep -q "temperature      fitted on 200 pairs of $TMP/test.h5 (standardised rewards): member T_k" "$TMP/info.txt" \
    || { cat "$TMP/info.txt"; fail "info: temperatures"; }
"$RMENS" info "$TMP/ens.h5" | grep -q "temperature      none" || fail "info: an uncalibrated checkpoint"
"$RMENS" info "$TMP/st.h5" | grep -q "uncertainty = its entropy (calibrated" || fail "info: calibrated scores"
"$PY" - "$TMP" "$top_srcdir/tests" <<'PYEOF' || fail "temperature"
import json, sys, h5py, numpy as np
d = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from float_tol import ece_range, within
rep = json.load(open(d + "/t.json"))["temperature"]
s = h5py.File(d + "/s.h5")
W, L = s["chosen/rewards"][:].astype(np.float64), s["rejected/rewards"][:].astype(np.float64)
D = W - L
n, K = D.shape
sig = lambda x: 1 / (1 + np.exp(-x))
def nll(Dk, T):  # Dk [n, k]: the mean over k of sigmoid(d / T), clamped as rmens_nll
    return float(-np.log(np.maximum(sig(Dk / T).mean(1), 1e-12)).mean())
def grid_fit(Dk):
    # brute force: 4001 temperatures log-spaced over [1e-3, 1e3] times the margins' root
    # mean square, then 2001 around the best
    s = np.sqrt((Dk ** 2).mean())
    g = np.exp(np.linspace(np.log(1e-3 * s), np.log(1e3 * s), 4001))
    f = np.array([nll(Dk, t) for t in g]); i = int(f.argmin())
    g2 = np.exp(np.linspace(np.log(g[max(i - 1, 0)]), np.log(g[min(i + 1, len(g) - 1)]), 2001))
    f2 = np.array([nll(Dk, t) for t in g2]); j = int(f2.argmin())
    return g2[j], f2[j]
for k, m in enumerate(rep["members"] + [rep["mean_margin"]]):
    Dk = D[:, k:k + 1] if k < K else D.mean(1, keepdims=True)
    Tg, fg = grid_fit(Dk)
    T = m["temperature"]
    assert nll(Dk, T) <= fg + 1e-9, ("NLL above the grid's best", k, T, Tg, nll(Dk, T), fg)
    assert abs(np.log(T) - np.log(Tg)) < 2e-3, ("T far from the grid's", k, T, Tg)
    assert abs(m["nll_after"] - nll(Dk, T)) < 1e-9 and abs(m["nll_before"] - nll(Dk, 1.0)) < 1e-9, (k, m)
    p = sig(Dk[:, 0] / T)
    within(m["ece_after"], ece_range(p, p > 0.5, 15, 1e-9), f"ece after {k}")
    print(f"{'member %d' % k if k < K else 'mean margin'}: T {T:.5f} (grid {Tg:.5f}); NLL {m['nll_before']:.4f} -> "
          f"{m['nll_after']:.4f}; ECE {m['ece_before']:.4f} -> {m['ece_after']:.4f}")
Tk = np.array([m["temperature"] for m in rep["members"]])
pe = sig(D / Tk).mean(1)
assert abs(rep["ensemble"]["nll_after"] - float(-np.log(pe).mean())) < 1e-9, rep["ensemble"]
a, b = h5py.File(d + "/ens.h5"), h5py.File(d + "/enst.h5")
assert b.attrs["temperature"] == rep["mean_margin"]["temperature"] and b.attrs["temperature_rewards"] == "member"
assert b.attrs["temperature_pairs"] == n
for k in range(K):
    ga, gb = a[f"members/{k:03d}"], b[f"members/{k:03d}"]
    assert gb.attrs["temperature"] == Tk[k]
    def walk(g, out, pre=""):
        for key in g:
            if isinstance(g[key], h5py.Group):
                walk(g[key], out, pre + key + "/")
            else:
                out[pre + key] = (g[key][()].tobytes(), dict(g[key].attrs))
        return out
    wa, wb = walk(ga, {}), walk(gb, {})
    assert wa.keys() == wb.keys() and all(wa[x][0] == wb[x][0] and str(wa[x][1]) == str(wb[x][1]) for x in wa), k
for key, v in a.attrs.items():
    assert str(b.attrs[key]) == str(v), key
# score applies each member's T_k to its own margin: standardised margins times reward_std,
# over T_k * reward_std, i.e. the standardised margin over T_k
st = h5py.File(d + "/st.h5")
assert st.attrs["calibrated"] == "temperature"
rstd = np.array([a[f"members/{k:03d}"].attrs["reward_std"] for k in range(K)])
assert np.allclose(st["temperature"][:], Tk * rstd, rtol=1e-12)
assert np.abs(st["p"][:] - pe).max() < 2e-5, np.abs(st["p"][:] - pe).max()
import uncertainty_reference as ref
h = ref.signals(D / Tk)["entropy"]
assert np.abs(st["uncertainty"][:] - h).max() < 2e-5, np.abs(st["uncertainty"][:] - h).max()
print("temperatures match the grid search; recorded without touching members; applied by score")
PYEOF
# another writer holds the checkpoint's lock: refused, the file left as it was
cp "$TMP/enst.h5" "$TMP/before.h5"
flock "$TMP/enst.h5.lock" sleep 60 &
holder=$!
sleep 1
run 2 eval --ckpt "$TMP/enst.h5" --data "$TMP/test.h5" --write-temperature >"$TMP/o" 2>"$TMP/err" \
    && { kill $holder; fail "a locked checkpoint was written"; }
kill $holder
grep -q "is being written by another rmens" "$TMP/err" || { cat "$TMP/err"; fail "no lock message"; }
cmp -s "$TMP/enst.h5" "$TMP/before.h5" || fail "the refused eval changed the checkpoint"
echo "ok: locked checkpoint refused"
echo "uncertainty: all passed"
