#!/bin/bash
# The installed program, as the README's "Installing" section leaves it (make install,
# then ldconfig): from another folder, with nothing of the build tree on PATH or in
# LD_LIBRARY_PATH, bare `rmens` runs its serial commands, trains and scores under
# mpiexec, and a program built against the installed rmens.h and librmens scores text.
#   .ci/installed.sh [PREFIX]   (default /usr/local; run after make install && ldconfig)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-/usr/local}
export PATH=$prefix/bin:$PATH
[ "$(command -v rmens)" = "$prefix/bin/rmens" ] || { echo "installed: rmens on PATH is $(command -v rmens), not $prefix/bin/rmens" >&2; exit 1; }
w=$(mktemp -d /tmp/rmens-installed.XXXXXX)
trap 'rm -rf "$w"' EXIT
cd "$w"
root=""; [ "$(id -u)" = 0 ] && root=--allow-run-as-root
rmens version
rmens synth --n 200 --out train.h5 --quiet
rmens synth --split test --seed 2 --n 50 --out test.h5 --quiet
rmens info train.h5 >/dev/null
mpiexec $root -n 2 rmens train --data train.h5 --members 2 --layers 1 --heads 2 --embd 32 --ctx 64 --steps 20 \
    --truncate-prompts --out ens.h5 --quiet
mpiexec $root -n 2 rmens score --ckpt ens.h5 --data test.h5 --out s.h5 --per-member --quiet
rmens info s.h5 | grep -q "rmens scores file"
mpicc "$src/examples/score_text.c" -o score_text -I"$prefix/include" -L"$prefix/lib" -lrmens \
    $(pkg-config --cflags --libs hdf5-openmpi)
printf '\\n\\nHuman: sort 3 1 2\\n\\nAssistant: 1 2 3\n' | ./score_text ens.h5 >out.txt
[ "$(wc -l <out.txt)" -ge 1 ] || { echo "installed: score_text printed nothing" >&2; exit 1; }
echo "installed: rmens $(rmens version | cut -d' ' -f2) from $prefix runs bare, under mpiexec, and links"
