#!/bin/sh
# rmens bon (issue 17): best-of-n picks checked against an independent numpy selection
# from score --per-member of the same candidates (groups of 1-6, duplicate candidates for
# exact ties), identical picks on 1, 2 and 4 ranks, h5py-readable output, rmens info, and
# refusals: a pairs file, no /prompt_id, an empty group, another tokenizer, an existing
# --out, a member that does not exist. bon --curve against brute force over every subset.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy

"$RMENS" synth --n 300 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
run 2 train --data "$TMP/train.h5" --members 4 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --steps 30 \
    --truncate-prompts --quiet --out "$TMP/ens.h5" || fail "train"
# candidates: sort prompts with 1-6 answers each, right and wrong; prompt 3 repeats an
# answer (an exact tie: the lower index must win)
"$PY" - "$TMP/cands.jsonl" <<'PYEOF' || fail "candidates"
import json, random, sys
rng = random.Random(7)
with open(sys.argv[1], "w") as f:
    for p in range(24):
        xs = [rng.randint(0, 9) for _ in range(rng.randint(3, 5))]
        n = 1 if p == 0 else rng.randint(2, 6)
        outs = []
        for j in range(n):
            ys = sorted(xs) if rng.random() < 0.4 else rng.sample(xs, len(xs))
            outs.append(" ".join(map(str, ys)) + ("." if rng.random() < 0.3 else ""))
        if p == 3:
            outs = [outs[0], outs[0]] + outs[1:]
        f.write(json.dumps({"prompt": "sort " + " ".join(map(str, xs)), "responses": outs}) + "\n")
PYEOF
"$RMENS" prep --responses "$TMP/cands.jsonl" --out "$TMP/cands.h5" --quiet || fail "prep --responses"
for np in 1 2 4; do
    run $np bon --ckpt "$TMP/ens.h5" --candidates "$TMP/cands.h5" --by mean --out "$TMP/mean$np.h5" \
        >"$TMP/bon$np.txt" || fail "bon -n $np"
done
grep -q "bon: 24 prompts" "$TMP/bon1.txt" || { cat "$TMP/bon1.txt"; fail "bon summary"; }
for by in min uwo member:1; do
    run 2 bon --ckpt "$TMP/ens.h5" --candidates "$TMP/cands.h5" --by $by --lambda 0.7 --out "$TMP/$by.h5" --quiet \
        || fail "bon --by $by"
done
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/cands.h5" --out "$TMP/s.h5" --per-member --quiet || fail "score"
"$RMENS" info "$TMP/mean2.h5" >"$TMP/info.txt" || fail "info"
grep -q "best-of-n picks" "$TMP/info.txt" || { cat "$TMP/info.txt"; fail "info does not describe the picks"; }
"$PY" - "$TMP" <<'PYEOF' || fail "picks"
import sys, h5py, numpy as np
d = sys.argv[1]
s, c, ck = h5py.File(d + "/s.h5"), h5py.File(d + "/cands.h5"), h5py.File(d + "/ens.h5")
R = s["rewards"][:].astype(np.float64)
pid = c["prompt_id"][:]
K = R.shape[1]
G = pid.max() + 1
tol = 64 * np.finfo(np.float32).eps * max(1.0, np.abs(R).max())
rstd = np.array([ck[f"members/{k:03d}"].attrs["reward_std"] for k in range(K)])
agg = {"mean": lambda r: r.mean(1), "min": lambda r: r.min(1),
       "uwo": lambda r: r.mean(1) - 0.7 * r.var(1), "member:1": lambda r: r[:, 1]}
def entropy_of(dk):
    p = (1 / (1 + np.exp(-dk))).mean()
    return 0.0 if p in (0.0, 1.0) else float(-(p * np.log(p) + (1 - p) * np.log(1 - p)))
toks, offs = c["responses/tokens"][:], c["responses/offsets"][:]
for by, path in (("mean", "mean1.h5"), ("min", "min.h5"), ("uwo", "uwo.h5"), ("member:1", "member:1.h5")):
    f = h5py.File(d + "/" + path)
    assert f.attrs["rmens_format"] == "picks" and f.attrs["by"] == by, dict(f.attrs)
    assert len(f["index"]) == G
    v = agg[by](R)
    ties = 0
    for g in range(G):
        rows = np.flatnonzero(pid == g)  # candidates in file order
        vals = v[rows]
        j = int(np.argmax(vals))         # the first maximum: the lowest index
        got = int(f["index"][g])
        assert f["group_size"][g] == len(rows) and f["prompt_id"][g] == g
        if got != rows[j]:               # only a float32 near-tie may differ
            assert got in rows and v[got] >= vals.max() - tol, (by, g, got, rows[j], v[got], vals.max())
            ties += 1
        assert rows[int(f["candidate"][g])] == got
        assert np.array_equal(f["rewards"][g], s["rewards"][got]), (by, g)
        for col in ("mean", "min", "std"):
            want = {"mean": R[got].mean(), "min": R[got].min(), "std": R[got].std()}[col]
            assert abs(f[col][g] - want) <= 1e-5 * max(1, abs(want)), (by, g, col)
        assert abs(f["value"][g] - v[got]) <= 1e-5 * max(1, abs(v[got])), (by, g)
        seq = toks[offs[got]:offs[got + 1]]
        po = f["responses/offsets"][:]
        assert np.array_equal(f["responses/tokens"][po[g]:po[g + 1]], seq), (by, g)
        # uncertainty: of preferring the pick to the runner-up (members' own scale)
        if len(rows) == 1:
            assert np.isnan(f["uncertainty"][g])
        else:
            rest = [r for r in rows if r != got]
            runner = rest[int(np.argmax(v[rest]))]
            want = entropy_of((R[got] - R[runner]) * rstd)
            second = np.sort(v[rest])[::-1]
            if len(second) < 2 or second[0] - second[1] > tol:  # the runner-up is unambiguous
                assert abs(f["uncertainty"][g] - want) < 1e-5, (by, g, f["uncertainty"][g], want)
    # the duplicated candidate of prompt 3: an exact tie goes to the lower index
    r3 = np.flatnonzero(pid == 3)
    tie = np.array_equal(R[r3[0]], R[r3[1]]) and v[r3[0]] == v[r3].max()
    if tie:
        assert f["index"][3] == r3[0], (by, f["index"][3], r3)
    print(f"{by}: {G} picks match numpy ({ties} float32 near-ties; exact tie checked: {tie})")
a = h5py.File(d + "/mean1.h5")
for np_ in (2, 4):
    b = h5py.File(d + f"/mean{np_}.h5")
    for key in ("index", "rewards", "value", "uncertainty", "responses/tokens"):
        assert np.array_equal(a[key][:], b[key][:], equal_nan=True), (np_, key)
print("picks identical on 1, 2 and 4 ranks")
PYEOF
# Synthetic candidates carry gold rewards: the picks' gold is recorded and summarised.
"$RMENS" synth --n 40 --seed 12 --split test --responses --out "$TMP/gold.h5" --quiet || fail "synth --responses"
run 2 bon --ckpt "$TMP/ens.h5" --candidates "$TMP/gold.h5" --by min --out "$TMP/goldpicks.h5" >"$TMP/g.txt" \
    || fail "bon on gold candidates"
"$PY" - "$TMP" "$(sed -n 's/.*gold reward: \([0-9.-]*\) of the picks, \([0-9.-]*\) of a random.*/\1 \2/p' "$TMP/g.txt")" <<'PYEOF' \
    || { cat "$TMP/g.txt"; fail "gold of the picks"; }
import sys, h5py, numpy as np
d = sys.argv[1]
got = [float(x) for x in sys.argv[2].split()]
c, p = h5py.File(d + "/gold.h5"), h5py.File(d + "/goldpicks.h5")
gold, pid = c["responses/gold"][:], c["prompt_id"][:]
assert np.array_equal(p["gold"][:], gold[p["index"][:]])
rand = np.mean([gold[pid == g].mean() for g in range(pid.max() + 1)])
assert abs(got[0] - gold[p["index"][:]].mean()) < 1e-4 and abs(got[1] - rand) < 1e-4, (got, rand)
print(f"gold of the picks {got[0]:.4f}, of a random candidate {got[1]:.4f}")
PYEOF
# bon --curve: the unbiased best-of-n estimator against brute force over every n-subset
# of synthetic candidates (9 per prompt; agreeing candidates repeat one text: exact ties).
"$RMENS" synth --n 8 --candidates 9 --seed 13 --split test --traps 0.5 --trap-kinds all --out "$TMP/c9.h5" --quiet \
    || fail "synth --candidates"
run 2 bon --ckpt "$TMP/ens.h5" --candidates "$TMP/c9.h5" --curve "$TMP/curve.csv" --lambda 0.7 >"$TMP/c.txt" \
    || fail "bon --curve"
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/c9.h5" --out "$TMP/s9.h5" --per-member --quiet || fail "score c9"
"$PY" - "$TMP" <<'PYEOF2' || fail "curve against brute force"
import sys, csv, itertools, math, h5py, numpy as np
d = sys.argv[1]
R = h5py.File(d + "/s9.h5")["rewards"][:].astype(np.float64)
c = h5py.File(d + "/c9.h5")
gold, pid = c["responses/gold"][:].astype(np.float64), c["prompt_id"][:]
K, G = R.shape[1], pid.max() + 1
aggs = {f"member:{k}": R[:, k] for k in range(K)}
aggs.update(mean=R.mean(1), min=R.min(1), uwo=R.mean(1) - 0.7 * R.var(1))
rows = list(csv.DictReader(open(d + "/curve.csv")))
assert {r["by"] for r in rows} == set(aggs) and {int(r["n"]) for r in rows} == {1, 2, 4, 8}, rows[:3]
worst, ties = 0.0, 0
for r in rows:
    v, n = aggs[r["by"]], int(r["n"])
    gp = pp = 0.0
    for g in range(G):
        idx = np.flatnonzero(pid == g)
        sub = list(itertools.combinations(idx, n))
        for s in sub:
            s = np.array(s)
            j = s[int(np.argmax(v[s]))]           # first maximum: the lowest index
            ties += int((v[s] == v[j]).sum() > 1)
            gp += gold[j] / len(sub) / G
            pp += v[j] / len(sub) / G
    assert abs(float(r["kl_bon"]) - (math.log(n) - (n - 1) / n)) < 1e-12
    assert int(r["prompts"]) == G
    err = max(abs(float(r["gold"]) - gp), abs(float(r["proxy"]) - pp) / max(1, abs(pp)))
    worst = max(worst, err)
    assert err < 1e-9, (r, gp, pp)
print(f"curve: {len(rows)} points match brute force over every n-subset (worst {worst:.1e}; {ties} subsets with tied maxima)")
PYEOF2
run 1 bon --ckpt "$TMP/ens.h5" --candidates "$TMP/c9.h5" --curve "$TMP/curve.csv" >"$TMP/out" 2>"$TMP/err" \
    && fail "bon --curve replaced an existing file"
grep -q "already exists" "$TMP/err" || { cat "$TMP/err"; fail "bon --curve existing file message"; }
run 1 bon --ckpt "$TMP/ens.h5" --candidates "$TMP/c9.h5" --curve "$TMP/c2.csv" --out "$TMP/x.h5" >"$TMP/out" 2>"$TMP/err" \
    && fail "bon --out without --by"
[ -e "$TMP/c2.csv" ] && fail "bon wrote a curve after refusing its options"
grep -q "\-\-out needs \-\-by" "$TMP/err" || { cat "$TMP/err"; fail "--out without --by message"; }
# A model file (one member extracted): bon picks by its reward; eval cannot record
# temperatures in it.
"$PY" - "$TMP/ens.h5" "$TMP/m1.h5" <<'PYEOF' || fail "extract"
import sys, h5py
with h5py.File(sys.argv[1], "r") as e, h5py.File(sys.argv[2], "w") as m:
    m.attrs["rmens_format"] = "model"; m.attrs["rmens_version"] = 1
    for k in ("vocab_size", "n_ctx", "n_layer", "n_head", "n_embd"):
        m.attrs[k] = e.attrs[k]
    e.copy("members/001/params", m, "params")
PYEOF
run 2 bon --ckpt "$TMP/m1.h5" --candidates "$TMP/cands.h5" --by mean --normalize none --out "$TMP/m1picks.h5" --quiet \
    || fail "bon with a model file"
run 1 bon --ckpt "$TMP/ens.h5" --candidates "$TMP/cands.h5" --by member:1 --normalize none --out "$TMP/raw1.h5" --quiet \
    || fail "bon member:1 raw"
"$PY" -c "
import h5py, numpy as np
a, b = h5py.File('$TMP/m1picks.h5'), h5py.File('$TMP/raw1.h5')
assert np.array_equal(a['index'][:], b['index'][:]), 'the model file picks differ from member 1'
print('model file picks = member 1 picks')" || fail "model file picks"
"$RMENS" synth --n 30 --seed 11 --split test --out "$TMP/val.h5" --quiet || fail "synth val"
run 1 eval --ckpt "$TMP/m1.h5" --data "$TMP/val.h5" --write-temperature >"$TMP/o" 2>"$TMP/err" && fail "model file written"
grep -q "write-temperature needs an ensemble checkpoint: .*rmens_format is \"model\"" "$TMP/err" || { cat "$TMP/err"; fail "model file message"; }
expect_fail() {
    pat=$1; shift
    "$@" >"$TMP/out" 2>"$TMP/err" && fail "succeeded: $*"
    grep -qF -- "$pat" "$TMP/err" || { cat "$TMP/err"; fail "no '$pat': $*"; }
    [ -e "$TMP/x.h5" ] && fail "an output was written: $*"
    echo "ok: '$pat'"
}
"$PY" - "$TMP" <<'PYEOF' || fail "bad candidates"
import sys, shutil, h5py, numpy as np
d = sys.argv[1]
for name in ("nogroup", "gap", "othertok"):
    shutil.copy(d + "/cands.h5", d + f"/{name}.h5")
with h5py.File(d + "/nogroup.h5", "r+") as f:
    del f["prompt_id"]
with h5py.File(d + "/gap.h5", "r+") as f:
    p = f["prompt_id"][:]
    p[p == 5] = 6  # prompt 5 loses its candidates to prompt 6
    f["prompt_id"][:] = p
with h5py.File(d + "/othertok.h5", "r+") as f:
    f.attrs["tokenizer"] = "Qwen3-0.6B@" + "0" * 64
PYEOF
b() { run 2 bon --ckpt "$TMP/ens.h5" --by mean --out "$TMP/x.h5" "$@"; }
"$RMENS" synth --n 20 --seed 9 --split test --out "$TMP/pairs.h5" --quiet || fail "synth pairs"
expect_fail "is a pairs file; bon needs candidates" b --candidates "$TMP/pairs.h5"
expect_fail "has no /prompt_id" b --candidates "$TMP/nogroup.h5"
expect_fail "prompt id 5 has no candidates (an empty group)" b --candidates "$TMP/gap.h5"
expect_fail "the data was tokenized by" b --candidates "$TMP/othertok.h5"
expect_fail "has 4 members" run 2 bon --ckpt "$TMP/ens.h5" --by member:4 --candidates "$TMP/cands.h5" --out "$TMP/x.h5"
expect_fail "--by: expected mean, min, uwo or member:K" b --by best --candidates "$TMP/cands.h5"
expect_fail "already exists" run 1 bon --ckpt "$TMP/ens.h5" --by mean --candidates "$TMP/cands.h5" --out "$TMP/mean1.h5"
echo "bon: all passed"
