#!/bin/sh
# rmens tensorboard: the metrics of a real training run (2 ranks, 3 members, evaluations
# with --val and out-of-bag) as a TensorBoard event file, read back by an independent
# reader (tests/tfevents.py: TFRecord framing, CRC-32C from Debian's python3-crc32c, a
# generic protobuf decoder): every figure of the metrics is there at its step, as
# float32, and nothing else; bad input names the line and leaves no event file.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python crc32c
"$RMENS" synth --n 300 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" synth --n 100 --seed 6 --split test --out "$TMP/test.h5" --quiet || fail "synth"
mpirun_np 2 "$RMENS" train --data "$TMP/train.h5" --val "$TMP/test.h5" --members 3 --layers 1 --heads 2 --embd 32 \
    --ctx 64 --batch 16 --steps 30 --eval-every 10 --truncate-prompts --metrics "$TMP/m.jsonl" --out "$TMP/e.h5" \
    --quiet || fail "train"
"$RMENS" tensorboard "$TMP/m.jsonl" --logdir "$TMP/tb" >"$TMP/out" || { cat "$TMP/out"; fail "tensorboard"; }
cat "$TMP/out"
set -- "$TMP"/tb/events.out.tfevents.*
[ $# = 1 ] && [ -s "$1" ] || fail "not one event file: $*"
"$PY" "$top_srcdir/tests/tfevents.py" compare "$1" "$TMP/m.jsonl" || fail "event file differs from the metrics"
# 30 steps x 3 members x (loss, accuracy) + loss_mean, lr, pairs_per_s; 3 evaluations x
# 3 members x 6 figures + 3 ensemble accuracies
grep -q "tensorboard: $((30 * (3 * 2 + 3) + 3 * (3 * 6 + 3))) scalars" "$TMP/out" || fail "scalar count"
# a second conversion writes a second file, not over the first
"$RMENS" tensorboard "$TMP/m.jsonl" --logdir "$TMP/tb" --quiet || fail "second conversion"
sleep 1
[ "$(ls "$TMP/tb" | wc -l)" = 2 ] || fail "the second conversion did not add a file"
# bad input
head -n 3 "$TMP/m.jsonl" >"$TMP/bad.jsonl"
echo '{"type": "train", "loss": [1]}' >>"$TMP/bad.jsonl"
"$RMENS" tensorboard "$TMP/bad.jsonl" --logdir "$TMP/tb2" 2>"$TMP/err" && fail "accepted a record without a step"
grep -q 'bad.jsonl:4: a train record without a numeric "step"' "$TMP/err" || { cat "$TMP/err"; fail "message"; }
[ -z "$(ls "$TMP/tb2" 2>/dev/null)" ] || fail "a failed conversion left an event file"
echo '{"type": "train", "step": 1, "loss": [1' >"$TMP/bad2.jsonl"
"$RMENS" tensorboard "$TMP/bad2.jsonl" --logdir "$TMP/tb3" 2>"$TMP/err" && fail "accepted malformed JSON"
grep -q 'bad2.jsonl:1' "$TMP/err" || { cat "$TMP/err"; fail "malformed JSON message"; }
"$RMENS" tensorboard "$TMP/absent.jsonl" --logdir "$TMP/tb4" 2>"$TMP/err" && fail "accepted a missing file"
grep -q 'absent.jsonl' "$TMP/err" || { cat "$TMP/err"; fail "missing file message"; }
echo "tensorboard: all passed"
