#!/bin/bash
# The SLURM job scripts on a real single-node cluster started here: munge, slurmctld and
# slurmd on localhost with state and logs in a scratch directory, stopped (by pid) on
# exit. Checks: the README's pipeline command, literally (relative work folder, K = 4,
# partition "compute"), runs data -> train -> eval; from another folder, relative
# WORKDIR and INPUT resolve against the submitting folder; a failing stage cancels its
# dependents and the printed log path holds its error; a training job requeued mid-run
# (scontrol requeue: SIGTERM to its tasks) saves, restarts with --resume, and ends with
# the members of an uninterrupted run; the job-array path gives the MPI path's members.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
# The README's pipeline command asks for 4 tasks and the partition "compute".
CLUSTER_CPUS=$(( $(nproc) > 4 ? $(nproc) : 4 )) CLUSTER_PARTITION=compute
. "$top_srcdir/tests/slurm_cluster.sh"
# The real binary on PATH as an installed rmens would be: the README's command uses it bare.
mkdir -p "$TMP/bin"
ln -s "$R" "$TMP/bin/rmens"
export PATH=$TMP/bin:$PATH
stage() { awk -v s="$1" -v f="$2" '$1 == s { print $f }' <<<"$3"; }  # stage NAME FIELD SUMMARY
state() { scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }

# 1. the README's command, literally, in a fresh folder (README.md, "Running on a SLURM cluster")
cmd=$(grep -m 1 'jobs/pipeline.sh run1' "$top_srcdir/README.md" | sed 's/ *#.*//')
[ -n "$cmd" ] || fail "README.md has no jobs/pipeline.sh run1 command"
mkdir -p "$TMP/user/jobs"
cp "$top_srcdir"/jobs/* "$TMP/user/jobs/"  # a checkout's jobs/ folder
cd "$TMP/user"
start=$(date +%s)
out=$(bash -c "$cmd") || fail "README command: $cmd"
echo "$out"
[ "$(echo "$out" | wc -l)" = 3 ] || fail "the summary is not one line per stage"
for s in data train eval; do
    case $(stage $s 3 "$out") in "$TMP/user/run1/rmens-$s-$(stage $s 2 "$out").out") ;; *) fail "$s: log path";; esac
done
wait_job $(stage data 2 "$out") $(stage train 2 "$out") $(stage eval 2 "$out")
[ -s run1/report.json ] || { tail -n 30 run1/*.out; fail "no eval report in run1/"; }
[ -e run1/run1 ] && fail "the jobs ran in run1/run1"
for s in data train eval; do
    grep -q . "$(stage $s 3 "$out")" || fail "$s: empty or missing log $(stage $s 3 "$out")"
done
rmens info run1/ens.h5 | grep -q -E "members +4 " || { rmens info run1/ens.h5; fail "not a 4-member ensemble"; }
rmens info run1/ens.h5 | grep -q unfinished && fail "ensemble unfinished"
tr=$(stage train 2 "$out")
grep -q "job $tr\]" run1/rmens-train-$tr.out || fail "the train log does not name its job"
"$PY" -c "
import json; r = json.load(open('run1/report.json'))
assert r['members_count'] == 4 and 0 <= r['ensemble']['accuracy_mean'] <= 1
print('README pipeline report: ensemble accuracy %.3f' % r['ensemble']['accuracy_mean'])" || fail "eval report"
echo "ok: the README's pipeline command (relative run1) in $(( $(date +%s) - start )) s"

# 2. from another folder: relative WORKDIR and INPUT are the submitting folder's; a bad
# INPUT fails the data stage, which cancels train and eval, and its log says why.
mkdir -p "$TMP/elsewhere/in"
cd "$TMP/elsewhere"
"$PY" - <<'PYEOF'
import json, random
r = random.Random(1)
with open("in/pairs.jsonl", "w") as f:
    for i in range(400):
        d = [r.randrange(10) for _ in range(4)]
        good = " ".join(map(str, sorted(d)))
        bad = " ".join(map(str, d if d != sorted(d) else d[::-1]))
        if good == bad: continue
        f.write(json.dumps({"prompt": "Sort: " + " ".join(map(str, d)), "chosen": good, "rejected": bad}) + "\n")
PYEOF
SMALL="--layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --steps 60 --truncate-prompts"
run=$(INPUT=in/pairs.jsonl MEMBERS=2 TRAIN_ARGS="$SMALL --metrics run/m.jsonl" bash "$top_srcdir/jobs/pipeline.sh" run) || fail "pipeline.sh, relative INPUT"
echo "$run"
wait_job $(stage data 2 "$run") $(stage train 2 "$run") $(stage eval 2 "$run")
[ -s run/report.json ] || { tail -n 30 run/*.out; fail "relative INPUT: no eval report"; }
[ -s run/m.jsonl ] || fail "a path in TRAIN_ARGS was not the submitting folder's"
rmens info run/ens.h5 | grep -q "step 60 of 60" || { rmens info run/ens.h5; fail "ensemble not finished"; }
echo "ok: relative WORKDIR, INPUT and TRAIN_ARGS paths from another folder"
printf '{"prompt": "x", "chosen": \n' >in/bad.jsonl
bad=$(INPUT=in/bad.jsonl MEMBERS=2 TRAIN_ARGS="$SMALL" bash "$top_srcdir/jobs/pipeline.sh" bad) || fail "pipeline.sh, bad INPUT"
wait_job $(stage data 2 "$bad") $(stage train 2 "$bad") $(stage eval 2 "$bad")
grep -q "bad.jsonl:1" "$(stage data 3 "$bad")" || { cat "$(stage data 3 "$bad")"; fail "the data log does not say what failed"; }
for s in train eval; do
    case $(state "$(stage $s 2 "$bad")") in CANCELLED*) ;; *) fail "$s after a failed data stage: $(state "$(stage $s 2 "$bad")")";; esac
done
echo "ok: a failed data stage cancels train and eval; its log names the error"
cd "$TMP/user"

# 3. preemption: requeue a training job mid-run; it resumes and matches an uninterrupted run.
cd "$TMP/user/run1"
LONG="--layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --steps 400 --truncate-prompts --metrics m.jsonl"
jid=$(DATA=train.h5 OUT=pre.h5 MEMBERS=2 TRAIN_ARGS="$LONG" RMENS=$R RMENS_JOBS="$top_srcdir/jobs" \
    sbatch --parsable --ntasks=2 --chdir="$TMP/user/run1" --export=ALL "$top_srcdir/jobs/train.sbatch") || fail "sbatch"
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
# (its own metrics file: m.jsonl exists, and rmens refuses to truncate it without --force)
mpirun --allow-run-as-root -n 2 "$R" train --data train.h5 --members 2 --out whole.h5 $LONG --metrics whole.jsonl --quiet \
    || fail "reference run"
"$PY" "$top_srcdir/tests/compare_ckpt.py" whole.h5 pre.h5 || fail "requeued run differs from the uninterrupted one"
echo "ok: requeued mid-run, resumed, bit-identical to an uninterrupted run"

# 4. the job-array path (one member per task, then rmens merge) gives the MPI path's members.
cd "$TMP/elsewhere"
arr=$(INPUT=in/pairs.jsonl MEMBERS=2 ARRAY=1 TRAIN_ARGS="$SMALL" bash "$top_srcdir/jobs/pipeline.sh" arr) || fail "pipeline ARRAY=1"
echo "$arr"
case $(stage train 3 "$arr") in "$TMP/elsewhere/arr/rmens-member-$(stage train 2 "$arr")_*.out") ;; *) fail "array log path";; esac
wait_job $(stage data 2 "$arr") $(stage train 2 "$arr") $(stage merge 2 "$arr") $(stage eval 2 "$arr")
[ -s arr/ens.h5 ] || { tail -n 20 arr/*.out; fail "no merged ensemble"; }
ls arr/rmens-member-$(stage train 2 "$arr")_1.out >/dev/null || fail "no log of array task 1"
"$PY" "$top_srcdir/tests/compare_ckpt.py" run/ens.h5 arr/ens.h5 --ignore-attrs data || fail "array members differ from MPI members"
"$PY" - run/ens.h5 arr/ens.h5 <<'PYEOF' || fail "array checkpoint attributes"
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
