#!/bin/bash
# The whole test suite again, built with AddressSanitizer + UndefinedBehaviorSanitizer
# (configure --enable-sanitizers), in a separate copy of the tree; then the serial unit
# tests under valgrind memcheck and two scoring threads under helgrind. Any sanitizer
# report, memcheck or helgrind error fails CI.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/rmens-san.XXXXXX)
git -C "$src" archive HEAD | tar -x -C "$dir"
cd "$dir"
autoreconf -fi >/dev/null
./configure --enable-sanitizers --enable-fault-injection >/dev/null
make -j2 >/dev/null

# Full stacks (Open MPI is built without frame pointers), components kept loaded so
# their frames can be named, leaks of Open MPI's own allocations suppressed by library.
export OMPI_MCA_mca_base_component_disable_dlclose=1
# intercept_tls_get_addr=0: GCC 12's LeakSanitizer misreads the dynamic TLS blocks of
# libraries loaded with dlopen under glibc 2.36 (Open MPI's components: "DTLS 13 at
# 0x3b86-0x400004c88"), and its stop-the-world tracer faults reading them ("Tracer caught
# signal 11"): in CI, 13 tests failed that way. Reproduced by hand with verbosity=1; with
# this flag the same commands exit clean, and real leaks are still reported.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=0:intercept_tls_get_addr=0
export LSAN_OPTIONS=suppressions=$dir/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Instrumented code is slower: give each Check test more than its default 4 s, and the
# shell tests' bounds on how soon a refusal comes (tests/lib.sh) as much.
export CK_TIMEOUT_MULTIPLIER=10 RMENS_TEST_SLOWDOWN=10
# LeakSanitizer's own tracer now and then crashes at a process's exit (not a report):
# .ci/lsan-rerun.sh runs each test that failed only that way again by itself, at most
# twice; any report or other failure fails CI.
# The SLURM tests are left out: they drive batch scripts and a cluster, and the rmens
# commands inside them run sanitized in the other tests (CI's time). So are the Llama and
# GPT-NeoX parity tests: their time is the float64 PyTorch reference, and the same passes
# run sanitized in llama_train.sh, hf_e2e.sh, hf_export.sh, gradient_checkpointing.sh and
# the unit test (Qwen3; GPT-NeoX with both residual layouts, with and without recomputation).
tests=$("$src/.ci/tests-but" tests/slurm.sh tests/serve_slurm.sh tests/llama_parity.sh tests/neox_parity.sh)
if ! make -j2 check TESTS="$tests"; then
    .ci/lsan-rerun.sh 2 || { .ci/show-failures.sh; exit 1; }
fi
# Nothing may have been reported even where a test tolerated a failing command.
if grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" tests/*.log; then
    echo "sanitizer reports in the logs above" >&2
    exit 1
fi
"$src/.ci/test-times.sh"
echo "sanitizers: make check clean"

# valgrind memcheck on the serial unit tests, in the normal build (valgrind and ASan
# do not mix), with Open MPI's own suppression file.
cd "$src"
CK_FORK=no CK_TIMEOUT_MULTIPLIER=20 ./libtool --mode=execute valgrind --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite --suppressions=/usr/share/openmpi/openmpi-valgrind.supp \
    --gen-suppressions=no tests/test_unit
echo "valgrind: unit tests clean"
# helgrind on two threads scoring their own ensembles (rmens.h's advice): no data race.
RMENS_NO_SKIP=1 make check TESTS=tests/threads.sh || { .ci/show-failures.sh; exit 1; }
echo "helgrind: two scoring threads clean"
