"""Recomputes, in numpy from the members' per-step probabilities of `rmens score` on a
steps file, what the scores file and `rmens eval --json` report (docs/EVALUATION.md,
"Process reward models"), written from their definitions:
  * per step: the ensemble's mean, population std and min over members;
  * per solution: min, product or last of its steps' mean probabilities (--aggregate),
    and each member's own;
  * over labelled steps (label >= 1/2: correct): step accuracy (p > 1/2) of each member
    and of the ensemble by mean and by min; AUROC of p for the label (the probability a
    correct step outscores a wrong one, ties 1/2); ECE with 10 equal bins of confidence
    max(p, 1 - p) (Guo et al.), p as the probability of the label;
  * ProcessBench first-error F1: the first labelled step with mean p <= 1/2 against the
    first labelled step with label < 1/2 (-1: none); F1 = 2 a b / (a + b), a the accuracy
    on solutions with an error, b on those without.
usage: prm_eval_check.py SCORES_MIN.h5 SCORES_PROD.h5 SCORES_LAST.h5 STEPS.h5 EVAL.json"""
import json, sys
import h5py, numpy as np

smin, sprod, slast, steps, evj = sys.argv[1:6]
bad = []
def close(what, a, b, tol=1e-5):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or not np.allclose(a, b, atol=tol, rtol=tol, equal_nan=True):
        bad.append("%s: %s vs %s" % (what, a.ravel()[:6], b.ravel()[:6]))

with h5py.File(steps, "r") as f:
    y = f["steps/step_label"][:].astype(float)
    so = f["steps/step_offsets"][:]
with h5py.File(smin, "r") as f:
    P = f["steps/prob"][:].astype(float)
    close("step_offsets", f["step_offsets"][:], so, 0)
    close("steps/label", f["steps/label"][:], y, 0)
    mean, std, mn = P.mean(1), P.std(1), P.min(1)
    close("steps/mean", f["steps/mean"][:], mean)
    close("steps/std", f["steps/std"][:], std)
    close("steps/min", f["steps/min"][:], mn)
aggs = {"min": np.min, "prod": np.prod, "last": lambda v: v[-1]}
for name, path in (("min", smin), ("prod", sprod), ("last", slast)):
    with h5py.File(path, "r") as f:
        a = aggs[name]
        close("score (%s)" % name, f["score"][:], [a(mean[so[i]:so[i + 1]]) for i in range(len(so) - 1)])
        close("member_score (%s)" % name, f["member_score"][:],
              [[a(P[so[i]:so[i + 1], k]) for k in range(P.shape[1])] for i in range(len(so) - 1)])
        close("steps/prob (%s)" % name, f["steps/prob"][:], P, 0)

lab = y != -1
Y = y[lab] >= 0.5
def acc(p): return float(np.mean((p[lab] > 0.5) == Y))
def auroc(p):
    pos, neg = p[lab][Y], p[lab][~Y]
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return gt / (len(pos) * len(neg))
def ece(p):
    q = np.where(Y, p[lab], 1 - p[lab])
    conf, right = np.maximum(q, 1 - q), q > 0.5
    b = np.minimum((conf * 10).astype(int), 9)
    return sum(abs(right[b == k].mean() - conf[b == k].mean()) * (b == k).sum() for k in range(10) if (b == k).any()) / len(q)
ev = json.load(open(evj))
close("member_step_accuracy", ev["member_step_accuracy"], [acc(P[:, k]) for k in range(P.shape[1])])
for name, p in (("mean", mean), ("min", mn)):
    close(name + " step_accuracy", ev[name]["step_accuracy"], acc(p))
    close(name + " auroc", ev[name]["auroc"], auroc(p))
    close(name + " ece", ev[name]["ece"], ece(p), 1e-4)
hit_e = hit_ok = n_e = n_ok = 0
for i in range(len(so) - 1):
    idx = [s for s in range(so[i], so[i + 1]) if y[s] != -1]
    if not idx:
        continue
    gold = next((s for s in idx if y[s] < 0.5), -1)
    pred = next((s for s in idx if not mean[s] > 0.5), -1)
    if gold >= 0:
        n_e += 1; hit_e += pred == gold
    else:
        n_ok += 1; hit_ok += pred == -1
a, b = hit_e / n_e, hit_ok / n_ok
close("first_error error_accuracy", ev["first_error"]["error_accuracy"], a)
close("first_error no_error_accuracy", ev["first_error"]["no_error_accuracy"], b)
close("first_error f1", ev["first_error"]["f1"], 2 * a * b / (a + b) if a + b > 0 else 0)
if bad:
    print("\n".join(bad)); sys.exit(1)
print("score and eval recomputed in numpy: %d steps (%d labelled), %d members; step accuracy %.4f, AUROC %.4f, "
      "ECE %.4f, first-error F1 %.4f" % (len(y), lab.sum(), P.shape[1], acc(mean), auroc(mean), ece(mean),
                                         2 * a * b / (a + b) if a + b > 0 else 0))
