"""Comparisons that follow float32 rounding, for tests that recompute rmens' figures.

rmens computes in float32 (its rewards, their means and spreads); a numpy recomputation
in float64 from the stored rewards can order two values that are float32-close the
other way, and another OpenBLAS kernel (OPENBLAS_CORETYPE) rounds differently again.
So a figure that depends on an order (a decision a > b, a rank, a bin, a cut) is
checked against the range it can take over every ordering of the values that are
within `tol` of each other; values further apart must be ordered exactly.
"""
import numpy as np

EPS32 = float(np.finfo(np.float32).eps)


def tol_for(*arrays, ulps=32):
    """Absolute tolerance: `ulps` float32 units at the arrays' largest magnitude."""
    m = max(float(np.max(np.abs(a))) if np.size(a) else 0.0 for a in arrays)
    return ulps * EPS32 * max(1.0, m)


def decision_range(d, tol):
    """Fraction of d > 0 when each |d| <= tol may fall either way."""
    d = np.asarray(d, dtype=np.float64)
    return float((d > tol).mean()), float((d > -tol).mean())


def auroc_range(score, lab, tol):
    """AUROC of score for lab == 1 over lab == 0 (ties count half), near-ties either way."""
    pos, neg = score[lab == 1], score[lab == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    diff = pos[:, None] - neg[None, :]
    n = len(pos) * len(neg)
    return float((diff > tol).sum() / n), float((diff >= -tol).sum() / n)


def coverage_range(u, correct, keep, tol):
    """Accuracy over the `keep` items of lowest u, near-ties at the cut either way."""
    u = np.asarray(u, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    cut = np.sort(u, kind="stable")[keep - 1]
    sure = u < cut - tol
    amb = np.abs(u - cut) <= tol
    m = keep - int(sure.sum())
    ca, wa = int((correct & amb).sum()), int((~correct & amb).sum())
    base = int((correct & sure).sum())
    return (base + max(0, m - wa)) / keep, (base + min(m, ca)) / keep


def _avg_ranks(v):
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    sv = v[order]
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sv[j + 1] == sv[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman_range(x, y, tol):
    """Spearman's rho of x and y (y exact: average ranks of ties) when values of x within
    tol of their neighbours may take any order among themselves: the extremes put each
    cluster in y's order and against it (rearrangement inequality); the all-tied case too."""
    x = np.asarray(x, dtype=np.float64)
    ry = _avg_ranks(np.asarray(y, dtype=np.float64))
    order = np.argsort(x, kind="stable")
    sx = x[order]
    cid = np.concatenate([[0], np.cumsum(np.diff(sx) > tol)])
    out = []
    for sign in (1, -1, 0):
        rx = np.empty(len(x))
        start = 0
        while start < len(x):
            end = start
            while end + 1 < len(x) and cid[end + 1] == cid[start]:
                end += 1
            members = order[start:end + 1]
            if sign == 0:
                rx[members] = (start + end) / 2 + 1
            else:
                members = members[np.argsort(sign * ry[members], kind="stable")]
                rx[members] = np.arange(start, end + 1) + 1
            start = end + 1
        out.append(float(np.corrcoef(rx, ry)[0, 1]))
    return min(out), max(out)


def ece_range(p, correct, bins, tol):
    """Expected calibration error (confidence max(p, 1-p) in `bins` equal bins) when a
    confidence within tol of a bin edge may fall in either bin: the range over both."""
    p = np.asarray(p, dtype=np.float64)
    c = np.maximum(p, 1 - p)
    lo_b = np.minimum(((c - tol) * bins).astype(int), bins - 1)
    hi_b = np.minimum(((c + tol) * bins).astype(int), bins - 1)
    vals = []
    for b in (lo_b, hi_b):
        e = 0.0
        for k in range(bins):
            m = b == k
            if m.any():
                e += m.mean() * abs(correct[m].mean() - c[m].mean())
        vals.append(e)
    return min(vals) - 1e-9, max(vals) + 1e-9


def within(got, rng, what, slack=1e-9):
    """Assert got lies in rng = (lo, hi) (or both are None)."""
    if rng is None or got is None:
        assert rng is None and got is None, (what, got, rng)
        return
    lo, hi = rng
    assert lo - slack <= got <= hi + slack, (what, got, rng)
