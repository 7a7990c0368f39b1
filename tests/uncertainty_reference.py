"""Independent numpy reference for rmens' error signals (docs/EVALUATION.md, "Which
signal spots the ensemble's errors"), written apart from ensemble/uncertainty.c.

D is [n, K]: member k's margin r_w - r_l on pair i. Every signal is oriented so that
higher means less sure of the ensemble's decision (by mean reward).
"""
import numpy as np

NAMES = ("std", "votes", "bald", "entropy", "spread")


def _h(p):
    """Binary entropy in nats, 0 log 0 = 0."""
    p = np.clip(p, 0.0, 1.0)
    out = np.zeros_like(p)
    for q in (p, 1 - p):
        m = q > 0
        out[m] -= q[m] * np.log(q[m])
    return out


def signals(D):
    D = np.asarray(D, dtype=np.float64)
    n, K = D.shape
    m = D.mean(1)
    s = D.std(1)
    pro = (D > 0).sum(1) + 0.5 * (D == 0).sum(1)
    votes = np.minimum(pro, K - pro) / K
    P = 1 / (1 + np.exp(-D))
    entropy = _h(P.mean(1))
    bald = entropy - _h(P).mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(m == 0, np.inf, s / np.abs(m))
    return {"std": s, "votes": votes, "bald": bald, "entropy": entropy, "spread": spread}


def expected_risk(u, wrong, tol=0.0):
    """Expected risk at every coverage k = 1..n when items are taken by increasing u and
    items within tol of each other (transitively: a run of sorted values with gaps <= tol)
    are one tie group taken in random order. Formulated per item: P(item in first k)."""
    u = np.asarray(u, dtype=np.float64)
    wrong = np.asarray(wrong, dtype=np.float64)
    n = len(u)
    order = np.argsort(u, kind="stable")
    su = u[order]
    gap = np.diff(su)
    same = (gap <= tol) | (np.isinf(su[1:]) & (su[1:] == su[:-1]))
    gid = np.concatenate([[0], np.cumsum(~same)])
    group = np.empty(n, dtype=int)
    group[order] = gid
    size = np.bincount(gid)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    before, g = start[group], size[group]
    k = np.arange(1, n + 1)[:, None]
    inside = np.clip((k - before[None, :]) / g[None, :], 0.0, 1.0)  # [n coverages, n items]
    return (inside * wrong[None, :]).sum(1) / k[:, 0]


def aurc(u, wrong, tol=0.0):
    return float(expected_risk(u, wrong, tol).mean())


def selective_accuracy(u, wrong, coverage, tol=0.0):
    n = len(u)
    keep = int(np.ceil(coverage * n - 1e-9))
    return float(1 - expected_risk(u, wrong, tol)[keep - 1])


def auroc(score, lab):
    pos, neg = score[lab == 1], score[lab == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    d = pos[:, None] - neg[None, :]
    eq = (pos[:, None] == neg[None, :])
    return float(((d > 0) + 0.5 * eq).sum() / d.size)


def report(W, L, coverages=(0.5, 0.8, 1.0), tol=0.0):
    """Per signal: AUROC for errors, AURC, selective accuracy; W, L [n, K] rewards."""
    W, L = np.asarray(W, np.float64), np.asarray(L, np.float64)
    wrong = (W.mean(1) <= L.mean(1)).astype(int)
    out = {}
    for name, u in signals(W - L).items():
        out[name] = {"auroc": auroc(u, wrong), "aurc": aurc(u, wrong, tol),
                     **{f"acc{int(c * 100)}": selective_accuracy(u, wrong, c, tol) for c in coverages}}
    return out


if __name__ == "__main__":
    import sys
    import h5py
    for path in sys.argv[1:]:
        s = h5py.File(path)
        r = report(s["chosen/rewards"][:], s["rejected/rewards"][:])
        W, L = s["chosen/rewards"][:], s["rejected/rewards"][:]
        acc = float((W.mean(1) > L.mean(1)).mean())
        print(f"{path}: accuracy {acc:.4f}")
        for k, v in r.items():
            print(f"  {k:8s} " + " ".join(f"{a} {b:.4f}" for a, b in v.items()))
