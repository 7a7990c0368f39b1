#!/bin/bash
# Re-measures the HH-RLHF ensemble of docs/TRAINING.md and docs/EVALUATION.md on the
# current code for the seeds given (default 1 2 3): members' and ensemble's validation
# accuracy, the length probe, error and OOD (synthetic sort vs HH) AUROCs. Run from the
# built tree (RMENS: the program; RMENS_SHARED_DATA: ../shared/data). Writes hh-measure/.
set -euo pipefail
SEEDS=${1:-1 2 3}
R=${RMENS:-$PWD/rmens}
HH=${RMENS_SHARED_DATA:?}/hh-rlhf/harmless-base/dev-1800.jsonl.gz
W=hh-measure; mkdir -p $W
root=""; [ "$(id -u)" = 0 ] && root=--allow-run-as-root
$R prep "$HH" --out $W/hh-train.h5 --val-out $W/hh-val.h5 --val-fraction 0.2 --force --quiet
$R synth --task sort --split test --n 1000 --seed 2 --out $W/sort-test.h5 --force --quiet
for s in $SEEDS; do
    t0=$(date +%s)
    mpiexec $root -n 2 $R train --data $W/hh-train.h5 --val $W/hh-val.h5 --members 4 --out $W/hh-ens-$s.h5 \
        --ctx 256 --layers 2 --heads 4 --embd 64 --batch 16 --epochs 2 --lr 5e-4 --eval-every 0 --truncate-prompts \
        --seed $s --force --quiet
    echo "seed $s: trained in $(( $(date +%s) - t0 )) s"
    mpiexec $root -n 2 $R eval --ckpt $W/hh-ens-$s.h5 --data $W/hh-val.h5 --ood $W/sort-test.h5 --json $W/rep-$s.json --force --quiet
done
/usr/bin/python3 - $W "$SEEDS" <<'PYEOF'
import json, sys
W, seeds = sys.argv[1], sys.argv[2].split()
for s in seeds:
    r = json.load(open(f"{W}/rep-{s}.json"))
    m = [x["accuracy"] for x in r["members"]]; e = r["ensemble"]
    print(f"seed {s}: members {min(m):.3f}-{max(m):.3f}; ensemble mean/min/uwo {e['accuracy_mean']:.3f}/{e['accuracy_min']:.3f}/{e['accuracy_uwo']:.3f}; "
          f"error AUROC {r['uncertainty']['error_auroc']:.3f}; Spearman {r['length']['spearman_reward_length']:.3f}; "
          f"shorter/longer {r['length']['accuracy_chosen_shorter']:.3f}/{r['length'].get('accuracy_chosen_longer', float('nan')):.3f}; "
          f"OOD sort vs HH AUROC {r['ood']['auroc']:.3f} (disagreement {r['ood']['mean_disagreement_ood']:.3f} vs {r['ood']['mean_disagreement_id']:.3f})")
PYEOF
