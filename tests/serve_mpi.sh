#!/bin/sh
# rmens serve over real loopback HTTP and real MPI (1, 2 and 4 ranks; K = 2 members, so
# K > P, K = P and P > K): OpenRLHF's request and the native one from 16 concurrent
# clients against rmens score of the same texts, every bad request refused with a JSON
# 4xx, bearer token, --truncate error, a full queue (503), and SIGTERM/SIGUSR1 with
# requests in flight (tests/serve_check.py).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy

"$RMENS" synth --n 200 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
run 2 train --data "$TMP/train.h5" --members 2 --layers 1 --heads 2 --embd 32 --ctx 48 --batch 8 --steps 30 \
    --truncate-prompts --quiet --out "$TMP/ens.h5" || fail "train"
timeout 900 "$PY" "$top_srcdir/tests/serve_check.py" "$RMENS" "$MPIEXEC" "$TMP" "$TMP/ens.h5" || fail "serve checks"
echo "PASS: serve"
