#!/bin/sh
# Commands that need no MPI peers (prep, synth, info, version, help) do not start MPI
# unless a launcher started them: with Open MPI told to use a point-to-point layer that
# does not exist (OMPI_MCA_pml), MPI_Init fails, so they must still succeed and train
# must fail (the check can fail); they work where localhost does not resolve
# (a mount namespace whose /etc/hosts lacks it, when unshare is allowed); under mpiexec
# they still run on every rank. train/score/eval keep MPI.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
R=$top_builddir/.libs/rmens
[ -x "$R" ] || R=$top_builddir/rmens
export LD_LIBRARY_PATH=$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
printf '{"prompt": "a", "response": "b"}\n' >"$TMP/r.jsonl"
for args in "version" "--help" "synth --n 20 --out $TMP/a.h5 --quiet" "info $TMP/a.h5" \
    "prep --responses $TMP/r.jsonl --out $TMP/r.h5 --quiet" "info $TMP/r.h5 --show 0"; do
    # shellcheck disable=SC2086
    OMPI_MCA_pml=rmens_no_such_pml "$R" $args >/dev/null || fail "rmens $args started MPI"
    echo "ok: rmens $args without MPI"
done
# a command that needs MPI still starts it (the check above can fail)
OMPI_MCA_pml=rmens_no_such_pml "$R" train --data "$TMP/a.h5" --members 1 --layers 1 --heads 2 --embd 32 --ctx 64 \
    --steps 2 --batch 8 --truncate-prompts --out "$TMP/e.h5" --quiet >"$TMP/out" 2>&1 \
    && fail "train ran without its MPI layer: the check cannot see MPI"
echo "ok: train starts MPI (and fails without a pml)"
# under a launcher the serial commands run on every rank (once each for info: rank 0 prints)
n=$(mpirun_np 2 "$R" info "$TMP/a.h5" | grep -c "rmens pairs file")
[ "$n" = 1 ] || fail "mpiexec -n 2 rmens info printed $n descriptions"
echo "ok: mpiexec -n 2 rmens info"
# where localhost does not resolve (needs unshare and mount: root)
if unshare -m true 2>/dev/null; then
    grep -v -w localhost /etc/hosts >"$TMP/hosts"
    unshare -m sh -c "mount --bind '$TMP/hosts' /etc/hosts && ! getent hosts localhost >/dev/null &&
        '$R' synth --n 20 --out '$TMP/b.h5' --quiet && '$R' info '$TMP/b.h5' >/dev/null" \
        || fail "serial commands without a resolvable localhost"
    echo "ok: synth and info without a resolvable localhost"
else
    echo "SKIP (part): unshare -m is not allowed here"
fi
echo "serial_commands: all passed"
