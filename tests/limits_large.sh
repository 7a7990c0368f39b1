#!/bin/sh
# A 100 MB synthetic data set: rmens synth writes it, rmens info validates it, and
# rmens train --steps 2 runs on it on 2 ranks, whole and in chunks (--data-mem 64M), with
# the same members. Prints wall time and peak RSS of each.
# About 70 s and 2 GB of memory per rank on a 2-core machine, so it is not part of
# make check; run it from the build directory: tests/limits_large.sh (the
# sanitizer build: top_builddir=BUILD top_srcdir=SRC SRC/tests/limits_large.sh).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
# task steps writes about 44 bytes of (compressed) file per pair: 2.3 M pairs = 101 MB.
N=${RMENS_LARGE_PAIRS:-2300000}

# measured LABEL CMD...: runs CMD and appends "LABEL wall S maxrss KB" to $TMP/usage
# (peak RSS from getrusage, so /usr/bin/time is not needed). A file, not a here-document:
# under mpiexec only rank 0 gets stdin.
cat >"$TMP/measure.py" <<'PYEOF'
import resource, subprocess, sys, time
label, log, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
t = time.monotonic()
rc = subprocess.call(cmd)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(log, "a") as f:
    f.write("%-12s wall %6.1f s  maxrss %8d KB\n" % (label, time.monotonic() - t, ru.ru_maxrss))
sys.exit(rc)
PYEOF
measured() { label=$1; shift; "$PY" "$TMP/measure.py" "$label" "$TMP/usage" "$@"; }

measured synth "$RMENS" synth --task steps --n "$N" --seed 1 --out "$TMP/big.h5" --quiet || fail "synth --n $N"
size=$(wc -c <"$TMP/big.h5")
echo "synth: $N pairs of task steps, $size bytes"
[ "$size" -gt 90000000 ] && [ "$size" -lt 115000000 ] || [ "$N" != 2300000 ] || fail "expected about 100 MB, got $size bytes"
measured info "$RMENS" info "$TMP/big.h5" >"$TMP/out" || fail "info on the 100 MB file"
grep -q "records          $N pairs" "$TMP/out" || { cat "$TMP/out"; fail "info: record count"; }
# Each rank measures itself (a rank reads the whole data set).
timeout 900 "$MPIEXEC" -n 2 --oversubscribe "$PY" "$TMP/measure.py" train-rank "$TMP/usage" "$RMENS" \
    train --data "$TMP/big.h5" --members 2 --steps 2 --batch 4 --layers 1 --heads 1 --embd 8 --ctx 160 --quiet \
    --out "$TMP/ens.h5" || fail "train --steps 2 on the 100 MB file"
# The same run within a 64 MiB data budget: tokens read in chunks, the same members.
timeout 900 "$MPIEXEC" -n 2 --oversubscribe "$PY" "$TMP/measure.py" train-64M "$TMP/usage" "$RMENS" \
    train --data "$TMP/big.h5" --members 2 --steps 2 --batch 4 --layers 1 --heads 1 --embd 8 --ctx 160 --quiet \
    --out "$TMP/ens64.h5" --data-mem 64M || fail "train --data-mem 64M on the 100 MB file"
"$PY" "$top_srcdir/tests/compare_ckpt.py" "$TMP/ens.h5" "$TMP/ens64.h5" || fail "chunked reading changed the members"
"$PY" - "$TMP/ens.h5" "$N" <<'PYEOF' || fail "checkpoint of the 100 MB run"
import sys, math, h5py
f, n = h5py.File(sys.argv[1], "r"), int(sys.argv[2])
assert f.attrs["members"] == 2 and f.attrs["step"] == 2 and f.attrs["n_pairs"] == n, dict(f.attrs)
for k in ("000", "001"):
    m = f["members/" + k]
    assert m["bootstrap_counts"].shape == (n,) and m["bootstrap_counts"][:].sum() == n
    for a in ("oob_accuracy", "reward_mean", "reward_std"):
        assert math.isfinite(m.attrs[a]), (k, a)
print("checkpoint: 2 members at step 2 over %d pairs" % n)
PYEOF
cat "$TMP/usage"
echo "limits_large: all passed"
