#!/bin/sh
# The longer process-reward-model runs behind docs/TRAINING.md's and docs/EVALUATION.md's
# figures (not part of make check):
#   1. PRM ensembles on the synthetic steps files (sort answers a digit per step, and the
#      running sums of --task steps), held-out step metrics from rmens eval;
#   2. best-of-n against n on the sort task (Lightman et al.'s comparison): held-out
#      problems with N candidate solutions each (a quarter right), picked by the PRM's
#      solution score (min, prod, last of its steps' probabilities; each member alone and
#      the ensemble's mean, min and uwo of them) and by an outcome RM: the same model
#      trained on the same solutions' final correctness alone (every label but the last
#      step's unset, the last = the solution is right), read at the last step. The curves
#      (rmens bon --curve: the unbiased estimator over n-subsets) go to OUTDIR/bon-*.csv and
#      a table; rmens-plot --prm-bon draws them.
#   tools/prm-steps.sh [OUTDIR] [STEPS]
# Environment: RMENS (./rmens), MEMBERS (4), N_TRAIN (4000 problems), CANDIDATES (16),
# PROMPTS (200), MODEL (the model options), SEED (3), TASKS ("sort steps").
# A few minutes per ensemble of 4 members on 2 cores at the defaults.
set -eu
OUT=${1:-prm-runs}
STEPS=${2:-1500}
RMENS=${RMENS:-./rmens}
PY=${PYTHON3:-/usr/bin/python3}
MEMBERS=${MEMBERS:-4}
N_TRAIN=${N_TRAIN:-4000}
CANDIDATES=${CANDIDATES:-16}
PROMPTS=${PROMPTS:-200}
SEED=${SEED:-3}
TASKS=${TASKS:-sort steps}
MPI="mpiexec -n 2 --oversubscribe"
mkdir -p "$OUT"
# A small Llama-shaped model trained from scratch (RoPE, SwiGLU, RMSNorm; a random
# checkpoint in Hugging Face layout): it learns the sort steps to > 90%, where a GPT-2 of
# the same size stays near 85% (docs/TRAINING.md).
HERE=$(cd "$(dirname "$0")/.." && pwd)
[ -n "${MODEL:-}" ] || "$PY" "$HERE/tests/hf_fixtures.py" tiny "$OUT/llama" --arch llama --vocab 257 --ctx 96 \
    --hidden 64 --layers 2 --heads 4 --kv 4 --head-dim 16 --inter 172 --dtype F32
MODEL=${MODEL:---init $OUT/llama --batch 32 --lr 3e-3 --warmup 30}
for task in $TASKS; do
    "$RMENS" synth --task $task --steps-file --n "$N_TRAIN" --seed "$SEED" --out "$OUT/$task-train.h5" --force --quiet
    "$RMENS" synth --task $task --steps-file --n 150 --seed $((SEED + 1)) --split test --out "$OUT/$task-test.h5" \
        --force --quiet
    $MPI "$RMENS" train --objective prm --data "$OUT/$task-train.h5" --val "$OUT/$task-test.h5" --members "$MEMBERS" \
        $MODEL --steps "$STEPS" --eval-every 250 --seed "$SEED" --out "$OUT/$task-prm.h5" --metrics "$OUT/$task-prm.jsonl" \
        --force --quiet
    $MPI "$RMENS" eval --ckpt "$OUT/$task-prm.h5" --data "$OUT/$task-test.h5" --json "$OUT/$task-eval.json" --force
done
case " $TASKS " in *" sort "*) ;; *) exit 0 ;; esac

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
$MPI "$RMENS" train --objective prm --data "$OUT/sort-orm.h5" --members "$MEMBERS" $MODEL --steps "$STEPS" \
    --eval-every 0 --seed "$SEED" --out "$OUT/sort-orm-ens.h5" --force --quiet

# Best-of-n on held-out problems.
"$RMENS" synth --task sort --steps-file --candidates "$CANDIDATES" --n "$PROMPTS" --seed $((SEED + 2)) --split test \
    --out "$OUT/sort-cand.h5" --force --quiet
for a in min prod last; do
    $MPI "$RMENS" bon --ckpt "$OUT/sort-prm.h5" --candidates "$OUT/sort-cand.h5" --aggregate $a \
        --curve "$OUT/bon-prm-$a.csv" --force --quiet
done
$MPI "$RMENS" bon --ckpt "$OUT/sort-orm-ens.h5" --candidates "$OUT/sort-cand.h5" --aggregate last \
    --curve "$OUT/bon-orm.csv" --force --quiet
"$PY" - "$OUT" <<'PY'
import csv, sys
d = sys.argv[1]
def load(p):
    c = {}
    for r in csv.DictReader(open(p)):
        c.setdefault(r["by"], {})[int(r["n"])] = float(r["gold"])
    return c
curves = {"PRM min": load(d + "/bon-prm-min.csv"), "PRM prod": load(d + "/bon-prm-prod.csv"),
          "PRM last": load(d + "/bon-prm-last.csv"), "ORM": load(d + "/bon-orm.csv")}
ns = sorted(curves["ORM"]["mean"])
print("best-of-n on held-out sort problems: final-answer accuracy of the pick (expected over n-subsets)")
print("%-10s %-13s" % ("scorer", "by") + "".join("%8s" % ("n=%d" % n) for n in ns))
for name, c in curves.items():
    members = [k for k in c if k.startswith("member:")]
    rows = [("member avg", {n: sum(c[k][n] for k in members) / len(members) for n in ns})]
    rows += [(k, c[k]) for k in ("mean", "min", "uwo")]
    for by, v in rows:
        print("%-10s %-13s" % (name, by) + "".join("%8.3f" % v[n] for n in ns))
PY
