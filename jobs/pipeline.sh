#!/bin/bash
# rmens pipeline: data -> train -> eval, each stage a SLURM job that starts only when
# the one before succeeded (--dependency=afterok); when a stage fails, SLURM cancels the
# stages after it (--kill-on-invalid-dep=yes) instead of leaving them pending forever.
#
#   jobs/pipeline.sh [WORKDIR]
#
# Settings (environment, with defaults): INPUT (JSON/JSONL preference data for rmens
# prep; empty: the embedded synthetic task), MEMBERS (4), WORKDIR (./rmens-run),
# TRAIN_ARGS, EVAL_ARGS, SBATCH_ARGS (extra sbatch options for every stage, e.g.
# "--partition=compute --account=myproject"), and ARRAY=1 to train one member per
# job-array task and merge them, instead of one MPI job; SCORE_DATA (a responses or pairs
# file) adds a score stage writing scores.h5 after training (SCORE_ARGS: its options).
#
# Paths: every path you give (WORKDIR, INPUT, SCORE_DATA, RMENS, and paths inside
# TRAIN_ARGS, EVAL_ARGS and SCORE_ARGS) is read against the folder you submit from, as
# on the command line; the jobs run there. The pipeline's own files (train.h5, test.h5,
# ens.h5, report.json, scores.h5, parts/) and every stage's log go into WORKDIR.
# Prints one line per stage: its name, its job id and its log file.
set -eu
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
submit=$PWD
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$submit/$1" ;; esac; }
WORKDIR=${1:-${WORKDIR:-rmens-run}}
mkdir -p "$WORKDIR"
W=$(cd "$WORKDIR" && pwd)
MEMBERS=${MEMBERS:-4}
RMENS=${RMENS:-$(command -v rmens || echo "$here/../rmens")}
case $RMENS in */*) RMENS=$(abspath "$RMENS") ;; *) RMENS=$(command -v "$RMENS") ;; esac
for v in INPUT SCORE_DATA; do
    if [ -n "${!v:-}" ]; then
        p=$(abspath "${!v}")
        [ -r "$p" ] || { echo "pipeline.sh: $v=${!v}: no such file ($p)" >&2; exit 1; }
        printf -v "$v" '%s' "$p"
    fi
done
common=(--parsable --chdir="$submit" --kill-on-invalid-dep=yes
    --export=ALL,RMENS="$RMENS",RMENS_JOBS="$here")
# shellcheck disable=SC2206
common+=(${SBATCH_ARGS:-})
log=(--output="$W/%x-%j.out")
if [ -n "${INPUT:-}" ]; then
    data_cmd="\"$RMENS\" prep \"$INPUT\" --out \"$W/train.h5\" --val-out \"$W/test.h5\" --val-fraction 0.1 --force"
else
    data_cmd="\"$RMENS\" synth --n 4000 --seed 1 --out \"$W/train.h5\" --force && \"$RMENS\" synth --split test --seed 2 --n 1000 --out \"$W/test.h5\" --force"
fi
prep=$(sbatch "${common[@]}" "${log[@]}" --job-name=rmens-data --ntasks=1 --wrap="$data_cmd")
printf 'data  %s %s\n' "$prep" "$W/rmens-data-$prep.out"
if [ "${ARRAY:-0}" = 1 ]; then
    array=$(DATA=$W/train.h5 VAL=$W/test.h5 PARTS=$W/parts MEMBERS=$MEMBERS sbatch "${common[@]}" \
        --output="$W/%x-%A_%a.out" --array=0-$((MEMBERS - 1)) --dependency=afterok:"$prep" "$here/train-array.sbatch")
    printf 'train %s %s\n' "$array" "$W/rmens-member-${array}_*.out"
    train=$(PARTS=$W/parts OUT=$W/ens.h5 sbatch "${common[@]}" "${log[@]}" --dependency=afterok:"$array" "$here/merge.sbatch")
    printf 'merge %s %s\n' "$train" "$W/rmens-merge-$train.out"
else
    train=$(DATA=$W/train.h5 VAL=$W/test.h5 OUT=$W/ens.h5 MEMBERS=$MEMBERS sbatch "${common[@]}" "${log[@]}" \
        --ntasks="$MEMBERS" --dependency=afterok:"$prep" "$here/train.sbatch")
    printf 'train %s %s\n' "$train" "$W/rmens-train-$train.out"
fi
eval=$(CKPT=$W/ens.h5 DATA=$W/test.h5 REPORT=$W/report.json sbatch "${common[@]}" "${log[@]}" --ntasks="$MEMBERS" \
    --dependency=afterok:"$train" "$here/eval.sbatch")
printf 'eval  %s %s\n' "$eval" "$W/rmens-eval-$eval.out"
if [ -n "${SCORE_DATA:-}" ]; then
    # Scores for RL: SCORE_DATA (a responses or pairs file) -> scores.h5, after training.
    score=$(CKPT=$W/ens.h5 DATA="$SCORE_DATA" SCORES=$W/scores.h5 sbatch "${common[@]}" "${log[@]}" --ntasks="$MEMBERS" \
        --dependency=afterok:"$train" "$here/score.sbatch")
    printf 'score %s %s\n' "$score" "$W/rmens-score-$score.out"
fi
