#!/usr/bin/env python3
"""Independent check of `rmens prep` on the formats of issue 18 (docs/FORMAT.md).

Written from the format document: it renders each input record with the documented
template, expands rankings into pairs with the documented weights and margins, and
compares the result with the pairs file, decoded with h5py (byte tokenizer: the text
is the tokens before the end-of-text token).

  prep_formats_check.py FORMAT INPUT OUT.h5 [--margin-scale S] [--helpsteer-weights h,c,co,cx,v]
                        [--score-field F] [--no-margin] [--expect-pairs N] [--expect-skip REASON=N]
Exits 0 when every pair (text, prompt_len, margin, weight, source_record) matches.
"""

import argparse
import gzip
import json
import math
import sys

import h5py
import numpy as np

ASSISTANT = "\n\nAssistant:"
ROLES = {"user": "Human", "human": "Human", "system": "System"}
for r in ("assistant", "gpt", "chatgpt", "bot", "model", "bard", "bing"):
    ROLES[r] = "Assistant"


def sep(content):
    return "" if content == "" or content[0].isspace() else " "


def turn(speaker, content):
    return "\n\n" + speaker + ":" + sep(content) + content


def content_of(m):
    c = m.get("content", m.get("value"))
    if isinstance(c, list):
        c = "".join(part["text"] for part in c)
    return c


def role_of(m):
    return ROLES[m.get("role", m.get("from"))]


def prompt_string(p):
    """A prompt string: an HH transcript kept verbatim (header appended unless there),
    else one Human turn; then the assistant header."""
    if p.startswith("\n\nHuman:"):
        return p if p.endswith(ASSISTANT) else p + ASSISTANT
    return turn("Human", p) + ASSISTANT


def prompt_value(p):
    if isinstance(p, str):
        return prompt_string(p)
    return "".join(turn(role_of(m), content_of(m)) for m in p) + ASSISTANT


def response_value(v):
    """What follows the assistant header: separator + content (+ further turns)."""
    if isinstance(v, str):
        return sep(v) + v
    if isinstance(v, dict):
        v = [v]
    first = content_of(v[0])
    return sep(first) + first + "".join(turn(role_of(m), content_of(m)) for m in v[1:])


class Pairs:
    def __init__(self):
        self.pairs = []   # (chosen text, rejected text, prompt_len, margin, weight, source)
        self.skips = {}

    def skip(self, why):
        self.skips[why] = self.skips.get(why, 0) + 1

    def add(self, prompt, a, b, margin, weight, source):
        if a == b:
            self.skip("identical")
            return False
        self.pairs.append((prompt + a, prompt + b, len(prompt.encode()), margin, weight, source))
        return True

    def ranked(self, prompt, resp, scores, sources, with_margin):
        """Every two responses with different scores; the prompt's pairs share weight 1."""
        first = len(self.pairs)
        for i in range(len(resp)):
            for j in range(i + 1, len(resp)):
                if scores[i] == scores[j]:
                    self.skip("tie")
                    continue
                w, l = (i, j) if scores[i] > scores[j] else (j, i)
                self.add(prompt, resp[w], resp[l], scores[w] - scores[l] if with_margin else None, None, sources[w])
        n = len(self.pairs) - first
        for k in range(first, len(self.pairs)):
            c, r, p, m, _, s = self.pairs[k]
            self.pairs[k] = (c, r, p, m, 1.0 / n, s)


def expected(fmt, records, args):
    out = Pairs()
    scale = args.margin_scale
    if fmt == "summarize":
        has_conf = "confidence" in (records[0].get("extra") or {}) and not args.no_margin
        for i, rec in enumerate(records):
            info = rec["info"]
            q = ""
            if info.get("subreddit") is not None:
                q += "SUBREDDIT: r/" + info["subreddit"] + "\n\n"
            if info.get("title") is not None:
                q += "TITLE: " + info["title"] + "\n\n"
            if info.get("post") is not None:
                q += "POST: " + info["post"]
            else:
                q += "ARTICLE: " + info["article"]
            q += "\n\nTL;DR:"
            prompt = turn("Human", q) + ASSISTANT
            texts = [s["text"] for s in rec["summaries"]]
            win = rec["choice"]
            m = rec["extra"]["confidence"] * scale if has_conf else None
            out.add(prompt, response_value(texts[win]), response_value(texts[1 - win]), m, None, i)
    elif fmt == "ultrafeedback":
        for i, rec in enumerate(records):
            c, r = rec["chosen"], rec["rejected"]
            n = 0
            while n < min(len(c), len(r)) and c[n] == r[n]:
                n += 1
            prompt = "".join(turn(role_of(m), content_of(m)) for m in c[:n]) + ASSISTANT
            m = None if args.no_margin else (rec["score_chosen"] - rec["score_rejected"]) * scale
            out.add(prompt, response_value(c[n:]), response_value(r[n:]), m, None, i)
    elif fmt == "helpsteer2-pref":
        for i, rec in enumerate(records):
            s = rec["preference_strength"]
            if s == 0:
                out.skip("tie")
                continue
            w, l = ("response_2", "response_1") if s > 0 else ("response_1", "response_2")
            out.add(prompt_value(rec["prompt"]), response_value(rec[w]), response_value(rec[l]),
                    None if args.no_margin else abs(s) * scale, None, i)
    elif fmt == "helpsteer2":
        wts = [float(x) for x in args.helpsteer_weights.split(",")]
        attrs = ["helpfulness", "correctness", "coherence", "complexity", "verbosity"]
        groups = {}   # insertion order = order of first appearance
        for i, rec in enumerate(records):
            g = groups.setdefault(prompt_string(rec["prompt"]), [])
            g.append((response_value(rec["response"]), sum(w * rec[a] for w, a in zip(wts, attrs)), i))
        for prompt, g in groups.items():
            out.ranked(prompt, [x[0] for x in g], [x[1] for x in g], [x[2] for x in g], True)
        out.pairs = [(c, r, p, m * scale, w, s) for c, r, p, m, w, s in out.pairs]
    elif fmt == "ranking":
        by_scores = "scores" in records[0]
        for i, rec in enumerate(records):
            vals = rec["scores"] if by_scores else [-x for x in rec["ranking"]]
            out.ranked(prompt_value(rec["prompt"]), [response_value(v) for v in rec["responses"]], vals,
                       [i] * len(vals), by_scores)
        out.pairs = [(c, r, p, None if m is None else m * scale, w, s) for c, r, p, m, w, s in out.pairs]
    elif fmt == "ultrafeedback-raw":
        for i, rec in enumerate(records):
            rated = [c for c in rec["completions"] if c[args.score_field] is not None]
            out.skips["unrated"] = out.skips.get("unrated", 0) + len(rec["completions"]) - len(rated)
            out.ranked(prompt_string(rec["instruction"]), [response_value(c["response"]) for c in rated],
                       [c[args.score_field] for c in rated], [i] * len(rated), True)
        out.pairs = [(c, r, p, m * scale, w, s) for c, r, p, m, w, s in out.pairs]
    else:
        raise SystemExit("unknown format " + fmt)
    return out


def read_records(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def decode(f, side, i):
    tok = f[side + "/tokens"][:]
    off = f[side + "/offsets"][:]
    seq = tok[off[i]:off[i + 1]]
    assert seq[-1] == 256, "a sequence must end with the end-of-text token"
    return bytes(seq[:-1].astype(np.uint8)).decode("utf-8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("format")
    ap.add_argument("input")
    ap.add_argument("out")
    ap.add_argument("--margin-scale", type=float, default=1.0)
    ap.add_argument("--helpsteer-weights", default="1,0,0,0,0")
    ap.add_argument("--score-field", default="overall_score")
    ap.add_argument("--no-margin", action="store_true")
    ap.add_argument("--expect-pairs", type=int)
    ap.add_argument("--expect-skip", action="append", default=[])
    args = ap.parse_args()
    want = expected(args.format, read_records(args.input), args)
    bad = []
    with h5py.File(args.out, "r") as f:
        n = len(f["prompt_len"])
        if n != len(want.pairs):
            bad.append("file has %d pairs, expected %d" % (n, len(want.pairs)))
        has_margin, has_weight = "margin" in f, "weight" in f
        expect_margin = any(p[3] is not None for p in want.pairs)
        expect_weight = any(p[4] is not None for p in want.pairs)
        if has_margin != expect_margin:
            bad.append("/margin %s, expected %s" % ("present" if has_margin else "absent",
                                                    "present" if expect_margin else "absent"))
        if has_weight != expect_weight:
            bad.append("/weight %s, expected %s" % ("present" if has_weight else "absent",
                                                    "present" if expect_weight else "absent"))
        for i in range(min(n, len(want.pairs))):
            c, r, p, m, w, s = want.pairs[i]
            got = (decode(f, "chosen", i), decode(f, "rejected", i), int(f["prompt_len"][i]))
            if got != (c, r, p):
                bad.append("pair %d: got %r, expected %r" % (i, got, (c, r, p)))
            if int(f["source_record"][i]) != s:
                bad.append("pair %d: source_record %d, expected %d" % (i, f["source_record"][i], s))
            if has_margin and m is not None and not math.isclose(float(f["margin"][i]), m, rel_tol=1e-6, abs_tol=1e-6):
                bad.append("pair %d: margin %r, expected %r" % (i, float(f["margin"][i]), m))
            if has_weight and w is not None and not math.isclose(float(f["weight"][i]), w, rel_tol=1e-6):
                bad.append("pair %d: weight %r, expected %r" % (i, float(f["weight"][i]), w))
        if has_weight:
            # every prompt counts once: its pairs' weights sum to 1
            total = float(np.sum(f["weight"][:].astype(np.float64)))
            prompts = len({want.pairs[i][0][:want.pairs[i][2]] for i in range(len(want.pairs))})
            if not math.isclose(total, prompts, rel_tol=1e-5):
                bad.append("weights sum to %g, expected %d (one per prompt with pairs)" % (total, prompts))
    if args.expect_pairs is not None and args.expect_pairs != len(want.pairs):
        bad.append("the reference gives %d pairs, the test expects %d" % (len(want.pairs), args.expect_pairs))
    for e in args.expect_skip:
        k, v = e.split("=")
        if want.skips.get(k, 0) != int(v):
            bad.append("the reference skips %d as %s, the test expects %s" % (want.skips.get(k, 0), k, v))
    for b in bad[:20]:
        print("  " + b, file=sys.stderr)
    if bad:
        print("FAIL: %s: %d differences" % (args.out, len(bad)), file=sys.stderr)
        return 1
    print("ok: %s: %d pairs match the reference (%s)" % (args.out, len(want.pairs), args.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
