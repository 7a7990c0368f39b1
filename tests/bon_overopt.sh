#!/bin/sh
# tools/bon-overopt.sh end to end at a tiny scale (1 seed, 1 proxy of 2 members, 4 prompts
# x 64 candidates): the curve file holds every member and rule for n = 1..64, the plots
# and the summary are written, and a second run keeps what the first computed. The
# figures themselves are checked in tests/bon.sh (estimator) and tests/plot.sh (summary).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
need_python matplotlib
export MPLCONFIGDIR="$TMP/mpl"
go() {
    RMENS="$RMENS" PY="$PY" MPIEXEC="$MPIEXEC" SEEDS=1 PROMPTS=4 N=64 MEMBERS=2 EPOCHS=1 \
        PROXIES="tiny:1:2:16:300" timeout 300 sh "$top_srcdir/tools/bon-overopt.sh" "$TMP/exp" >"$TMP/out.txt" 2>&1 \
        || { cat "$TMP/out.txt"; fail "bon-overopt.sh"; }
}
go
f="$TMP/exp/seed1/curve-tiny.csv"
[ "$(wc -l <"$f")" = 36 ] || { cat "$f"; fail "curve rows: expected 1 + 5 aggregates x 7 n"; }
for by in member:0 member:1 mean min uwo; do
    grep -q "^$by,64," "$f" || fail "no n = 64 row for $by"
done
[ -s "$TMP/exp/plots-tiny/bon.png" ] && [ -s "$TMP/exp/plots-tiny/bon.svg" ] || fail "no plots"
[ "$(grep -c '^tiny: ' "$TMP/exp/summary.txt")" = 11 ] || { cat "$TMP/exp/summary.txt"; fail "summary lines"; }
cp "$f" "$TMP/first.csv"
go
grep -q "seed 1 tiny: kept from an earlier run" "$TMP/out.txt" || { cat "$TMP/out.txt"; fail "the second run redid the proxy"; }
cmp -s "$f" "$TMP/first.csv" || fail "the kept curve changed"
echo "bon_overopt: all passed"
