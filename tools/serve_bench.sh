#!/bin/bash
# rmens serve's throughput and latency, measured with wrk (Debian) against rmens score on
# the same ensemble and the same texts (docs/PERFORMANCE.md, "Serving").
#
#   tools/serve_bench.sh [WORKDIR]      (after make; WORKDIR default: a fresh temporary)
#
# Settings (environment): NP ranks (2), MEMBERS (4), MODEL ("--layers 2 --heads 4 --embd 64
# --ctx 128", rmens train's default), N texts (2000), DURATION seconds per wrk run (10),
# SERVE_ARGS (extra rmens serve options).
# It trains an ensemble for one step (speed does not depend on the weights), makes N
# responses of the synthetic sort task, scores them with rmens score (sequences/s), then
# serves the ensemble and loads it with wrk: each request is one text, as OpenRLHF sends
# each finished rollout; 64 connections (saturation), then 64 connections at half the
# saturated rate (wrk's delay() hook spaces each connection's requests), then one. It
# prints a Markdown table.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
R=${RMENS:-$here/.libs/rmens}
[ -x "$R" ] || R=$here/rmens
[ -x "$here/.libs/rmens" ] && export LD_LIBRARY_PATH=$here/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
PY=${PYTHON3:-/usr/bin/python3}
NP=${NP:-2}
MEMBERS=${MEMBERS:-4}
MODEL=${MODEL:---layers 2 --heads 4 --embd 64 --ctx 128}
N=${N:-2000}
DURATION=${DURATION:-10}
command -v wrk >/dev/null || { echo "serve_bench.sh: wrk is not installed (Debian: wrk)" >&2; exit 1; }
W=${1:-$(mktemp -d "${TMPDIR:-/tmp}/rmens-serve-bench.XXXXXX")}
mkdir -p "$W"
cd "$W"
mpi=(mpiexec -n "$NP" --oversubscribe)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)

"$R" synth --n 400 --seed 1 --out train.h5 --quiet --force
# shellcheck disable=SC2086
"${mpi[@]}" "$R" train --data train.h5 --members "$MEMBERS" $MODEL --steps 1 --batch 8 --truncate-prompts --quiet \
    --out ens.h5 --force
"$R" synth --n $((N / 2)) --seed 2 --split test --responses --out texts.h5 --quiet --force

# The texts, as OpenRLHF would send them: one JSON body per line for wrk's script.
"$PY" - <<'PYEOF'
import json, h5py
f = h5py.File("texts.h5", "r")
tok, off = f["responses/tokens"][:], f["responses/offsets"][:]
with open("bodies.jsonl", "w") as out:
    for i in range(len(off) - 1):
        text = bytes(tok[off[i]:off[i + 1] - 1].astype("uint8")).decode()
        out.write(json.dumps({"query": [text], "prompts": [""], "labels": [None]}) + "\n")
PYEOF
cat >post.lua <<'LUA'
-- One text per request, in turn from bodies.jsonl; DELAY_MS spaces a connection's requests.
local bodies = {}
for line in io.lines("bodies.jsonl") do bodies[#bodies + 1] = line end
local i = 0
local pause = tonumber(os.getenv("DELAY_MS") or "0")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function request()
  i = i % #bodies + 1
  return wrk.format(nil, "/get_reward", nil, bodies[i])
end
function delay() return pause end
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50=%.2f p99=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
LUA

score_line=$("${mpi[@]}" "$R" score --ckpt ens.h5 --data texts.h5 --out scores.h5 --force | grep "sequences/s")
score_sps=$(echo "$score_line" | sed -n 's/.*(\([0-9.]*\) sequences\/s).*/\1/p')
echo "rmens score: $score_line"

rm -f port
# shellcheck disable=SC2086
"${mpi[@]}" "$R" serve --ckpt ens.h5 --port 0 --port-file port --quiet ${SERVE_ARGS:-} &
server=$!
trap 'kill -USR1 $server 2>/dev/null; wait $server 2>/dev/null' EXIT
until [ -s port ]; do sleep 0.2; done
url=http://$(cat port)
run() {  # run CONNECTIONS THREADS DELAY_MS -> RESULT line
    DELAY_MS=$3 wrk -c "$1" -t "$2" -d "${DURATION}s" --timeout 30s -s post.lua "$url" | grep RESULT
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
run 64 2 0 >/dev/null  # warm-up
sat=$(run 64 2 0)
sat_rps=$(field "$sat" rps)
half_delay=$(awk -v r="$sat_rps" 'BEGIN { printf "%d", 64 * 1000 / (r / 2) }')
half=$(run 64 2 "$half_delay")
one=$(run 1 1 0)
kill -USR1 $server
wait $server
trap - EXIT

ratio=$(awk -v a="$sat_rps" -v b="$score_sps" 'BEGIN { printf "%.0f", 100 * a / b }')
cat <<TABLE

ensemble: $MEMBERS members ($MODEL) on $NP ranks; $N texts of the sort task (one per request)
| load | requests/s = sequences/s | vs rmens score | p50 ms | p99 ms | errors |
|---|---|---|---|---|---|
| rmens score (file, batches of 64) | $score_sps | 100% | | | |
| 64 connections, saturated | $sat_rps | ${ratio}% | $(field "$sat" p50) | $(field "$sat" p99) | $(field "$sat" errors)+$(field "$sat" non2xx) |
| 64 connections, half load (${half_delay} ms apart) | $(field "$half" rps) | | $(field "$half" p50) | $(field "$half" p99) | $(field "$half" errors)+$(field "$half" non2xx) |
| 1 connection | $(field "$one" rps) | | $(field "$one" p50) | $(field "$one" p99) | $(field "$one" errors)+$(field "$one" non2xx) |
TABLE
