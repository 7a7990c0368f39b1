#!/bin/bash
# The suite again with a second OpenBLAS kernel this CPU supports (run in the build
# directory, after make check). OpenBLAS picks its kernel from the CPU (or
# OPENBLAS_CORETYPE); kernels round differently, and users' CPUs pick their own, so the
# tests' tolerances must hold for more than one. The second kernel: the CPU's own when
# the environment forces one, else Haswell (AVX2), else Sandybridge (AVX).
set -euo pipefail
lib=$(ldd .libs/librmens.so | awk '/libopenblas/ {print $3; exit}')
[ -n "$lib" ] || { echo "second-kernel: librmens does not use OpenBLAS; nothing to vary"; exit 0; }
core() {  # core [CORETYPE]: the kernel OpenBLAS selects (an unsupported name falls back)
    if [ -n "${1:-}" ]; then export OPENBLAS_CORETYPE=$1; else unset OPENBLAS_CORETYPE; fi
    /usr/bin/python3 -c "import ctypes, sys; f = ctypes.CDLL(sys.argv[1]).openblas_get_corename
f.restype = ctypes.c_char_p; print(f().decode())" "$lib"
}
first=$(core "${OPENBLAS_CORETYPE:-}")
second=""
for c in "" Haswell Sandybridge; do
    got=$(core "$c")
    if [ "$got" != "$first" ] && { [ -z "$c" ] || [ "$got" = "$c" ]; }; then second=$got; break; fi
done
[ -n "$second" ] || { echo "second-kernel: this CPU offers no kernel but $first; nothing to vary"; exit 0; }
echo "second-kernel: the suite ran with OpenBLAS's $first kernel; again with $second"
# The tests whose figures come out of OpenBLAS products (the rest read files, parse text
# or drive processes the same whatever the kernel): the whole suite twice would take CI
# past its time.
tests="tests/unit.sh tests/train_mpi.sh tests/integrity.sh tests/score_mpi.sh tests/eval_mpi.sh
       tests/api_examples.sh tests/torch_parity.sh tests/hf_convert.sh tests/serve_mpi.sh
       tests/keep_best.sh tests/moments_mpi.sh tests/prep_tokenizer.sh"
OPENBLAS_CORETYPE=$second make -j2 check TESTS="$(echo $tests)" || { .ci/show-failures.sh; exit 1; }
echo "second-kernel: the BLAS-dependent tests passed with $first and $second"
