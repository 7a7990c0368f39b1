"""Checks a steps file written by `rmens prep --steps` against the input records, from
the formats' own definitions (TRL's PRM format and PRMTrainer.tokenize_row, TRL's
Math-Shepherd converter, PRM800K's phase files), not from rmens's code: each solution
decodes to exactly the expected text, every step's label sits on the last token of its
separator, and prompt_len covers the text before the first step.

usage: prm_prep_check.py FILE.h5 INPUT.jsonl FORMAT SEP [NEUTRAL] [--tokenizer REF TEMPLATE END]
With --tokenizer, the expected ids come from the npm reference (tests/tokenizers/reference.js
REF, NODE_PATH set): prompt part, each step, each separator and the template's tail
tokenized on their own, as PRMTrainer does."""
import json, math, os, re, subprocess, sys
import h5py

args = sys.argv[1:]
tok = None
if "--tokenizer" in args:
    k = args.index("--tokenizer")
    tok = (args[k + 1], args[k + 2], int(args[k + 3]))
    args = args[:k]
path, src, fmt, sep = args[:4]
neutral = float(args[4]) if len(args) > 4 and args[4] != "skip" else (None if len(args) > 4 else 1.0)
records = [json.loads(l) for l in open(src, encoding="utf-8") if l.strip()]
WS = " \t\n\r\x0b\x0c"

def hh_prompt(p):
    if isinstance(p, list):
        out = ""
        for m in p:
            head = {"user": "\n\nHuman:", "assistant": "\n\nAssistant:", "system": "\n\nSystem:"}[m["role"]]
            c = m["content"]
            out += head + ("" if c[:1] in tuple(WS) else " ") + c
        return out + "\n\nAssistant:"
    if p.startswith("\n\nHuman:"):
        return p if p.endswith("\n\nAssistant:") else p + "\n\nAssistant:"
    return "\n\nHuman:" + ("" if p[:1] in tuple(WS) else " ") + p + "\n\nAssistant:"

def solution(r):
    """(prompt, steps, labels) with None for unlabelled."""
    if fmt == "trl-prm":
        lab = [None if v is None else float(v) for v in r["labels"]]
        return r["prompt"], r["completions"], lab
    if fmt == "math-shepherd":  # TRL's examples/datasets/math_shepherd.py
        inputs = r["input"].replace("ки", "ⶻ")
        idx = [m.start() for m in re.finditer("ⶻ", inputs)]
        labels = [1.0 if r["label"][i] == "+" else 0.0 for i in idx]
        bounds = [0] + idx
        steps = [inputs[i:j] for i, j in zip(bounds, idx)]
        prompt, rest = steps[0], steps[1:]
        prompt, first = prompt.split("Step 1:") if "Step 1:" in prompt else prompt.split("step 1:")
        first = "Step 1:" + first
        comps = [first.strip(WS)] + [c[1:].strip(WS) for c in rest]
        return prompt.strip(WS), comps, labels
    if fmt == "prm800k":
        steps, labels = [], []
        for st in r["label"]["steps"]:
            cc, ch, hu = st["completions"], st.get("chosen_completion"), st.get("human_completion")
            last = False
            if ch is not None:
                c = cc[ch]
            elif hu is not None:
                c = hu
            elif len(cc) == 1:
                c, last = cc[0], True
            else:
                c, last = next(x for x in cc if x["rating"] == -1), True
            steps.append(c["text"])
            if c is hu:
                labels.append(None)
            else:
                labels.append({1: 1.0, -1: 0.0, 0: neutral}[c["rating"]])
            if last:
                break
        return r["question"]["problem"], steps, labels
    raise SystemExit("unknown format " + fmt)

def chatml(hh):
    # turns of an HH transcript (one space after a header's colon belongs to it)
    heads = [("\n\nHuman:", "user"), ("\n\nAssistant:", "assistant"), ("\n\nSystem:", "system")]
    pat = "|".join(re.escape(h) for h, _ in heads)
    parts, out = re.split("(" + pat + ")", hh), []
    for i in range(1, len(parts), 2):
        role = dict(heads)[parts[i]]
        c = parts[i + 1]
        out.append((role, c[1:] if c.startswith(" ") else c))
    return "\n".join("<|im_start|>%s\n%s<|im_end|>" % rc for rc in out)

def ref_ids(texts):
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizers", "reference.js")
    inp = "".join(json.dumps(t) + "\n" for t in texts)
    out = subprocess.run(["node", here, tok[0]], input=inp.encode(), capture_output=True, check=True)
    return [json.loads(l) for l in out.stdout.decode().splitlines() if l]

bad = []
with h5py.File(path, "r") as f:
    s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
    if s(f.attrs["rmens_format"]) != "steps":
        bad.append("rmens_format %s" % s(f.attrs["rmens_format"]))
    T, O = f["steps/tokens"][:], f["steps/offsets"][:]
    SO, SE, SL = f["steps/step_offsets"][:], f["steps/step_end"][:], f["steps/step_label"][:]
    PL, SRC, PID = f["prompt_len"][:], f["source_record"][:], f["prompt_id"][:]
    eot = int(f.attrs["eot_token"])
if len(SRC) != len(records):
    bad.append("%d solutions for %d records" % (len(SRC), len(records)))
pieces_of = []  # with a tokenizer: every solution's pieces, tokenized in one call
for r in records:
    prompt, steps, labels = solution(r)
    if tok is None:
        break
    hh = hh_prompt(prompt)
    lead = "" if steps[0][:1] in tuple(WS) else " "
    body = "".join(x + sep for x in steps)
    rendered = chatml(hh + lead + body)
    at = rendered.rfind(body)
    pieces_of.append([rendered[:at]] + [p for x in steps for p in (x, sep)] + [rendered[at + len(body):]])
all_ids = ref_ids([p for ps in pieces_of for p in ps]) if tok else []
for i, r in enumerate(records):
    prompt, steps, labels = solution(r)
    hh = hh_prompt(prompt)
    lead = "" if steps[0][:1] in tuple(WS) else " "
    seq = T[O[i]:O[i + 1]].tolist()
    if tok is None:  # bytes: the text's UTF-8 bytes, then end-of-text
        full = hh + lead + "".join(x + sep for x in steps)
        want = list(full.encode()) + [256]
        plen = len((hh + lead).encode())
        ends = [len((hh + lead + "".join(x + sep for x in steps[:k + 1])).encode()) for k in range(len(steps))]
    else:
        skip = sum(len(ps) for ps in pieces_of[:i])
        ids = all_ids[skip:skip + len(pieces_of[i])]
        want, ends = list(ids[0]), []
        plen = len(want)
        for k in range(len(steps)):
            want += ids[1 + 2 * k] + ids[2 + 2 * k]
            ends.append(len(want))
        want += ids[-1]
        if want[-1] != tok[2]:
            want.append(tok[2])
    if seq != want:
        n = next((k for k, (a, b) in enumerate(zip(seq, want)) if a != b), min(len(seq), len(want)))
        bad.append("solution %d: tokens differ at %d (%s vs %s)" % (i, n, seq[n:n + 5], want[n:n + 5]))
    if SRC[i] != i:
        bad.append("solution %d: source_record %d" % (i, SRC[i]))
    if PL[i] != plen:
        bad.append("solution %d: prompt_len %d, want %d" % (i, PL[i], plen))
    got_end = SE[SO[i]:SO[i + 1]].tolist()
    if got_end != ends:
        bad.append("solution %d: step_end %s, want %s" % (i, got_end, ends))
    got_lab = SL[SO[i]:SO[i + 1]].tolist()
    want_lab = [-1.0 if y is None else y for y in labels]
    if len(got_lab) != len(want_lab) or any(abs(a - b) > 1e-6 for a, b in zip(got_lab, want_lab)):
        bad.append("solution %d: labels %s, want %s" % (i, got_lab, want_lab))
    # the label's token is the separator's last: the text up to it ends with the separator
    if tok is None and sep:
        for e in ends:
            if bytes(seq[e - len(sep.encode()):e]) != sep.encode():
                bad.append("solution %d: token %d does not close a separator" % (i, e - 1))
if bad:
    print("\n".join(bad))
    sys.exit(1)
print("%s: %d solutions, %d steps match %s%s" % (path, len(records), len(SE), fmt, " (" + tok[0] + ")" if tok else ""))
