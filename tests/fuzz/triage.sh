#!/bin/bash
# Says whose bug each failing fuzz input shows: replays it with BUILD_DIR/replay_<name>
# (ASan, UBSan, LSan, a SIGABRT after the hang limit so that a hang prints its stack)
# and looks at the first stack frame of the report that is not the sanitizer runtime
# or libc's abort machinery. Prints one line per input,
#   rmens   INPUT  what   (a frame in rmens or in the fuzz target: our bug)
#   libhdf5 INPUT  what   (the fault is inside libhdf5, e.g. its parser on a corrupted file)
#   none    INPUT         (the replay ran clean: not reproduced, e.g. a timeout under load)
# and writes each replay's output to INPUT.triage. Exits 1 if any input is rmens'.
# Leaks are always rmens' unless lsan.supp suppresses them (that file is the list of
# third-party leaks, with the reasons); so are oracle failures and UBSan reports.
#
#   tests/fuzz/triage.sh BUILD_DIR TARGET INPUT...
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: triage.sh BUILD_DIR TARGET INPUT...}" && pwd)
target=${2:?usage: triage.sh BUILD_DIR TARGET INPUT...}
shift 2
replay="$build/replay_${target#fuzz_}"
[ -x "$replay" ] || { echo "triage.sh: $replay is missing" >&2; exit 2; }
hang_seconds=${FUZZ_HANG_SECONDS:-10}

# The first frame of the first stack on stdin, skipping the sanitizer runtime, libc's
# abort path and allocation and string wrappers.
first_frame() {
    awk '/^ *#[0-9]+ /{print; n++} n && !/^ *#[0-9]+ /{exit}' |
        grep -vE ' in (__interceptor_|__asan|__sanitizer|__ubsan|__lsan|__interception)| in (abort|raise|gsignal|__pthread_kill[a-z_]*|pthread_kill|malloc|calloc|realloc|free|operator|mem(cpy|move|set|cmp)|str[a-z]*|__(mem|str|wmem|wcs)[a-z_]*) |nptl/|signal/|stdlib/abort|sysdeps/' |
        grep -vE '^ *#[0-9]+ 0x[0-9a-f]+ +\((/usr)?/lib/x86_64-linux-gnu/libc\.so' | head -1 || true
}

ours=0
for input in "$@"; do
    [ -r "$input" ] || { echo "triage.sh: cannot read $input" >&2; exit 2; }
    out="$input.triage"
    opts="abort_on_error=1:handle_abort=1:detect_leaks=1:fast_unwind_on_malloc=0:symbolize=1"
    # An input libFuzzer stopped for allocating too much: make the same allocation fail
    # loudly here, with its stack.
    case $(basename "$input") in
        oom-*) opts="$opts:allocator_may_return_null=0:max_allocation_size_mb=4096" ;;
        *) opts="$opts:allocator_may_return_null=1:max_allocation_size_mb=4096" ;;
    esac
    rc=0
    # (the braces keep bash's "Aborted" notice out of the output)
    { ASAN_OPTIONS="$opts" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:symbolize=1" \
        LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0" \
        OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 \
        timeout -s ABRT -k 10 "$hang_seconds" "$replay" "$input" >"$out" 2>&1 || rc=$?; } 2>/dev/null
    what=$(grep -m 1 -oE 'ERROR: [A-Za-z]+: [A-Za-z-]+|runtime error: .*|oracle failed: .{0,60}' "$out" || true)
    if [ "$rc" = 0 ] && [ -z "$what" ]; then
        echo "none    $input"
        continue
    fi
    # Oracle failures (our checks) and UBSan reports (only rmens and the targets are
    # instrumented) are ours; leaks that got past lsan.supp too.
    if grep -qE 'oracle failed|runtime error:|ERROR: LeakSanitizer' "$out"; then
        who=rmens
    else
        # The first frame of the first stack, skipping the runtime, libc's abort path and
        # allocation wrappers; an unknown frame counts as ours.
        frame=$(first_frame '/^ *#[0-9]+ /' <"$out")
        # The memory written or read: an rmens stack frame or an rmens allocation means
        # rmens handed libhdf5 a buffer too small (e.g. H5Aread of an array attribute
        # into one double), which is rmens' bug even though libhdf5 did the writing.
        owner=$(sed -n '/is located in stack of thread/,$p' "$out" | first_frame '/^ *#[0-9]+ /')
        [ -n "$owner" ] || owner=$(sed -n '/allocated by thread/,$p' "$out" | first_frame '/^ *#[0-9]+ /')
        case $frame in
            *libhdf5*) who=libhdf5 ;;
            *) who=rmens ;;
        esac
        if [ "$who" = libhdf5 ] && [ -n "$owner" ] && [[ $owner != *libhdf5* ]]; then
            who=rmens
            what="$what (in memory of ${owner#* in })"
        fi
        # timeout(1) exits 124 when it had to stop the replay: a hang.
        if [ "$rc" = 124 ]; then
            what="hang (stopped after ${hang_seconds}s)"
        fi
    fi
    [ "$who" = rmens ] && ours=1
    printf '%-7s %s  %s\n' "$who" "$input" "$what"
done
exit "$ours"
