#!/bin/bash
# Runs each fuzz target of BUILD_DIR (tests/fuzz/build.sh) for SECONDS, one after the
# other, on a scratch copy of its seed corpus and crash reproducers (nothing is written
# into the source tree), and prints executions, executions per second and coverage.
# Exits non-zero if any target crashed, hung (-timeout), ran out of memory, leaked, or
# a sanitizer or oracle reported anything; the scratch directory with the logs and the
# failing inputs is then kept and named.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# Targets default to $FUZZ_TARGETS, else the CI set below. FUZZ_KEEP=1 keeps the scratch
# directory; FUZZ_CORPUS_OUT=DIR copies each target's grown corpus there afterwards.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}" && pwd)
seconds=${2:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
# The targets CI runs (README.md explains the choice): the structure-aware ones and prep
# reach rmens' own code; the byte-level HDF5 targets mostly reach libhdf5's parser.
ci_targets="fuzz_prep fuzz_dataset_fields fuzz_checkpoint_fields fuzz_dataset fuzz_checkpoint fuzz_request fuzz_tokenizer fuzz_encode fuzz_safetensors fuzz_hfconfig"
if [ $# -gt 0 ]; then
    targets="$*"
else
    targets=${FUZZ_TARGETS:-$ci_targets}
fi

# Scratch space: memory-backed when possible (the targets write a file per input).
base=/dev/shm
[ -w "$base" ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/rmens-fuzz-run.XXXXXX")
keep=${FUZZ_KEEP:-0}
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$work"; fi; }
trap cleanup EXIT

# Sanitizers: stop at the first report of any kind; leaks of the third-party libraries
# the library links (Open MPI, hwloc, HDF5 internals) are suppressed by name only.
# An allocation over 4 GiB fails (returns NULL): rmens reports RMENS_ERR_NOMEM, which the
# targets treat as a finding, since their inputs are small.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:allocator_may_return_null=1:max_allocation_size_mb=4096:handle_abort=1:symbolize=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:symbolize=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# Open MPI refuses root without these (the targets do not initialise MPI, but the
# library links it); OpenBLAS keeps to one thread, as the tests do.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

failed=()
printf '%-24s %12s %9s %7s %7s %8s  %s\n' target executions exec/s cov ft rss_mb result
for t in $targets; do
    bin="$build/$t"
    [ -x "$bin" ] || { echo "run.sh: $bin is missing: run tests/fuzz/build.sh $build first" >&2; exit 2; }
    dir="$work/$t"
    mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
    # Seeds and every known reproducer: libFuzzer runs them all before mutating.
    for d in "$here/corpus/$t" "$here/regress/$t"; do
        if [ -d "$d" ]; then
            find "$d" -maxdepth 1 -type f ! -name 'README*' -exec cp {} "$dir/corpus/" \;
        fi
    done
    # First the seeds and reproducers once each, without libFuzzer (fork mode below would
    # skip a crashing seed rather than report it): each must pass.
    if [ -x "$build/replay_${t#fuzz_}" ] && [ -n "$(ls -A "$dir/corpus")" ]; then
        rc=0
        { RMENS_FUZZ_TMPDIR="$dir/tmp" "$build/replay_${t#fuzz_}" "$dir/corpus" >"$dir/replay.log" 2>&1 || rc=$?; } 2>/dev/null
        if [ "$rc" != 0 ]; then
            printf '%-24s %12s %9s %7s %7s %8s  %s\n' "$t" - - - - - "FAILED (a seed or reproducer fails; $dir/replay.log)"
            failed+=("$t")
            tail -n 40 "$dir/replay.log"
            continue
        fi
    fi
    dict=()
    mode=strict
    case $t in
        fuzz_prep) dict=(-dict="$here/fuzz_prep.dict") ;;
        fuzz_dataset | fuzz_checkpoint)
            dict=(-dict="$here/fuzz_hdf5.dict")
            mode=triage
            ;;
    esac
    rc=0
    if [ "$mode" = strict ]; then
        # The structure-aware targets and prep: the first finding of any kind fails.
        { RMENS_FUZZ_TMPDIR="$dir/tmp" "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -malloc_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${dict[@]}" \
            "$dir/corpus" >"$dir/log" 2>&1 || rc=$?; } 2>/dev/null
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
        rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$dir/log" | tail -1)
        cov=$(sed -n 's/^#[0-9]*.* cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p' "$dir/log" | tail -1)
        result=ok
        if [ "$rc" != 0 ] || [ -n "$(ls -A "$dir/artifacts")" ] ||
                grep -qE '^(==[0-9]+==ERROR|SUMMARY: |==fuzz== oracle failed)|runtime error:|ALARM: working on' "$dir/log"; then
            result="FAILED (exit $rc)"
            failed+=("$t")
        fi
    else
        # The byte-level HDF5 targets: libhdf5 1.10 crashes and hangs on corrupted files
        # (README.md), so libFuzzer runs in fork mode, carries on after each finding, and
        # triage.sh then fails the run only for findings in rmens code. Leaks inside
        # libhdf5 are suppressed by name (lsan.supp), which needs whole stacks.
        { ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" TMPDIR="$dir/tmp" RMENS_FUZZ_TMPDIR="$dir/tmp" \
            "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$seconds" \
            -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=4096 -artifact_prefix="$dir/artifacts/" "${dict[@]}" \
            "$dir/corpus" >"$dir/log" 2>&1 || rc=$?; } 2>/dev/null
        # "#N: cov: C ft: F corp: K exec/s E oom/timeout/crash: a/b/c time: Ts job: J"
        last=$(grep -E '^#[0-9]+: cov: ' "$dir/log" | tail -1 || true)
        execs=$(echo "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
        secs=$(echo "$last" | sed -n 's/.* time: \([0-9]*\)s.*/\1/p')
        speed=$([ -n "$execs" ] && [ "${secs:-0}" -gt 0 ] && echo $((execs / secs)) || echo "?")
        cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p')
        rss="-"
        result=ok
        mapfile -t found < <(find "$dir/artifacts" -type f ! -name '*.triage' | sort)
        # Fork mode exits with the code of the last finding it carried on after (70 for a
        # timeout, ...): with findings, triage decides; without, any failure is one.
        if [ ${#found[@]} -eq 0 ] && [ "$rc" != 0 ]; then
            result="FAILED (exit $rc)"
            failed+=("$t")
        elif [ ${#found[@]} -gt 0 ]; then
            trc=0
            "$here/triage.sh" "$build" "$t" "${found[@]}" >"$dir/triage" 2>&1 || trc=$?
            n_ours=$(grep -c '^rmens ' "$dir/triage" || true)
            n_hdf5=$(grep -c '^libhdf5 ' "$dir/triage" || true)
            # "none": the replay did not reproduce it (a timeout of a loaded machine, say).
            n_none=$(grep -c '^none ' "$dir/triage" || true)
            result="ok ($n_hdf5 in libhdf5, $n_none not reproduced)"
            if [ "$trc" -ge 2 ] || [ $((n_ours + n_hdf5 + n_none)) != ${#found[@]} ]; then
                result="FAILED (triage could not judge the findings, exit $trc: $dir/triage)"
                failed+=("$t")
            elif [ "$n_ours" != 0 ]; then
                result="FAILED ($n_ours in rmens, $n_hdf5 in libhdf5)"
                failed+=("$t")
            fi
        fi
    fi
    printf '%-24s %12s %9s %7s %7s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov% *}" "${cov#* }" \
        "${rss:-?}" "$result"
    if [ -n "${FUZZ_CORPUS_OUT:-}" ]; then
        mkdir -p "$FUZZ_CORPUS_OUT/$t"
        cp "$dir/corpus/"* "$FUZZ_CORPUS_OUT/$t/" 2>/dev/null || true
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    keep=1
    for t in "${failed[@]}"; do
        echo
        echo "=== $t failed; log $work/$t/log, inputs in $work/$t/artifacts/:"
        ls -l "$work/$t/artifacts/"
        if [ -f "$work/$t/triage" ]; then
            cat "$work/$t/triage"
            awk '$1 == "rmens" {print $2}' "$work/$t/triage" | while read -r f; do
                echo "--- $f.triage:"
                head -n 40 "$f.triage"
            done
        else
            grep -nE -m 5 '^(==[0-9]+==ERROR|SUMMARY: |==fuzz== oracle failed)|runtime error:|ALARM' "$work/$t/log" || true
            tail -n 60 "$work/$t/log"
        fi
    done
    echo
    echo "run.sh: ${#failed[@]} target(s) failed: ${failed[*]}. Reproduce with BUILD_DIR/replay_<name> INPUT;"
    echo "run.sh: once fixed, add the input to tests/fuzz/regress/<target>/."
    exit 1
fi
echo "run.sh: all targets ran ${seconds}s without a finding"
