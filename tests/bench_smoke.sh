#!/bin/sh
# rmens bench runs and prints its figures (values are checked for sanity, never for
# speed, not even relative speed: the machine is shared; speed goals live in
# docs/PERFORMANCE.md, measured by hand). No upper bound on mfu: the peak is measured in the
# same run, and on a loaded machine it came out below the achieved rate (mfu 2.37).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"

check_line() {
    line=$(grep '^train_pairs_per_s=' "$TMP/out") || { cat "$TMP/out"; fail "no figures line"; }
    echo "$line" | awk '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] + 0 }
        ok = v["train_pairs_per_s"] > 0 && v["score_pairs_per_s"] > 0 &&
             v["gflops"] > 0 && v["peak_gflops"] > 0 && v["mfu"] > 0 &&
             (v["gflops"] / v["peak_gflops"] - v["mfu"])^2 < 1e-4
        exit !ok }' || fail "implausible figures: $line"
    grep -q "theoretical .* = weights .* + grads .* + Adam .* + activations" "$TMP/out" || fail "no memory line"
    grep -q "score .* activations .* MiB (training reserves .*x)" "$TMP/out" || fail "no scoring memory"
    echo "ok: $line"
}

"$RMENS" bench --layers 1 --heads 2 --embd 32 --ctx 32 --batch 2 --steps 2 >"$TMP/out" || fail "bench failed"
grep -q "parameters       0.02 M" "$TMP/out" || fail "parameter count: $(grep parameters "$TMP/out")"
check_line
"$RMENS" synth --n 50 --out "$TMP/s.h5" --quiet || fail "synth"
"$RMENS" bench --layers 2 --heads 2 --embd 32 --ctx 64 --batch 4 --steps 3 --data "$TMP/s.h5" >"$TMP/out" \
    || fail "bench --data failed"
grep -q "pairs from $TMP/s.h5" "$TMP/out" || fail "bench --data header"
check_line
"$RMENS" bench --layers 1 --heads 2 --embd 32 --ctx 16 --batch 2 --steps 2 --data "$TMP/s.h5" --no-share \
    --full-last >"$TMP/out" || fail "bench --no-share --full-last failed"
grep -q "no savings" "$TMP/out" || fail "bench flags not reported"
grep -q "pairs cut" "$TMP/out" || fail "cut count not reported"
check_line
# a Hugging Face directory's architecture (a Qwen3-shaped fixture), when torch can write it
if "$PY" -c "import torch" 2>/dev/null; then
    "$PY" "$top_srcdir/tests/hf_fixtures.py" tiny "$TMP/q3" --hidden 32 --heads 2 --kv 1 --head-dim 16 --inter 48 ||
        fail "fixture"
    "$RMENS" bench --model "$TMP/q3" --ctx 24 --batch 2 --steps 2 >"$TMP/out" || { cat "$TMP/out"; fail "bench --model"; }
    grep -q "model            $TMP/q3: qwen3, vocab 300, kv heads 1, head_dim 16, intermediate 48" "$TMP/out" ||
        { cat "$TMP/out"; fail "bench --model header"; }
    check_line
    # with --data, sequences longer than --ctx are cut to it (the model's own context is longer)
    "$RMENS" bench --model "$TMP/q3" --ctx 16 --batch 2 --steps 2 --data "$TMP/s.h5" >"$TMP/out" ||
        { cat "$TMP/out"; fail "bench --model --data"; }
    grep -q "pairs cut" "$TMP/out" && ! grep -q "(0 pairs cut)" "$TMP/out" || { cat "$TMP/out"; fail "no pair cut to --ctx"; }
    check_line
fi
"$RMENS" bench --embd 30 --heads 4 >"$TMP/out" 2>&1 && fail "bench accepted n_embd not divisible by n_head"
grep -q "not a multiple of n_head" "$TMP/out" || fail "bad config message: $(cat "$TMP/out")"
echo "bench_smoke: all passed"
