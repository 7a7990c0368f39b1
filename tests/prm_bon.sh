#!/bin/sh
# Best-of-n with a process reward model (rmens bon on a steps file of candidates):
#   1. rmens synth --steps-file --candidates N writes N plain solutions per problem, each
#      step closed by its separator and labelled (checked against the question's digits
#      in numpy);
#   2. for each aggregate (min, prod, last), the members' solution scores bon picks by
#      equal the aggregates of rmens score's per-step probabilities, taken in numpy; the
#      picks (rule min) and the best-of-n curves (every member and rule, n = 1, 2, 4)
#      match a brute force over every n-subset in numpy, with gold = the solution is
#      right (all its labelled steps);
#      the picks are identical on 1 and 2 ranks;
#   3. refusals: a PRM with a responses file, a pairwise RM with a steps file, a PRM with
#      --normalize member, an unknown aggregate: a clear message, nothing written.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

"$RMENS" synth --task sort --steps-file --n 300 --seed 3 --out "$TMP/train.h5" --quiet || fail "synth train"
"$RMENS" synth --task sort --steps-file --candidates 6 --n 12 --seed 4 --split test --out "$TMP/cand.h5" --quiet ||
    fail "synth --steps-file --candidates"
"$RMENS" synth --task steps --steps-file --candidates 5 --n 8 --seed 5 --out "$TMP/sums.h5" --quiet ||
    fail "synth --task steps --steps-file --candidates"
run 2 train --objective prm --data "$TMP/train.h5" --members 2 --layers 1 --heads 2 --embd 16 --ctx 64 --batch 8 \
    --steps 30 --warmup 4 --lr 3e-3 --eval-every 0 --out "$TMP/prm.h5" >"$TMP/train.out" || fail "train prm"
grep -q "data $TMP/train.h5: 600 solutions; bootstrap with replacement; 30 steps of 8 solutions" "$TMP/train.out" &&
    grep -q "^step 30/30 .* solutions/s" "$TMP/train.out" || { cat "$TMP/train.out"; fail "train's lines count pairs"; }
"$RMENS" info "$TMP/prm.h5" >"$TMP/info.out" || fail "info"
grep -q "objective        prm: a process reward model" "$TMP/info.out" &&
    grep -q "bootstrap        1 x 600 solutions of" "$TMP/info.out" || { cat "$TMP/info.out"; fail "info of a PRM"; }

# 1. the candidates files
"$PY" - "$TMP/cand.h5" "$TMP/sums.h5" <<'PY' || fail "candidates' steps and labels"
import re, sys, h5py, numpy as np
for path, G, N in ((sys.argv[1], 12, 6), (sys.argv[2], 8, 5)):
    f = h5py.File(path, "r")
    assert f.attrs["rmens_format"] in ("steps", b"steps"), f.attrs["rmens_format"]
    tok, off = f["steps/tokens"][:], f["steps/offsets"][:]
    so, end, y = f["steps/step_offsets"][:], f["steps/step_end"][:], f["steps/step_label"][:]
    pid, plen = f["prompt_id"][:], f["prompt_len"][:]
    assert np.array_equal(pid, np.repeat(np.arange(G), N)), pid
    right = 0
    for i in range(G * N):
        t = bytes(tok[off[i]:off[i + 1] - 1].astype(np.uint8)).decode()   # without end-of-text
        q = [int(x) for x in re.findall(r"\d+", t[:plen[i]].split("Human:")[1].split(".")[0])]
        steps = t[plen[i]:].split("\n")[:-1]
        assert t.endswith("\n") and so[i + 1] - so[i] == len(steps), (t, so[i:i + 2])
        at = plen[i]
        for k, s in enumerate(steps):   # each step closes on its separator's token
            at += len(s) + 1
            assert end[so[i] + k] == at, (i, k, end[so[i] + k], at)
        if "sort" in t[:plen[i]]:
            want = [float(int(s) == v) for s, v in zip(steps, sorted(q))]
        else:                           # running sums: right while the total is
            want, tot = [], q[0]
            for s, v in zip(steps, q[1:]):
                tot += v
                want.append(float(int(s.split("=")[1]) == tot))
        assert np.array_equal(y[so[i]:so[i + 1]], want), (t, y[so[i]:so[i + 1]], want)
        right += min(want) == 1
    print(f"{path}: {G * N} solutions, {right} right; steps, separators and labels as the questions say")
PY

# 2. bon against score and brute force, for each aggregate
run 2 score --ckpt "$TMP/prm.h5" --data "$TMP/cand.h5" --out "$TMP/s.h5" --quiet || fail "score"
for a in min prod last; do
    run 2 bon --ckpt "$TMP/prm.h5" --candidates "$TMP/cand.h5" --by min --aggregate $a --out "$TMP/p_$a.h5" \
        --curve "$TMP/c_$a.csv" >"$TMP/bon_$a.out" || { cat "$TMP/bon_$a.out"; fail "bon --aggregate $a"; }
done
cat "$TMP/bon_min.out"
run 1 bon --ckpt "$TMP/prm.h5" --candidates "$TMP/cand.h5" --by min --aggregate prod --out "$TMP/p1.h5" --quiet ||
    fail "bon on 1 rank"
"$PY" - "$TMP" <<'PY' || fail "bon of a PRM against numpy"
import csv, itertools, math, sys, h5py, numpy as np
d = sys.argv[1]
c = h5py.File(d + "/cand.h5", "r")
so, y, pid = c["steps/step_offsets"][:], c["steps/step_label"][:], c["prompt_id"][:]
right = np.array([float(y[so[i]:so[i + 1]].min() >= 0.5) for i in range(len(so) - 1)])
G = pid.max() + 1
sc = h5py.File(d + "/s.h5", "r")
P, sso = sc["steps/prob"][:].astype(np.float64), sc["step_offsets"][:]   # every member's step probabilities
assert np.array_equal(sso, so)
agg = {"min": lambda p: p.min(0), "prod": lambda p: p.prod(0), "last": lambda p: p[-1]}
for a in ("min", "prod", "last"):
    R = np.array([agg[a](P[so[i]:so[i + 1]]) for i in range(len(so) - 1)])   # [solutions, K]
    K = R.shape[1]
    aggs = {f"member:{k}": R[:, k] for k in range(K)}
    aggs.update(mean=R.mean(1), min=R.min(1), uwo=R.mean(1) - 0.5 * R.var(1))
    p = h5py.File(f"{d}/p_{a}.h5", "r")
    assert p.attrs["aggregate"] in (a, a.encode()), p.attrs["aggregate"]
    idx = p["index"][:]
    for g in range(G):
        rows = np.flatnonzero(pid == g)
        assert idx[g] == rows[int(np.argmax(aggs["min"][rows]))], (a, g)
    assert np.allclose(p["rewards"][:], R[idx], rtol=0, atol=2e-7)
    assert np.array_equal(p["gold"][:], right[idx])
    rows = list(csv.DictReader(open(f"{d}/c_{a}.csv")))
    assert {r["by"] for r in rows} == set(aggs) and {int(r["n"]) for r in rows} == {1, 2, 4}, rows[:3]
    worst = 0.0
    for r in rows:
        v, n = aggs[r["by"]], int(r["n"])
        gp = 0.0
        for g in range(G):
            sub = list(itertools.combinations(np.flatnonzero(pid == g), n))
            for s in sub:
                s = np.array(s)
                gp += right[s[int(np.argmax(v[s]))]] / len(sub) / G
        worst = max(worst, abs(float(r["gold"]) - gp))
    assert worst < 1e-9, (a, worst)
    print(f"aggregate {a}: picks and {len(rows)} curve points match numpy (worst {worst:.1e}); "
          f"picks right {right[idx].mean():.3f}, a random solution {right.mean():.3f}")
a, b = h5py.File(d + "/p_prod.h5", "r"), h5py.File(d + "/p1.h5", "r")
for k in ("index", "rewards", "value", "uncertainty", "gold"):
    assert np.array_equal(a[k][:], b[k][:], equal_nan=True), k
print("picks identical on 1 and 2 ranks")
PY

# 3. refusals
"$RMENS" synth --candidates 3 --n 4 --out "$TMP/resp.h5" --quiet || fail "synth responses"
"$RMENS" synth --n 40 --out "$TMP/pairs.h5" --quiet || fail "synth pairs"
run 2 train --data "$TMP/pairs.h5" --members 2 --layers 1 --heads 2 --embd 16 --ctx 64 --steps 2 --eval-every 0 \
    --out "$TMP/rm.h5" --quiet || fail "train rm"
refused() {  # what, message, args...
    what=$1 msg=$2; shift 2
    run 2 bon "$@" --out "$TMP/no.h5" >"$TMP/out" 2>&1 && fail "$what: accepted"
    [ "$(grep -c -- "$msg" "$TMP/out")" -ge 1 ] || { cat "$TMP/out"; fail "$what: unclear message"; }
    [ -e "$TMP/no.h5" ] && fail "$what: wrote its output"
    echo "refused ($what): $(head -1 "$TMP/out")"
}
refused "PRM, responses file" "picks among the solutions of a steps file" --ckpt "$TMP/prm.h5" --candidates "$TMP/resp.h5" --by mean
refused "RM, steps file" "need a process reward model" --ckpt "$TMP/rm.h5" --candidates "$TMP/cand.h5" --by mean
refused "PRM, --normalize member" "probabilities, not standardised" --ckpt "$TMP/prm.h5" --candidates "$TMP/cand.h5" \
    --by mean --normalize member
refused "unknown aggregate" "expected min, prod or last" --ckpt "$TMP/prm.h5" --candidates "$TMP/cand.h5" --by mean \
    --aggregate mean
echo "prm_bon: all passed"
