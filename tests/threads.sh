#!/bin/sh
# Two threads scoring their own ensembles (rmens.h's advice for parallel scoring), each
# also reading a data set and loading a model file: rewards bit-identical to a serial
# run's, and, under helgrind, no data race (the FLOP counter was once process-wide, and
# model loading and data reading called HDF5 outside the library's lock).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
PROG="$top_builddir/tests/thread_score"

"$RMENS" synth --n 200 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" train --data "$TMP/train.h5" --members 2 --layers 1 --heads 2 --embd 16 --ctx 64 --batch 16 --steps 4 \
    --truncate-prompts --quiet --out "$TMP/ens.h5" || fail "train"
"$top_builddir/libtool" --mode=execute "$PROG" "$TMP/ens.h5" "$TMP/train.h5" "$TMP/m.h5" || fail "two threads"

# helgrind and AddressSanitizer do not mix: under a sanitizer build, the plain run above.
if nm -D "$top_builddir/.libs/librmens.so" 2>/dev/null | grep -q __asan_; then
    echo "ok: two threads (a sanitizer build: helgrind is run by the normal build)"
    exit 0
fi
command -v valgrind >/dev/null || skip "valgrind is not installed (helgrind)"
# OpenBLAS keeps its own thread pool and buffer spin locks, which helgrind cannot follow;
# the products run on one thread per caller here (rmens_set_num_threads(1)).
"$top_builddir/libtool" --mode=execute valgrind --tool=helgrind --error-exitcode=3 \
    --suppressions="$top_srcdir/tests/helgrind.supp" \
    "$PROG" "$TMP/ens.h5" "$TMP/train.h5" "$TMP/m2.h5" >"$TMP/hg.out" 2>&1
rc=$?
[ $rc = 0 ] || { tail -60 "$TMP/hg.out"; fail "helgrind (exit $rc)"; }
echo "ok: two threads, helgrind clean: $(grep -o 'ERROR SUMMARY: [0-9]* errors[^)]*)' "$TMP/hg.out")"
