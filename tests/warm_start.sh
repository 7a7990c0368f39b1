#!/bin/sh
# rmens train --warm-start (issue 17, section 3): each member continues from its own
# weights in the source checkpoint with a fresh optimiser and a fresh bootstrap over the
# grown data. A one-step run is checked against the source weights by recomputing the
# AdamW step in numpy from the saved moments (fresh moments: m = (1 - b1) g, v = (1 - b2)
# g^2, so the step is lr m^ / (sqrt(v^) + eps)); its bootstrap equals a run from scratch on
# the grown data; a three-step run is bit-identical on 1, 2 and 4 ranks and on a second
# run; and the refusals.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
MODEL="--layers 1 --heads 2 --embd 32 --ctx 64 --truncate-prompts --quiet"

"$RMENS" synth --n 200 --seed 5 --out "$TMP/seed.h5" --quiet || fail "synth seed set"
"$RMENS" synth --n 260 --seed 8 --out "$TMP/grown.h5" --quiet || fail "synth grown set"
run 2 train --data "$TMP/seed.h5" --members 4 $MODEL --batch 16 --steps 30 --out "$TMP/ens.h5" || fail "train"
# One step, no weight decay, no warmup: the step is exactly lr times Adam's direction.
run 2 train --data "$TMP/grown.h5" --warm-start "$TMP/ens.h5" --batch 16 --steps 1 --warmup 0 --weight-decay 0 \
    --lr 1e-3 --seed 7 --quiet --truncate-prompts --out "$TMP/w1.h5" || fail "warm start, one step"
run 2 train --data "$TMP/grown.h5" --members 4 $MODEL --batch 16 --steps 1 --seed 7 --out "$TMP/scratch.h5" \
    || fail "scratch, one step"
"$PY" - "$TMP" <<'PYEOF' || fail "one warm step"
import sys, h5py, numpy as np
d = sys.argv[1]
old, new, fresh = (h5py.File(d + f"/{n}.h5") for n in ("ens", "w1", "scratch"))
b1, b2, eps, lr = (float(new.attrs[k]) for k in ("beta1", "beta2", "eps", "lr"))
assert new.attrs["members"] == 4 and new.attrs["step"] == 1 and new.attrs["n_ctx"] == old.attrs["n_ctx"]
assert new.attrs["n_pairs"] == 260 and old.attrs["n_pairs"] == 200
worst, dist = 0.0, np.zeros((4, 4))
for k in range(4):
    g = f"members/{k:03d}"
    # fresh bootstrap over the grown data: the one a run from scratch with the seed draws
    assert np.array_equal(new[g + "/bootstrap_counts"][:], fresh[g + "/bootstrap_counts"][:]), k
    assert len(new[g + "/bootstrap_counts"]) == 260
    for name in new[g + "/params"]:
        p0 = old[g + "/params/" + name][:].astype(np.float64)
        p1 = new[g + "/params/" + name][:].astype(np.float64)
        m = new[g + "/optimizer/m/" + name][:].astype(np.float64)
        v = new[g + "/optimizer/v/" + name][:].astype(np.float64)
        # fresh moments: one gradient's, so m^2 / v = (1 - b1)^2 / (1 - b2) wherever v > 0
        nz = v > 0
        assert np.all(m[~nz] == 0), (k, name)
        ratio = m[nz] ** 2 / v[nz]
        assert np.allclose(ratio, (1 - b1) ** 2 / (1 - b2), rtol=1e-4), (k, name, ratio.min(), ratio.max())
        step = lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps)
        want = p0 - step
        err = np.abs(p1 - want).max()
        worst = max(worst, err)
        assert err <= 1e-6 * lr + 4e-7 * np.abs(p0).max(), (k, name, err)
        # its own source member's weights, not another's
        for j in range(4):
            dist[k, j] += ((p1 - old[f"members/{j:03d}/params/" + name][:]) ** 2).sum()
for k in range(4):
    assert all(dist[k, j] > 25 * dist[k, k] for j in range(4) if j != k), dist
print(f"one warm step = the source weights minus numpy's AdamW step from fresh moments (worst {worst:.2g}); "
      "bootstrap = a fresh draw over the grown data")
PYEOF
# Three steps: bit-identical on 1, 2 and 4 ranks and on a second run.
for np in 1 2 4 4b; do
    run "${np%b}" train --data "$TMP/grown.h5" --warm-start "$TMP/ens.h5" --batch 16 --steps 3 --seed 7 --quiet \
        --truncate-prompts --out "$TMP/w3-$np.h5" || fail "warm start on $np ranks"
done
for np in 2 4 4b; do
    "$PY" "$top_srcdir/tests/compare_ckpt.py" "$TMP/w3-1.h5" "$TMP/w3-$np.h5" || fail "1 rank vs run $np"
done
echo "warm start: bit-identical members on 1, 2 and 4 ranks and on a second run"
REFUSE_NO_OUTPUT="$TMP/x.h5"
other_tokenizer "$TMP/grown.h5" "$TMP/othertok.h5" || fail "other tokenizer"
w() { run 2 train --warm-start "$TMP/ens.h5" --batch 16 --steps 1 --truncate-prompts --out "$TMP/x.h5" "$@"; }
expect_refusal "--warm-start and --init exclude each other" w --data "$TMP/grown.h5" --init "$TMP/ens.h5"
expect_refusal "was trained on \"bytes\" tokens, but $TMP/othertok.h5 was tokenized by \"Qwen3" \
    w --data "$TMP/othertok.h5"
expect_refusal "holds 4 members, --members asks for 2" w --data "$TMP/grown.h5" --members 2
expect_refusal "has n_ctx 64, n_layer 1, n_head 2, n_embd 32; the model options ask for" \
    w --data "$TMP/grown.h5" --layers 2
cp "$TMP/ens.h5" "$TMP/unfinished.h5" &&
    "$PY" -c "import sys, h5py; h5py.File(sys.argv[1], 'r+').attrs['step'] = 20" "$TMP/unfinished.h5" || fail "cp"
expect_refusal "unfinished.h5 is unfinished (step 20 of 30): resume it first" run 2 train --warm-start \
    "$TMP/unfinished.h5" --data "$TMP/grown.h5" --batch 16 --steps 1 --truncate-prompts --out "$TMP/x.h5"
expect_refusal "is the same file as" run 1 train --warm-start "$TMP/ens.h5" --data "$TMP/grown.h5" --batch 16 \
    --steps 1 --force --out "$TMP/ens.h5"
echo "warm start: all passed"
