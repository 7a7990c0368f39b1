#!/bin/bash
# jobs/serve.sbatch on a real single-node SLURM cluster (tests/slurm_cluster.sh): the
# server job writes HOST:PORT; a second job, the "RL job", reads it and queries with
# OpenRLHF's request (tests/serve_client.py); its rewards equal rmens score of the same
# texts; then scancel --signal=USR1 --batch stops the server: in-flight requests are
# answered and the job ends COMPLETED with exit code 0. The node has 2 cores: the server
# takes one task (both members on it), the RL job the other.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python numpy
. "$top_srcdir/tests/slurm_cluster.sh"

cd "$TMP"
"$R" synth --n 200 --seed 5 --out train.h5 --quiet || fail "synth"
"$MPIEXEC" -n 2 --oversubscribe "$R" train --data train.h5 --members 2 --layers 1 --heads 2 --embd 32 --ctx 48 \
    --batch 8 --steps 30 --truncate-prompts --quiet --out ens.h5 || fail "train"

sid=$(CKPT=$TMP/ens.h5 ADDR_FILE=$TMP/rm.addr RMENS=$R RMENS_JOBS="$top_srcdir/jobs" SERVE_ARGS="--max-wait-ms 1500" \
    sbatch --parsable --ntasks=1 --chdir="$TMP" --export=ALL "$top_srcdir/jobs/serve.sbatch") || fail "sbatch serve"
i=0
until [ -s rm.addr ]; do
    sleep 0.5; i=$((i + 1))
    [ $i -lt 240 ] || { cat rmens-serve-$sid.out; fail "the server job never wrote its address"; }
done
echo "server job $sid at $(cat rm.addr)"

# The RL job: another job, reading the address file.
T1=$'\n\nHuman: sort 3 1 2\n\nAssistant: 1 2 3'
T2=$'\n\nHuman: sort 9 8\n\nAssistant: 9 8'
cid=$(sbatch --parsable --ntasks=1 --chdir="$TMP" --output=client-%j.out \
    --wrap="$PY $top_srcdir/tests/serve_client.py $TMP/rm.addr '$T1' '$T2'") || fail "sbatch client"
wait_job "$cid"
cat client-$cid.out
"$PY" - "$R" "$TMP" client-$cid.out "$T1" "$T2" <<'PYEOF' || fail "the RL job's rewards"
import json, subprocess, sys, h5py, numpy as np
R, tmp, out, texts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
ans = json.loads(open(out).read().strip().splitlines()[-1])
seqs = [list(t.encode()) + [256] for t in texts]
with h5py.File(tmp + "/t.h5", "w") as f:
    f.attrs.update(rmens_format="responses", rmens_version=1, vocab_size=257, eot_token=256, tokenizer="bytes")
    f["responses/tokens"] = np.concatenate(seqs).astype(np.int32)
    f["responses/offsets"] = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
subprocess.run([R, "score", "--ckpt", tmp + "/ens.h5", "--data", tmp + "/t.h5", "--out", tmp + "/s.h5", "--quiet",
                "--per-member"], check=True)
s = h5py.File(tmp + "/s.h5", "r")
scale = np.abs(s["rewards"][:]).max(1)
for key, want in (("rewards", s["mean"][:]), ("scores", s["mean"][:])):
    assert np.all(np.abs(np.array(ans[key]) - want) <= 1e-5 * scale), (key, ans[key], want)
for key in ("mean", "min", "max", "std"):
    got = np.array(ans["extra_logs"]["ens_" + key])
    assert np.all(np.abs(got - s[key][:]) <= 1e-5 * scale), (key, got, s[key][:])
print("the RL job's rewards equal rmens score's")
PYEOF

# Stop while a request is in flight (it waits 1.5 s for company): answered, then COMPLETED.
"$PY" "$top_srcdir/tests/serve_client.py" rm.addr "$T1" > inflight.out 2>&1 &
client=$!
sleep 0.5
scancel --signal=USR1 --batch "$sid" || fail "scancel"
wait $client || { cat inflight.out; fail "the request in flight was not answered"; }
grep -q '"rewards"' inflight.out || { cat inflight.out; fail "no rewards for the request in flight"; }
wait_job "$sid"
cat rmens-serve-$sid.out
grep -q "stopped after" rmens-serve-$sid.out || fail "the server did not stop cleanly"
state=$(scontrol show job "$sid" | tr ' ' '\n' | grep -E '^(JobState|ExitCode)=' | tr '\n' ' ')
echo "server job: $state"
case $state in *JobState=COMPLETED*ExitCode=0:0*) ;; *) fail "server job ended $state" ;; esac
[ ! -e rm.addr ] || fail "the address file outlived the server"
echo "PASS: serve.sbatch"
