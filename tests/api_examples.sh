#!/bin/sh
# The library API without MPI: examples/score_text (C) and examples/score_ctypes.py
# (Python ctypes on librmens.so) give the rewards rmens score computes for the same text.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
LIB="$top_builddir/.libs/librmens.so"
[ -r "$LIB" ] || skip "no shared library at $LIB (configured with --disable-shared?)"

"$RMENS" synth --n 200 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$MPIEXEC" -n 2 "$RMENS" train --data "$TMP/train.h5" --members 2 --layers 1 --heads 2 --embd 32 --ctx 64 \
    --batch 16 --steps 30 --truncate-prompts --quiet --out "$TMP/ens.h5" || fail "train"
cat >"$TMP/in.txt" <<'TXT'
\n\nHuman: sort 3 1 2\n\nAssistant: 1 2 3
\n\nHuman: sort 3 1 2\n\nAssistant: 3 2 1
\n\nHuman: sort 9 0 4 4\n\nAssistant: **Answer:**\n- **0 4 4 9**
\n\nHuman: café?\n\nAssistant: Definitely, with complete certainty: oui. No doubt about it.
TXT
"$top_builddir/examples/score_text" "$TMP/ens.h5" --normalize <"$TMP/in.txt" >"$TMP/c.txt" || fail "score_text"
# A sanitizer build (configure --enable-sanitizers): Python itself is not instrumented, so
# the ASan runtime must be loaded first, and Python's own leaks are not ours to report.
PRE=$(ldd "$LIB" | awk '/libasan|libubsan/ {printf "%s%s", sep, $3; sep=":"}')
LD_PRELOAD="$PRE" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
    "$PY" "$top_srcdir/examples/score_ctypes.py" "$LIB" "$TMP/ens.h5" --normalize <"$TMP/in.txt" >"$TMP/py.txt" \
    || fail "score_ctypes.py"
cmp -s "$TMP/c.txt" "$TMP/py.txt" || { diff "$TMP/c.txt" "$TMP/py.txt"; fail "C and ctypes outputs differ"; }
# The same transcripts as a responses file, scored by the rmens program.
"$PY" - "$TMP" <<'PYEOF' || fail "responses file"
import sys, h5py, numpy as np
d = sys.argv[1]
seqs = [list(l.rstrip(b"\n").replace(b"\\n", b"\n")) + [256] for l in open(d + "/in.txt", "rb")]
with h5py.File(d + "/resp.h5", "w") as f:
    f.attrs.update(rmens_format="responses", rmens_version=1, vocab_size=257, eot_token=256, tokenizer="bytes")
    f["responses/tokens"] = np.concatenate(seqs).astype(np.int32)
    f["responses/offsets"] = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
PYEOF
"$RMENS" score --ckpt "$TMP/ens.h5" --data "$TMP/resp.h5" --out "$TMP/s.h5" --per-member --normalize member --quiet \
    || fail "rmens score"
"$PY" - "$TMP" <<'PYEOF' || fail "API vs rmens score"
import sys, h5py, numpy as np
d = sys.argv[1]
s = h5py.File(d + "/s.h5")
rows = [l.split() for l in open(d + "/c.txt")]
assert len(rows) == 4
for i, r in enumerate(rows):
    vals = dict(zip(r[0:8:2], map(float, r[1:8:2])))
    members = np.array(list(map(float, r[9:])))
    assert np.allclose(members, s["rewards"][i], rtol=1e-6, atol=1e-6), (i, members, s["rewards"][i])
    for k in ("mean", "std", "min", "uwo"):
        assert abs(vals[k] - s[k][i]) <= 1e-5 * max(1, abs(s[k][i])), (i, k, vals[k], s[k][i])
print("C example, ctypes example and rmens score agree on", len(rows), "transcripts")
PYEOF
"$top_builddir/examples/score_text" "$TMP/absent.h5" </dev/null 2>"$TMP/err" && fail "opened a missing file"
grep -q "absent.h5" "$TMP/err" || fail "no file name in the error"
echo "api_examples: all passed"
