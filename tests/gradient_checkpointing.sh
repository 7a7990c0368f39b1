#!/bin/sh
# Gradient checkpointing (train --gradient-checkpointing: one layer's activations kept and
# every layer's input, each layer recomputed in the backward pass). The recomputed values
# come from the same kernels on the same inputs, so the members must be BIT-IDENTICAL to
# those trained without it (tests/compare_ckpt.py: every parameter, Adam moment and
# bootstrap count, and every root attribute but the command line: nothing of the mode is
# recorded), for
#   gpt2   GPT-2 from scratch, 3 layers, one member on 2 ranks (data-parallel: gradients
#          summed across ranks);
#   qwen3  a Qwen3-shaped Hugging Face directory (grouped-query heads 4/2, head_dim 12 !=
#          hidden/heads, q/k norms, q/k/v/o biases), 3 layers, 2 members on 1 rank (the
#          second borrows the first's activations);
#   neox   a GPT-NeoX one (rotary_pct 0.5, parallel residual, biases), 3 layers;
# on pairs with shared prompts (several attention segments a batch), the compact last layer
# (train's default) and pairs cut to the context. Then the memory refusal: a run that does
# not fit names --gradient-checkpointing and what it would need, and that figure fits.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
need_python h5py
need_python torch
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
FX="$top_srcdir/tests/hf_fixtures.py"
cd "$TMP" || fail "no scratch directory"

"$RMENS" synth --task sort --split train --n 96 --seed 1 --out train.h5 --quiet || fail "synth"
"$PY" "$FX" tiny q3 --arch qwen3 --attention-bias --vocab 300 --ctx 96 --hidden 32 --layers 3 --heads 4 --kv 2 \
    --head-dim 12 --inter 48 --seed 3 || fail "fixture q3"
"$PY" "$FX" neox nx --vocab 300 --ctx 96 --hidden 32 --layers 3 --heads 4 --inter 64 --rotary-pct 0.5 --seed 5 ||
    fail "fixture nx"

# name ranks "model options": trains it with and without the mode, compares the two
same() {
    name=$1 np=$2 model=$3
    common="--data train.h5 --steps 4 --batch 12 --lr 3e-3 --warmup 1 --truncate-prompts --eval-every 0"
    for mode in plain gc; do
        gc=
        [ $mode = gc ] && gc=--gradient-checkpointing
        mpirun_np "$np" "$RMENS" train $model $common $gc --quiet --out "$name-$mode.h5" >"$name-$mode.log" 2>&1 ||
            { cat "$name-$mode.log"; fail "$name: rmens train ($mode)"; }
    done
    "$PY" "$top_srcdir/tests/compare_ckpt.py" "$name-plain.h5" "$name-gc.h5" ||
        fail "$name: members trained with --gradient-checkpointing are not bit-identical"
    "$PY" - "$name-plain.h5" "$name-gc.h5" <<'EOF' || fail "$name: the command lines"
import sys, h5py
a, b = (h5py.File(p)["/"].attrs["command_line"] for p in sys.argv[1:])
a, b = (x.decode() if isinstance(x, bytes) else x for x in (a, b))
assert "--gradient-checkpointing" not in a and "--gradient-checkpointing" in b, (a, b)
EOF
    echo "ok: $name: members bit-identical with and without --gradient-checkpointing"
}
same gpt2 2 "--members 1 --layers 3 --heads 4 --embd 32 --ctx 96"
same qwen3 1 "--members 2 --init q3"
same neox 1 "--members 2 --init nx"

# The refusal names the mode and its figure; that figure fits.
big="--data train.h5 --layers 8 --heads 8 --embd 64 --ctx 128 --batch 32 --steps 1 --members 1 --quiet"
SLURM_MEM_PER_NODE=200 "$RMENS" train $big --out big.h5 2>err && fail "a run needing more than 200 MiB was accepted"
grep -q "train needs about .* but a rank may use 200.0 MiB .*: --gradient-checkpointing would need about .* MiB per rank; or use fewer" err ||
    { cat err; fail "the refusal does not name --gradient-checkpointing with its figure"; }
with=$(sed -n 's/.*--gradient-checkpointing would need about \([0-9.]*\) MiB per rank.*/\1/p' err)
need=$(sed -n 's/.*train needs about \([0-9.]*\) MiB per rank.*/\1/p' err)
echo "ok: refused: $(cat err)"
SLURM_MEM_PER_NODE=200 "$RMENS" train $big --out big.h5 --gradient-checkpointing 2>err ||
    { cat err; fail "--gradient-checkpointing ($with MiB by the refusal) refused in 200 MiB"; }
lim=$(awk -v w="$with" 'BEGIN { printf "%d", w - 1 }')
SLURM_MEM_PER_NODE=$lim "$RMENS" train $big --out big2.h5 --gradient-checkpointing 2>err &&
    fail "--gradient-checkpointing accepted in $lim MiB, below the $with MiB the refusal named"
grep -q "train needs about $with MiB per rank" err || { cat err; fail "the figures differ: $with MiB named"; }
grep -q "gradient-checkpointing would" err && fail "a refusal with the mode on still advises it"
echo "ok: with --gradient-checkpointing: $with MiB needed, as the refusal said"
# and the process holds what the figures say: peak RSS of both runs (1 step)
peak() { "$PY" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)' "$@"; }
full=$(peak "$RMENS" train $big --out big3.h5) || fail "the run without the mode"
less=$(peak "$RMENS" train $big --out big4.h5 --gradient-checkpointing) || fail "the run with the mode"
echo "ok: peak RSS $full MiB without, $less MiB with --gradient-checkpointing (estimates $need and $with MiB)"
# (sanitized builds, RMENS_TEST_SLOWDOWN > 1, add their own shadow and quarantine to both)
[ "$less" -lt "$full" ] || fail "peak RSS $less MiB with the mode, $full MiB without"
[ "$SLOW" -gt 1 ] || [ $((less * 2)) -lt "$full" ] ||
    fail "peak RSS $less MiB with the mode is not below half of $full MiB without"

# rmens bench takes it too: the same loss after its steps, fewer activations in its theory
for gc in plain --gradient-checkpointing; do
    [ $gc = plain ] && gc=
    "$RMENS" bench --layers 4 --heads 2 --embd 32 --ctx 128 --batch 4 --steps 2 $gc >"bench$gc.out" ||
        { cat "bench$gc.out"; fail "rmens bench $gc"; }
done
grep -q "; gradient checkpointing" bench--gradient-checkpointing.out || fail "bench did not say it recomputes"
[ "$(sed -n 's/.*, loss //p' bench.out)" = "$(sed -n 's/.*, loss //p' bench--gradient-checkpointing.out)" ] ||
    fail "bench: another loss with --gradient-checkpointing"
a0=$(sed -n 's/.*+ activations //p' bench.out) a1=$(sed -n 's/.*+ activations //p' bench--gradient-checkpointing.out)
[ "$a1" -lt "$a0" ] || fail "bench: activations $a1 MiB with the mode, $a0 without"
echo "ok: bench: same loss, activations $a1 instead of $a0 MiB"
echo "PASS: gradient checkpointing gives bit-identical members in less memory"
