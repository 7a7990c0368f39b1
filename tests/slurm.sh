#!/bin/bash
# The SLURM job scripts on a real single-node cluster started here: munge, slurmctld and
# slurmd on localhost with state and logs in a scratch directory, stopped (by pid) on
# exit. Checks: jobs/pipeline.sh runs data -> train -> eval with K = 2 on the 2 cores;
# a training job requeued mid-run (scontrol requeue: SIGTERM to its tasks) saves,
# restarts with --resume, and ends with the members of an uninterrupted run.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/slurm_cluster.sh"

# 1. the pipeline
start=$(date +%s)
SMALL="--layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --steps 60 --truncate-prompts"
ids=$(RMENS=$R MEMBERS=2 TRAIN_ARGS="$SMALL" bash "$top_srcdir/jobs/pipeline.sh" "$TMP/run") || fail "pipeline.sh"
echo "pipeline: $ids"
set -- $ids
wait_job "$2" "$4" "$6"
cd "$TMP/run"
[ -s report.json ] || { tail -n 30 *.out; fail "no eval report"; }
"$R" info ens.h5 | grep -q "step 60 of 60" || { "$R" info ens.h5; fail "ensemble not finished"; }
grep -q "job $4\]" rmens-train-$4.out || fail "the train log does not name its job"
grep "step 60/60" rmens-train-$4.out | grep -q "^\[job $4\] " || { cat rmens-train-$4.out; fail "progress lines do not name the job"; }
"$PY" -c "
import json; r = json.load(open('report.json'))
assert r['members_count'] == 2 and 0 <= r['ensemble']['accuracy_mean'] <= 1
print('pipeline report: ensemble accuracy %.3f' % r['ensemble']['accuracy_mean'])" || fail "eval report"
echo "ok: pipeline data -> train -> eval in $(( $(date +%s) - start )) s"

# 2. preemption: requeue a training job mid-run; it resumes and matches an uninterrupted run.
LONG="--layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --steps 400 --truncate-prompts --metrics m.jsonl"
jid=$(DATA=train.h5 OUT=pre.h5 MEMBERS=2 TRAIN_ARGS="$LONG" RMENS=$R RMENS_JOBS="$top_srcdir/jobs" \
    sbatch --parsable --ntasks=2 --chdir="$TMP/run" --export=ALL "$top_srcdir/jobs/train.sbatch") || fail "sbatch"
i=0
until [ "$(grep -c '"train"' m.jsonl 2>/dev/null || echo 0)" -ge 20 ]; do
    sleep 0.2; i=$((i + 1)); [ $i -lt 600 ] || { cat rmens-train-$jid.out; fail "training never started"; }
done
scontrol requeue "$jid" || fail "scontrol requeue"
echo "requeued job $jid"
# A requeued job waits out a begin-time delay; let it start as soon as it is pending.
i=0
until squeue -h -j "$jid" -o %T | grep -q PENDING && scontrol update JobId="$jid" StartTime=now 2>/dev/null; do
    sleep 0.5; i=$((i + 1)); [ $i -lt 120 ] || break
done
wait_job "$jid"
grep -q "resuming pre.h5" rmens-train-$jid.out || { cat rmens-train-$jid.out; fail "the requeued job did not resume"; }
"$R" info pre.h5 | grep -q "step 400 of 400" || { cat rmens-train-$jid.out; fail "requeued job did not finish"; }
mpirun --allow-run-as-root -n 2 "$R" train --data train.h5 --members 2 --out whole.h5 $LONG --quiet || fail "reference run"
"$PY" "$top_srcdir/tests/compare_ckpt.py" whole.h5 pre.h5 || fail "requeued run differs from the uninterrupted one"
echo "ok: requeued mid-run, resumed, bit-identical to an uninterrupted run"

# 3. the job-array path (one member per task, then rmens merge) gives the MPI path's members.
ids=$(RMENS=$R MEMBERS=2 ARRAY=1 TRAIN_ARGS="$SMALL" bash "$top_srcdir/jobs/pipeline.sh" "$TMP/arr") || fail "pipeline ARRAY=1"
echo "array pipeline: $ids"
set -- $ids
wait_job "$2" "$4" "$6"
[ -s "$TMP/arr/ens.h5" ] || { tail -n 20 "$TMP"/arr/*.out; fail "no merged ensemble"; }
"$PY" "$top_srcdir/tests/compare_ckpt.py" "$TMP/run/ens.h5" "$TMP/arr/ens.h5" || fail "array members differ from MPI members"
"$PY" - "$TMP/run/ens.h5" "$TMP/arr/ens.h5" <<'PYEOF' || fail "array checkpoint attributes"
import sys, h5py
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for g in a["members"]:
    x, y = dict(a["members"][g].attrs), dict(b["members"][g].attrs)
    assert x.keys() == y.keys() and all(x[k] == y[k] or (x[k] != x[k] and y[k] != y[k]) for k in x), g
skip = {"command_line", "data"}
ra = {k: v for k, v in a.attrs.items() if k not in skip}
rb = {k: v for k, v in b.attrs.items() if k not in skip}
assert ra.keys() == rb.keys() and all(ra[k] == rb[k] for k in ra), [k for k in ra if ra[k] != rb.get(k)]
print("array path = MPI path: every member's datasets and attributes")
PYEOF
echo "ok: job array + rmens merge equals the MPI run"
echo "slurm: all passed"
