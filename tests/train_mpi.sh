#!/bin/sh
# rmens train under MPI: members are the same whatever the rank count, data-parallel
# groups agree within a stated tolerance, a signal saves and --resume finishes
# bit-identically, a killed rank leaves the previous checkpoint intact, and bad input
# fails on every rank with one clear message.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
CMP="$PY $top_srcdir/tests/compare_ckpt.py"

"$RMENS" synth --n 300 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" synth --n 100 --seed 6 --split test --out "$TMP/val.h5" --quiet || fail "synth"
SMALL="--data $TMP/train.h5 --val $TMP/val.h5 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 8 --warmup 4 --eval-every 8 --quiet"

# 1. rank-count invariance: K = 4 on P = 1, 2, 4 and K = 2 on P = 1, 2.
for np in 1 2 4; do
    run $np train $SMALL --members 4 --steps 24 --out "$TMP/k4p$np.h5" || fail "K=4 P=$np"
done
$CMP "$TMP/k4p1.h5" "$TMP/k4p2.h5" || fail "K=4: P=2 differs from P=1"
$CMP "$TMP/k4p1.h5" "$TMP/k4p4.h5" || fail "K=4: P=4 differs from P=1"
run 1 train $SMALL --members 2 --steps 24 --out "$TMP/k2p1.h5" || fail "K=2 P=1"
run 2 train $SMALL --members 2 --steps 24 --out "$TMP/k2p2.h5" || fail "K=2 P=2"
$CMP "$TMP/k2p1.h5" "$TMP/k2p2.h5" || fail "K=2: P=2 differs from P=1"
# ... and member k of a 2-member ensemble is member k of a 4-member one.
$CMP "$TMP/k2p1.h5" "$TMP/k4p1.h5" --members 0,1 || fail "K=2 members differ from K=4's first two"
echo "ok: members bit-identical for P = 1, 2, 4"

# 2. data-parallel groups (P = 4 ranks for K = 2 members): the same up to the order of
#    the gradient sums; 24 Adam steps keep that within 1e-3 of each tensor's scale.
run 4 train $SMALL --members 2 --steps 24 --out "$TMP/k2p4.h5" || fail "K=2 P=4"
$CMP "$TMP/k2p1.h5" "$TMP/k2p4.h5" --rtol 1e-3 || fail "data-parallel members drift from single-rank ones"
echo "ok: data-parallel groups within tolerance"

# 3. a signal saves and exits 0; --resume then gives the uninterrupted result.
LONG="$SMALL --members 2 --steps 150"
run 2 train $LONG --out "$TMP/whole.h5" || fail "uninterrupted run"
# mpiexec itself (not a wrapper) must get the signal: it forwards SIGUSR1 to the ranks.
"$MPIEXEC" -n 2 "$RMENS" train $LONG --out "$TMP/cut.h5" --metrics "$TMP/cut.jsonl" >"$TMP/sig.out" 2>&1 &
pid=$!
i=0
while [ "$(grep -c '"train"' "$TMP/cut.jsonl" 2>/dev/null || echo 0)" -lt 5 ] && [ $i -lt 600 ]; do
    sleep 0.05; i=$((i + 1))
done
kill -USR1 $pid
wait $pid || { cat "$TMP/sig.out"; fail "signalled run exited non-zero"; }
grep -q "stop requested" "$TMP/sig.out" || { cat "$TMP/sig.out"; fail "no stop message after SIGUSR1"; }
step=$("$PY" -c "import h5py; print(h5py.File('$TMP/cut.h5')['/'].attrs['step'])")
[ "$step" -lt 150 ] || fail "the signal came too late to test (step $step)"
run 2 train $LONG --out "$TMP/cut.h5" --resume --metrics "$TMP/cut.jsonl" || fail "resume"
$CMP "$TMP/whole.h5" "$TMP/cut.h5" || fail "resumed run differs from the uninterrupted one"
echo "ok: stopped at step $step by SIGUSR1, resumed bit-identically"

# 3b. SIGTERM delivered to the ranks themselves (as SLURM does to the tasks of a step at a
#     time limit or preemption): the same save, exit 0, and an identical resume.
"$MPIEXEC" -n 2 "$RMENS" train $LONG --out "$TMP/term.h5" --metrics "$TMP/term.jsonl" >"$TMP/term.out" 2>&1 &
pid=$!
i=0
while [ "$(grep -c '"train"' "$TMP/term.jsonl" 2>/dev/null || echo 0)" -lt 5 ] && [ $i -lt 600 ]; do
    sleep 0.05; i=$((i + 1))
done
pkill -TERM -P $pid
wait $pid || { cat "$TMP/term.out"; fail "ranks given SIGTERM exited non-zero"; }
grep -q "stop requested" "$TMP/term.out" || { cat "$TMP/term.out"; fail "no stop message after SIGTERM"; }
run 2 train $LONG --out "$TMP/term.h5" --resume || fail "resume after SIGTERM"
$CMP "$TMP/whole.h5" "$TMP/term.h5" || fail "resumed run after SIGTERM differs from the uninterrupted one"
echo "ok: SIGTERM to the ranks saved and exited 0; resumed bit-identically"

# 4. a rank killed mid-run: the job ends (no hang), the last checkpoint is intact, and
#    resuming from it gives the uninterrupted result.
"$MPIEXEC" -n 2 "$RMENS" train $LONG --out "$TMP/kill.h5" --save-every 3 >"$TMP/kill.out" 2>&1 &
pid=$!
i=0
while [ ! -e "$TMP/kill.h5" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3
victim=$(pgrep -f "train .*$TMP/kill.h5" | grep -v "^$pid\$" | tail -n 1)
[ -n "$victim" ] || fail "no rank to kill"
kill -9 "$victim"
start=$(date +%s)
wait $pid && fail "the job survived a killed rank"
[ $(($(date +%s) - start)) -lt $((60 * SLOW)) ] || fail "the job took over a minute to end after a rank died"
"$RMENS" info "$TMP/kill.h5" >/dev/null 2>&1 || "$PY" -c "
import h5py, sys
f = h5py.File('$TMP/kill.h5')
assert f.attrs['rmens_format'] == 'ensemble' and len(f['members']) == 2
print('checkpoint intact at step', f.attrs['step'])" || fail "checkpoint damaged by the kill"
run 2 train $LONG --out "$TMP/kill.h5" --save-every 3 --resume || fail "resume after kill"
$CMP "$TMP/whole.h5" "$TMP/kill.h5" || fail "resume after a kill differs from the uninterrupted run"
echo "ok: killed rank: prompt failure, intact checkpoint, identical resume"

# 4b. a rank dies inside its second save (fault injection, after its data went into the
#     temporary file): the first save's checkpoint survives whole, and resuming from it
#     gives the uninterrupted result.
if have_faults; then
    RMENS_FAULT_SAVE=1:2 "$MPIEXEC" -n 2 -x RMENS_FAULT_SAVE "$RMENS" train $LONG --out "$TMP/fault.h5" --save-every 40 \
        >"$TMP/fault.out" 2>&1 && fail "the job survived a rank dying in a save"
    step=$("$PY" -c "import h5py; f = h5py.File('$TMP/fault.h5'); print(f.attrs['step'], len(f['members']))")
    [ "$step" = "40 2" ] || fail "after a death in the second save, the checkpoint says step/members '$step', want '40 2'"
    # The killed save's temporary is left behind (nothing runs after SIGKILL) ...
    stale=$(ls "$TMP"/fault.h5.tmp.* 2>/dev/null | wc -l)
    [ "$stale" = 1 ] || fail "expected the killed save's one temporary, found $stale: $(ls "$TMP")"
    run 2 train $LONG --out "$TMP/fault.h5" --save-every 40 --resume || fail "resume after a death in a save"
    $CMP "$TMP/whole.h5" "$TMP/fault.h5" || fail "resume after a death in a save differs from the uninterrupted run"
    # ... and the resumed run's first successful save removes it.
    ! ls "$TMP"/fault.h5.tmp.* >/dev/null 2>&1 || fail "stale temporary not removed: $(ls "$TMP")"
else
    [ -z "${RMENS_NO_SKIP:-}" ] || fail "4b needs a build configured with --enable-fault-injection"
    echo "note: 4b skipped: no fault injection in this build (configure --enable-fault-injection)"
fi
echo "ok: death during a save leaves the previous checkpoint; identical resume; stale temporary removed"

# 4c. the metrics file is JSON Lines with the documented keys.
"$PY" - "$TMP/cut.jsonl" <<'PYEOF2' || fail "metrics file"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
train = [r for r in rows if r["type"] == "train"]
ev = [r for r in rows if r["type"] == "eval"]
assert [r["step"] for r in train] == list(range(1, 151)), "one train row per step, resumed run appended"
assert all(len(r["loss"]) == 2 and len(r["accuracy"]) == 2 and r["pairs_per_s"] > 0 for r in train)
final = [r for r in ev if r["final"]]
assert len(final) == 1 and final[0]["step"] == 150
m = final[0]["members"][0]
for k in ("val_loss", "val_accuracy", "val_margin", "oob_accuracy", "oob_loss", "reward_mean", "reward_std"):
    assert k in m, k
for k in ("val_accuracy_mean", "val_accuracy_min", "val_accuracy_uwo"):
    assert 0 <= final[0]["ensemble"][k] <= 1, k
print("metrics: %d train rows, %d evaluations" % (len(train), len(ev)))
PYEOF2

# 5. bad input: one message, non-zero exit on every rank, nothing written.
expect_fail() {
    pat=$1; shift
    "$@" >"$TMP/out" 2>"$TMP/err" && fail "succeeded: $*"
    n=$(grep -cF -- "$pat" "$TMP/err")
    [ "$n" = 1 ] || { cat "$TMP/err"; fail "'$pat' printed $n times: $*"; }
    echo "ok: '$pat'"
}
cp "$TMP/k2p2.h5" "$TMP/keep.h5"
expect_fail "--members: expected an integer >= 1" run 2 train $SMALL --members 0 --out "$TMP/x.h5"
expect_fail "3 ranks cannot be shared among 2 members" run 3 train $SMALL --members 2 --out "$TMP/x.h5"
expect_fail "--batch 400 is larger than the data" run 2 train $SMALL --members 2 --batch 400 --out "$TMP/x.h5"
expect_fail "absent.h5: cannot open" run 2 train --data "$TMP/absent.h5" --members 2 --out "$TMP/x.h5"
expect_fail "already exists (pass --resume" run 2 train $SMALL --members 2 --out "$TMP/keep.h5"
"$RMENS" synth --n 300 --seed 77 --out "$TMP/other.h5" --quiet || fail "synth"
expect_fail "was trained on other data" run 2 train $SMALL --members 2 --steps 24 --data "$TMP/other.h5" --out "$TMP/keep.h5" --resume
expect_fail "trained with lr = " run 2 train $SMALL --members 2 --steps 24 --lr 0.01 --out "$TMP/keep.h5" --resume
expect_fail "rmens_format is \"ensemble\", expected \"model\"" run 2 train $SMALL --members 2 --init "$TMP/keep.h5" --out "$TMP/x.h5"
"$PY" - "$TMP/keep.h5" "$TMP/v99.h5" <<'PYEOF' || fail "making a future checkpoint"
import shutil, sys, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "a") as f:
    f.attrs["rmens_version"] = 99
PYEOF
expect_fail "checkpoint version 99" run 2 train $SMALL --members 2 --steps 24 --out "$TMP/v99.h5" --resume
# A member extracted as a model file with h5py alone (the layouts are the same) starts a
# new run; asking for another shape alongside it is refused.
"$PY" - "$TMP/keep.h5" "$TMP/member.h5" <<'PYEOF2' || fail "extracting a member"
import sys, h5py
with h5py.File(sys.argv[1], "r") as e, h5py.File(sys.argv[2], "w") as m:
    m.attrs["rmens_format"] = "model"
    m.attrs["rmens_version"] = 1
    for k in ("vocab_size", "n_ctx", "n_layer", "n_head", "n_embd"):
        m.attrs[k] = e.attrs[k]
    e.copy("members/001/params", m, "params")
PYEOF2
"$RMENS" info "$TMP/member.h5" | grep -q "score head       present" || fail "info on an extracted member"
run 2 train --data "$TMP/train.h5" --members 2 --steps 4 --batch 8 --init "$TMP/member.h5" --quiet --out "$TMP/init.h5" \
    || fail "--init from an extracted member"
expect_fail "the model options ask for" run 2 train $SMALL --members 2 --layers 2 --init "$TMP/member.h5" --out "$TMP/x.h5"
# A model that reads other tokens than the data's is refused (no tokenizer attribute, as
# in the extraction above: accepted, nothing to compare).
"$PY" -c "import h5py, shutil; shutil.copy('$TMP/member.h5', '$TMP/member_gpt2.h5'); h5py.File('$TMP/member_gpt2.h5', 'a').attrs['tokenizer'] = 'gpt2'" \
    || fail "tokenizer attribute"
expect_fail "member_gpt2.h5 reads \"gpt2\" tokens, but $TMP/train.h5 was tokenized by \"bytes\"" \
    run 2 train --data "$TMP/train.h5" --members 2 --steps 4 --batch 8 --init "$TMP/member_gpt2.h5" --out "$TMP/x.h5"
# Data whose tokenizer attribute says "gpt2" (the same tokens): --init from the "gpt2"
# model is accepted, the checkpoint records "gpt2", and score accepts that data with it.
"$PY" - "$TMP" <<'PYEOF2' || fail "a gpt2-labelled data file"
import shutil, sys, h5py
d = sys.argv[1]
shutil.copy(d + "/train.h5", d + "/train_gpt2.h5")
with h5py.File(d + "/train_gpt2.h5", "a") as f:
    f.attrs["tokenizer"] = "gpt2"
PYEOF2
run 2 train --data "$TMP/train_gpt2.h5" --members 2 --steps 4 --batch 8 --init "$TMP/member_gpt2.h5" --quiet \
    --out "$TMP/init_gpt2.h5" || fail "--init with matching tokenizers"
tok=$("$PY" -c "import h5py; print(h5py.File('$TMP/init_gpt2.h5', 'r').attrs['tokenizer'])")
[ "$tok" = gpt2 ] || fail "the checkpoint records tokenizer '$tok', the data's is 'gpt2'"
run 1 score --ckpt "$TMP/init_gpt2.h5" --data "$TMP/train_gpt2.h5" --out "$TMP/s_gpt2.h5" --quiet \
    || fail "score with the checkpoint's own tokenizer"
run 2 train --data "$TMP/train_gpt2.h5" --members 2 --steps 4 --batch 8 --quiet --out "$TMP/g.h5" || fail "gpt2 run"
expect_fail "was trained on \"gpt2\" tokens, $TMP/train.h5 holds \"bytes\" tokens" \
    run 2 train --data "$TMP/train.h5" --members 2 --steps 4 --batch 8 --quiet --out "$TMP/g.h5" --resume
echo "ok: tokenizers carried from data to checkpoint and compared"
expect_fail "have a prompt longer than the context (n_ctx 16" run 2 train $SMALL --members 2 --ctx 16 --out "$TMP/x.h5"
expect_fail "non-finite reward on pair" run 2 train $SMALL --members 2 --steps 30 --lr 1e9 --clip 0 --out "$TMP/x.h5"
# An overflowing margin inside a data-parallel group (one member on two ranks): the rank
# that sees it must not leave its partner waiting in the gradient reduction.
"$PY" - "$TMP/train.h5" "$TMP/margin.h5" <<'PYEOF2' || fail "making a margin file"
import shutil, sys, h5py, numpy as np
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "a") as f:
    m = np.zeros(len(f["prompt_len"]), np.float32)
    m[5] = 3e38
    f["margin"] = m
PYEOF2
expect_fail "non-finite loss on pair 5 " run 2 train --data "$TMP/margin.h5" --members 1 --layers 1 --heads 2 --embd 32 \
    --ctx 64 --batch 8 --steps 40 --margin-scale 10 --bootstrap none --quiet --out "$TMP/x.h5"
# Job-array parts: member k trained alone equals member k of the MPI run; merge checks.
for k in 0 1; do
    run 1 train $SMALL --members 2 --member $k --steps 24 --out "$TMP/part$k.h5" || fail "--member $k"
done
"$RMENS" merge --out "$TMP/merged.h5" "$TMP/part1.h5" "$TMP/part0.h5" >/dev/null || fail "merge"
$CMP "$TMP/k2p2.h5" "$TMP/merged.h5" || fail "merged parts differ from the MPI run"
expect_fail "must be members 0 to 1, each once" "$RMENS" merge --out "$TMP/x.h5" "$TMP/part0.h5" "$TMP/part0.h5"
expect_fail "is member 0 of a 2-member ensemble, but 1 parts" "$RMENS" merge --out "$TMP/x.h5" "$TMP/part0.h5"
expect_fail "holds 2 members; merge takes one-member parts" "$RMENS" merge --out "$TMP/x.h5" "$TMP/k2p2.h5"
run 1 train $SMALL --members 2 --member 1 --steps 24 --lr 0.01 --out "$TMP/other1.h5" || fail "--member 1 other lr"
expect_fail "was trained with other settings or data than $TMP/part0.h5 (lr 0.01, not 0.001)" "$RMENS" merge --out "$TMP/x.h5" "$TMP/part0.h5" "$TMP/other1.h5"
expect_fail "--member 2: the ensemble has 2 members" run 1 train $SMALL --members 2 --member 2 --out "$TMP/x.h5"
[ ! -e "$TMP/x.h5" ] || fail "a failed run wrote its output"
cmp -s "$TMP/keep.h5" "$TMP/k2p2.h5" || fail "a failed run touched an existing checkpoint"
ls "$TMP" | grep "\.tmp\." | grep -v -E "^(kill|fault)\.h5" | grep -q . && fail "a temporary file was left behind: $(ls "$TMP")"
echo "train_mpi: all passed"
