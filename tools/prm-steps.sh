#!/bin/sh
# The longer process-reward-model runs behind docs/TRAINING.md's figures (not part of
# make check): PRM ensembles on the synthetic steps files, held-out step metrics from
# rmens eval, and best-of-2 on the sort steps file against an outcome RM (the same model
# trained on the final answer's correctness alone: every label but the last step's unset).
#   tools/prm-steps.sh [OUTDIR] [STEPS]     (defaults: prm-runs, 700; about 2 minutes per
#                                           ensemble on 2 idle cores)
set -eu
OUT=${1:-prm-runs}
STEPS=${2:-700}
RMENS=${RMENS:-./rmens}
PY=${PYTHON3:-/usr/bin/python3}
MPI="mpiexec -n 2 --oversubscribe"
mkdir -p "$OUT"
MODEL="--layers 2 --heads 4 --embd 64 --ctx 80 --batch 32 --lr 3e-3 --warmup 20 --members 2"
for task in sort steps; do
    "$RMENS" synth --task $task --steps-file --n 2000 --seed 3 --out "$OUT/$task-train.h5" --force --quiet
    "$RMENS" synth --task $task --steps-file --n 150 --seed 4 --split test --out "$OUT/$task-test.h5" --force --quiet
    $MPI "$RMENS" train --objective prm --data "$OUT/$task-train.h5" --val "$OUT/$task-test.h5" $MODEL \
        --steps "$STEPS" --eval-every 100 --out "$OUT/$task-prm.h5" --metrics "$OUT/$task-prm.jsonl" --force --quiet
    $MPI "$RMENS" eval --ckpt "$OUT/$task-prm.h5" --data "$OUT/$task-test.h5" --json "$OUT/$task-eval.json" --force
done
# The outcome RM: the sort training file with only the last step labelled (1: all right).
"$PY" - "$OUT/sort-train.h5" "$OUT/sort-orm.h5" <<'PY'
import shutil, sys
import h5py, numpy as np
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    so, y = f["steps/step_offsets"][:], f["steps/step_label"][:]
    z = np.full_like(y, -1.0)
    for i in range(len(so) - 1):
        z[so[i + 1] - 1] = float(y[so[i]:so[i + 1]].min() >= 0.5)
    f["steps/step_label"][:] = z
PY
$MPI "$RMENS" train --objective prm --data "$OUT/sort-orm.h5" $MODEL --steps "$STEPS" --eval-every 0 \
    --out "$OUT/sort-orm-ens.h5" --force --quiet
for a in min prod last; do
    $MPI "$RMENS" score --ckpt "$OUT/sort-prm.h5" --data "$OUT/sort-test.h5" --out "$OUT/prm-$a.h5" --aggregate $a --force --quiet
done
$MPI "$RMENS" score --ckpt "$OUT/sort-orm-ens.h5" --data "$OUT/sort-test.h5" --out "$OUT/orm.h5" --aggregate last --force --quiet
"$PY" - "$OUT" <<'PY'
import sys
import h5py, numpy as np
d = sys.argv[1]
with h5py.File(d + "/sort-test.h5", "r") as f:
    so, y, pid = f["steps/step_offsets"][:], f["steps/step_label"][:], f["prompt_id"][:]
right = np.array([y[so[i]:so[i + 1]].min() >= 0.5 for i in range(len(so) - 1)])
def best_of(score):  # the highest-scoring solution of each prompt; ties to the first
    return np.mean([right[np.where(pid == g)[0][np.argmax(np.nan_to_num(score[pid == g], nan=-1))]]
                    for g in np.unique(pid)])
print("best-of-2 on %d prompts (one right, one wrong solution each): final-answer accuracy" % len(np.unique(pid)))
print("%-10s %10s %12s %12s %s" % ("scorer", "ens. mean", "mean score", "min score", "members"))
for name, fn in [("PRM min", "prm-min"), ("PRM prod", "prm-prod"), ("PRM last", "prm-last"), ("ORM", "orm")]:
    with h5py.File("%s/%s.h5" % (d, fn), "r") as s:
        sc, ms = s["score"][:], s["member_score"][:]
    print("%-10s %10.3f %12.3f %12.3f %s" % (name, best_of(sc), best_of(ms.mean(1)), best_of(ms.min(1)),
                                            " ".join("%.3f" % best_of(ms[:, k]) for k in range(ms.shape[1]))))
PY
