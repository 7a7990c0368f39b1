#!/bin/sh
# rmens select (issue 17, section 3): every acquisition's picks checked against values
# and a selection recomputed independently in numpy from score --per-member (the tie keys
# and Thompson's member draws from docs/FORMAT.md's generator, reimplemented here), every
# field of every record kept in the picked and rest files, the same picks when the pool's
# sides are swapped, byte-identical files for 1, 2 and 4 ranks and on a second run, and
# the refusals (budget larger than the pool, another tokenizer, a bad --by, ...) with no
# output written.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
ACQS="random std votes bald entropy thompson"

"$RMENS" synth --n 300 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
run 2 train --data "$TMP/train.h5" --members 4 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --steps 40 \
    --truncate-prompts --quiet --out "$TMP/ens.h5" || fail "train"
# The pool: synthetic pairs with traps, half of them with their sides exchanged (in a
# pool the order means nothing); swapped.h5 exchanges every pair's sides; canon.h5 puts
# each pair's sides in the order select scores them (the shorter sequence first, then the
# lexicographically smaller).
"$RMENS" synth --n 150 --seed 6 --traps 0.3 --out "$TMP/synth.h5" --quiet || fail "synth pool"
"$PY" - "$TMP" <<'PYEOF' || fail "pools"
import sys, shutil, h5py, numpy as np
d = sys.argv[1]
def rewrite(src, dst, swap):
    shutil.copy(src, dst)
    with h5py.File(src) as f, h5py.File(dst, "r+") as g:
        n = len(f["prompt_len"])
        seqs = {s: [f[s + "/tokens"][f[s + "/offsets"][i]:f[s + "/offsets"][i + 1]] for i in range(n)]
                for s in ("chosen", "rejected")}
        gold = {s: f[s + "/gold"][:] for s in ("chosen", "rejected")}
        for s, o in (("chosen", "rejected"), ("rejected", "chosen")):
            pick = [seqs[o][i] if swap(i, seqs) else seqs[s][i] for i in range(n)]
            for k in ("tokens", "offsets", "gold"):
                del g[s + "/" + k]
            g[s + "/tokens"] = np.concatenate(pick).astype(np.int32)
            g[s + "/offsets"] = np.cumsum([0] + [len(x) for x in pick]).astype(np.int64)
            g[s + "/gold"] = np.where([swap(i, seqs) for i in range(n)], gold[o], gold[s]).astype(np.float32)
rewrite(d + "/synth.h5", d + "/pool.h5", lambda i, s: i % 2 == 1)
rewrite(d + "/pool.h5", d + "/swapped.h5", lambda i, s: True)
def later(i, s):
    a, b = s["chosen"][i], s["rejected"][i]
    return (len(a), list(a)) > (len(b), list(b))
rewrite(d + "/pool.h5", d + "/canon.h5", later)
PYEOF
for by in $ACQS; do
    run 2 select --ckpt "$TMP/ens.h5" --pool "$TMP/pool.h5" --budget 40 --by $by --seed 3 --out "$TMP/$by.h5" \
        --rest "$TMP/$by-rest.h5" >"$TMP/$by.txt" || fail "select --by $by"
    run 2 select --ckpt "$TMP/ens.h5" --pool "$TMP/swapped.h5" --budget 40 --by $by --seed 3 --out "$TMP/$by-sw.h5" \
        --quiet || fail "select --by $by (swapped)"
done
grep -q "select: 40 of 150 pairs" "$TMP/bald.txt" || { cat "$TMP/bald.txt"; fail "select summary"; }
run 2 select --ckpt "$TMP/ens.h5" --pool "$TMP/pool.h5" --budget 40 --by random --seed 4 --out "$TMP/random4.h5" \
    --quiet || fail "select --seed 4"
run 1 score --ckpt "$TMP/ens.h5" --data "$TMP/canon.h5" --out "$TMP/s.h5" --per-member --quiet || fail "score"
"$RMENS" info "$TMP/std.h5" >"$TMP/info.txt" || { cat "$TMP/info.txt"; fail "info of the picks"; }
"$PY" - "$TMP" "$ACQS" <<'PYEOF' || fail "picks"
import sys, h5py, numpy as np
d, acqs = sys.argv[1], sys.argv[2].split()
M, G, SALT = (1 << 64) - 1, 0x9E3779B97F4A7C15, 0x73656C6563740000
def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)
class Stream:  # docs/FORMAT.md, "Random numbers"
    def __init__(self, seed, stream):
        self.key, self.ctr = mix64(mix64(seed) ^ ((stream * G + 1) & M)), 0
    def u64(self):
        self.ctr += 1
        return mix64((self.key + self.ctr * G) & M)
    def below(self, n):
        m = self.u64() * n
        if (m & M) < n:
            t = ((1 << 64) - n) % n
            while (m & M) < t:
                m = self.u64() * n
        return m >> 64
seed = 3
def stream(i):
    return Stream(mix64(seed ^ SALT), i)
s, ck, pool = h5py.File(d + "/s.h5"), h5py.File(d + "/ens.h5"), h5py.File(d + "/pool.h5")
Ra, Rb = s["chosen/rewards"][:].astype(np.float64), s["rejected/rewards"][:].astype(np.float64)
n, K = Ra.shape
rstd = np.array([ck[f"members/{k:03d}"].attrs["reward_std"] for k in range(K)])
D = (Ra - Rb) * rstd            # margins in each member's own scale (no temperatures here)
H = lambda p: -(p * np.log(p) + (1 - p) * np.log1p(-p))
P = 1 / (1 + np.exp(-D))
keys = np.array([stream(i).u64() for i in range(n)], dtype=object)
def thompson(i):
    g = stream(i)
    g.u64()
    k1 = g.below(K)
    k2 = g.below(K - 1)
    k2 += k2 >= k1
    return -D[i, k1] * D[i, k2]
value = {
    "random": np.zeros(n),
    "std": D.std(1),
    "votes": np.minimum((D > 0).sum(1) + 0.5 * (D == 0).sum(1), (D < 0).sum(1) + 0.5 * (D == 0).sum(1)) / K,
    "bald": H(P.mean(1)) - H(P).mean(1),
    "entropy": H(P.mean(1)),
    "thompson": np.array([thompson(i) for i in range(n)]),
}
B = 40
def seq(f, side, i):
    o = f[side + "/offsets"]
    return f[side + "/tokens"][o[i]:o[i + 1]]
def same_record(f, j, i):
    for side in ("chosen", "rejected"):
        if not np.array_equal(seq(f, side, j), seq(pool, side, i)):
            return False
        if f[side + "/gold"][j] != pool[side + "/gold"][i]:
            return False
    return f["prompt_len"][j] == pool["prompt_len"][i] and f["trap"][j] == pool["trap"][i]
for by in acqs:
    v = value[by]
    order = sorted(range(n), key=lambda i: (-v[i], -keys[i], i))
    want = sorted(order[:B])
    f, r = h5py.File(d + f"/{by}.h5"), h5py.File(d + f"/{by}-rest.h5")
    assert f.attrs["rmens_format"] == "pairs" and f.attrs["tokenizer"] == pool.attrs["tokenizer"]
    assert f.attrs["task"] == pool.attrs["task"] and "select" in f.attrs["source"], dict(f.attrs)
    assert len(f["prompt_len"]) == B and len(r["prompt_len"]) == n - B
    # which pool pair each record is (records are in pool order), every field compared
    got, at = [], 0
    for j in range(B):
        while not same_record(f, j, at):
            at += 1
            assert at < n, (by, j, "record not found in the pool in order")
        got.append(at)
        at += 1
    rest, at = [], 0
    for j in range(n - B):
        while not same_record(r, j, at):
            at += 1
            assert at < n, (by, j, "rest record not found in the pool in order")
        rest.append(at)
        at += 1
    assert sorted(got + rest) == list(range(n)), by
    near = 0
    if got != want:  # only a near-tie at the budget's edge may differ (rounding of exp/log)
        edge = v[order[B - 1]]
        for i in set(got) ^ set(want):
            assert abs(v[i] - edge) <= 1e-12 * max(1, abs(edge)), (by, i, v[i], edge)
            near += 1
    # the picks are the most valuable: none left out is worth more than one taken
    assert v[got].min() >= v[rest].max() - 1e-12, by
    # swapped pool: the same pairs, sides exchanged
    w = h5py.File(d + f"/{by}-sw.h5")
    for j in range(B):
        assert np.array_equal(seq(w, "chosen", j), seq(f, "rejected", j)), (by, "swapped", j)
        assert np.array_equal(seq(w, "rejected", j), seq(f, "chosen", j)), (by, "swapped", j)
    if by == "random":
        other = h5py.File(d + "/random4.h5")
        assert not np.array_equal(other["chosen/offsets"][:], f["chosen/offsets"][:]), "seed 4 = seed 3"
    print(f"{by}: {B} of {n} picks = numpy ({near} near-ties), fields kept, rest complete, same when swapped;"
          f" mean value picked {v[got].mean():.4g}, pool {v.mean():.4g}")
# hand-worked: BALD and the vote split of a pair whose margins are ln 3 (1, 1, 0, -1)
l3 = np.log(3)
dk = l3 * np.array([1, 1, 0, -1.0])
pk = 1 / (1 + np.exp(-dk))
assert abs(H(pk.mean()) - H(pk).mean() - (H(9 / 16) - (3 * H(0.75) + np.log(2)) / 4)) < 1e-15
PYEOF
# 1, 2 and 4 ranks, and a second run: byte-identical files (the same command line, run
# from its own folder, so the recorded source is the same too)
for np in 1 2 4 4b; do
    mkdir "$TMP/p$np" && cp "$TMP/ens.h5" "$TMP/pool.h5" "$TMP/p$np/" || fail "copy"
    for by in thompson; do
        (cd "$TMP/p$np" && run "${np%b}" select --ckpt ens.h5 --pool pool.h5 --budget 40 --by $by --out $by.h5 \
            --rest rest-$by.h5 --quiet) || fail "select -n $np --by $by"
    done
done
for np in 2 4 4b; do
    for f in thompson.h5 rest-thompson.h5; do
        cmp "$TMP/p1/$f" "$TMP/p$np/$f" || fail "$f differs between 1 rank and run $np"
    done
done
echo "byte-identical picks and rest on 1, 2 and 4 ranks and on a second run"
# One member: random and entropy run, the disagreement acquisitions refuse.
run 1 train --data "$TMP/train.h5" --members 1 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --steps 5 \
    --truncate-prompts --quiet --out "$TMP/m1.h5" || fail "train one member"
run 1 select --ckpt "$TMP/m1.h5" --pool "$TMP/pool.h5" --budget 10 --by entropy --out "$TMP/m1.h5.picks" --quiet \
    || fail "select with one member"
REFUSE_NO_OUTPUT="$TMP/x.h5 $TMP/xr.h5"
other_tokenizer "$TMP/pool.h5" "$TMP/othertok.h5" || fail "other tokenizer"
"$RMENS" synth --n 20 --seed 9 --split test --responses --out "$TMP/resp.h5" --quiet || fail "synth responses"
s() { run 2 select --ckpt "$TMP/ens.h5" --out "$TMP/x.h5" --rest "$TMP/xr.h5" "$@"; }
expect_refusal "--budget 151 is larger than the pool" s --pool "$TMP/pool.h5" --budget 151 --by std
expect_refusal "nothing would be left for --rest" s --pool "$TMP/pool.h5" --budget 150 --by std
expect_refusal "the data was tokenized by \"Qwen3-0.6B@" s --pool "$TMP/othertok.h5" --budget 5 --by random
expect_refusal "--by: expected random, std, votes, bald, entropy or thompson, got 'best'" \
    s --pool "$TMP/pool.h5" --budget 5 --by best
expect_refusal "--budget: expected a positive integer, got '0'" s --pool "$TMP/pool.h5" --budget 0 --by std
expect_refusal "is a responses file; select needs a pool of pairs" s --pool "$TMP/resp.h5" --budget 5 --by std
expect_refusal "--by bald needs two members or more" run 2 select --ckpt "$TMP/m1.h5" --pool "$TMP/pool.h5" \
    --budget 5 --by bald --out "$TMP/x.h5"
expect_refusal "already exists" run 1 select --ckpt "$TMP/ens.h5" --pool "$TMP/pool.h5" --budget 5 --by std \
    --out "$TMP/std.h5"
expect_refusal "are required" s --pool "$TMP/pool.h5" --budget 5
echo "select: all passed"
