#!/bin/bash
# Re-measures the demo's figures (README, docs/TRAINING.md, docs/EVALUATION.md) on the
# current code: the demo ensemble (make demo's data and command) trained with several
# seeds under each OpenBLAS kernel given, then per seed: members' and the ensemble's
# held-out accuracy, and out-of-distribution detection of HH-RLHF text by the members'
# disagreement (std over members of each sequence's reward), with rewards standardised
# per member (eval's default) and raw, over all HH sequences and split by whether the
# model's context cut them. Prints one table row per run and the spread over runs.
#
#   tools/measure-demo.sh [SEEDS] [KERNELS]    (default "1 2 3" and "Haswell Cooperlake")
# Needs the built tree (run from it), ../shared/data (or RMENS_SHARED_DATA), mpiexec,
# /usr/bin/python3 with h5py and numpy. Writes into demo-measure/.
set -euo pipefail
SEEDS=${1:-1 2 3}
KERNELS=${2:-Haswell Cooperlake}
R=${RMENS:-$PWD/rmens}
SHARED=${RMENS_SHARED_DATA:-$(dirname "$0")/../../shared/data}
HH=$SHARED/hh-rlhf/harmless-base/dev-1800.jsonl.gz
W=demo-measure
mkdir -p $W
root=""; [ "$(id -u)" = 0 ] && root=--allow-run-as-root
$R synth --task sort --split train --n 4000 --seed 1 --out $W/train.h5 --force --quiet
$R synth --task sort --split test --n 1000 --seed 2 --out $W/test.h5 --force --quiet
$R prep "$HH" --out $W/hh-train.h5 --val-out $W/hh-val.h5 --val-fraction 0.2 --force --quiet
for k in $KERNELS; do
    for s in $SEEDS; do
        e=$W/ens-$k-$s.h5
        t0=$(date +%s.%N)
        OPENBLAS_CORETYPE=$k mpiexec $root -n 2 $R train --data $W/train.h5 --val $W/test.h5 --members 4 \
            --out $e --seed $s --force --quiet
        t1=$(date +%s.%N)
        echo "$k $s $(echo "$t1 - $t0" | bc)" >>$W/times.txt
        for norm in member none; do
            for d in test hh-val; do
                OPENBLAS_CORETYPE=$k mpiexec $root -n 2 $R score --ckpt $e --data $W/$d.h5 --per-member \
                    --normalize $norm --out $W/s-$k-$s-$norm-$d.h5 --force --quiet
            done
        done
    done
done
/usr/bin/python3 - "$W" "$KERNELS" "$SEEDS" <<'PYEOF'
import sys, h5py, numpy as np
W, kernels, seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def auroc(score, lab):
    pos, neg = score[lab == 1], score[lab == 0]
    return ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
def rewards(path):
    s = h5py.File(path)
    return np.concatenate([s["chosen/rewards"][:], s["rejected/rewards"][:]]).astype(np.float64)
hh = h5py.File(W + "/hh-val.h5")
hlen = np.concatenate([np.diff(hh["chosen/offsets"][:]), np.diff(hh["rejected/offsets"][:])])
times = {tuple(l.split()[:2]): float(l.split()[2]) for l in open(W + "/times.txt")}
rows = []
print("kernel      seed  members acc (min-max)  ensemble(mean)  OOD AUROC std: standardised  raw   | standardised, HH cut / HH whole | time")
for k in kernels:
    for s in seeds:
        e = h5py.File(f"{W}/ens-{k}-{s}.h5")
        ctx = int(e.attrs["n_ctx"])
        S = h5py.File(f"{W}/s-{k}-{s}-member-test.h5")
        Wm, Lm = S["chosen/rewards"][:], S["rejected/rewards"][:]
        acc = ((Wm - Lm) > 0).mean(0)
        ens = (Wm.mean(1) > Lm.mean(1)).mean()
        out = {}
        for norm in ("member", "none"):
            Rin, Rood = rewards(f"{W}/s-{k}-{s}-{norm}-test.h5"), rewards(f"{W}/s-{k}-{s}-{norm}-hh-val.h5")
            a = np.concatenate([Rin.std(1), Rood.std(1)])
            lab = np.r_[np.zeros(len(Rin)), np.ones(len(Rood))]
            out[norm] = auroc(a, lab)
            if norm == "member":
                cut = hlen > ctx
                out["cut"] = auroc(np.concatenate([Rin.std(1), Rood.std(1)[cut]]), np.r_[np.zeros(len(Rin)), np.ones(cut.sum())])
                out["whole"] = auroc(np.concatenate([Rin.std(1), Rood.std(1)[~cut]]), np.r_[np.zeros(len(Rin)), np.ones((~cut).sum())]) if (~cut).any() else float("nan")
                out["ncut"], out["nwhole"] = int(cut.sum()), int((~cut).sum())
        rows.append((acc.min(), acc.max(), ens, out["member"], out["none"], times[(k, s)]))
        print(f"{k:11s} {s:>4s}  {acc.min():.4f}-{acc.max():.4f}        {ens:.4f}          {out['member']:.3f}       {out['none']:.3f} | {out['cut']:.3f} ({out['ncut']}) / {out['whole']:.3f} ({out['nwhole']}) | {times[(k, s)]:.0f} s")
r = np.array(rows)
print(f"over {len(rows)} runs: members {r[:,0].min():.4f}-{r[:,1].max():.4f}; ensemble {r[:,2].min():.4f}-{r[:,2].max():.4f} "
      f"(mean {r[:,2].mean():.4f}); OOD AUROC standardised {r[:,3].min():.3f}-{r[:,3].max():.3f}, raw {r[:,4].min():.3f}-{r[:,4].max():.3f}; "
      f"training {r[:,5].min():.0f}-{r[:,5].max():.0f} s")
PYEOF
