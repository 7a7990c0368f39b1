#!/bin/sh
# rmens score: aggregates recomputed from --per-member output, the same score files on
# P = 1, 2, 4 ranks, a model file as a one-member ensemble, and bad input.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy

"$RMENS" synth --n 200 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" synth --n 70 --seed 6 --split test --out "$TMP/pairs.h5" --quiet || fail "synth"
"$RMENS" synth --n 45 --seed 7 --split test --responses --out "$TMP/resp.h5" --quiet || fail "synth"
run 2 train --data "$TMP/train.h5" --members 2 --layers 1 --heads 2 --embd 32 --ctx 48 --batch 8 --steps 30 \
    --truncate-prompts --quiet --out "$TMP/ens.h5" || fail "train"

for np in 1 2 4; do
    run $np score --ckpt "$TMP/ens.h5" --data "$TMP/resp.h5" --out "$TMP/r$np.h5" --per-member --normalize none --quiet \
        || fail "score -n $np"
    run $np score --ckpt "$TMP/ens.h5" --data "$TMP/pairs.h5" --out "$TMP/p$np.h5" --per-member --lambda 0.7 \
        --normalize member --quiet || fail "score pairs -n $np"
done
"$PY" - "$TMP" <<'PYEOF' || fail "score files"
import sys, h5py, numpy as np
d = sys.argv[1]
ens = h5py.File(d + "/ens.h5", "r")
K = ens.attrs["members"]
stats = np.array([[ens[f"members/{k:03d}"].attrs[a] for a in ("reward_mean", "reward_std")] for k in range(K)])
def check(f, g, lam):
    r = f[g + "rewards"][:].astype(np.float64)
    assert r.shape[1] == K
    m, v = r.mean(1), r.var(1)
    for name, want in (("mean", m), ("var", v), ("std", np.sqrt(v)), ("uwo", m - lam * v), ("min", r.min(1)),
                       ("max", r.max(1)), ("wco", r.min(1))):
        got = f[g + name][:]
        err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-3)
        assert err < 1e-6, (g + name, err)
for n in (1, 2, 4):
    r, p = h5py.File(f"{d}/r{n}.h5", "r"), h5py.File(f"{d}/p{n}.h5", "r")
    check(r, "", 0.5)
    check(p, "chosen/", 0.7)
    check(p, "rejected/", 0.7)
    assert r.attrs["rmens_format"] == "scores" and r.attrs["members"] == K and r.attrs["checkpoint_step"] == 30
    assert p.attrs["normalize"] == "member" and abs(p.attrs["lambda"] - 0.7) < 1e-12
    assert r["mean"].shape == (90,) and p["chosen/mean"].shape == (70,)
    # per-member rewards bit-identical whatever P; aggregates within 1e-6 (merge order)
    r1, p1 = h5py.File(f"{d}/r1.h5", "r"), h5py.File(f"{d}/p1.h5", "r")
    assert np.array_equal(r["rewards"][:], r1["rewards"][:]), n
    assert np.array_equal(p["chosen/rewards"][:], p1["chosen/rewards"][:]), n
    for g in ("mean", "var", "uwo"):
        a, b = r[g][:], r1[g][:]
        assert np.abs(a - b).max() <= 1e-6 * max(np.abs(b).max(), 1), (n, g)
# --normalize member: standardised by each member's stored statistics
raw = h5py.File(f"{d}/r1.h5", "r")["rewards"][:]
print("score files consistent; K =", K)
PYEOF

# Normalisation, checked against the raw rewards and the checkpoint's statistics.
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/pairs.h5" --out "$TMP/praw.h5" --per-member --normalize none --quiet \
    || fail "raw"
# score's default is eval's: standardised when the checkpoint has statistics
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/pairs.h5" --out "$TMP/pdef.h5" --per-member --quiet || fail "default"
"$PY" - "$TMP" <<'PYEOF' || fail "normalisation"
import sys, h5py, numpy as np
d = sys.argv[1]
ens = h5py.File(d + "/ens.h5", "r")
raw, nrm = h5py.File(d + "/praw.h5", "r"), h5py.File(d + "/p1.h5", "r")
for k in range(ens.attrs["members"]):
    mu, sd = ens[f"members/{k:03d}"].attrs["reward_mean"], ens[f"members/{k:03d}"].attrs["reward_std"]
    want = (raw["chosen/rewards"][:, k] - mu) / sd
    assert np.abs(nrm["chosen/rewards"][:, k] - want).max() < 1e-5 * max(1, np.abs(want).max())
dflt = h5py.File(d + "/pdef.h5", "r")
assert dflt.attrs["normalize"] in ("member", b"member"), dflt.attrs["normalize"]
assert np.array_equal(dflt["chosen/rewards"][:], nrm["chosen/rewards"][:])
print("normalisation ok (the default standardises)")
PYEOF

# Each member's stored reward_mean/std against the rewards score gives the training
# pairs: over all of them (200 < --norm-pairs' default), and over the evenly spaced
# sample of --norm-pairs 7 (pairs (2i + 1) * 200 // 14), with members otherwise identical.
run 2 train --data "$TMP/train.h5" --members 2 --layers 1 --heads 2 --embd 32 --ctx 48 --batch 8 --steps 30 \
    --truncate-prompts --quiet --norm-pairs 7 --oob-pairs 5 --out "$TMP/ens7.h5" || fail "train --norm-pairs 7"
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/train.h5" --out "$TMP/trs.h5" --per-member --normalize none --quiet \
    || fail "score the training pairs"
"$PY" - "$TMP" <<'PYEOF' || fail "reward statistics"
import sys, h5py, numpy as np
d = sys.argv[1]
ens, ens7, s = h5py.File(d + "/ens.h5", "r"), h5py.File(d + "/ens7.h5", "r"), h5py.File(d + "/trs.h5", "r")
n = s["chosen/rewards"].shape[0]
assert n == 200
pick = [(2 * i + 1) * n // 14 for i in range(7)]
for k in range(ens.attrs["members"]):
    a, a7 = ens[f"members/{k:03d}"], ens7[f"members/{k:03d}"]
    for t in a["params"]:
        assert np.array_equal(a["params"][t][()], a7["params"][t][()]), ("--norm-pairs changed training", t)
    r = np.concatenate([s["chosen/rewards"][:, k], s["rejected/rewards"][:, k]]).astype(np.float64)
    r7 = np.concatenate([s["chosen/rewards"][pick, k], s["rejected/rewards"][pick, k]]).astype(np.float64)
    for got, want in ((a.attrs["reward_mean"], r.mean()), (a.attrs["reward_std"], r.std()),
                      (a7.attrs["reward_mean"], r7.mean()), (a7.attrs["reward_std"], r7.std())):
        assert abs(got - want) <= 1e-5 * max(1.0, abs(want)), (k, got, want)
    print("member %d: reward mean %.5f std %.5f over %d pairs; %.5f %.5f over 7" % (
        k, r.mean(), r.std(), n, r7.mean(), r7.std()))
    # Out-of-bag figures: every pair the member's bootstrap never drew, or (--oob-pairs 5)
    # the evenly spaced sample (2i + 1) * n_oob // 10 of them.
    oob = np.flatnonzero(a["bootstrap_counts"][()] == 0)
    assert np.array_equal(oob, np.flatnonzero(a7["bootstrap_counts"][()] == 0)) and len(oob) > 5
    for att, idx in ((a.attrs, oob), (a7.attrs, oob[[(2 * i + 1) * len(oob) // 10 for i in range(5)]])):
        d = s["chosen/rewards"][idx, k].astype(np.float64) - s["rejected/rewards"][idx, k]
        # (training and scoring batch pairs differently: a near-tie may fall either way)
        lo, hi = np.mean(d > 1e-5), np.mean(d > -1e-5)
        assert lo <= att["oob_accuracy"] <= hi, (k, att["oob_accuracy"], lo, hi)
        assert abs(att["oob_loss"] - np.mean(np.logaddexp(0, -d))) <= 1e-5, (k, att["oob_loss"])
        assert abs(att["oob_margin"] - np.mean(d)) <= 1e-5, (k, att["oob_margin"])
    print("member %d: %d out-of-bag pairs, accuracy %.4f; %.4f over 5" % (k, len(oob), a.attrs["oob_accuracy"],
                                                                         a7.attrs["oob_accuracy"]))
PYEOF

# A single member as a model file: a one-member ensemble, variance zero.
"$PY" - "$TMP/ens.h5" "$TMP/m1.h5" <<'PYEOF' || fail "extract"
import sys, h5py
with h5py.File(sys.argv[1], "r") as e, h5py.File(sys.argv[2], "w") as m:
    m.attrs["rmens_format"] = "model"; m.attrs["rmens_version"] = 1
    for k in ("vocab_size", "n_ctx", "n_layer", "n_head", "n_embd"):
        m.attrs[k] = e.attrs[k]
    e.copy("members/001/params", m, "params")
PYEOF
run 2 score --ckpt "$TMP/m1.h5" --data "$TMP/resp.h5" --out "$TMP/one.h5" --per-member --quiet || fail "model file"
"$PY" - "$TMP" <<'PYEOF' || fail "one-member ensemble"
import sys, h5py, numpy as np
d = sys.argv[1]
one, full = h5py.File(d + "/one.h5", "r"), h5py.File(d + "/r1.h5", "r")
assert one.attrs["members"] == 1 and one.attrs["checkpoint_step"] == -1
assert np.array_equal(one["rewards"][:, 0], full["rewards"][:, 1]) and np.all(one["var"][:] == 0)
print("model file = member 1")
PYEOF

# Sequences shortened to fit the context are counted, by the rule of docs/FORMAT.md: a
# pair cut while its prompt remains loses tokens on both sides.
n=$("$PY" -c "
import h5py, numpy as np
f = h5py.File('$TMP/pairs.h5'); T = 48; c = 0
a, b, P = np.diff(f['chosen/offsets'][:]), np.diff(f['rejected/offsets'][:]), f['prompt_len'][:]
for x, y, p in zip(a, b, P):
    cut = max(x, y) - T
    c += 2 if 0 < cut < p else int(x > T) + int(y > T)
print(c)")
[ "$("$PY" -c "import h5py; print(h5py.File('$TMP/p1.h5').attrs['sequences_cut'])")" = "$n" ] || fail "sequences_cut != $n"
echo "ok: $n sequences cut and counted"

expect_fail() {
    pat=$1; shift
    "$@" >"$TMP/out" 2>"$TMP/err" && fail "succeeded: $*"
    grep -qF -- "$pat" "$TMP/err" || { cat "$TMP/err"; fail "no '$pat': $*"; }
    echo "ok: '$pat'"
}
cp "$TMP/r1.h5" "$TMP/keep.h5"
expect_fail "already exists (pass --force" run 2 score --ckpt "$TMP/ens.h5" --data "$TMP/resp.h5" --out "$TMP/keep.h5"
cmp -s "$TMP/keep.h5" "$TMP/r1.h5" || fail "an existing output was touched"
expect_fail "--lambda: expected a non-negative number" run 2 score --ckpt "$TMP/ens.h5" --data "$TMP/resp.h5" --out "$TMP/x.h5" --lambda -1
expect_fail "--lambda: expected a non-negative number" run 2 score --ckpt "$TMP/ens.h5" --data "$TMP/resp.h5" --out "$TMP/x.h5" --lambda nan
expect_fail "--normalize member: " run 2 score --ckpt "$TMP/m1.h5" --data "$TMP/resp.h5" --out "$TMP/x.h5" --normalize member
"$PY" - "$TMP" <<'PYEOF' || fail "making bad inputs"
import sys, h5py, numpy as np
d = sys.argv[1]
for name, tok in (("v300", "bytes"), ("bpe", "other")):
    with h5py.File(d + "/" + name + ".h5", "w") as f:
        f.attrs.update(rmens_format="responses", rmens_version=1, vocab_size=300, eot_token=299, tokenizer=tok)
        f["responses/tokens"] = np.array([5, 280, 299], np.int32)
        f["responses/offsets"] = np.array([0, 3], np.int64)
data = open(d + "/ens.h5", "rb").read()
open(d + "/cut.h5", "wb").write(data[: len(data) // 2])
PYEOF
expect_fail "vocab_size 300 but the model reads 257" run 2 score --ckpt "$TMP/ens.h5" --data "$TMP/v300.h5" --out "$TMP/x.h5"
expect_fail 'tokenized by "other" but' run 2 score --ckpt "$TMP/ens.h5" --data "$TMP/bpe.h5" --out "$TMP/x.h5"
# --batch changes only how many sequences go through at once, not the rewards' meaning
run 2 score --ckpt "$TMP/ens.h5" --data "$TMP/resp.h5" --out "$TMP/b3.h5" --per-member --normalize none --batch 3 --quiet || fail "--batch 3"
"$PY" -c "
import h5py, numpy as np
a, b = h5py.File('$TMP/r1.h5')['rewards'][:], h5py.File('$TMP/b3.h5')['rewards'][:]
assert np.abs(a - b).max() <= 1e-5 * max(1, np.abs(a).max()), np.abs(a - b).max()" || fail "--batch 3 rewards"
expect_fail "cut.h5" run 2 score --ckpt "$TMP/cut.h5" --data "$TMP/resp.h5" --out "$TMP/x.h5"
printf '' >"$TMP/empty.h5"
expect_fail "empty.h5" run 2 score --ckpt "$TMP/ens.h5" --data "$TMP/empty.h5" --out "$TMP/x.h5"
[ ! -e "$TMP/x.h5" ] || fail "a failed run wrote its output"
echo "score_mpi: all passed"
