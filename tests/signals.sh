#!/bin/sh
# Signals at the awkward moments (docs/RELIABILITY.md, issue 12, the doubtful list):
#  - SIGTERM or SIGUSR1 reaching train during its start-up (MPI_Init: before, the
#    handler came after it, and the signal killed the rank): the run finishes its first
#    step, saves and exits 0, resumable;
#  - SIGTERM reaching prep while it writes its outputs (seen by the temporary appearing):
#    prep ends with every output complete or none, and no temporary left (before: a
#    temporary as large as the reservation, or --out without its --val-out).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
cd "$TMP" || fail "cd"
"$RMENS" synth --n 200 --seed 5 --out t.h5 --quiet || fail "synth"

# ---- train: the signal while MPI starts (the process has its first threads)
for sig in TERM USR1; do
    rm -f sg.h5
    "$RMENS" train --data t.h5 --out sg.h5 --steps 50 --batch 4 --layers 1 --heads 2 --embd 32 --ctx 64 --quiet \
        >sg.out 2>&1 &
    pid=$!
    n=0
    while [ "$(ls /proc/$pid/task 2>/dev/null | wc -l)" -lt 2 ] && [ $n -lt 4000 ]; do sleep 0.005; n=$((n + 1)); done
    kill -$sig $pid
    wait $pid
    rc=$?
    [ $rc -eq 0 ] || { cat sg.out; fail "SIG$sig during start-up: exit $rc (killed before the handler?)"; }
    grep -q "stop requested (SIGTERM/SIGUSR1): saved step 1 of 50" sg.out || { cat sg.out; fail "no save after SIG$sig"; }
    "$RMENS" train --data t.h5 --out sg.h5 --steps 50 --batch 4 --layers 1 --heads 2 --embd 32 --ctx 64 --quiet \
        --resume || fail "resume after SIG$sig"
    echo "ok: SIG$sig during train's start-up: saved step 1, exit 0, resumed"
done

# ---- prep: SIGTERM as soon as an output's temporary appears
"$PY" - "$RMENS" <<'PY' || fail "prep and SIGTERM while writing"
import glob, json, os, signal, subprocess, sys, time, h5py
rmens = sys.argv[1]
with open("big.jsonl", "w") as f:
    for i in range(40000):
        f.write(json.dumps({"chosen": "\n\nHuman: q%d %s\n\nAssistant: " % (i, "z" * 100) + ("y%d" % i) * 40,
                            "rejected": "\n\nHuman: q%d %s\n\nAssistant: n" % (i, "z" * 100)}) + "\n")
hits = 0
for trial in range(6):
    for f in glob.glob("o*.h5*") + glob.glob("v*.h5*"):
        os.remove(f)
    p = subprocess.Popen([rmens, "prep", "big.jsonl", "--out", "o.h5", "--val-out", "v.h5", "--val-fraction", "0.5",
                          "--quiet"], stderr=subprocess.PIPE)
    seen = None
    while p.poll() is None:
        tmps = glob.glob("*.tmp.*")
        if tmps:
            p.send_signal(signal.SIGTERM)
            seen = tmps
            break
        time.sleep(0.0005)
    rc = p.wait()
    left = sorted(glob.glob("*.tmp.*"))
    outs = [os.path.exists(f) for f in ("o.h5", "v.h5")]
    print(f"trial {trial}: temporary seen {seen}, exit {rc}, outputs {outs}, temporaries left {left}")
    if seen:
        hits += 1
    if left:
        sys.exit(f"a temporary was left: {left}")
    if outs[0] != outs[1]:
        sys.exit("one output without the other")
    if all(outs):
        n = sum(h5py.File(f)["prompt_len"].shape[0] for f in ("o.h5", "v.h5"))
        if n != 40000:
            sys.exit(f"the outputs hold {n} pairs, not 40000")
if hits < 2:
    sys.exit(f"the signal reached prep's write in only {hits} of 6 trials: the test proved too little")
PY
echo "ok: SIGTERM during prep's write: every output or none, no temporary"
