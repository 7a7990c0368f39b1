#!/usr/bin/python3
"""Compares the members of two rmens ensemble checkpoints with h5py alone.

  compare_ckpt.py A.h5 B.h5 [--members 0,1] [--rtol X] [--ignore-attrs a,b]

The root attributes (model shape, step, data fingerprint, optimiser settings, ...) must
be equal, except command_line and those named by --ignore-attrs; with --members (a
subset of the members of differently sized ensembles) the ensemble's size is not
compared either. Without --rtol every parameter, Adam moment and bootstrap count must be bit-identical;
with it, parameters and moments may differ by rtol times the tensor's max |value|,
except the key slice of each attn.c_attn.bias: softmax ignores a shift shared by all keys,
so its true gradient is zero and what Adam does with the float round-off there is noise;
instead the members' validation metrics must agree to rtol.
Prints the worst difference and exits 1 on a mismatch."""
import sys
import numpy as np
import h5py


def main():
    a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
    args = sys.argv[3:]
    rtol = float(args[args.index("--rtol") + 1]) if "--rtol" in args else None
    members = sorted(a["members"].keys())
    if "--members" in args:
        members = ["%03d" % int(k) for k in args[args.index("--members") + 1].split(",")]
    worst, bad = 0.0, []
    ignore = {"command_line"}
    if "--ignore-attrs" in args:
        ignore |= set(args[args.index("--ignore-attrs") + 1].split(","))
    if "--members" in args:
        ignore |= {"members", "ensemble_size"}
    for key in sorted((set(a.attrs) | set(b.attrs)) - ignore):
        if key not in a.attrs or key not in b.attrs:
            bad.append(f"root attribute {key}: only in {'AB'[key in b.attrs]}")
        elif not np.array_equal(np.asarray(a.attrs[key]), np.asarray(b.attrs[key])):
            bad.append(f"root attribute {key}: {a.attrs[key]!r} vs {b.attrs[key]!r}")
    for m in members:
        ga, gb = a["members/" + m], b["members/" + m]
        if not np.array_equal(ga["bootstrap_counts"][:], gb["bootstrap_counts"][:]):
            bad.append(f"member {m}: bootstrap counts differ")
        for part in ("params", "optimizer/m", "optimizer/v"):
            for name in ga[part]:
                x, y = ga[part][name][:], gb[part][name][:]
                if rtol is None:
                    if x.tobytes() != y.tobytes():
                        bad.append(f"member {m} {part}/{name}: not bit-identical "
                                   f"(max diff {np.abs(x - y).max():.3g})")
                else:
                    if name.endswith("attn.c_attn.bias") and "optimizer" not in part:
                        C = x.shape[0] // 3
                        x, y = np.delete(x, np.s_[C:2 * C]), np.delete(y, np.s_[C:2 * C])
                    elif name.endswith("attn.c_attn.bias"):
                        continue
                    scale = max(np.abs(x).max(), 1e-30)
                    d = np.abs(x - y).max() / scale
                    worst = max(worst, d)
                    if d > rtol:
                        bad.append(f"member {m} {part}/{name}: relative diff {d:.3g} > {rtol}")
        if rtol is not None:
            for key in ("val_loss", "val_margin"):  # continuous; accuracy may flip a pair
                va, vb = ga.attrs[key], gb.attrs[key]
                if abs(va - vb) > rtol * max(abs(va), 1e-3):
                    bad.append(f"member {m}: {key} {va:.6g} vs {vb:.6g}")
    print(f"compared the root attributes and {len(members)} members; worst relative difference {worst:.3g}"
          + (" (bit-identical required)" if rtol is None else ""))
    for line in bad[:10]:
        print("  " + line)
    sys.exit(1 if bad else 0)


main()
