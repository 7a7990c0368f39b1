#!/bin/sh
# Memory (docs/RELIABILITY.md, issue 12 finding 10): train estimates what each rank will
# hold before allocating any member and refuses, with the figures, a run that exceeds the
# rank's share of its node's allowance: physical memory, SLURM_MEM_PER_NODE,
# SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE, or the control group's limit (v2 memory.max,
# v1 memory.limit_in_bytes). --data-mem auto takes a quarter of the same allowance.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
cd "$TMP" || fail "cd"
"$RMENS" synth --n 200 --seed 5 --out small.h5 --quiet || fail "synth"
"$RMENS" synth --n 20000 --seed 5 --out big.h5 --quiet || fail "synth"   # about 10 MB of tokens
run() { np=$1; shift; timeout 120 "$MPIEXEC" -n "$np" --oversubscribe "$RMENS" "$@"; }
# the allowance seen here (for the record)
phys=$(awk '/MemTotal/ {print $2 * 1024}' /proc/meminfo)

# --members 1000000: refused in seconds with the figures (before: accepted, and the OOM killer)
t0=$(date +%s)
timeout 60 "$RMENS" train --data small.h5 --out m.h5 --members 1000000 --steps 2 --batch 4 --quiet >out 2>err
rc=$?
[ $rc -eq 2 ] || { cat err; fail "--members 1000000: exit $rc, want 2"; }
grep -q "train needs about 1.8 TiB per rank (1000000 members x 1.91 MiB of weights, gradients and Adam moments" err \
    || { cat err; fail "message: $(cat err)"; }
grep -q "the node's memory\|cgroup limit" err || fail "the message does not say what limits it"
[ $(($(date +%s) - t0)) -lt $((30 * SLOW)) ] || fail "the refusal took more than 30 s"
[ ! -e m.h5 ] || fail "a refused run wrote its checkpoint"
echo "ok: $(cat err)"

# the same estimate (an independent reckoning: 16 bytes per parameter per member) on 2 ranks
"$PY" - <<'PY' >expect || fail "reckoning"
V, T, L, C = 257, 128, 2, 64
n = V * C + T * C + L * (2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + 4 * C * C + 4 * C + 4 * C * C + C) + 2 * C + C
print("%.3g MiB of weights" % (16.0 * n / 1048576 + 12.0 * 200 / 1048576))
PY
run 2 train --data small.h5 --out m.h5 --members 1000000 --steps 2 --batch 4 --quiet >out 2>err && fail "2 ranks accepted"
grep -q "500000 members x $(cut -d' ' -f1 expect) MiB of weights" err || { cat expect err; fail "per-member figure"; }
[ "$(grep -c 'needs about' err)" = 1 ] || fail "the message was printed more than once"
echo "ok: 2 ranks: $(cat err | head -1)"

# SLURM's allocation: per node, and per CPU times the node's CPUs (MiB)
SLURM_MEM_PER_NODE=100 "$RMENS" train --data small.h5 --out m.h5 --members 200 --steps 2 --batch 4 --quiet 2>err \
    && fail "SLURM_MEM_PER_NODE=100 accepted 200 members"
grep -q "a rank may use 100.0 MiB (SLURM_MEM_PER_NODE: 100.0 MiB" err || { cat err; fail "SLURM_MEM_PER_NODE"; }
SLURM_MEM_PER_CPU=50 SLURM_CPUS_ON_NODE=2 "$RMENS" train --data small.h5 --out m.h5 --members 200 --steps 2 --batch 4 \
    --quiet 2>err && fail "SLURM_MEM_PER_CPU accepted"
grep -q "a rank may use 100.0 MiB (SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE: 100.0 MiB" err || { cat err; fail "SLURM_MEM_PER_CPU"; }
SLURM_MEM_PER_NODE=100 run 2 train --data small.h5 --out m.h5 --members 100 --steps 2 --batch 4 --quiet 2>err \
    && fail "2 ranks sharing 100 MiB accepted 100 members"
grep -q "a rank may use 50.0 MiB (SLURM_MEM_PER_NODE: 100.0 MiB, shared by 2 ranks on the node)" err || { cat err; fail "shared"; }
SLURM_MEM_PER_NODE=100 "$RMENS" train --data small.h5 --out ok.h5 --members 2 --steps 2 --batch 4 --quiet \
    || fail "2 members in 100 MiB refused"
echo "ok: SLURM allocations"

# control groups, v2 and v1, in a stand-in /sys/fs/cgroup and /proc/self/cgroup
mkdir -p cg/job/step cg/memory/slurm/job
printf '0::/job/step\n' >proc2
printf '64424509440\n' >cg/job/step/memory.max           # 60 GiB: the parent binds
printf '104857600\n' >cg/job/memory.max                  # 100 MiB
printf '4:memory:/slurm/job\n3:cpu:/slurm\n' >proc1
printf '104857600\n' >cg/memory/slurm/job/memory.limit_in_bytes
printf '9223372036854771712\n' >cg/memory/slurm/memory.limit_in_bytes   # v1's "no limit"
for v in 2 1; do
    RMENS_TEST_CGROUP_ROOT="$TMP/cg" RMENS_TEST_PROC_CGROUP="$TMP/proc$v" "$RMENS" train --data small.h5 --out m.h5 \
        --members 200 --steps 2 --batch 4 --quiet 2>err && fail "cgroup v$v limit ignored"
    grep -q "a rank may use 100.0 MiB (the cgroup limit $TMP/cg/.*memory.[ml]" err || { cat err; fail "cgroup v$v"; }
done
echo "ok: cgroup v2 (a parent's memory.max) and v1 (memory.limit_in_bytes)"

# --data-mem auto takes a quarter of the allowance: 16 MiB of SLURM_MEM_PER_CPU, or of the
# cgroup, streams 10 MB of tokens (before: only SLURM_MEM_PER_NODE was heeded)
SMALLM="--data big.h5 --members 1 --steps 1 --batch 4 --layers 1 --heads 2 --embd 32 --ctx 64 --eval-every 0 --truncate-prompts"
"$RMENS" train $SMALLM --out w.h5 >out 2>&1 || { cat out; fail "train big.h5"; }
grep -q "tokens read in chunks" out && fail "read in chunks without a limit (node memory $phys)"
SLURM_MEM_PER_CPU=16 SLURM_CPUS_ON_NODE=1 "$RMENS" train $SMALLM --out c1.h5 >out 2>&1 || { cat out; fail "train in 16 MiB"; }
grep -q "tokens read in chunks" out || { cat out; fail "--data-mem auto ignored SLURM_MEM_PER_CPU"; }
printf '16777216\n' >cg/job/memory.max
RMENS_TEST_CGROUP_ROOT="$TMP/cg" RMENS_TEST_PROC_CGROUP="$TMP/proc2" "$RMENS" train $SMALLM --out c2.h5 >out 2>&1 \
    || { cat out; fail "train in a 16 MiB cgroup"; }
grep -q "tokens read in chunks" out || { cat out; fail "--data-mem auto ignored the cgroup limit"; }
echo "ok: --data-mem auto heeds SLURM_MEM_PER_CPU and the cgroup"
