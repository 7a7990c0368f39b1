#!/bin/sh
# tools/rmens-plot on a small real pipeline (synth, train on 2 ranks, score): every figure
# is a readable PNG of plausible size and an SVG holding the expected series (element ids
# set by the tool, legend texts naming every member and the ensemble), with the ECE,
# selective accuracies and AUROCs in its text recomputed independently (numpy) from the
# scores file; inputs not given skip their figures; bad input exits 1 naming the file.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
need_python h5py
need_python matplotlib
PLOT="$top_srcdir/tools/rmens-plot"
[ -r "$PLOT" ] || fail "$PLOT is missing"
plot() { timeout 120 "$PY" "$PLOT" "$@"; }
export MPLCONFIGDIR="$TMP/mpl"  # matplotlib's font cache: never the user's

"$RMENS" synth --n 400 --out "$TMP/train.h5" --quiet || fail "synth train"
"$RMENS" synth --split test --seed 2 --n 200 --out "$TMP/test.h5" --quiet || fail "synth test"
"$RMENS" synth --task add --split test --responses --n 100 --out "$TMP/ood.h5" --quiet || fail "synth ood"
run 2 train --data "$TMP/train.h5" --val "$TMP/test.h5" --members 3 --steps 60 --eval-every 20 \
    --layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --truncate-prompts \
    --metrics "$TMP/m.jsonl" --out "$TMP/ens.h5" --quiet || fail "train"
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/test.h5" --per-member --normalize member --out "$TMP/s.h5" --quiet \
    || fail "score"
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/ood.h5" --per-member --normalize member --out "$TMP/o.h5" --quiet \
    || fail "score ood"

plot "$TMP/out" --metrics "$TMP/m.jsonl" --scores "$TMP/s.h5" --ood-scores "$TMP/o.h5" >"$TMP/plot.txt" 2>&1 \
    || { cat "$TMP/plot.txt"; fail "rmens-plot"; }
cat "$TMP/plot.txt"
"$PY" - "$TMP" <<'PYEOF' || fail "figures"
import re, sys, xml.etree.ElementTree as ET
import numpy as np, h5py, matplotlib
matplotlib.use("Agg")
import matplotlib.image as mpimg

d = sys.argv[1]
out = d + "/out"
NS = "{http://www.w3.org/2000/svg}"
s = h5py.File(d + "/s.h5", "r")
W, L = s["chosen/rewards"][:].astype(np.float64), s["rejected/rewards"][:].astype(np.float64)
Ro = h5py.File(d + "/o.h5", "r")["rewards"][:].astype(np.float64)
n, K = W.shape
assert K == 3, K

def png(name, min_w, min_h):
    raw = open(f"{out}/{name}.png", "rb").read()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", f"{name}.png: no PNG signature"
    img = mpimg.imread(f"{out}/{name}.png")
    h, w = img.shape[:2]
    assert img.ndim == 3 and img.shape[2] in (3, 4), (name, img.shape)
    assert min_w <= w <= 6000 and min_h <= h <= 6000, (name, img.shape)
    assert img[..., :3].std() > 0.02, f"{name}.png looks blank"
    print(f"ok: {name}.png {w}x{h}")

def svg(name):
    root = ET.parse(f"{out}/{name}.svg").getroot()
    assert root.tag == NS + "svg", root.tag
    groups = {g.get("id"): g for g in root.iter(NS + "g") if g.get("id")}
    legend = [" ".join(t.itertext()) for gid, g in groups.items() if gid.startswith("legend_")
              for t in g.iter(NS + "text")]
    texts = [" ".join(t.itertext()) for t in root.iter(NS + "text")]
    return groups, legend, texts

def has_path(groups, gid, min_segments=1):
    g = groups.get(gid)
    assert g is not None, f"no element with id {gid}"
    segs = max((len(re.findall(r"[LlHhVvCc]", p.get("d", ""))) for p in g.iter(NS + "path")), default=-1)
    assert segs >= min_segments, f"{gid}: a path of {segs} segments, expected >= {min_segments}"

def grab(texts, pattern, what):
    for t in texts:
        m = re.search(pattern, t)
        if m:
            return float(m.group(1))
    raise AssertionError(f"no {what} ({pattern!r}) in {texts}")

def close(a, b, what, tol):
    assert abs(a - b) <= tol, (what, a, b)

def needs(texts, words, where):
    for w in words:
        assert any(w in t for t in texts), f"{where}: no text {w!r} in {texts}"

sig = lambda x: 1 / (1 + np.exp(-x))
def ece(p, bins=15):
    c = np.maximum(p, 1 - p); ok = p > 0.5; b = np.minimum((c * bins).astype(int), bins - 1); e = 0
    for k in range(bins):
        m = b == k
        if m.any(): e += m.mean() * abs(ok[m].mean() - c[m].mean())
    return e
def auroc(score, lab):
    pos, neg = score[lab == 1], score[lab == 0]
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return gt / (len(pos) * len(neg))

members = [f"member {k}" for k in range(K)]

# training: one loss line per member over the 60 steps, accuracy per member and ensemble
png("training", 900, 400)
g, legend, texts = svg("training")
for k in range(K):
    has_path(g, f"member-{k}-loss", 50)
    has_path(g, f"member-{k}-accuracy", 2)  # evaluations at steps 20, 40, 60
    has_path(g, f"member-{k}-val-loss", 2)  # validation loss at the same evaluations
for what in ("mean", "min", "uwo"):
    has_path(g, f"ensemble-accuracy-{what}", 2)
assert "loss-spread" in g, "no min-max band"
needs(legend, ["validation loss"], "training legend")
needs(legend, members + ["ensemble mean", "ensemble min", "min–max over members"], "training legend")
needs(texts, ["Training and validation loss per member", "Validation accuracy", "step", "training loss", "validation accuracy"],
      "training")

# reliability: ECE per member and of the ensemble's mean probability, as rmens eval defines it
png("reliability", 600, 600)
g, legend, texts = svg("reliability")
for k in range(K):
    has_path(g, f"member-{k}-reliability")
    close(grab(legend, rf"member {k} \(ECE ([0-9.]+)\)", f"member {k} ECE"), ece(sig(W[:, k] - L[:, k])),
          f"ECE member {k}", 5.1e-4)
has_path(g, "ensemble-reliability")
close(grab(legend, r"ensemble \(ECE ([0-9.]+)\)", "ensemble ECE"), ece(sig(W - L).mean(1)), "ECE ensemble", 5.1e-4)
assert sorted(i for i in g if i.startswith("ensemble-bin-")) == sorted(f"ensemble-bin-{b}" for b in range(15)), \
    "not 15 confidence bins"
needs(legend, ["perfect calibration"], "reliability legend")
needs(texts, ["Reliability of", "confidence max(p, 1 − p)", "accuracy in bin", "share of pairs"], "reliability")

# rewards: a panel per member and one for the ensemble mean, chosen and rejected in each
png("rewards", 900, 300)
g, legend, texts = svg("rewards")
for k in range(K):
    for side in ("chosen", "rejected"):
        has_path(g, f"member-{k}-{side}", 5)
    close(grab(texts, rf"member {k} — accuracy ([0-9.]+)", "panel title"), (W[:, k] > L[:, k]).mean(),
          f"accuracy member {k}", 5.1e-4)
has_path(g, "ensemble-mean-chosen", 5)
close(grab(texts, r"ensemble mean — accuracy ([0-9.]+)", "panel title"), (W.mean(1) > L.mean(1)).mean(),
      "accuracy ensemble mean", 5.1e-4)
needs(texts, ["ensemble mean — accuracy", "Rewards of chosen and rejected", "reward (standardised per member)",
              "pairs"], "rewards")
assert sum("chosen (mean" in t for t in legend) == K + 1 and sum("rejected (mean" in t for t in legend) == K + 1, legend

# selective: accuracy at 50/80/100% coverage and the error AUROC of std(r_w - r_l)
png("selective", 700, 500)
g, legend, texts = svg("selective")
for k in range(K):
    has_path(g, f"member-{k}-selective", 50)
has_path(g, "ensemble-selective", 50)
needs(legend, members + ["ensemble mean", "oracle"], "selective legend")
u = (W - L).std(1); ok = W.mean(1) > L.mean(1); order = np.argsort(u, kind="stable")
for c in (50, 80, 100):
    keep = int(np.ceil(c / 100 * n - 1e-9))
    close(grab(texts, rf"^{c}%: ([0-9.]+)", f"{c}% annotation"), ok[order[:keep]].mean(), f"coverage {c}", 5.1e-4)
close(grab(texts, r"error AUROC of disagreement ([0-9.]+)", "error AUROC"), auroc(u, (~ok).astype(int)),
      "error AUROC", 5.1e-4)
needs(texts, ["Selective prediction", "coverage", "accuracy on kept pairs"], "selective")
# the legend's frame lies beside the axes' frame, never over the curves
def frame_x(gid, inner):  # x range of the first path under group gid, then under its inner group
    grp = g[gid]
    for sub in grp.iter(NS + "g"):
        if sub.get("id", "").startswith(inner):
            xs = [float(v) for v in re.findall(r"[ML]\s*([-0-9.]+)\s+[-0-9.]+", next(sub.iter(NS + "path")).get("d"))]
            return min(xs), max(xs)
    raise AssertionError(f"no {inner} under {gid}")
ax_lo, ax_hi = frame_x("axes_1", "patch_")
lg_lo, lg_hi = frame_x("legend_1", "patch_")
assert lg_lo >= ax_hi, f"selective legend x {lg_lo:.0f}-{lg_hi:.0f} overlaps the axes {ax_lo:.0f}-{ax_hi:.0f}"

# disagreement: std of the members' rewards per sequence, in vs out of distribution
png("disagreement", 700, 450)
g, legend, texts = svg("disagreement")
has_path(g, "in-distribution", 5)
has_path(g, "out-of-distribution", 5)
needs(legend, ["in-distribution: test.h5 (400 sequences)", "out-of-distribution: ood.h5 (200 sequences)"],
      "disagreement legend")
a = np.concatenate([W.std(1), L.std(1), Ro.std(1)]); lab = np.r_[np.zeros(2 * n), np.ones(len(Ro))].astype(int)
close(grab(texts, r"AUROC \(OOD vs in-distribution\) ([0-9.]+)", "OOD AUROC"), auroc(a, lab), "OOD AUROC", 5.1e-4)
needs(texts, ["Ensemble disagreement", "disagreement: std of the members' rewards", "density"], "disagreement")
print("figures: all checks passed")
PYEOF

# Inputs not given: their figures are skipped, and said to be.
plot "$TMP/only" --metrics "$TMP/m.jsonl" >"$TMP/only.txt" 2>&1 || { cat "$TMP/only.txt"; fail "--metrics only"; }
[ -s "$TMP/only/training.png" ] && [ -s "$TMP/only/training.svg" ] || fail "--metrics only: no training figure"
[ "$(ls "$TMP/only" | wc -l)" = 2 ] || fail "--metrics only: wrote $(ls "$TMP/only")"
grep -q "skipped reliability" "$TMP/only.txt" && grep -q "skipped disagreement" "$TMP/only.txt" \
    || fail "--metrics only: skips not reported"
echo "ok: --metrics only draws training and reports the skipped figures"

# A run killed mid-line and resumed: the torn line is skipped with a warning, repeated
# steps keep their last record.
head -c -20 "$TMP/m.jsonl" >"$TMP/torn.jsonl" && cat "$TMP/m.jsonl" >>"$TMP/torn.jsonl" || fail "torn.jsonl"
plot "$TMP/torn" --metrics "$TMP/torn.jsonl" >"$TMP/torn.txt" 2>&1 || { cat "$TMP/torn.txt"; fail "torn metrics"; }
grep -q "skipped 1 line" "$TMP/torn.txt" && grep -q "60 train records, 3 eval records" "$TMP/torn.txt" \
    || { cat "$TMP/torn.txt"; fail "torn metrics: no warning or wrong records"; }
echo "ok: a torn metrics line is skipped with a warning"

# --bon: best-of-n curves of two candidate draws (bon --curve); every printed figure
# recomputed from the CSV files, every series present in the SVG.
for c in 1 2; do
    "$RMENS" synth --split test --n 6 --candidates 16 --seed $((20 + c)) --trap-kinds all --traps 0.3 \
        --out "$TMP/cand$c.h5" --quiet || fail "synth --candidates"
    run 1 bon --ckpt "$TMP/ens.h5" --candidates "$TMP/cand$c.h5" --curve "$TMP/curve$c.csv" --quiet || fail "bon --curve"
done
plot "$TMP/bon" --bon "$TMP/curve1.csv" --bon "$TMP/curve2.csv" >"$TMP/bon.txt" 2>&1 || { cat "$TMP/bon.txt"; fail "--bon"; }
"$PY" - "$TMP" <<'PYEOF2' || { cat "$TMP/bon.txt"; fail "--bon figures"; }
import csv, re, sys, xml.etree.ElementTree as ET
import numpy as np
d = sys.argv[1]
cur = []
for c in (1, 2):
    rows = list(csv.DictReader(open(f"{d}/curve{c}.csv")))
    cur.append({(r["by"], int(r["n"])): float(r["gold"]) for r in rows})
members = sorted({b for b, _ in cur[0] if b.startswith("member:")})
def gold(c, key, n):
    if key == "single":
        return np.mean([c[(m, n)] for m in members])
    if key == "best":
        return c[(max(members, key=lambda m: c[(m, 16)]), n)]
    return c[(key, n)]
out = open(f"{d}/bon.txt").read()
names = {"single": "single member (mean of K)", "best": "best single member", "mean": "mean", "min": "min (WCO)",
         "uwo": "UWO"}
for key, label in names.items():
    m = re.search(re.escape(f"bon: {label}: gold ") + r"([0-9.]+) at n=1, peak ([0-9.]+) at n=(\d+), ([0-9.]+) \+- ([0-9.]+) at n=16", out)
    assert m, (label, out)
    g = np.array([[gold(c, key, n) for n in (1, 2, 4, 8, 16)] for c in cur])
    want = (g.mean(0)[0], g.mean(0).max(), (1, 2, 4, 8, 16)[g.mean(0).argmax()], g.mean(0)[-1], g[:, -1].std(ddof=1))
    got = tuple(float(x) for x in m.groups())
    assert np.allclose(got, want, atol=6e-5), (label, got, want)
for key in ("mean", "min", "uwo"):
    m = re.search(re.escape(f"bon: {key} - best single member at n=16: ") + r"([-+0-9.]+) \+- ([0-9.]+)", out)
    diff = np.array([gold(c, key, 16) - gold(c, "best", 16) for c in cur])
    assert m and abs(float(m.group(1)) - diff.mean()) < 6e-5 and abs(float(m.group(2)) - diff.std(ddof=1)) < 6e-5, (key, out)
ids = {e.get("id") for e in ET.parse(f"{d}/bon/bon.svg").getroot().iter()}
for key in names:
    for what in ("gold", "proxy", "proxy-gold"):
        assert f"{what}-{key}" in ids, (what, key)
print("bon: figures match the curve files; every series drawn")
PYEOF2
# --prm-bon: accuracy against n of labelled curve files (any bon --curve file has the series)
plot "$TMP/pb" --prm-bon "PRM min=$TMP/curve1.csv" --prm-bon "ORM=$TMP/curve2.csv" >"$TMP/pb.txt" 2>&1 ||
    { cat "$TMP/pb.txt"; fail "--prm-bon"; }
"$PY" - "$TMP" <<'PYEOF2' || { cat "$TMP/pb.txt"; fail "--prm-bon figures"; }
import csv, re, sys, xml.etree.ElementTree as ET
import numpy as np
d = sys.argv[1]
out = open(f"{d}/pb.txt").read()
for i, (label, c) in enumerate((("PRM min", 1), ("ORM", 2))):
    g = {(r["by"], int(r["n"])): float(r["gold"]) for r in csv.DictReader(open(f"{d}/curve{c}.csv"))}
    members = sorted({b for b, _ in g if b.startswith("member:")})
    line = re.search(re.escape(f"prm_bon: {label}: ensemble mean ") + r"(.*)", out).group(1)
    got = [float(x) for x in re.findall(r"n=\d+ ([0-9.]+)", line)]
    want = [g[("mean", n)] for n in (1, 2, 4, 8, 16)] + [np.mean([g[(m, 16)] for m in members])]
    assert np.allclose(got[:6], want, atol=6e-5), (label, got, want)
    m = re.search(r"ensemble min ([0-9.]+), uwo ([0-9.]+)", line)
    assert abs(float(m.group(1)) - g[("min", 16)]) < 6e-5 and abs(float(m.group(2)) - g[("uwo", 16)]) < 6e-5, line
    ids = {e.get("id") for e in ET.parse(f"{d}/pb/prm_bon.svg").getroot().iter()}
    assert f"prm-bon-{i}-mean" in ids and f"prm-bon-{i}-single" in ids, ids
print("prm_bon: figures match the curve files; every series drawn")
PYEOF2

# Bad input: exit status 1, a message naming the file, and nothing written.
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/test.h5" --out "$TMP/noper.h5" --quiet || fail "score"
printf 'not json\n{"type":"train","step":1,"loss":[0.7,0.6]}\n' >"$TMP/bad.jsonl"
expect_fail() {
    pat=$1; shift
    rm -rf "$TMP/err-out"
    plot "$TMP/err-out" "$@" >"$TMP/out.txt" 2>"$TMP/err.txt"
    rc=$?
    [ $rc = 1 ] || { cat "$TMP/out.txt" "$TMP/err.txt"; fail "exit $rc (expected 1): $*"; }
    grep -qF -- "$pat" "$TMP/err.txt" || { cat "$TMP/err.txt"; fail "no '$pat' in the message: $*"; }
    [ -z "$(ls -A "$TMP/err-out" 2>/dev/null)" ] || fail "wrote files on error: $*"
    echo "ok: exit 1, '$(head -n 1 "$TMP/err.txt")'"
}
expect_fail "$TMP/absent.jsonl: no such file" --metrics "$TMP/absent.jsonl"
expect_fail "$TMP/m.jsonl: not a curve file of rmens bon --curve" --bon "$TMP/m.jsonl"
expect_fail "--prm-bon: expected LABEL=FILE" --prm-bon "$TMP/curve1.csv"
expect_fail "$TMP/absent.h5: no such file" --metrics "$TMP/m.jsonl" --scores "$TMP/absent.h5"
expect_fail "$TMP/absent.h5: no such file" --scores "$TMP/s.h5" --ood-scores "$TMP/absent.h5"
expect_fail "$TMP/ens.h5: rmens_format is \"ensemble\"" --scores "$TMP/ens.h5"
expect_fail "$TMP/test.h5: rmens_format is \"pairs\"" --scores "$TMP/s.h5" --ood-scores "$TMP/test.h5"
expect_fail "$TMP/noper.h5: no per-member rewards" --scores "$TMP/noper.h5"
expect_fail "$TMP/o.h5: holds scores of responses" --scores "$TMP/o.h5"
expect_fail "$TMP/m.jsonl: not an HDF5 file" --scores "$TMP/m.jsonl"
expect_fail "$TMP/bad.jsonl:1: not JSON" --metrics "$TMP/bad.jsonl"
expect_fail "$TMP/s.h5:1: not JSON" --metrics "$TMP/s.h5"
echo "plot: all passed"
