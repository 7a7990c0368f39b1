#!/bin/sh
# train --keep-best and --patience on a small set that over-fits (48 pairs, lr 3e-3, 200
# steps, evaluated every 20): each member ends with its weights of its lowest validation
# loss (the final checkpoint, scored by rmens score and put through the Bradley-Terry loss
# in numpy, gives the lowest loss its metrics recorded), the same on 1 and 2 ranks;
# --patience N stops at the evaluation the metrics say (N in a row without a lower mean
# over members) with a finished checkpoint; both refuse to run without --val.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
"$RMENS" synth --n 48 --seed 3 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" synth --n 200 --seed 4 --split test --out "$TMP/val.h5" --quiet || fail "synth"
ARGS="--data $TMP/train.h5 --val $TMP/val.h5 --members 2 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 8 --steps 200
      --lr 3e-3 --eval-every 20 --truncate-prompts --quiet"
# shellcheck disable=SC2086
mpirun_np 2 "$RMENS" train $ARGS --keep-best --metrics "$TMP/m.jsonl" --out "$TMP/kb.h5" || fail "train --keep-best"
# shellcheck disable=SC2086
mpirun_np 1 "$RMENS" train $ARGS --keep-best --out "$TMP/kb1.h5" || fail "train --keep-best, 1 rank"
"$PY" "$top_srcdir/tests/compare_ckpt.py" "$TMP/kb.h5" "$TMP/kb1.h5" || fail "--keep-best differs between 1 and 2 ranks"
mpirun_np 2 "$RMENS" score --ckpt "$TMP/kb.h5" --data "$TMP/val.h5" --per-member --normalize none --out "$TMP/s.h5" \
    --quiet || fail "score"
"$PY" - "$TMP" <<'PYEOF' || fail "keep-best"
import json, sys, h5py, numpy as np
d = sys.argv[1]
ev = [json.loads(l) for l in open(d + "/m.jsonl") if '"eval"' in l]
during = [e for e in ev if not e["final"]]
final = [e for e in ev if e["final"]][-1]
s = h5py.File(d + "/s.h5")
W, L = s["chosen/rewards"][:].astype(np.float64), s["rejected/rewards"][:].astype(np.float64)
for k in range(2):
    losses = [e["members"][k]["val_loss"] for e in during]
    best = min(losses)
    at = during[losses.index(best)]["step"]
    assert losses[-1] > best, ("the set did not over-fit: nothing to keep", k, losses)
    dm = W[:, k] - L[:, k]
    bt = np.mean(np.logaddexp(0, -dm))      # -log sigmoid(r_w - r_l), no margins in synth data
    assert abs(bt - best) <= 1e-4 * max(1, best), (k, bt, best)
    assert final["members"][k]["val_loss"] == best, (k, final["members"][k]["val_loss"], best)
    print(f"member {k}: kept step {at} (validation loss {best:.4f}; the last evaluation {losses[-1]:.4f}); "
          f"numpy BT loss of the checkpoint {bt:.4f}")
# --patience 2: where the metrics say it stops (training is the same until it stops)
mean = [np.mean([m["val_loss"] for m in e["members"]]) for e in during]
best, bad, stop = np.inf, 0, None
for e, m in zip(during, mean):
    if m < best:
        best, bad = m, 0
    else:
        bad += 1
        if bad >= 2:
            stop = e["step"]
            break
assert stop is not None and stop < 200, mean
open(d + "/stop", "w").write(str(stop))
print("patience 2 should stop at step", stop)
PYEOF
stop=$(cat "$TMP/stop")
# shellcheck disable=SC2086
mpirun_np 2 "$RMENS" train $ARGS --patience 2 --metrics "$TMP/p.jsonl" --out "$TMP/p.h5" || fail "train --patience"
"$RMENS" info "$TMP/p.h5" | grep -q "step $stop of $stop," || { "$RMENS" info "$TMP/p.h5"; fail "--patience: not finished at step $stop"; }
"$PY" -c "
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '\"eval\"' in l]
assert ev[-1]['final'] and ev[-1]['step'] == int(sys.argv[2]), ev[-1]['step']" "$TMP/p.jsonl" "$stop" || fail "--patience metrics"
echo "ok: --patience 2 stopped at step $stop"
for opt in --keep-best "--patience 3"; do
    # shellcheck disable=SC2086
    "$RMENS" train --data "$TMP/train.h5" --members 1 --steps 2 --batch 8 --out "$TMP/x.h5" $opt 2>"$TMP/err" \
        && fail "$opt without --val ran"
    grep -q "needs --val and --eval-every" "$TMP/err" || { cat "$TMP/err"; fail "$opt message"; }
done
echo "keep_best: all passed"
