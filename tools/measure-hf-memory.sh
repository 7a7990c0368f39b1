#!/bin/sh
# Peak memory of training full-size random-weight checkpoints on one rank (issue 15;
# docs/PERFORMANCE.md, "Memory at full model size"). Not part of make check: it writes
# about 1 GB per checkpoint and takes minutes per training step on 2 cores.
#
#   tools/measure-hf-memory.sh [OUTDIR]
#   env: SHAPES  "qwen25 smollm2" (Qwen2.5-0.5B: 24 layers, hidden 896, 14 heads / 2 kv,
#                intermediate 4864, vocab 151936, q/k/v biases, tied; SmolLM2-135M: 30
#                layers, hidden 576, 9 / 3, intermediate 1536, vocab 49152, tied)
#        RUNS    "1024:4 1024:1" (T:B: sequence length and pairs per step)
#        STEPS   2 (AdamW steps each), THREADS 2, RMENS ./rmens, PYTHON3 /usr/bin/python3
#        FLAGS   more rmens bench options, e.g. --gradient-checkpointing (in the log's name)
#
# Each checkpoint is written in Hugging Face layout (config.json + BF16 model.safetensors,
# random weights) by tests/hf_fixtures.py tiny, with max_position_embeddings 4096 (RoPE
# does not depend on it). `rmens bench --model DIR --ctx T --batch B` loads it (fp32
# master weights), trains on random tokens filling T (both sequences of a pair whole: the
# worst case) and prints its theory (weights, gradients, two Adam moments, reserved
# activations); /usr/bin/time -v gives the measured peak resident set. A run that would
# not fit the machine is refused by rmens before it allocates, with the figures.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-hf-memory}
SHAPES=${SHAPES:-"qwen25 smollm2"}
RUNS=${RUNS:-"1024:4 1024:1"}
STEPS=${STEPS:-2}
THREADS=${THREADS:-2}
RMENS=${RMENS:-./rmens}
PY=${PYTHON3:-/usr/bin/python3}
FLAGS=${FLAGS:-}
mkdir -p "$OUT" || exit 1
for s in $SHAPES; do
    case $s in
    qwen25) args="--arch qwen2 --vocab 151936 --hidden 896 --layers 24 --heads 14 --kv 2 --head-dim 64 --inter 4864" ;;
    smollm2) args="--arch llama --vocab 49152 --hidden 576 --layers 30 --heads 9 --kv 3 --head-dim 64 --inter 1536" ;;
    *) echo "unknown shape $s (qwen25, smollm2)" >&2; exit 2 ;;
    esac
    if [ ! -f "$OUT/$s/config.json" ]; then
        t0=$(date +%s)
        # shellcheck disable=SC2086
        "$PY" "$HERE/tests/hf_fixtures.py" tiny "$OUT/$s" $args --ctx 4096 --dtype BF16 --seed 1 || exit 1
        echo "$s: checkpoint written in $(($(date +%s) - t0)) s ($(du -sh "$OUT/$s" | cut -f1))"
    fi
    for r in $RUNS; do
        T=${r%%:*} B=${r##*:}
        log="$OUT/$s-T$T-B$B$(printf '%s' "$FLAGS" | tr -d ' ').log"
        t0=$(date +%s)
        # shellcheck disable=SC2086
        /usr/bin/time -v "$RMENS" bench --model "$OUT/$s" --ctx "$T" --batch "$B" --steps "$STEPS" \
            --threads "$THREADS" $FLAGS >"$log" 2>&1
        rc=$?
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
        echo "== $s T $T B $B $FLAGS: exit $rc, $(($(date +%s) - t0)) s, peak RSS $(awk -v k="${rss:-0}" 'BEGIN {printf "%.2f GiB", k / 1048576}')"
        grep -iE "memory|GiB|MiB|pairs/s|refus|error" "$log" | grep -v "Maximum resident" | sed 's/^/   /'
    done
done
