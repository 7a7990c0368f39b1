#!/bin/sh
# train --calibrate (issue 17): the temperatures it records are those rmens eval
# --fit-temperature fits on the same validation pairs for the same members; refusals
# (no --val, --member). rmens serve applies recorded temperatures: its P(a > b) equals
# mean_k sigmoid((r_a,k - r_b,k) / (T_k reward_std_k)) computed in numpy from the
# checkpoint's attributes (h5py) and score --normalize none --per-member of the same texts,
# and without temperatures mean_k sigmoid(r_a,k - r_b,k).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy

"$RMENS" synth --n 300 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
# noisy labels (Bradley-Terry from gold): a temperature inside its search interval
"$RMENS" synth --n 120 --seed 6 --split test --bt-noise 2 --out "$TMP/val.h5" --quiet || fail "synth val"
args="--data $TMP/train.h5 --val $TMP/val.h5 --members 3 --layers 1 --heads 2 --embd 32 --ctx 64 --batch 16 --steps 40 --truncate-prompts --eval-every 0"
# shellcheck disable=SC2086
run 2 train $args --calibrate --out "$TMP/cal.h5" >"$TMP/train.txt" || { cat "$TMP/train.txt"; fail "train --calibrate"; }
grep -q "calibrate: temperatures fitted on 120 pairs of $TMP/val.h5 and recorded in $TMP/cal.h5" "$TMP/train.txt" \
    || { cat "$TMP/train.txt"; fail "train --calibrate summary"; }
# shellcheck disable=SC2086
run 2 train $args --quiet --out "$TMP/plain.h5" || fail "train"
run 2 eval --ckpt "$TMP/plain.h5" --data "$TMP/val.h5" --fit-temperature --json "$TMP/fit.json" --quiet \
    || fail "eval --fit-temperature"
"$RMENS" info "$TMP/cal.h5" | grep -q "temperature      fitted on 120 pairs of $TMP/val.h5" || fail "info: temperatures"

cat >"$TMP/texts.jsonl" <<'EOF'
{"prompt": "sort 3 1 2", "response": "1 2 3"}
{"prompt": "sort 3 1 2", "response": "2 1 3"}
{"prompt": "sort 9 4 4 0", "response": "0 4 4 9"}
{"prompt": "sort 9 4 4 0", "response": "Definitely, with complete certainty: 4 0 9 4 No doubt about it."}
{"prompt": "sort 7 5 8 1 6", "response": "1 5 6 7 8 I checked every part of this twice."}
{"prompt": "sort 7 5 8 1 6", "response": "1 5 7 6 8"}
EOF
"$RMENS" prep --responses "$TMP/texts.jsonl" --out "$TMP/texts.h5" --quiet || fail "prep --responses"
for ck in cal plain; do
    run 1 score --ckpt "$TMP/$ck.h5" --data "$TMP/texts.h5" --normalize none --per-member --out "$TMP/s-$ck.h5" --quiet \
        || fail "score $ck"
done

"$PY" - "$TMP" "$RMENS" "$MPIEXEC" <<'PYEOF' || fail "calibration checks"
import json, os, subprocess, sys, time, urllib.request
import h5py, numpy as np
d, rmens, mpiexec = sys.argv[1:4]
fit = json.load(open(d + "/fit.json"))["temperature"]
T = np.array([m["temperature"] for m in fit["members"]])
with h5py.File(d + "/cal.h5") as f, h5py.File(d + "/plain.h5") as g:
    K = f.attrs["members"]
    got = np.array([f[f"members/{k:03d}"].attrs["temperature"] for k in range(K)])
    assert np.allclose(got, T, rtol=1e-12, atol=0), (got, T)
    assert f.attrs["temperature_rewards"] == "member" and f.attrs["temperature_pairs"] == 120
    rstd = np.array([f[f"members/{k:03d}"].attrs["reward_std"] for k in range(K)])
    for k in range(K):  # calibrating rewrote no member
        a, b = f[f"members/{k:03d}/params"], g[f"members/{k:03d}/params"]
        for name in a:
            assert np.array_equal(a[name][()], b[name][()]), (k, name)
print(f"train --calibrate recorded eval's temperatures {np.round(T, 5)} (K = {K})")
texts = [json.loads(l) for l in open(d + "/texts.jsonl")]
pairs = [[0, 1], [1, 0], [2, 3], [4, 5]]

def serve(ck):
    pf = f"{d}/port-{ck}"
    log = open(f"{d}/serve-{ck}.txt", "w")
    p = subprocess.Popen([mpiexec, "-n", "2", "--oversubscribe", rmens, "serve", "--ckpt", f"{d}/{ck}.h5", "--port", "0",
                          "--port-file", pf, "--quiet"], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            if os.path.exists(pf) or p.poll() is not None:
                break
            time.sleep(0.1)
        assert os.path.exists(pf), open(f"{d}/serve-{ck}.txt").read()
        body = json.dumps({"inputs": texts, "per_member": True, "pairs": pairs}).encode()
        req = urllib.request.Request("http://" + open(pf).read().strip() + "/v1/rewards", data=body,
                                     headers={"Content-Type": "application/json"})
        return json.load(urllib.request.urlopen(req, timeout=120))
    finally:
        p.send_signal(10)  # SIGUSR1: mpiexec forwards it; the ranks drain and exit 0
        assert p.wait(timeout=120) == 0, open(f"{d}/serve-{ck}.txt").read()

sig = lambda x: 1 / (1 + np.exp(-x))
for ck, tau in (("cal", T * rstd), ("plain", np.ones(K))):
    R = h5py.File(f"{d}/s-{ck}.h5")["rewards"][:].astype(np.float64)   # raw, [6, K]
    ans = serve(ck)
    for (a, b), got in zip(pairs, ans["pairs"]):
        want = sig((R[a] - R[b]) / tau).mean()
        assert abs(got["p"] - want) < 2e-5, (ck, a, b, got["p"], want)
        h = 0.0 if want in (0.0, 1.0) else -(want * np.log(want) + (1 - want) * np.log(1 - want))
        assert abs(got["uncertainty"] - h) < 5e-5, (ck, a, b, got["uncertainty"], h)
    print(f"serve {ck}: P(a > b) = " + ", ".join(f"{g['p']:.4f}" for g in ans["pairs"]) + " as numpy computes them")
    if ck == "cal":
        pcal = [g["p"] for g in ans["pairs"]]
    else:
        praw = [g["p"] for g in ans["pairs"]]
assert max(abs(x - y) for x, y in zip(pcal, praw)) > 1e-3, "the temperatures changed nothing"
PYEOF

expect_fail() {
    pat=$1; shift
    "$@" >"$TMP/out" 2>"$TMP/err" && fail "succeeded: $*"
    grep -qF -- "$pat" "$TMP/err" || { cat "$TMP/err"; fail "no '$pat': $*"; }
    [ -e "$TMP/x.h5" ] && fail "an output was written: $*"
    echo "ok: '$pat'"
}
expect_fail "--calibrate needs --val" run 1 train --data "$TMP/train.h5" --calibrate --out "$TMP/x.h5"
expect_fail "--calibrate with --member" run 1 train --data "$TMP/train.h5" --val "$TMP/val.h5" --members 2 \
    --member 1 --calibrate --out "$TMP/x.h5"
echo "calibrate: all passed"
