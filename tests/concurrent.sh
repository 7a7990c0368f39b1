#!/bin/sh
# Readers and writers of one checkpoint at once (docs/RELIABILITY.md, issue 12):
#  1. score while saves rename new versions onto the checkpoint: every score is of one
#     version (its rewards are exactly that version's, under MPI too, where each rank
#     opens its own members) and records that version's CRC-32;
#  1b. score while a real training run saves every step: every score succeeds and
#     records a step the run saved;
#  2. a second writer of a checkpoint (train --resume while the first run still saves)
#     is refused, naming the first; the first run's result is the uninterrupted one.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
CMP="$PY $top_srcdir/tests/compare_ckpt.py"

"$RMENS" synth --n 200 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" synth --n 60 --seed 6 --split test --out "$TMP/test.h5" --quiet || fail "synth"
SMALL="--data $TMP/train.h5 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 8 --warmup 2 --eval-every 0 --quiet"

# ---- 1: two versions of a 4-member checkpoint take turns at one path, by rename
run 1 train $SMALL --members 4 --steps 3 --seed 1 --out "$TMP/A.h5" || fail "train A"
run 1 train $SMALL --members 4 --steps 3 --seed 2 --out "$TMP/B.h5" || fail "train B"
for v in A B; do
    run 2 score --ckpt "$TMP/$v.h5" --data "$TMP/test.h5" --out "$TMP/ref$v.h5" --per-member --quiet || fail "score $v"
done
# Back to back; in a sanitized build (SLOW > 1, tests/lib.sh), where a read takes longer
# than many such swaps and the reader would retry until it gives up, with a pause that
# still lands swaps in the middle of reads.
pause=0; [ "$SLOW" -gt 1 ] && pause=0.3
(
    while [ ! -e "$TMP/stop" ]; do
        cp "$TMP/A.h5" "$TMP/ck.h5.new" && mv -f "$TMP/ck.h5.new" "$TMP/ck.h5"
        sleep $pause
        cp "$TMP/B.h5" "$TMP/ck.h5.new" && mv -f "$TMP/ck.h5.new" "$TMP/ck.h5"
        sleep $pause
    done
) &
swapper=$!
trap 'touch "$TMP/stop"; wait; rm -rf "$TMP"' EXIT
while [ ! -e "$TMP/ck.h5" ]; do sleep 0.01; done
for i in 1 2 3 4 5 6 7 8 9; do
    np=$((1 + i % 2))
    run $np score --ckpt "$TMP/ck.h5" --data "$TMP/test.h5" --out "$TMP/s$i.h5" --per-member --quiet \
        2>"$TMP/s$i.err" || { cat "$TMP/s$i.err"; fail "score $i (np $np) failed while the file was replaced"; }
done
# the library's rmens_ensemble_open (what an RL loop calls), through examples/score_text
ST="$top_builddir/examples/score_text"
printf '%s\n' '\n\nHuman: sort 3 1 2\n\nAssistant: 1 2 3' 'Human: hello\n\nAssistant: hi' >"$TMP/texts"
for v in A B; do "$ST" "$TMP/$v.h5" <"$TMP/texts" >"$TMP/text$v.out" || fail "score_text $v"; done
cmp -s "$TMP/textA.out" "$TMP/textB.out" && fail "A and B score the texts alike"
for i in $(seq 1 30); do
    "$ST" "$TMP/ck.h5" <"$TMP/texts" >"$TMP/text.out" 2>"$TMP/text.err" || { cat "$TMP/text.err"; fail "score_text $i"; }
    cmp -s "$TMP/text.out" "$TMP/textA.out" || cmp -s "$TMP/text.out" "$TMP/textB.out" \
        || { cat "$TMP/text.out" "$TMP/textA.out" "$TMP/textB.out"; fail "rmens_ensemble_open mixed versions (run $i)"; }
done
echo "ok: 30 rmens_ensemble_open calls during renames each loaded one version"
touch "$TMP/stop"
wait $swapper
"$PY" - "$TMP" <<'PY' || fail "a score mixed versions or named another version's CRC"
import sys, zlib, h5py, numpy as np
d = sys.argv[1]
crc = {v: zlib.crc32(open(f"{d}/{v}.h5", "rb").read()) for v in "AB"}
rew = lambda f: np.concatenate([f["chosen/rewards"][...], f["rejected/rewards"][...]])
ref = {v: rew(h5py.File(f"{d}/ref{v}.h5")) for v in "AB"}
assert not np.array_equal(ref["A"], ref["B"])
bad = 0
for i in range(1, 10):
    f = h5py.File(f"{d}/s{i}.h5")
    r, c = rew(f), int(f.attrs["checkpoint_crc32"]) & 0xFFFFFFFF
    same = [v for v in "AB" if np.array_equal(r, ref[v])]
    if not same:
        cols = [[v for v in "AB" if np.array_equal(r[:, k], ref[v][:, k])] for k in range(r.shape[1])]
        print(f"score {i}: members from versions {cols}: mixed")
        bad += 1
    elif c != crc[same[0]]:
        print(f"score {i}: rewards of {same[0]} but the CRC of {'B' if same[0] == 'A' else 'A'}")
        bad += 1
    else:
        print(f"score {i}: version {same[0]}, CRC {c:08x}")
sys.exit(1 if bad else 0)
PY
echo "ok: 9 scores during renames each read one version and named its CRC"

# ---- 1b: scores while training saves every step
"$MPIEXEC" -n 2 "$RMENS" train $SMALL --members 2 --steps 60 --save-every 1 --out "$TMP/live.h5" \
    >"$TMP/live.out" 2>&1 &
trainer=$!
while [ ! -e "$TMP/live.h5" ]; do sleep 0.02; done
n=0
while kill -0 $trainer 2>/dev/null && [ $n -lt 12 ]; do
    n=$((n + 1))
    run 2 score --ckpt "$TMP/live.h5" --data "$TMP/test.h5" --out "$TMP/live$n.h5" --quiet 2>"$TMP/live.err" \
        || { cat "$TMP/live.err"; fail "score $n during training failed"; }
    step=$("$PY" -c "import h5py; print(h5py.File('$TMP/live$n.h5').attrs['checkpoint_step'])")
    [ "$step" -ge 1 ] && [ "$step" -le 60 ] || fail "score $n records step $step"
done
wait $trainer || { cat "$TMP/live.out"; fail "training with concurrent scores failed"; }
[ $n -ge 2 ] || fail "only $n scores ran during training: the test proved nothing"
echo "ok: $n scores during a training run that saved every step"

# ---- 2: a second writer is refused, naming the first
run 2 train $SMALL --members 2 --steps 80 --save-every 1 --out "$TMP/whole.h5" || fail "uninterrupted run"
"$MPIEXEC" -n 2 "$RMENS" train $SMALL --members 2 --steps 80 --save-every 1 --out "$TMP/two.h5" \
    >"$TMP/first.out" 2>&1 &
first=$!
while [ ! -e "$TMP/two.h5" ]; do sleep 0.02; done
kill -0 $first 2>/dev/null || fail "the first run ended before the second started: the test proved nothing"
run 2 train $SMALL --members 2 --steps 80 --save-every 1 --out "$TMP/two.h5" --resume >"$TMP/second.out" 2>&1 \
    && { cat "$TMP/second.out"; fail "a second writer of two.h5 ran (exit 0) while the first still saved"; }
grep -q "two.h5 is being written by another rmens (pid [0-9]* on host" "$TMP/second.out" \
    || { cat "$TMP/second.out"; fail "the refusal does not name the first writer"; }
wait $first || { cat "$TMP/first.out"; fail "the first run failed"; }
$CMP "$TMP/whole.h5" "$TMP/two.h5" || fail "the first run's result differs from an uninterrupted run"
[ ! -e "$TMP/two.h5.lock" ] || fail "the lock file outlived its run"
# after the first run, the same resume is accepted (nothing left to do but a save)
run 2 train $SMALL --members 2 --steps 80 --save-every 1 --out "$TMP/two.h5" --resume >"$TMP/third.out" 2>&1 \
    || { cat "$TMP/third.out"; fail "resume after the first writer ended"; }
echo "ok: a second writer was refused naming the first; the first run's result is the uninterrupted one"
