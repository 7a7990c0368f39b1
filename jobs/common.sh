# Shared by the rmens batch scripts (sourced, not submitted): the MPI launcher, threads,
# and where rmens is. Every setting comes from the environment, with a default.
#
#   RMENS        the rmens program            (default: rmens on PATH, else ../rmens)
#   RMENS_LAUNCH srun | mpirun | auto         (default auto: srun --mpi=pmix when this
#                                              Slurm has pmix, mpirun otherwise)
set -eu
if [ -z "${RMENS:-}" ]; then
    RMENS=$(command -v rmens || true)
    [ -n "$RMENS" ] || RMENS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/rmens"
fi
# One OpenBLAS thread per allocated CPU of the task.
export OPENBLAS_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export OMP_NUM_THREADS=$OPENBLAS_NUM_THREADS
# Since Slurm 22.05 srun no longer inherits --cpus-per-task from the batch job.
export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-1}
THREADS=$OPENBLAS_NUM_THREADS

# launch CMD...: runs CMD on the job's tasks. Debian's Open MPI works with srun only
# through pmix (libpmix-dev installed), never pmi2; mpirun inside the allocation always
# works.
launch() {
    local how=${RMENS_LAUNCH:-auto}
    if [ "$how" = auto ]; then
        if srun --mpi=list 2>&1 | grep -qw pmix; then how=srun; else how=mpirun; fi
    fi
    local root=""
    [ "$(id -u)" = 0 ] && root=--allow-run-as-root
    if [ "$how" = srun ]; then
        srun --mpi=pmix --kill-on-bad-exit=1 "$@" &
    else
        # Open MPI binds each rank to one core by default: let its BLAS threads spread.
        mpirun $root --bind-to none -n "${SLURM_NTASKS:-1}" "$@" &
    fi
    LAUNCH_PID=$!
    # A trapped signal interrupts wait (status > 128); wait again until the launcher is
    # done, and take its own status, also when it ended in between.
    local rc
    while :; do
        rc=0
        wait "$LAUNCH_PID" || rc=$?
        [ $rc -gt 128 ] || break
        if ! kill -0 "$LAUNCH_PID" 2>/dev/null; then
            rc=0
            wait "$LAUNCH_PID" || rc=$?
            break
        fi
    done
    return $rc
}

# SLURM warns a batch script (--signal=B:USR1@T) before its time limit; pass the warning
# on, so every rank saves its step and exits 0. srun and mpirun both forward SIGUSR1.
forward_usr1() { [ -n "${LAUNCH_PID:-}" ] && kill -USR1 "$LAUNCH_PID" 2>/dev/null || true; }
trap forward_usr1 USR1

log() { echo "[$(date +%H:%M:%S) job ${SLURM_JOB_ID:-none}] $*"; }
