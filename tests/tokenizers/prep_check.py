"""Checks an rmens pairs file written by `rmens prep --tokenizer T --template NAME`
against an independent rendering (written here from the templates' definitions, not
from rmens's code) tokenized by the npm reference (reference.js): every token of every
pair, prompt_len = the longest common token prefix, and the tokenizer's record.

usage: prep_check.py FILE.h5 INPUT.jsonl.gz TEMPLATE REFERENCE END_ID SHA256 VOCAB
(NODE_PATH must point at the fixtures; reference.js beside this file)."""
import gzip, hashlib, json, os, subprocess, sys
import h5py

path, src, template, ref, end_id, sha, vocab = sys.argv[1:8]
end_id, vocab = int(end_id), int(vocab)
lines = [json.loads(l) for l in gzip.open(src, "rt", encoding="utf-8") if l.strip()]
HEADERS = [("\n\nHuman:", "user"), ("\n\nAssistant:", "assistant"), ("\n\nSystem:", "system")]

def turns(hh):
    """An HH transcript as (role, content): split at each speaker header; one space
    after the colon belongs to the header."""
    out, i, role, start = [], 0, "user", 0
    cuts = []
    j = 0
    while True:
        best = None
        for h, r in HEADERS:
            k = hh.find(h, j)
            if k >= 0 and (best is None or k < best[0]):
                best = (k, h, r)
        if best is None:
            break
        cuts.append(best)
        j = best[0] + len(best[1])
    if not cuts or cuts[0][0] > 0:
        out.append(("user", hh[: cuts[0][0] if cuts else len(hh)]))
    for n, (k, h, r) in enumerate(cuts):
        s = k + len(h)
        if hh[s:s + 1] == " ":
            s += 1
        e = cuts[n + 1][0] if n + 1 < len(cuts) else len(hh)
        out.append((r, hh[s:e]))
    return out

def render(hh):
    if template == "hh":
        return hh
    t = turns(hh)
    if template == "chatml":
        return "\n".join("<|im_start|>%s\n%s<|im_end|>" % (r, c) for r, c in t)
    if template == "llama3":
        ws = " \t\n\r\x0b\x0c"
        return "<|begin_of_text|>" + "".join(
            "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>" % (r, c.strip(ws)) for r, c in t)
    if template == "plain":
        return "\n\n".join(c for _, c in t)
    raise SystemExit("unknown template " + template)

with h5py.File(path, "r") as f:
    a = f.attrs
    s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
    bad = []
    if int(a["rmens_version"]) != 2: bad.append("rmens_version %s, want 2" % a["rmens_version"])
    if s(a["tokenizer_sha256"]) != sha: bad.append("tokenizer_sha256 %s, want %s" % (s(a["tokenizer_sha256"]), sha))
    if not s(a["tokenizer"]).endswith("@" + sha): bad.append("tokenizer %s does not end with @sha256" % s(a["tokenizer"]))
    if int(a["vocab_size"]) != vocab: bad.append("vocab_size %d, want %d" % (int(a["vocab_size"]), vocab))
    if int(a["eot_token"]) != end_id: bad.append("eot_token %d, want %d" % (int(a["eot_token"]), end_id))
    if s(a["template"]) != template: bad.append("template %s, want %s" % (s(a["template"]), template))
    src_idx = f["source_record"][:]
    side = [(f[k + "/tokens"][:], f[k + "/offsets"][:]) for k in ("chosen", "rejected")]
    plen = f["prompt_len"][:]
n = len(src_idx)
texts = []
for i in range(n):
    r = lines[src_idx[i]]
    texts += [render(r["chosen"]), render(r["rejected"])]
inp = "\n".join(json.dumps(t) for t in texts) + "\n"
here = os.path.dirname(os.path.abspath(__file__))
out = subprocess.run(["node", os.path.join(here, "reference.js"), ref], input=inp.encode(), capture_output=True, check=True)
ref_ids = [json.loads(l) for l in out.stdout.decode().splitlines() if l]
mism = 0
for i in range(n):
    want = []
    for k in range(2):
        ids = ref_ids[2 * i + k] + ([end_id] if template in ("hh", "plain") else [])
        toks, offs = side[k]
        got = toks[offs[i]:offs[i + 1]].tolist()
        if got != ids:
            mism += 1
            if mism <= 3:
                j = next((j for j in range(min(len(got), len(ids))) if got[j] != ids[j]), min(len(got), len(ids)))
                bad.append("pair %d side %d differs at token %d: rmens %s, reference %s" % (i, k, j, got[j:j + 6], ids[j:j + 6]))
        want.append(ids)
    p = 0
    while p < len(want[0]) and p < len(want[1]) and want[0][p] == want[1][p]:
        p += 1
    if int(plen[i]) != p:
        mism += 1
        if mism <= 3:
            bad.append("pair %d: prompt_len %d, longest common prefix %d" % (i, plen[i], p))
for b in bad:
    print("FAIL:", b, file=sys.stderr)
if bad:
    sys.exit(1)
print("ok: %s, template %s: %d pairs (%d tokens) identical to %s, prompt_len the common prefix, record right"
      % (os.path.basename(path), template, n, sum(len(x) for x in ref_ids), ref))
