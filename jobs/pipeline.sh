#!/bin/bash
# rmens pipeline: data -> train -> eval, each stage a SLURM job that starts only when
# the one before succeeded (--dependency=afterok).
#
#   jobs/pipeline.sh [WORKDIR]
#
# Settings (environment, with defaults): INPUT (JSON/JSONL preference data for rmens
# prep; empty: the embedded synthetic task), MEMBERS (4), WORKDIR (./rmens-run),
# TRAIN_ARGS, EVAL_ARGS, SBATCH_ARGS (extra sbatch options for every stage, e.g.
# "--partition=compute --account=myproject"), and ARRAY=1 to train one member per
# job-array task and merge them, instead of one MPI job; SCORE_DATA (a responses or pairs
# file) adds a score stage writing scores.h5 after training. Prints the job ids.
set -eu
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
WORKDIR=${1:-${WORKDIR:-$PWD/rmens-run}}
MEMBERS=${MEMBERS:-4}
RMENS=${RMENS:-$(command -v rmens || echo "$here/../rmens")}
mkdir -p "$WORKDIR"
cd "$WORKDIR"
common=(--parsable --chdir="$WORKDIR" --export=ALL,RMENS="$RMENS",RMENS_JOBS="$here")
# shellcheck disable=SC2206
common+=(${SBATCH_ARGS:-})
if [ -n "${INPUT:-}" ]; then
    data_cmd="\"$RMENS\" prep \"$INPUT\" --out train.h5 --val-out test.h5 --val-fraction 0.1 --force"
else
    data_cmd="\"$RMENS\" synth --n 4000 --seed 1 --out train.h5 --force && \"$RMENS\" synth --split test --seed 2 --n 1000 --out test.h5 --force"
fi
prep=$(sbatch "${common[@]}" --job-name=rmens-data --ntasks=1 --output=%x-%j.out --wrap="$data_cmd")
if [ "${ARRAY:-0}" = 1 ]; then
    array=$(DATA=train.h5 VAL=test.h5 PARTS=parts MEMBERS=$MEMBERS sbatch "${common[@]}" --array=0-$((MEMBERS - 1)) \
        --dependency=afterok:"$prep" "$here/train-array.sbatch")
    train=$(PARTS=parts OUT=ens.h5 sbatch "${common[@]}" --dependency=afterok:"$array" "$here/merge.sbatch")
else
    train=$(DATA=train.h5 VAL=test.h5 OUT=ens.h5 MEMBERS=$MEMBERS sbatch "${common[@]}" --ntasks="$MEMBERS" \
        --dependency=afterok:"$prep" "$here/train.sbatch")
fi
eval=$(CKPT=ens.h5 DATA=test.h5 REPORT=report.json sbatch "${common[@]}" --ntasks="$MEMBERS" \
    --dependency=afterok:"$train" "$here/eval.sbatch")
line="data $prep train $train eval $eval"
if [ -n "${SCORE_DATA:-}" ]; then
    # Scores for RL: SCORE_DATA (a responses or pairs file) -> scores.h5, after training.
    score=$(CKPT=ens.h5 DATA="$SCORE_DATA" SCORES=scores.h5 sbatch "${common[@]}" --ntasks="$MEMBERS" \
        --dependency=afterok:"$train" "$here/score.sbatch")
    line="$line score $score"
fi
echo "$line"
