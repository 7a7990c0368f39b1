#!/usr/bin/python3
"""Independent PyTorch reference for the per-step head of a process reward model
(tests/prm_parity.sh), written from docs/FORMAT.md ("steps" files) and issue 18's
semantics, not from rmens's C code:

  * a step's logit is the GPT-2 reward model's score head read at the step's closing
    token (step_end - 1): for a causal model, the reward of the solution's prefix ending
    there (tests/torch_reference.py's `reward`, itself written from docs/FORMAT.md);
  * a solution longer than n_ctx keeps its last n_ctx tokens, positions from 0; steps
    whose closing token was cut carry no loss;
  * the loss is binary cross-entropy with logits against the (soft) labels, averaged
    over the labelled steps (torch.nn.functional.binary_cross_entropy_with_logits);
    unlabelled steps (label -1) and prompt tokens carry none.

usage: prm_torch.py MODEL.h5 STEPS.h5 DRIVER_OUT.h5 B
Checks tests/rm_driver's output for the first B solutions: logits, labels, loss and the
gradient of every tensor; exit 1 on a mismatch."""
import os, sys
import h5py, numpy as np, torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import load_model_h5, reward  # noqa: E402

model, steps, out, B = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cfg, params = load_model_h5(model)
P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
with h5py.File(steps, "r") as f:
    T_, O = f["steps/tokens"][:], f["steps/offsets"][:]
    SO, SE, SL = f["steps/step_offsets"][:], f["steps/step_end"][:], f["steps/step_label"][:]
logits, labels = [], []
for i in range(B):
    seq = T_[O[i]:O[i + 1]]
    cut = max(0, len(seq) - cfg["n_ctx"])
    kept = seq[cut:]
    for k in range(SO[i], SO[i + 1]):
        e, y = int(SE[k]), float(SL[k])
        if y == -1.0 or e - 1 < cut:
            continue
        logits.append(reward(P, cfg, kept[: e - cut]))
        labels.append(y)
L = torch.stack(logits)
Y = torch.tensor(labels, dtype=torch.float64)
loss = torch.nn.functional.binary_cross_entropy_with_logits(L, Y)
loss.backward()

bad = []
with h5py.File(out, "r") as f:
    got_r, got_y, got_loss = f["rewards"][:], f["labels"][:], float(f.attrs["loss"])
    grads = {k: f["grads"][k][:] for k in f["grads"]}
ref_r = L.detach().numpy()
if len(got_r) != len(ref_r):
    bad.append("%d logits, reference %d" % (len(got_r), len(ref_r)))
else:
    err = np.abs(got_r - ref_r) / np.maximum(np.abs(ref_r), 1e-2)
    if err.max() > 1e-4:
        bad.append("logit %d: %g vs %g" % (err.argmax(), got_r[err.argmax()], ref_r[err.argmax()]))
    if not np.array_equal(got_y, np.asarray(labels, np.float32)):
        bad.append("labels differ: %s vs %s" % (got_y, labels))
if abs(got_loss - loss.item()) > 1e-4 * max(abs(loss.item()), 1e-2):
    bad.append("loss %.8g vs %.8g" % (got_loss, loss.item()))
G = max(float(P[k].grad.abs().max()) for k in P)
worst = 0.0
for k in P:
    ref = P[k].grad.numpy()
    got = grads[k].reshape(ref.shape)
    lim = 1e-3 * max(float(np.abs(ref).max()), 1e-3 * G)
    e = float(np.abs(got - ref).max())
    worst = max(worst, e / lim)
    if e > lim:
        bad.append("gradient of %s: max error %.3g > %.3g" % (k, e, lim))
if bad:
    print("\n".join(bad))
    sys.exit(1)
print("per-step head parity: %d logits, loss %.6f, %d tensors; worst gradient error %.3g of tolerance"
      % (len(ref_r), loss.item(), len(P), worst))
