#!/usr/bin/env python3
"""rmens serve on a checkpoint trained on Qwen3's tokens in the ChatML template, against
independent references.

usage: serve_tokenizer.py RMENS MPIEXEC TMPDIR CKPT QWEN_DIR HH.jsonl.gz DATA.h5

References, none of them rmens's text code: conversations of the HH-RLHF sample split
into turns and rendered in ChatML here (as HF's Qwen chat template writes them, without
a system turn), tokenized by @lenml's JavaScript port of HF tokenizers on the same
tokenizer.json (tokenizers/reference.js), written as a responses file with h5py and
scored by `rmens score --per-member`. The server gets the same conversations as
/v1/rewards messages, as prompt/response, and as OpenRLHF queries (whole rendered texts,
with the "\\n" Qwen's template puts after the last <|im_end|>, with a trailing EOS, and
with no closing token at all): every answer must give the reference's tokens and rewards.
"""
import gzip
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_client as sc  # noqa: E402

RMENS, MPIEXEC, TMP, CKPT, QWEN, HH, DATA = sys.argv[1:8]
TOL = 1e-5
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


HEADS = {"\n\nHuman:": "user", "\n\nAssistant:": "assistant"}


def turns(hh):
    """(role, content) of an HH transcript: split at each speaker header; one space after
    the colon belongs to the header."""
    cuts = sorted((k, h) for h in HEADS for k in range(len(hh)) if hh.startswith(h, k))
    out = []
    for n, (k, h) in enumerate(cuts):
        s = k + len(h) + (1 if hh[k + len(h):k + len(h) + 1] == " " else 0)
        e = cuts[n + 1][0] if n + 1 < len(cuts) else len(hh)
        out.append((HEADS[h], hh[s:e]))
    return out


def chatml(t):
    return "\n".join("<|im_start|>%s\n%s<|im_end|>" % (r, c) for r, c in t)


# 24 conversations whose every turn has content and which end with the assistant
convs = []
for line in gzip.open(HH, "rt", encoding="utf-8"):
    rec = json.loads(line)
    t = turns(rec["chosen"])
    if t and t[0][0] == "user" and t[-1][0] == "assistant" and all(c.strip() for _, c in t) and \
            len(chatml(t)) < 600:
        convs.append(t)
    if len(convs) == 24:
        break
check(len(convs) == 24, f"only {len(convs)} short conversations in the sample")
TEXTS = [chatml(t) for t in convs]

# reference ids (the JS port) and rewards (rmens score of those ids)
out = subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizers", "reference.js"),
                      "qwen3"], input=("\n".join(json.dumps(t) for t in TEXTS) + "\n").encode(),
                     capture_output=True, check=True)
IDS = [json.loads(l) for l in out.stdout.decode().splitlines() if l]
data, scores = os.path.join(TMP, "texts.h5"), os.path.join(TMP, "texts_scores.h5")
with h5py.File(DATA, "r") as src, h5py.File(data, "w") as f:
    for k, v in src.attrs.items():  # the tokenizer's record, as rmens prep wrote it
        f.attrs[k] = v
    f.attrs["rmens_format"] = "responses"
    END = int(src.attrs["eot_token"])
    f["responses/tokens"] = np.concatenate([np.array(s) for s in IDS]).astype(np.int32)
    f["responses/offsets"] = np.cumsum([0] + [len(s) for s in IDS]).astype(np.int64)
check(all(s[-1] == END for s in IDS), "a ChatML text does not end with <|im_end|>")
subprocess.run([RMENS, "score", "--ckpt", CKPT, "--data", data, "--out", scores, "--per-member", "--force",
                "--normalize", "none", "--quiet"], check=True)
with h5py.File(scores, "r") as f:
    PER, MEAN = f["rewards"][:].astype(np.float64), f["mean"][:].astype(np.float64)


def close(got, want, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    err = np.abs(got - want) / np.maximum(np.abs(want), 1e-3)
    check(got.shape == want.shape and err.max() <= TOL, f"{what}: relative error {err.max():.3g} > {TOL}")


# ------------------------------------------------------------------------ the server
pf = os.path.join(TMP, "port")
log = open(pf + ".log", "w+")
p = subprocess.Popen([MPIEXEC, "-n", "2", "--oversubscribe", RMENS, "serve", "--ckpt", CKPT, "--tokenizer", QWEN,
                      "--port", "0", "--port-file", pf], stdout=log, stderr=subprocess.STDOUT)
t0 = time.time()
while not os.path.exists(pf):
    if p.poll() is not None or time.time() - t0 > 120:
        log.seek(0)
        raise SystemExit("rmens serve did not start: " + log.read())
    time.sleep(0.05)
url = "http://" + open(pf).read().strip()
try:
    st, info, _, _ = sc.request(url + "/v1/info")
    with h5py.File(CKPT, "r") as f:
        tok = f.attrs["tokenizer"]
        tok = tok.decode() if isinstance(tok, bytes) else tok
    check(st == 200 and info["template"] == "chatml" and info["tokenizer"] == tok,
          f"/v1/info: {st} template {info.get('template')} tokenizer {info.get('tokenizer')}, want chatml {tok}")

    msgs = [{"messages": [{"role": r, "content": c} for r, c in t]} for t in convs]
    st, doc, raw, _ = sc.request(url + "/v1/rewards", {"inputs": msgs, "per_member": True})
    check(st == 200, f"/v1/rewards messages: {st} {raw[:300]}")
    if st == 200:
        res = doc["results"]
        check([r["tokens"] for r in res] == [len(s) for s in IDS],
              "/v1/rewards messages: token counts differ from the reference's")
        close([r["per_member"] for r in res], PER, "/v1/rewards messages, every member")
        close([r["mean"] for r in res], MEAN, "/v1/rewards messages, mean")
    two = [i for i, t in enumerate(convs) if len(t) == 2]
    if two:
        pr = [{"prompt": convs[i][0][1], "response": convs[i][1][1]} for i in two]
        st, doc, raw, _ = sc.request(url + "/v1/rewards", pr)
        check(st == 200, f"/v1/rewards prompt/response: {st} {raw[:300]}")
        if st == 200:
            close([r["mean"] for r in doc["results"]], MEAN[two], "/v1/rewards prompt/response, mean")
    # OpenRLHF: the whole rendered text, however it ends
    endings = {"as rendered": lambda s: s, "with Qwen's trailing newline": lambda s: s + "\n",
               "with a trailing EOS and pad": lambda s: s + "<|endoftext|><|endoftext|>",
               "unclosed": lambda s: s[: -len("<|im_end|>")]}
    for name, f in endings.items():
        q = [f(s) for s in TEXTS]
        doc = sc.openrlhf_get_reward(url + "/get_reward", q, [""] * len(q), [None] * len(q))
        check(doc is not None and len(doc["rewards"]) == len(q), f"/get_reward {name}: no answer")
        if doc is not None:
            close(doc["rewards"], MEAN, f"/get_reward {name}")
    st, doc, raw, _ = sc.request(url + "/get_reward", {"query": ["no template markup at all"]})
    check(st == 200, f"/get_reward of a text without markup: {st} {raw[:200]}")
finally:
    p.send_signal(signal.SIGUSR1)
    try:
        rc = p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    check(rc == 0, f"rmens serve exited {rc}")
    if failures:
        log.seek(0)
        print(log.read()[-3000:], file=sys.stderr)
if failures:
    sys.exit(1)
print(f"ok: {len(TEXTS)} ChatML conversations on Qwen3's tokenizer: /v1/rewards (messages, prompt/response) and "
      f"/get_reward ({len(endings)} endings) equal rmens score of the reference ids to {TOL:g}")
