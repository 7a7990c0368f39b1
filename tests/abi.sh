#!/bin/sh
# The public ABI. 1: librmens.so exports exactly the functions rmens.h and rmens_mpi.h
# declare RMENS_API (internals are hidden). 2: rmens.h needs no MPI: an installed rmens
# (make install into a staging folder) builds examples/score_text.c with a plain C
# compiler and pkg-config alone, and the result scores as the in-tree build does.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
LIB="$top_builddir/.libs/librmens.so"
[ -r "$LIB" ] || skip "no shared library at $LIB (configured with --disable-shared?)"
command -v nm >/dev/null || skip "nm is not installed"

# ---- 1: exported = declared
sed -n 's/^RMENS_API [^(]*[ *]\(rmens_[a-z0-9_]*\)(.*/\1/p' "$top_srcdir/rmens.h" "$top_srcdir/rmens_mpi.h" | sort -u \
    >"$TMP/declared"
nm -D --defined-only "$LIB" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u >"$TMP/exported"
[ -s "$TMP/declared" ] || fail "no RMENS_API declarations found in rmens.h"
if ! cmp -s "$TMP/declared" "$TMP/exported"; then
    echo "exported (>) versus declared RMENS_API (<):"
    diff "$TMP/declared" "$TMP/exported"
    fail "librmens.so exports other symbols than the public API"
fi
echo "ok: librmens.so exports the $(wc -l <"$TMP/declared") RMENS_API functions and nothing else"

# ---- 2: an installed rmens, used with cc and pkg-config (no MPI compiler, no mpi.h)
command -v pkg-config >/dev/null || skip "pkg-config is not installed"
CC_PLAIN=
for c in cc gcc clang; do command -v $c >/dev/null && { CC_PLAIN=$c; break; }; done
[ -n "$CC_PLAIN" ] || skip "no C compiler"
DEST="$TMP/stage"
MAKEFLAGS= MFLAGS= make -s -C "$top_builddir" install DESTDIR="$DEST" >"$TMP/install.out" 2>&1 \
    || { cat "$TMP/install.out"; fail "make install DESTDIR"; }
PC=$(find "$DEST" -name rmens.pc | head -1)
[ -n "$PC" ] || fail "make install put no rmens.pc"
export PKG_CONFIG_PATH="$(dirname "$PC")" PKG_CONFIG_SYSROOT_DIR="$DEST"
unset PKG_CONFIG_LIBDIR
flags=$(pkg-config --cflags --libs rmens) || fail "pkg-config --cflags --libs rmens"
case "$flags" in *mpi*) fail "pkg-config rmens asks for MPI: $flags" ;; esac
$CC_PLAIN -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Werror -o "$TMP/score_text" "$top_srcdir/examples/score_text.c" \
    $flags ${SANITIZER_LDFLAGS:-} || fail "$CC_PLAIN examples/score_text.c \$(pkg-config --cflags --libs rmens)"
echo "ok: $CC_PLAIN examples/score_text.c $flags"

"$RMENS" synth --n 200 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" train --data "$TMP/train.h5" --members 2 --layers 1 --heads 2 --embd 16 --ctx 64 --batch 16 --steps 4 \
    --truncate-prompts --quiet --out "$TMP/ens.h5" || fail "train"
printf '%s\n' '\n\nHuman: sort 3 1 2\n\nAssistant: 1 2 3' '\n\nHuman: sort 3 1 2\n\nAssistant: 3 2 1' >"$TMP/in.txt"
"$top_builddir/libtool" --mode=execute "$top_builddir/examples/score_text" "$TMP/ens.h5" <"$TMP/in.txt" >"$TMP/a.txt" \
    || fail "in-tree score_text"
libdir=$(dirname "$(find "$DEST" -name 'librmens.so' | head -1)")
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$TMP/score_text" "$TMP/ens.h5" <"$TMP/in.txt" \
    >"$TMP/b.txt" || fail "installed score_text"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$TMP/score_text" | grep -q "$libdir/librmens.so" || fail "the installed build did not load the installed library"
cmp -s "$TMP/a.txt" "$TMP/b.txt" || fail "installed and in-tree score_text differ"
echo "ok: the installed library scores as the in-tree one ($(wc -l <"$TMP/b.txt") texts)"
