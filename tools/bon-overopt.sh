#!/bin/sh
# Best-of-n overoptimisation on the synthetic sort task (issue 17; docs/EVALUATION.md).
#
# For each seed: training pairs whose labels are biased towards a dressing the gold reward
# ignores (--bias) and drawn Bradley-Terry from the gold rewards (--bt-noise), with
# sycophancy traps among the trap kinds; test prompts with N candidates each (right and
# wrong answers, plain and dressed, sycophantic prompts). For each proxy (model size x
# data amount) an ensemble of MEMBERS is trained and `rmens bon --curve` writes, for every
# member, mean, min (WCO) and uwo (UWO), the expected gold and proxy reward of the pick
# among n = 1, 2, 4, ... N (the unbiased estimator: every n from the one draw of N).
# tools/rmens-plot draws the curves of each proxy over the seeds (mean and sd) and prints
# the figures docs/EVALUATION.md quotes.
#
# usage: tools/bon-overopt.sh OUTDIR          (from the build directory; ./rmens)
# environment (defaults in brackets):
#   SEEDS ["1 2 3"]  BIAS [length=0.3]  BT [8]  PROMPTS [32]  N [1024]  MEMBERS [4]
#   NP [2] (MPI ranks)  EPOCHS [2]  LAMBDA [0.5]  TRAPS [0.2]
#   PROXIES ["s2000:1:2:32:2000 s8000:1:2:32:8000 m2000:2:4:64:2000 m8000:2:4:64:8000"]
#            name:layers:heads:embd:pairs
#   RMENS [./rmens]  PY [/usr/bin/python3]  MPIEXEC [mpiexec]
# Curves already in OUTDIR are kept: run it again to continue a stopped run.
set -eu
[ $# -eq 1 ] || { sed -n '2,22p' "$0" >&2; exit 2; }
OUT=$1
SEEDS=${SEEDS:-"1 2 3"}
BIAS=${BIAS:-length=0.3}
BT=${BT:-8}
PROMPTS=${PROMPTS:-32}
N=${N:-1024}
MEMBERS=${MEMBERS:-4}
NP=${NP:-2}
EPOCHS=${EPOCHS:-2}
LAMBDA=${LAMBDA:-0.5}
TRAPS=${TRAPS:-0.2}
PROXIES=${PROXIES:-"s2000:1:2:32:2000 s8000:1:2:32:8000 m2000:2:4:64:2000 m8000:2:4:64:8000"}
RMENS=${RMENS:-./rmens}
PY=${PY:-/usr/bin/python3}
MPIEXEC=${MPIEXEC:-mpiexec}
HERE=$(cd "$(dirname "$0")" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 MPLCONFIGDIR="${MPLCONFIGDIR:-$OUT/.mpl}"
mkdir -p "$OUT"
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$OUT/log.txt"; }
run() { "$MPIEXEC" -n "$NP" --oversubscribe "$RMENS" "$@"; }

log "bon-overopt: seeds $SEEDS, bias $BIAS, bt-noise $BT, $PROMPTS prompts x $N candidates, $MEMBERS members"
for seed in $SEEDS; do
    d="$OUT/seed$seed"
    mkdir -p "$d"
    "$RMENS" synth --split test --n "$PROMPTS" --candidates "$N" --seed $((100 + seed)) --trap-kinds all \
        --traps 0.25 --out "$d/cands.h5" --force --quiet
    for p in $PROXIES; do
        IFS=: read -r name layers heads embd pairs <<EOF
$p
EOF
        if [ -s "$d/curve-$name.csv" ]; then  # a run stopped midway continues
            log "seed $seed $name: kept from an earlier run"
            continue
        fi
        "$RMENS" synth --n "$pairs" --seed "$seed" --trap-kinds all --traps "$TRAPS" --bias "$BIAS" --bt-noise "$BT" \
            --out "$d/train-$pairs.h5" --force --quiet
        t0=$(date +%s)
        run train --data "$d/train-$pairs.h5" --members "$MEMBERS" --layers "$layers" --heads "$heads" \
            --embd "$embd" --ctx 192 --batch 32 --epochs "$EPOCHS" --seed "$seed" --out "$d/ens-$name.h5" \
            --force --quiet
        t1=$(date +%s)
        run bon --ckpt "$d/ens-$name.h5" --candidates "$d/cands.h5" --curve "$d/curve-$name.csv" \
            --lambda "$LAMBDA" --force --quiet
        log "seed $seed $name: trained in $((t1 - t0)) s, scored $((PROMPTS * N)) candidates in $(($(date +%s) - t1)) s"
    done
done
: >"$OUT/summary.txt"
for p in $PROXIES; do
    name=${p%%:*}
    args=""
    for seed in $SEEDS; do args="$args --bon $OUT/seed$seed/curve-$name.csv"; done
    # shellcheck disable=SC2086
    "$PY" "$HERE/rmens-plot" "$OUT/plots-$name" $args | grep '^bon:' | sed "s/^bon:/$name:/" | tee -a "$OUT/summary.txt"
done
log "done: $OUT/summary.txt, $OUT/plots-*/bon.png"
