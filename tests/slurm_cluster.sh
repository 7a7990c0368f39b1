# Sourced by the SLURM tests (after tests/lib.sh): a real single-node cluster (munge,
# slurmctld, slurmd on localhost; state and logs in $TMP/slurm), stopped by pid at exit
# with every job cancelled. Defines S, SLURM_CONF, R (the real rmens binary, with
# LD_LIBRARY_PATH set) and wait_job ID... (until none is queued or running). Tests that
# source it run under flock /tmp/rmens-check.lock: one cluster at a time on the machine.
[ "$(id -u)" = 0 ] || skip "needs root to run slurmd"
for t in munged slurmctld slurmd sbatch; do
    command -v $t >/dev/null || PATH=$PATH:/usr/sbin
    command -v $t >/dev/null || skip "$t is not installed (Debian: slurm-wlm munge)"
done
need_python h5py
S=$TMP/slurm
mkdir -p $S/state $S/spool $S/log $S/munge
pids=""
cleanup() {
    scancel --user=root 2>/dev/null  # jobs of a failed check must not outlive the daemons
    sleep 1
    for f in $S/slurmd.pid $S/slurmctld.pid $S/munge/munged.pid; do
        [ -r $f ] && kill "$(cat $f)" 2>/dev/null
    done
    sleep 1
    for f in $S/slurmd.pid $S/slurmctld.pid $S/munge/munged.pid; do
        [ -r $f ] && kill -9 "$(cat $f)" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
port=$((20000 + $$ % 20000))
dd if=/dev/urandom of=$S/munge/munge.key bs=1024 count=1 2>/dev/null
chmod 400 $S/munge/munge.key
munged --key-file=$S/munge/munge.key --socket=$S/munge/socket --pid-file=$S/munge/munged.pid \
    --log-file=$S/munge/munged.log --seed-file=$S/munge/seed --force || fail "munged did not start"
mem=$(( $(free -m | awk '/Mem:/{print $2}') - 1024 ))
cat >$S/slurm.conf <<CONF
ClusterName=rmenstest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge/socket
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=30
JobRequeue=1
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=localhost CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$S/slurm.conf
slurmctld -f $SLURM_CONF -i || fail "slurmctld did not start"
slurmd -f $SLURM_CONF || { tail -n 20 $S/log/*.log; fail "slurmd did not start"; }
i=0
until sinfo -h -o %T 2>/dev/null | grep -q idle; do
    sleep 0.5; i=$((i + 1)); [ $i -lt 60 ] || { tail $S/log/*.log; fail "the node never became idle"; }
done
echo "ok: cluster up ($(sinfo -h -o '%D node, %c CPUs, %T'))"

# The real binary, not libtool's wrapper (two tasks must not relink it at once).
R=$top_builddir/.libs/rmens
[ -x "$R" ] || R=$top_builddir/rmens
export LD_LIBRARY_PATH=$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
wait_job() {  # wait_job ID...: until none is queued or running
    local i=0
    while [ -n "$(squeue -h -j "$(echo "$@" | tr ' ' ,)" 2>/dev/null)" ]; do
        sleep 1; i=$((i + 1)); [ $i -lt 600 ] || fail "jobs $* still running after 10 minutes"
    done
}
