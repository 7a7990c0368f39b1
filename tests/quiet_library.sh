#!/bin/sh
# The library prints nothing and exits nowhere (rmens.h's promise): no object of
# librmens calls printf, puts, fputs, exit, abort and the like. The objects named below
# are the known exceptions, each with its reason; any other is a failure, and so is an
# exception that no longer needs its entry (so the list only shrinks).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
command -v nm >/dev/null || skip "nm is not installed"
FORBIDDEN='^(printf|vprintf|fprintf|vfprintf|dprintf|puts|putchar|putc|fputc|fputs|fwrite|perror|fflush|exit|_exit|_Exit|quick_exit|abort|__printf_chk|__fprintf_chk|__vfprintf_chk|__vprintf_chk)$'
# object: what it may call, and why
allowed() {
    case "$1" in
    io/info.o) echo "the caller's FILE*: rmens_info() describes a file to the stream it is given" ;;
    io/prep.o | io/prep_responses.o | io/prep_steps.o) echo "the caller's FILE*: rmens_prep_report_print() renders a report to the stream it is given" ;;
    io/events.o) echo "fwrite to its own file: a TensorBoard event file's records" ;;
    io/trainlog.o) echo "fputs to its own file: train's metrics JSON Lines, rows of the trainer's events" ;;
    base/fault.o) echo "_exit: RMENS_FAULT_SAVE (tests only, --enable-fault-injection)" ;;
    *) return 1 ;;
    esac
}
n=0
for o in $(cd "$top_builddir" && find . -path '*/.libs/*.o' | sed 's|^\./||' | sort); do
    name=$(echo "$o" | sed 's|/\.libs/|/|; s|/librmens_la-|/|')  # per-target CFLAGS prefix object names
    n=$((n + 1))
    calls=$(nm -u "$top_builddir/$o" | awk '{print $NF}' | sed 's/@.*//' | grep -E "$FORBIDDEN" | tr '\n' ' ')
    if [ -n "$calls" ]; then
        why=$(allowed "$name") || fail "$name calls $calls: library code must return a status and let cli/ print"
        echo "known: $name calls $calls-- $why"
    elif allowed "$name" >/dev/null; then
        case "$name" in base/fault.o) ;; *) fail "$name no longer prints: remove it from the exceptions in $0" ;; esac
    fi
done
[ "$n" -gt 10 ] || fail "found only $n library objects under $top_builddir (*/.libs/*.o)"
echo "ok: $n library objects; none prints or exits beyond the known exceptions"
