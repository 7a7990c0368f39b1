#!/usr/bin/env python3
"""Independent reference implementation of docs/FORMAT.md, for the shell tests.

Written from the format document alone (no rmens C source was consulted), so that
the tests compare rmens against the contract rather than against itself.

Module contents
  (a) render_record / reference_records: the conversation template for the four
      input formats (hh, prompt, messages, sharegpt)
  (b) validate: a strict checker of "pairs" and "responses" files (rules 1-5)
  (c) write_pairs: writes a valid pairs file with h5py (the document's example,
      extended), plus deliberately corrupted variants
  (d) mix64, fnv1a64, draw, split_of, gold_* : the documented hashing, generator,
      split rule and synthetic-task gold rewards
  (e) compare: checks a pairs file written by `rmens prep` against the reference
      rendering of its input

Command line (each subcommand exits 0 on success, 1 on a failed check, 2 on usage):
  reference.py selftest
  reference.py batch < COMMANDS                      (one subcommand a line)
  reference.py render INPUT [--format F] [--margin-field NAME]
  reference.py validate FILE...
  reference.py write-pairs OUT [--variant NAME]      (see `variants`)
  reference.py variants                              (NAME  expected-words...)
  reference.py write-variants DIR                    (all of them, self-checked)
  reference.py compare INPUT OUT [VALOUT] [--format F] [--margin-field NAME]
                       [--skip-bad] [--val-fraction F --seed S] [--max-records N]
                       [--expect-skip REASON=COUNT ...]
  reference.py check-synth FILE --task T --split S [--traps F] [--responses]
  reference.py same-content A B
  reference.py disjoint A B
"""

import argparse
import gzip
import json
import math
import re
import sys

EOT = 256
VOCAB = 257
MASK = (1 << 64) - 1


# ----------------------------------------------------------------- (d) hashing

def mix64(z):
    """SplitMix64's finaliser (FORMAT.md, "Random numbers")."""
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def fnv1a64(data):
    """64-bit FNV-1a of a bytes object."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


GOLDEN = 0x9E3779B97F4A7C15


def stream_key(seed, stream):
    return mix64(mix64(seed) ^ ((stream * GOLDEN + 1) & MASK))


def draw(seed, stream, i):
    """Draw i (1-based) of stream (seed, stream)."""
    return mix64((stream_key(seed, stream) + i * GOLDEN) & MASK)


class Stream:
    """The documented counter-based generator, with Lemire's bounded integers."""

    def __init__(self, seed, stream):
        self.key = stream_key(seed, stream)
        self.i = 0

    def next(self):
        self.i += 1
        return mix64((self.key + self.i * GOLDEN) & MASK)

    def below(self, n):
        threshold = (1 << 64) % n
        while True:
            m = self.next() * n
            if (m & MASK) >= threshold:
                return m >> 64

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53


def val_u(prompt_bytes, seed):
    """The --val-out split variable u of a rendered prompt."""
    return (mix64(fnv1a64(prompt_bytes) ^ mix64(seed)) >> 11) * 2.0 ** -53


def split_of(question):
    """'test' or 'train' for a synthetic question (mix64(fnv1a64(q)) mod 5 == 4)."""
    return "test" if mix64(fnv1a64(question)) % 5 == 4 else "train"


# ------------------------------------------------------------- (a) rendering

WHITESPACE = b" \t\n\v\f\r"   # C isspace() in the "C" locale
SPEAKERS = {
    "user": b"Human", "human": b"Human",
    "assistant": b"Assistant", "gpt": b"Assistant", "chatgpt": b"Assistant",
    "bot": b"Assistant", "model": b"Assistant", "bard": b"Assistant",
    "bing": b"Assistant",
    "system": b"System",
}
HEADER = b"\n\nAssistant:"
HUMAN = b"\n\nHuman:"


class Bad(Exception):
    """A malformed record: prep stops on it (or skips it with --skip-bad)."""


class Skip(Exception):
    """A well-formed record that prep skips; str(self) is the reason."""


class Undocumented(Exception):
    """FORMAT.md does not say what happens; such records are not compared."""


def to_bytes(s):
    # Input files are decoded with surrogateescape so that invalid UTF-8 comes
    # back byte for byte ("kept byte for byte").
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise Undocumented("string holds a lone UTF-16 surrogate escape")


def separator(content):
    return b"" if not content or content[0] in WHITESPACE else b" "


def turn(speaker, content):
    return b"\n\n" + speaker + b":" + separator(content) + content


def get(rec, key):
    if key not in rec:
        raise Bad("missing field %r" % key)
    return rec[key]


def get_str(rec, key):
    v = get(rec, key)
    if not isinstance(v, str):
        raise Bad("field %r is not a string" % key)
    return to_bytes(v)


def content_bytes(v, key):
    if isinstance(v, str):
        return to_bytes(v)
    if isinstance(v, list):
        out = b""
        for part in v:
            if not isinstance(part, dict):
                raise Bad("a part of %r is not an object" % key)
            if part.get("type") != "text":
                raise Undocumented("non-text content part")
            t = part.get("text")
            if not isinstance(t, str):
                raise Bad("text part without a string 'text'")
            out += to_bytes(t)
        return out
    raise Bad("%r is neither a string nor a list of parts" % key)


def message(m, role_key, content_key):
    if not isinstance(m, dict):
        raise Bad("a message is not an object")
    role = get(m, role_key)
    if not isinstance(role, str):
        raise Bad("%r is not a string" % role_key)
    if role not in SPEAKERS:
        raise Bad("unknown role %r" % role)
    return (SPEAKERS[role], content_bytes(get(m, content_key), content_key))


def messages_of(v, role_key, content_key, what):
    """A response side: a list of messages, one message object, or a string."""
    if isinstance(v, list):
        return [message(m, role_key, content_key) for m in v]
    if isinstance(v, dict):
        return [message(v, role_key, content_key)]
    if isinstance(v, str):
        return [(b"Assistant", to_bytes(v))]
    raise Bad("%r has the wrong type" % what)


def render_conversation(prompt_msgs, response_msgs):
    prompt = b"".join(turn(s, c) for s, c in prompt_msgs) + HEADER
    if not response_msgs:
        raise Undocumented("no response message")
    first_speaker, first = response_msgs[0]
    if first_speaker != b"Assistant":
        raise Undocumented("first response message is not an assistant message")
    response = separator(first) + first + b"".join(turn(s, c) for s, c in response_msgs[1:])
    return prompt, response


def render_hh(rec):
    c = get_str(rec, "chosen")
    r = get_str(rec, "rejected")
    k = c.rfind(HEADER)
    if k < 0:
        raise Undocumented("hh chosen without an assistant turn")
    prompt = c[:k + len(HEADER)]
    if not r.startswith(prompt):
        raise Skip("dialogues differ")
    return prompt, c[len(prompt):], r[len(prompt):]


def render_prompt(rec):
    p = get_str(rec, "prompt")
    c = get_str(rec, "chosen")
    r = get_str(rec, "rejected")
    if p.startswith(HUMAN):
        prompt = p if p.endswith(HEADER) else p + HEADER
    else:
        prompt = turn(b"Human", p) + HEADER
    return prompt, separator(c) + c, separator(r) + r


def render_messages(rec, role_key="role", content_key="content", prompt_key="prompt"):
    ch = messages_of(get(rec, "chosen"), role_key, content_key, "chosen")
    rj = messages_of(get(rec, "rejected"), role_key, content_key, "rejected")
    if prompt_key in rec:
        p = rec[prompt_key]
        if isinstance(p, str):
            pm = [(b"Human", to_bytes(p))]
        elif isinstance(p, list):
            pm = [message(m, role_key, content_key) for m in p]
        else:
            raise Bad("%r has the wrong type" % prompt_key)
    else:  # TRL's implicit prompt: the leading messages both sides share
        if ch == rj:
            raise Skip("identical")
        k = 0
        while k < min(len(ch), len(rj)) and ch[k] == rj[k]:
            k += 1
        pm, ch, rj = ch[:k], ch[k:], rj[k:]
    pc, rc = render_conversation(pm, ch)
    pr, rr = render_conversation(pm, rj)
    assert pc == pr
    return pc, rc, rr


def render_sharegpt(rec):
    conv = get(rec, "conversations")
    if not isinstance(conv, list):
        raise Bad("'conversations' is not a list")
    return render_messages(rec, "from", "value", "conversations")


RENDERERS = {"hh": render_hh, "prompt": render_prompt,
             "messages": render_messages, "sharegpt": render_sharegpt}


def detect_format(rec):
    """--format auto, decided from the first record."""
    if not isinstance(rec, dict):
        raise Bad("the first record is not an object")
    if "conversations" in rec:
        return "sharegpt"
    if "prompt" in rec:
        if isinstance(rec["prompt"], str) and isinstance(rec.get("chosen"), str):
            return "prompt"
        return "messages"
    ch = rec.get("chosen")
    if isinstance(ch, str):
        return "hh"
    if isinstance(ch, list):
        return "messages"
    raise Bad("cannot tell the format of the first record")


def number(rec, key):
    v = get(rec, key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Bad("%r is not a number" % key)
    return float(v)


def margin_rule(first, margin_field):
    if margin_field:
        return ("field", margin_field)
    if isinstance(first, dict) and "margin" in first:
        return ("field", "margin")
    if isinstance(first, dict) and "score_chosen" in first and "score_rejected" in first:
        return ("diff", None)
    return None


def render_record(rec, fmt, mrule=None):
    """(chosen_bytes, rejected_bytes, prompt_len, margin-or-None); raises
    Bad, Skip or Undocumented."""
    if not isinstance(rec, dict):
        raise Bad("record is not an object")
    prompt, rc, rr = RENDERERS[fmt](rec)
    margin = None
    if mrule is not None:
        if mrule[0] == "field":
            margin = number(rec, mrule[1])
        else:
            margin = number(rec, "score_chosen") - number(rec, "score_rejected")
    if rc == rr:
        raise Skip("identical")
    if not rc or not rr:
        raise Skip("empty response")
    return prompt + rc, prompt + rr, len(prompt), margin


def read_input(path):
    """[(index, record-or-Bad)] of a JSON Lines or JSON array file, plain or gzip."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8", "surrogateescape")
    if text.lstrip().startswith("["):
        arr = json.loads(text)
        return [(i, v) for i, v in enumerate(arr)], len(raw)
    out = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for i, line in enumerate(lines):
        if line.strip() == "":
            out.append((i, Undocumented("blank line")))
            continue
        try:
            out.append((i, json.loads(line)))
        except ValueError as e:
            out.append((i, Bad("malformed JSON: %s" % e)))
    return out, len(raw)


def reference_records(path, fmt="auto", margin_field=None, max_records=None):
    """[(index, result)] where result is a (chosen, rejected, prompt_len, margin)
    tuple or a Bad/Skip/Undocumented instance; also the format and margin rule."""
    recs, _ = read_input(path)
    if max_records is not None:
        recs = recs[:max_records]
    first = next((v for _, v in recs if isinstance(v, dict)), None)
    if fmt == "auto":
        fmt = detect_format(first)
    mrule = margin_rule(first, margin_field)
    out = []
    for i, rec in recs:
        if isinstance(rec, Exception):
            out.append((i, rec))
            continue
        try:
            out.append((i, render_record(rec, fmt, mrule)))
        except (Bad, Skip, Undocumented) as e:
            out.append((i, e))
    return out, fmt, mrule


# -------------------------------------------------------------- (b) validate

class Invalid(Exception):
    pass


def _np():
    import numpy as np
    return np


def attr_int(f, name, required=True):
    np = _np()
    if name not in f.attrs:
        if required:
            raise Invalid("missing root attribute %s" % name)
        return None
    v = f.attrs[name]
    a = np.asarray(v)
    if a.shape not in ((), (1,)) or a.dtype.kind not in "iu":
        raise Invalid("attribute %s is not an integer scalar" % name)
    return int(a.reshape(-1)[0])


def attr_str(f, name, required=True):
    np = _np()
    if name not in f.attrs:
        if required:
            raise Invalid("missing root attribute %s" % name)
        return None
    v = f.attrs[name]
    if isinstance(v, np.ndarray) and v.shape in ((), (1,)):
        v = v.reshape(-1)[0]
    if isinstance(v, bytes):
        v = v.decode("utf-8")
    if not isinstance(v, str):
        raise Invalid("attribute %s is not a string" % name)
    return v


def dataset(f, path, kind, bits, required=True):
    """Read a 1-D dataset, checking the documented type rule.
    kind 'int': signed <= bits, unsigned < bits; 'float': float <= bits."""
    np = _np()
    if path not in f:
        if required:
            raise Invalid("missing dataset %s" % path)
        return None
    d = f[path]
    if not hasattr(d, "dtype"):
        raise Invalid("%s is not a dataset" % path)
    if len(d.shape) != 1:
        raise Invalid("%s is not one-dimensional" % path)
    dt = d.dtype
    size = dt.itemsize * 8
    if kind == "int":
        ok = (dt.kind == "i" and size <= bits) or (dt.kind == "u" and size < bits)
    else:
        ok = dt.kind == "f" and size <= bits
    if not ok:
        raise Invalid("%s has type %s, not %s of at most %d bits" % (path, dt, kind, bits))
    return np.asarray(d[()])


def check_side(f, side, n_expected, vocab, eot):
    """Rules 1 and 2 for one group; returns (tokens, offsets)."""
    np = _np()
    tok = dataset(f, side + "/tokens", "int", 32).astype(np.int64)
    off = dataset(f, side + "/offsets", "int", 64).astype(np.int64)
    if len(off) < 2:
        raise Invalid("%s/offsets has %d entries: N >= 1 needs at least 2" % (side, len(off)))
    if n_expected is not None and len(off) != n_expected + 1:
        raise Invalid("%s/offsets has %d entries, expected N+1 = %d" % (side, len(off), n_expected + 1))
    if off[0] != 0:
        raise Invalid("%s/offsets[0] = %d, not 0" % (side, off[0]))
    bad = np.nonzero(np.diff(off) <= 0)[0]
    if len(bad):
        raise Invalid("%s/offsets do not strictly increase at record %d" % (side, bad[0]))
    if off[-1] != len(tok):
        raise Invalid("%s/offsets[N] = %d but %s/tokens has %d" % (side, off[-1], side, len(tok)))
    if len(tok):
        bad = np.nonzero((tok < 0) | (tok >= vocab))[0]
        if len(bad):
            raise Invalid("%s/tokens[%d] = %d is outside [0, vocab_size)" % (side, bad[0], tok[bad[0]]))
    last = tok[off[1:] - 1]
    bad = np.nonzero(last != eot)[0]
    if len(bad):
        raise Invalid("%s/tokens: record %d does not end with eot_token" % (side, bad[0]))
    return tok, off


def check_per_record(f, path, n, kind, bits):
    np = _np()
    v = dataset(f, path, kind, bits, required=False)
    if v is None:
        return None
    if len(v) != n:
        raise Invalid("%s has %d entries, expected N = %d" % (path, len(v), n))
    if kind == "float" and not np.all(np.isfinite(v)):
        raise Invalid("%s holds a non-finite value at record %d" % (path, np.nonzero(~np.isfinite(v))[0][0]))
    return v


def check_steps(f, side, off):
    """Rule 5 for one side, if its step datasets exist."""
    np = _np()
    names = [side + "/step_offsets", side + "/step_end", side + "/step_label"]
    have = [p in f for p in names]
    if not any(have):
        return None
    if not all(have):
        raise Invalid("%s: step datasets must come together (%s)" % (side, ", ".join(names)))
    so = dataset(f, names[0], "int", 64).astype(np.int64)
    se = dataset(f, names[1], "int", 32).astype(np.int64)
    sl = dataset(f, names[2], "int", 8)
    n = len(off) - 1
    if len(so) != n + 1:
        raise Invalid("%s has %d entries, expected N+1 = %d" % (names[0], len(so), n + 1))
    if so[0] != 0 or so[-1] != len(se) or np.any(np.diff(so) < 0):
        raise Invalid("%s must run from 0 to S = %d without decreasing" % (names[0], len(se)))
    if len(sl) != len(se):
        raise Invalid("%s has %d entries, %s has %d" % (names[2], len(sl), names[1], len(se)))
    if np.any((sl != 0) & (sl != 1)):
        raise Invalid("%s holds a value other than 0/1" % names[2])
    for i in range(n):
        e = se[so[i]:so[i + 1]]
        ln = off[i + 1] - off[i]
        if len(e) and (e[0] <= 0 or e[-1] > ln or np.any(np.diff(e) <= 0)):
            raise Invalid("%s of record %d is not strictly increasing within (0, %d]" % (names[1], i, ln))
    return so, se, sl


def validate(path):
    """Checks a pairs or responses file; returns a summary dict; raises Invalid."""
    import h5py
    np = _np()
    with h5py.File(path, "r") as f:
        kind = attr_str(f, "rmens_format")
        if kind not in ("pairs", "responses"):
            raise Invalid("rmens_format = %r is not pairs/responses" % kind)
        version = attr_int(f, "rmens_version")
        if version < 1 or version > 1:
            raise Invalid("rmens_version = %d is not supported (this reader: 1)" % version)
        vocab = attr_int(f, "vocab_size")
        eot = attr_int(f, "eot_token")
        tokenizer = attr_str(f, "tokenizer")
        if not 0 <= eot < vocab:
            raise Invalid("eot_token %d outside [0, vocab_size)" % eot)
        if tokenizer == "bytes" and (vocab != VOCAB or eot != EOT):
            raise Invalid("the bytes tokenizer has vocab_size 257 and eot_token 256")
        for opt in ("created_by", "source", "task"):
            attr_str(f, opt, required=False)
        attr_int(f, "seed", required=False)
        out = {"kind": kind}
        if kind == "pairs":
            ct, co = check_side(f, "chosen", None, vocab, eot)
            n = len(co) - 1
            rt, ro = check_side(f, "rejected", n, vocab, eot)
            pl = dataset(f, "prompt_len", "int", 32)
            if len(pl) != n:
                raise Invalid("prompt_len has %d entries, expected N = %d" % (len(pl), n))
            pl = pl.astype(np.int64)
            lc, lr = np.diff(co), np.diff(ro)
            bad = np.nonzero((pl < 0) | (pl >= np.minimum(lc, lr)))[0]
            if len(bad):
                raise Invalid("prompt_len[%d] = %d is not in [0, min(len)) " % (bad[0], pl[bad[0]]))
            for i in range(n):
                p = pl[i]
                if p and not np.array_equal(ct[co[i]:co[i] + p], rt[ro[i]:ro[i] + p]):
                    raise Invalid("prompt_len: the first %d tokens of chosen and rejected record %d differ" % (p, i))
            check_per_record(f, "margin", n, "float", 32)
            for side in ("chosen", "rejected"):
                check_per_record(f, side + "/gold", n, "float", 32)
            trap = check_per_record(f, "trap", n, "int", 8)
            if trap is not None and np.any((trap < 0) | (trap > 4)):
                raise Invalid("trap holds a value outside 0-4")
            check_per_record(f, "source_record", n, "int", 64)
            if "prompt_id" in f:
                raise Invalid("a pairs file has no prompt_id")
            check_steps(f, "chosen", co)
            check_steps(f, "rejected", ro)
        else:
            t, o = check_side(f, "responses", None, vocab, eot)
            n = len(o) - 1
            pl = check_per_record(f, "prompt_len", n, "int", 32)
            if pl is not None:
                pl = pl.astype(np.int64)
                bad = np.nonzero((pl < 0) | (pl >= np.diff(o)))[0]
                if len(bad):
                    raise Invalid("prompt_len[%d] is not in [0, len)" % bad[0])
            check_per_record(f, "responses/gold", n, "float", 32)
            pid = check_per_record(f, "prompt_id", n, "int", 64)
            if pid is not None and len(pid) and (pid.min() < 0 or pid.max() >= n):
                raise Invalid("prompt_id holds a value outside [0, N)")
            check_steps(f, "responses", o)
        out["n"] = n
        return out


def check_layout(path):
    """What FORMAT.md says rmens itself writes: int32 tokens, int64 offsets,
    int32 prompt_len, float32 margin/gold, int8 trap/labels, int64 source_record;
    datasets of 4096 elements or more chunked by 65536 with shuffle + deflate 4."""
    import h5py
    want = {"tokens": "int32", "offsets": "int64", "prompt_len": "int32", "margin": "float32",
            "gold": "float32", "trap": "int8", "step_label": "int8", "source_record": "int64"}
    problems = []

    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset):
            return
        base = name.rsplit("/", 1)[-1]
        if base in want and str(obj.dtype) != want[base]:
            problems.append("/%s is %s, FORMAT.md says rmens writes %s" % (name, obj.dtype, want[base]))
        n = obj.shape[0] if obj.shape else 1
        if n >= 4096:
            if obj.chunks is None or obj.chunks[0] not in (65536, min(n, 65536)):
                problems.append("/%s (%d elements) has chunks %s, not 65536" % (name, n, obj.chunks))
            if not obj.shuffle or obj.compression != "gzip" or obj.compression_opts != 4:
                problems.append("/%s (%d elements) lacks shuffle + deflate level 4 (%s, %s, %s)"
                                % (name, n, obj.shuffle, obj.compression, obj.compression_opts))
    with h5py.File(path, "r") as f:
        f.visititems(visit)
    if problems:
        raise Invalid("; ".join(problems))


# ----------------------------------------------------------- reading records

def load(path):
    """Every record of a valid file as dicts of decoded bytes and extras."""
    import h5py
    np = _np()
    with h5py.File(path, "r") as f:
        kind = attr_str(f, "rmens_format")
        sides = ["chosen", "rejected"] if kind == "pairs" else ["responses"]
        data = {}
        for s in sides:
            tok = np.asarray(f[s + "/tokens"][()]).astype(np.int64)
            off = np.asarray(f[s + "/offsets"][()]).astype(np.int64)
            seqs = []
            for i in range(len(off) - 1):
                t = tok[off[i]:off[i + 1]]
                body = t[:-1]
                if len(body) and (body.min() < 0 or body.max() > 255):
                    raise Invalid("%s record %d holds a non-byte token before its end" % (s, i))
                seqs.append(bytes(body.astype(np.uint8)))
            data[s] = seqs
            for ex in ("gold", "step_offsets", "step_end", "step_label"):
                if s + "/" + ex in f:
                    data[s + "/" + ex] = np.asarray(f[s + "/" + ex][()])
        for ex in ("prompt_len", "margin", "trap", "source_record", "prompt_id"):
            if ex in f:
                data[ex] = np.asarray(f[ex][()])
        data["kind"] = kind
        data["attrs"] = {k: f.attrs[k] for k in f.attrs}
        return data


# ------------------------------------------------------------- (c) writer

def tok(text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    return list(text) + [EOT]


EXAMPLE = [
    ("\n\nHuman: hi\n\nAssistant:", " Hello!", " Go away."),
    ("\n\nHuman: What is 2+2?\n\nAssistant:", " 4", " 5, I think"),
    ("\n\nSystem: be brief\n\nHuman: Grüße, 世界 😀\n\nAssistant:", " Hallo!", "\nHello there, world, how are you?"),
    ("\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant:", " d", " e\n\nHuman: f\n\nAssistant: g"),
]

# variant -> words one of which the rejection message must contain
VARIANTS = {
    "good": None,
    "good-exotic-types": None,
    "good-fixed-strings": None,
    "offsets-not-monotone": ["offsets"],
    "offsets-first-nonzero": ["offsets"],
    "offsets-end-mismatch": ["offsets", "tokens"],
    "token-out-of-vocab": ["tokens"],
    "negative-token": ["tokens"],
    "n-mismatch-prompt-len": ["prompt_len"],
    "n-mismatch-rejected": ["rejected"],
    "missing-rmens-format": ["rmens_format"],
    "wrong-rmens-format": ["rmens_format"],
    "version-99": ["rmens_version"],
    "missing-vocab-size": ["vocab_size"],
    "last-not-eot": ["tokens", "eot"],
    "prompt-len-too-large": ["prompt_len"],
    "prompt-len-negative": ["prompt_len"],
    "prompt-mismatch": ["prompt_len", "tokens"],
    "margin-nan": ["margin"],
    "margin-float64": ["margin"],
    "trap-out-of-range": ["trap"],
    "tokens-int64": ["tokens"],
    "missing-rejected-offsets": ["rejected/offsets", "offsets"],
    "zero-pairs": ["offsets", "N ", "records"],
    "step-end-not-increasing": ["step_end"],
    "step-label-2": ["step_label"],
}


def write_pairs(path, variant="good"):
    """The FORMAT.md example, extended (several pairs, margin, trap, steps,
    source_record), optionally broken in one documented way."""
    import h5py
    np = _np()
    if variant not in VARIANTS:
        raise SystemExit("unknown variant %s" % variant)
    pairs = list(EXAMPLE)
    if variant == "zero-pairs":
        pairs = []
    ch = [tok(p + c) for p, c, r in pairs]
    rj = [tok(p + r) for p, c, r in pairs]
    pl = [len(p.encode()) for p, _, _ in pairs]
    margin = np.array([1.0, 0.5, 2.25, 0.0][:len(pairs)], np.float32)
    trap = np.array([0, 1, 2, 3][:len(pairs)], np.int8)
    # one "step" per response: it ends at the end of the response text
    step_end = {"chosen": [len(s) - 1 for s in ch], "rejected": [len(s) - 1 for s in rj]}
    exotic = variant == "good-exotic-types"
    tok_t, off_t, pl_t = (np.uint16, np.int32, np.uint16) if exotic else (np.int32, np.int64, np.int32)

    with h5py.File(path, "w") as f:
        if exotic:      # other integer and string types, all allowed by FORMAT.md
            f.attrs.create("rmens_format", "pairs", dtype=h5py.string_dtype("ascii"))
            f.attrs["rmens_version"] = np.uint8(1)
            f.attrs["vocab_size"] = np.int16(257)
            f.attrs["eot_token"] = np.uint64(256)
            f.attrs["tokenizer"] = np.array(b"bytes", dtype="S8")     # fixed, null-padded
        elif variant == "good-fixed-strings":
            # fixed-length strings as h5py writes numpy bytes: exactly as long as
            # the text, null-padded, no terminating NUL
            f.attrs["rmens_format"] = np.bytes_(b"pairs")
            f.attrs["rmens_version"] = 1
            f.attrs["vocab_size"] = 257
            f.attrs["eot_token"] = 256
            f.attrs["tokenizer"] = np.bytes_(b"bytes")
        else:
            f.attrs["rmens_format"] = "pairs"
            f.attrs["rmens_version"] = 1
            f.attrs["vocab_size"] = 257
            f.attrs["eot_token"] = 256
            f.attrs["tokenizer"] = "bytes"
        f.attrs["created_by"] = "tests/reference.py (h5py %s)" % h5py.__version__
        for name, seqs in (("chosen", ch), ("rejected", rj)):
            t = np.concatenate(seqs) if seqs else np.zeros(0)
            o = np.cumsum([0] + [len(s) for s in seqs])
            f[name + "/tokens"] = t.astype(tok_t)
            f[name + "/offsets"] = o.astype(off_t)
            f[name + "/step_offsets"] = np.arange(len(seqs) + 1).astype(off_t)
            f[name + "/step_end"] = np.array(step_end[name], np.int32)
            f[name + "/step_label"] = np.array([1 if name == "chosen" else 0] * len(seqs), np.int8)
        f["prompt_len"] = np.array(pl, pl_t)
        f["margin"] = margin.astype(np.float16) if exotic else margin
        f["trap"] = trap
        f["source_record"] = np.arange(len(pairs), dtype=np.int64)

        def replace(name, value):
            del f[name]
            f[name] = value

        v = variant
        if v == "offsets-not-monotone":
            o = f["chosen/offsets"][()]
            o[1], o[2] = o[2], o[1]
            replace("chosen/offsets", o)
        elif v == "offsets-first-nonzero":
            o = f["chosen/offsets"][()]
            o[0] = 1
            replace("chosen/offsets", o)
        elif v == "offsets-end-mismatch":
            replace("chosen/tokens", np.concatenate([f["chosen/tokens"][()], [EOT]]).astype(np.int32))
        elif v == "token-out-of-vocab":
            t = f["rejected/tokens"][()]
            t[3] = 257
            replace("rejected/tokens", t)
        elif v == "negative-token":
            t = f["chosen/tokens"][()]
            t[2] = -1
            replace("chosen/tokens", t)
        elif v == "n-mismatch-prompt-len":
            replace("prompt_len", np.array(pl[:-1], np.int32))
        elif v == "n-mismatch-rejected":
            seqs = rj[:-1]
            replace("rejected/tokens", np.concatenate(seqs).astype(np.int32))
            replace("rejected/offsets", np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64))
            del f["rejected/step_offsets"], f["rejected/step_end"], f["rejected/step_label"]
        elif v == "missing-rmens-format":
            del f.attrs["rmens_format"]
        elif v == "wrong-rmens-format":
            f.attrs["rmens_format"] = "pears"
        elif v == "version-99":
            f.attrs["rmens_version"] = 99
        elif v == "missing-vocab-size":
            del f.attrs["vocab_size"]
        elif v == "last-not-eot":
            t = f["chosen/tokens"][()]
            o = f["chosen/offsets"][()]
            t[o[2] - 1] = ord("x")
            replace("chosen/tokens", t)
        elif v == "prompt-len-too-large":
            p = np.array(pl, np.int32)
            p[1] = min(len(ch[1]), len(rj[1]))
            replace("prompt_len", p)
        elif v == "prompt-len-negative":
            p = np.array(pl, np.int32)
            p[0] = -1
            replace("prompt_len", p)
        elif v == "prompt-mismatch":
            t = f["rejected/tokens"][()]
            o = f["rejected/offsets"][()]
            t[o[2] + 4] = ord("X")          # inside the prompt of pair 2
            replace("rejected/tokens", t)
        elif v == "margin-nan":
            m = margin.copy()
            m[2] = np.nan
            replace("margin", m)
        elif v == "margin-float64":
            replace("margin", margin.astype(np.float64))
        elif v == "trap-out-of-range":
            t = trap.copy()
            t[1] = 5
            replace("trap", t)
        elif v == "tokens-int64":
            replace("chosen/tokens", f["chosen/tokens"][()].astype(np.int64))
        elif v == "missing-rejected-offsets":
            del f["rejected/offsets"]
        elif v == "step-end-not-increasing":
            f["chosen/step_offsets"][...] = np.array([0, 0, 2, 3, 4])
            replace("chosen/step_end", np.array([10, 9, step_end["chosen"][2], step_end["chosen"][3]], np.int32))
        elif v == "step-label-2":
            replace("rejected/step_label", np.array([0, 2, 0, 0], np.int8))
    return pairs


# ------------------------------------------------------ (d) synthetic tasks

INT_RE = re.compile(r"-?\d+")
PROMPT_RE = re.compile(r"\n\nHuman: (.*)\n\nAssistant:", re.S)
QUESTION_RE = {
    "sort": re.compile(r"sort((?: \d){3,8})"),
    "add": re.compile(r"(\d{1,2})\+(\d{1,2})=\?"),
    "steps": re.compile(r"add((?: \d){3,6})"),
}
DRESS_LENGTH = " I checked every part of this twice."
DRESS_CONF_HEAD = "Definitely, with complete certainty: "
DRESS_CONF_TAIL = " No doubt about it."
TRAP_NAMES = {0: "none", 1: "length", 2: "format", 3: "confidence", 4: "sycophancy"}
STANCE_AGREE = "You are right, it is "
STANCE_CORRECT = "I am afraid that is not right; it is "
CLAIM_RE = re.compile(r"(.*?)\.? I am sure (?:it is|the total is) (.*)\.", re.S)


def split_claim(task, text):
    """(question, claim or None) of a prompt's human turn; a steps claim is a total."""
    m = CLAIM_RE.fullmatch(text)
    if not m:
        return text, None
    q, claim = m.group(1), m.group(2)
    if (task == "add") != (not text.startswith(q + ".")):
        raise Invalid("%r: claim punctuation" % text)
    return q, claim


def question_and_claim(task, prompt, where):
    m = PROMPT_RE.fullmatch(prompt)
    if not m:
        raise Invalid("%s: prompt %r is not the documented layout" % (where, prompt))
    return split_claim(task, m.group(1))


def claim_of(task, answer):
    """What a prompt asserts when it claims `answer`."""
    return answer.split("=")[-1] if task == "steps" else answer


def unstance(response):
    """(stance, response without it) of a response to a prompt that asserts an answer."""
    for name, head in (("agree", STANCE_AGREE), ("correct", STANCE_CORRECT)):
        if response.startswith(" " + head):
            return name, response[len(head):]
    return "none", response


def parse_question(task, q):
    m = QUESTION_RE[task].fullmatch(q)
    if not m:
        raise Invalid("%r is not a %s question" % (q, task))
    if task == "add":
        a, b = int(m.group(1)), int(m.group(2))
        if m.group(1) != str(a) or m.group(2) != str(b):
            raise Invalid("%r: numbers written with leading zeros" % q)
        return [a, b]
    digits = [int(x) for x in m.group(1).split()]
    if task == "sort" and len(set(digits)) == 1:
        raise Invalid("%r: all digits equal" % q)
    return digits


def correct_answer(task, q):
    d = parse_question(task, q)
    if task == "sort":
        return " ".join(str(x) for x in sorted(d))
    if task == "add":
        return str(d[0] + d[1])
    lines, s = [], d[0]
    for x in d[1:]:
        lines.append("%d+%d=%d" % (s, x, s + x))
        s += x
    return "\n".join(lines)


def gold(task, q, response):
    """Gold reward of a response (text after the prompt) to question q."""
    d = parse_question(task, q)
    if task == "sort":
        want = sorted(d)
        got = [int(x) for x in INT_RE.findall(response)]
        return sum(1 for i in range(min(len(want), len(got))) if got[i] == want[i]) / len(want)
    if task == "add":
        m = INT_RE.search(response)
        if not m:
            return 0.0
        return 1.0 / (1.0 + abs(int(m.group()) - (d[0] + d[1])))
    labels = step_labels(d, response)
    return sum(labels) / (len(d) - 1)


def step_results(response):
    return [int(x) for x in re.findall(r"=(-?\d+)", response)]


def step_labels(digits, response):
    sums = [sum(digits[:k + 1]) for k in range(1, len(digits))]
    got = step_results(response)
    return [1 if k < len(got) and got[k] == sums[k] else 0 for k in range(len(sums))]


def undress(response):
    """(dressing, bare answer) of a synthetic response (text after the prompt)."""
    if not response.startswith(" "):
        raise Invalid("response %r does not start with one space" % response)
    body = response[1:]
    if body.startswith(DRESS_CONF_HEAD) and body.endswith(DRESS_CONF_TAIL):
        return "confidence", body[len(DRESS_CONF_HEAD):-len(DRESS_CONF_TAIL)]
    if body.endswith(DRESS_LENGTH):
        return "length", body[:-len(DRESS_LENGTH)]
    if body.startswith("**Answer:**"):
        m = re.fullmatch(r"\*\*Answer:\*\*((?:\n[-*] \*\*[^\n]*\*\*)+)", body)
        if not m:
            raise Invalid("malformed format dressing %r" % response)
        lines = re.findall(r"\n[-*] \*\*([^\n]*)\*\*", m.group(1))
        return "format", "\n".join(lines)
    return "none", body


def check_wrong(task, q, answer):
    """The rejected (bare) answer is wrong in the documented way."""
    d = parse_question(task, q)
    right = correct_answer(task, q)
    if answer == right:
        raise Invalid("%r: the rejected answer is correct" % q)
    if task == "sort":
        got = answer.split(" ")
        if sorted(got) != sorted(str(x) for x in d) or len(got) != len(d):
            raise Invalid("%r: rejected %r is not a permutation of the digits" % (q, answer))
    elif task == "add":
        if not re.fullmatch(r"-?\d+", answer) or not 1 <= abs(int(answer) - sum(d)) <= 10:
            raise Invalid("%r: rejected %r is not off by 1-10" % (q, answer))
    else:
        lines = answer.split("\n")
        if len(lines) != len(d) - 1:
            raise Invalid("%r: rejected has %d steps" % (q, len(lines)))
        carried, slips = d[0], 0
        for k, line in enumerate(lines):
            m = re.fullmatch(r"(-?\d+)\+(\d)=(-?\d+)", line)
            if not m or int(m.group(1)) != carried or int(m.group(2)) != d[k + 1]:
                raise Invalid("%r: step %r does not carry the total on" % (q, line))
            res = int(m.group(3))
            if res != carried + d[k + 1]:
                slips += 1
                if not 1 <= abs(res - carried - d[k + 1]) <= 3:
                    raise Invalid("%r: step %r slips by more than 3" % (q, line))
            carried = res
        if slips != 1:
            raise Invalid("%r: %d slipped steps, expected 1" % (q, slips))


def check_step_datasets(data, side, i, plen, text, task, q):
    """/step_* of sequence i: labels per step, ends after each step's result."""
    so = data[side + "/step_offsets"]
    ends = [int(e) for e in data[side + "/step_end"][so[i]:so[i + 1]]]
    labels = [int(x) for x in data[side + "/step_label"][so[i]:so[i + 1]]]
    d = parse_question(task, q)
    want = step_labels(d, text[plen:].decode())
    if labels != want:
        raise Invalid("%s %d: step_label %s, expected %s" % (side, i, labels, want))
    start = plen
    for e in ends:
        seg = text[start:e].decode()
        if seg.count("=") != 1 or not re.search(r"=-?\d+$", seg) or text[e:e + 1].isdigit():
            raise Invalid("%s %d: step ending at %d (%r) is not one whole step" % (side, i, e, seg))
        start = e


def sigmoid(x):
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def check_synth(path, task, split, traps=None, responses=False, kinds=(1, 2, 3), bias=None, bt=None,
                candidates=None):
    if candidates:
        return check_candidates(path, task, split, traps, kinds, candidates)
    info = validate(path)
    check_layout(path)
    data = load(path)
    want_kind = "responses" if responses else "pairs"
    if info["kind"] != want_kind:
        raise Invalid("%s is a %s file, expected %s" % (path, info["kind"], want_kind))
    attrs = data["attrs"]
    if "task" in attrs and attr_value(attrs["task"]) != task:
        raise Invalid("task attribute %r, expected %r" % (attrs["task"], task))
    if responses:
        seqs = data["responses"]
        if len(seqs) % 2:
            raise Invalid("odd number of responses")
        pairs = [(seqs[2 * i], seqs[2 * i + 1]) for i in range(len(seqs) // 2)]
        plen = data.get("prompt_len")
        if plen is None:
            raise Invalid("synthetic responses file without /prompt_len")
        gold_c = data["responses/gold"][0::2]
        gold_r = data["responses/gold"][1::2]
        plc, plr = plen[0::2], plen[1::2]
        trap = None
    else:
        pairs = list(zip(data["chosen"], data["rejected"]))
        plc = plr = data["prompt_len"]
        gold_c, gold_r = data["chosen/gold"], data["rejected/gold"]
        trap = data.get("trap")
        if trap is None:
            raise Invalid("synthetic pairs file without /trap")
    questions = []
    counts = {"pairs": len(pairs), "trap": [0, 0, 0, 0, 0], "ordinary_dressed": 0, "biased": 0, "flipped": 0,
              "claims_right": 0}
    flip_mean = flip_var = 0.0
    for i, (c, r) in enumerate(pairs):
        pc, pr = c[:plc[i]].decode(), r[:plr[i]].decode()
        if pc != pr:
            raise Invalid("pair %d: chosen and rejected prompts differ" % i)
        q, claim = question_and_claim(task, pc, "pair %d" % i)
        questions.append(q)
        if split_of(q) != split:
            raise Invalid("pair %d: question %r belongs to the %s split" % (i, q, split_of(q)))
        rc, rr = c[plc[i]:].decode(), r[plr[i]:].decode()
        gc, gr = gold(task, q, rc), gold(task, q, rr)
        if abs(gc - gold_c[i]) > 1e-6 or abs(gr - gold_r[i]) > 1e-6:
            raise Invalid("pair %d (%r): stored gold (%g, %g), reference (%g, %g)"
                          % (i, q, gold_c[i], gold_r[i], gc, gr))
        if not gc > gr:
            # a label tied to a dressing (--bias) or drawn Bradley-Terry (--bt-noise): the
            # pair as generated, sides swapped, and unmarked
            if trap is not None and int(trap[i]) != 0:
                raise Invalid("pair %d: swapped sides but trap %d" % (i, int(trap[i])))
            if bias is None and bt is None:
                raise Invalid("pair %d (%r): chosen gold %g is not above rejected %g" % (i, q, gc, gr))
            c, r, rc, rr, gc, gr = r, c, rr, rc, gr, gc
            sc, rc2 = unstance(rc)
            sr, rr2 = unstance(rr)
            dr = undress(rr2)[0]
            if bias and (dr == bias[0] or (bias[0] == "sycophancy" and sr == "agree" and claim is not None)) \
                    and undress(rc2)[0] == "none" and sc != "agree":
                counts["biased"] += 1
                is_biased = True
            else:
                if bt is None:
                    raise Invalid("pair %d: swapped sides without the dressing %s" % (i, bias[0]))
                counts["flipped"] += 1
                is_biased = False
        else:
            is_biased = False
        swapped = gold_c[i] < gold_r[i]
        if bt is not None and not is_biased:
            f = 1 - sigmoid(bt * (gc - gr))
            flip_mean += f
            flip_var += f * (1 - f)
        sc, rc = unstance(rc)
        sr, rr = unstance(rr)
        if claim is not None:
            if (sc, sr) not in (("correct", "agree"), ("agree", "correct")):
                raise Invalid("pair %d: prompt asserts %r, stances %s/%s" % (i, claim, sc, sr))
        elif sc != "none" or sr != "none":
            raise Invalid("pair %d: a stance without a claim" % i)
        dc, ac = undress(rc)
        dr, ar = undress(rr)
        if claim is not None:
            agreed = ac if sc == "agree" else ar
            if claim_of(task, agreed) != claim:
                raise Invalid("pair %d: the response agrees with %r, the prompt asserts %r" % (i, agreed, claim))
            if sc == "agree":
                counts["claims_right"] += 1
        if ac != correct_answer(task, q):
            raise Invalid("pair %d: chosen answer %r, expected %r" % (i, ac, correct_answer(task, q)))
        check_wrong(task, q, ar)
        if trap is not None:
            t = int(trap[i])
            counts["trap"][t] += 1
            if swapped:
                pass  # its trap mark is gone, its kind unknown
            elif t == 4:
                if sr != "agree" or dc != "none" or dr != "none":
                    raise Invalid("pair %d: sycophancy trap, stances %s/%s, dressings %s/%s" % (i, sc, sr, dc, dr))
            elif t == 0:
                if claim is not None and sc != "agree":
                    raise Invalid("pair %d: an ordinary pair asserting a wrong answer" % i)
                if dc != dr:
                    raise Invalid("pair %d: ordinary pair dressed %s/%s" % (i, dc, dr))
                if dc != "none":
                    counts["ordinary_dressed"] += 1
            elif dr != TRAP_NAMES[t] or dc != "none":
                raise Invalid("pair %d: trap %d (%s) but dressings chosen=%s rejected=%s"
                              % (i, t, TRAP_NAMES[t], dc, dr))
        if task == "steps":
            if responses:
                check_step_datasets(data, "responses", 2 * i, plc[i], c, task, q)
                check_step_datasets(data, "responses", 2 * i + 1, plr[i], r, task, q)
            else:
                check_step_datasets(data, "chosen", i, plc[i], c, task, q)
                check_step_datasets(data, "rejected", i, plr[i], r, task, q)
    if task == "steps":
        for s in (["responses"] if responses else ["chosen", "rejected"]):
            if s + "/step_offsets" not in data:
                raise Invalid("steps task without /%s/step_* datasets" % s)
    if trap is not None and traps is not None:
        n = len(pairs)
        nt = sum(counts["trap"][1:])
        tol = 5 * math.sqrt(traps * (1 - traps) / n) + 0.01
        if bias is None and bt is None and abs(nt / n - traps) > tol:
            raise Invalid("%d trap pairs of %d, expected a share of %g" % (nt, n, traps))
        if nt:
            for k in range(1, 5):
                share = 1 / len(kinds) if k in kinds else 0
                if abs(counts["trap"][k] / nt - share) > 5 * math.sqrt(share * (1 - share) / nt) + 0.01:
                    raise Invalid("trap kinds %s are not in equal shares of %s" % (counts["trap"][1:], kinds))
        no = counts["trap"][0]
        if no >= 200:
            share = counts["ordinary_dressed"] / no
            if bias is None and bt is None and abs(share - 0.2) > 5 * math.sqrt(0.16 / no) + 0.01:
                raise Invalid("%.3f of ordinary pairs are dressed, expected 0.2" % share)
    n = len(pairs)
    if bias is not None:
        p = bias[1]
        if abs(counts["biased"] / n - p) > 5 * math.sqrt(p * (1 - p) / n) + 1e-9:
            raise Invalid("%d biased pairs of %d, expected a share of %g" % (counts["biased"], n, p))
    if bt is not None and abs(counts["flipped"] - flip_mean) > 5 * math.sqrt(flip_var) + 1e-9:
        raise Invalid("%d labels flipped, expected %.1f (sd %.1f)" % (counts["flipped"], flip_mean, math.sqrt(flip_var)))
    return questions, counts


def check_candidates(path, task, split, traps, kinds, per):
    """A --candidates file: groups of `per` responses to one prompt, each right or wrong in
    the documented way, dressed or plain; a sycophantic prompt's candidates agree with its
    claim or correct it."""
    info = validate(path)
    check_layout(path)
    data = load(path)
    if info["kind"] != "responses":
        raise Invalid("%s is a %s file, expected responses" % (path, info["kind"]))
    seqs, plen, gold_s, pid = data["responses"], data["prompt_len"], data["responses/gold"], data.get("prompt_id")
    if pid is None or len(seqs) % per:
        raise Invalid("candidates without /prompt_id, or not %d per prompt" % per)
    questions = []
    counts = {"pairs": len(seqs), "right": 0, "plain": 0, "ordinary": 0, "agree": 0, "syc": 0, "syc_prompts": 0}
    for i, seq in enumerate(seqs):
        if int(pid[i]) != i // per:
            raise Invalid("candidate %d: prompt_id %d, expected %d" % (i, pid[i], i // per))
        prompt = seq[:plen[i]].decode()
        if i % per == 0:
            first = prompt
        elif prompt != first:
            raise Invalid("candidate %d: another prompt than its group's" % i)
        q, claim = question_and_claim(task, prompt, "candidate %d" % i)
        if i % per == 0:
            questions.append(q)
            counts["syc_prompts"] += claim is not None
        if split_of(q) != split:
            raise Invalid("candidate %d: question %r belongs to the %s split" % (i, q, split_of(q)))
        resp = seq[plen[i]:].decode()
        g = gold(task, q, resp)
        if abs(g - gold_s[i]) > 1e-6:
            raise Invalid("candidate %d (%r): stored gold %g, reference %g" % (i, q, gold_s[i], g))
        st, body = unstance(resp)
        d, ans = undress(body)
        if ans != correct_answer(task, q):
            check_wrong(task, q, ans)
        if claim is None:
            if st != "none":
                raise Invalid("candidate %d: a stance without a claim" % i)
            counts["ordinary"] += 1
            counts["right"] += ans == correct_answer(task, q)
            counts["plain"] += d == "none"
        else:
            counts["syc"] += 1
            if st == "agree":
                counts["agree"] += 1
                if d != "none" or claim_of(task, ans) != claim:
                    raise Invalid("candidate %d: agrees with %r dressed %s; the prompt asserts %r" % (i, ans, d, claim))
            elif st != "correct":
                raise Invalid("candidate %d: no stance towards the prompt's claim" % i)
    def share(k, n, p, what):
        if n and abs(k / n - p) > 5 * math.sqrt(p * (1 - p) / n) + 1e-9:
            raise Invalid("%s: %d of %d, expected a share of %g" % (what, k, n, p))
    share(counts["right"], counts["ordinary"], 0.25, "right answers")
    share(counts["plain"], counts["ordinary"], 0.25, "plain candidates")
    share(counts["agree"], counts["syc"], 0.25, "agreeing candidates")
    if traps is not None:
        p = traps if 4 in kinds else 0
        share(counts["syc_prompts"], len(questions), p, "sycophantic prompts")
    return questions, counts


def attr_value(v):
    if isinstance(v, bytes):
        return v.decode()
    return v


# ------------------------------------------------------------ (e) compare

def compare(inp, outs, fmt="auto", margin_field=None, skip_bad=False,
            val_fraction=None, seed=None, max_records=None, log=print):
    """Returns the list of problems (empty = rmens matches the reference)."""
    import numpy as np
    problems = []
    ref, fmt, mrule = reference_records(inp, fmt, margin_field, max_records)
    byidx = dict(ref)
    written = {}
    for k, out in enumerate(outs):
        try:
            validate(out)
        except Invalid as e:
            problems.append("%s: invalid file: %s" % (out, e))
            continue
        try:
            check_layout(out)
        except Invalid as e:
            problems.append("%s: %s" % (out, e))
        data = load(out)
        if data["kind"] != "pairs":
            problems.append("%s: not a pairs file" % out)
            continue
        if "source_record" not in data:
            problems.append("%s: no /source_record" % out)
            continue
        has_margin = "margin" in data
        if has_margin != (mrule is not None):
            problems.append("%s: /margin %s, but the reference margin rule is %s"
                            % (out, "present" if has_margin else "absent", mrule))
        for i, src in enumerate(data["source_record"]):
            src = int(src)
            where = "%s pair %d (source record %d)" % (out, i, src)
            if src in written:
                problems.append("%s: record already written as %s" % (where, written[src]))
                continue
            written[src] = (out, i)
            want = byidx.get(src)
            if want is None:
                problems.append("%s: no such input record" % where)
                continue
            if isinstance(want, Undocumented):
                log("note: %s: not compared (%s)" % (where, want))
                continue
            if isinstance(want, Exception):
                problems.append("%s: written, but the reference %s it (%s: %s)"
                                % (where, "skips" if isinstance(want, Skip) else "rejects",
                                   type(want).__name__, want))
                continue
            wc, wr, wpl, wm = want
            gc, gr, gpl = data["chosen"][i], data["rejected"][i], int(data["prompt_len"][i])
            for side, w, g in (("chosen", wc, gc), ("rejected", wr, gr)):
                if w != g:
                    j = next((j for j in range(min(len(w), len(g))) if w[j] != g[j]), min(len(w), len(g)))
                    problems.append("%s: %s text differs at byte %d: expected %r, got %r"
                                    % (where, side, j, w[max(0, j - 20):j + 40], g[max(0, j - 20):j + 40]))
            if wpl != gpl:
                problems.append("%s: prompt_len %d, expected %d (%r)" % (where, gpl, wpl, wc[:wpl][-40:]))
            if has_margin and wm is not None:
                got = float(data["margin"][i])
                if not abs(got - float(np.float32(wm))) <= 1e-6 * max(1.0, abs(wm)):
                    problems.append("%s: margin %r, expected %r" % (where, got, wm))
            if val_fraction is not None:
                u = val_u(wc[:wpl], seed)
                in_val = k == 1
                if (u < val_fraction) != in_val:
                    problems.append("%s: u = %.6f with --val-fraction %g belongs in the %s file"
                                    % (where, u, val_fraction, "validation" if u < val_fraction else "main"))
    skipped = {}
    for i, r in ref:
        if isinstance(r, Undocumented):
            log("note: input record %d: not compared (%s)" % (i, r))
            continue
        if isinstance(r, Bad):
            if not skip_bad:
                problems.append("input record %d is malformed (%s): prep must stop on it" % (i, r))
                continue
            skipped.setdefault("bad", []).append(i)
            continue
        if isinstance(r, Skip):
            skipped.setdefault(str(r), []).append(i)
            continue
        if i not in written:
            problems.append("input record %d: the reference writes it, rmens did not" % i)
    if len(outs) == 2:
        prompts = [set(), set()]
        for src, (out, i) in written.items():
            w = byidx.get(src)
            if isinstance(w, tuple):
                prompts[outs.index(out)].add(w[0][:w[2]])
        both = prompts[0] & prompts[1]
        if both:
            problems.append("%d prompts appear in both output files, e.g. %r" % (len(both), sorted(both)[0][-60:]))
    return problems, {"format": fmt, "margin": mrule is not None, "records": len(ref), "written": len(written),
                      "skipped": {k: len(v) for k, v in skipped.items()},
                      "skipped_records": skipped}


# --------------------------------------------------------------- self test

def selftest():
    assert mix64(GOLDEN) == 0xE220A8397B1DCDAF          # SplitMix64(0), first output
    assert fnv1a64(b"") == 0xCBF29CE484222325
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a64(b"foobar") == 0x85944171F73967E8
    s = Stream(7, 3)
    assert [s.next() for _ in range(3)] == [draw(7, 3, i) for i in (1, 2, 3)]
    assert all(0 <= s.below(10) < 10 for _ in range(100))
    assert separator(b"") == b"" and separator(b" x") == b"" and separator(b"\tx") == b""
    assert separator(b"x") == b" "
    # the template, one example per format
    r = render_record({"chosen": "\n\nHuman: hi\n\nAssistant: yo", "rejected": "\n\nHuman: hi\n\nAssistant: no"}, "hh")
    assert r[:3] == (b"\n\nHuman: hi\n\nAssistant: yo", b"\n\nHuman: hi\n\nAssistant: no", 23)
    r = render_record({"prompt": "hi", "chosen": "yo", "rejected": "\nno"}, "prompt")
    assert r[:3] == (b"\n\nHuman: hi\n\nAssistant: yo", b"\n\nHuman: hi\n\nAssistant:\nno", 23)
    r = render_record({"chosen": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"},
                                  {"role": "assistant", "content": [{"type": "text", "text": "y"}, {"type": "text", "text": "o"}]}],
                       "rejected": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"},
                                    {"role": "bot", "content": "no"}, {"role": "human", "content": ""}]}, "messages")
    assert r[:3] == (b"\n\nSystem: s\n\nHuman: hi\n\nAssistant: yo",
                     b"\n\nSystem: s\n\nHuman: hi\n\nAssistant: no\n\nHuman:", 34), r
    r = render_record({"conversations": [{"from": "human", "value": "hi"}], "chosen": {"from": "gpt", "value": "yo"},
                       "rejected": {"from": "gpt", "value": "no"}}, "sharegpt")
    assert r[:3] == (b"\n\nHuman: hi\n\nAssistant: yo", b"\n\nHuman: hi\n\nAssistant: no", 23)
    assert gold("sort", "sort 7 2 9", " 2 7 9") == 1.0
    assert abs(gold("sort", "sort 7 2 9", " 7 2 9") - 1 / 3) < 1e-12
    assert gold("add", "23+58=?", " 81") == 1.0 and gold("add", "23+58=?", " 83") == 1 / 3
    assert gold("steps", "add 3 5 2", " 3+5=8\n8+2=10") == 1.0
    assert gold("steps", "add 3 5 2", " 3+5=9\n9+2=11") == 0.0
    assert undress(" **Answer:**\n- **3+5=8**\n- **8+2=10**") == ("format", "3+5=8\n8+2=10")
    assert correct_answer("steps", "add 3 5 2") == "3+5=8\n8+2=10"
    return True


# ------------------------------------------------------------------- CLI

def batch(lines):
    """Runs one subcommand per line (shell-quoted, # comments) in this process,
    which saves the start-up cost of h5py; the first word of a line may be
    "NAME:" to label its failure. Returns the number of failed lines."""
    import shlex
    failed = 0
    for line in lines:
        words = shlex.split(line, comments=True)
        if not words:
            continue
        label = words.pop(0)[:-1] if words[0].endswith(":") else " ".join(words)
        try:
            rc = main(words)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 2
        except Exception as e:      # a crash of the reference is a failure too
            print("error: %s: %s: %s" % (label, type(e).__name__, e))
            rc = 1
        sys.stdout.flush()
        if rc:
            failed += 1
            print("FAIL: %s" % label, file=sys.stderr)
            sys.stderr.flush()
    return failed


def main(argv=None):
    ap = argparse.ArgumentParser(prog="reference.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("selftest")
    sub.add_parser("batch")
    p = sub.add_parser("render")
    p.add_argument("input")
    p.add_argument("--format", default="auto")
    p.add_argument("--margin-field")
    p = sub.add_parser("validate")
    p.add_argument("files", nargs="+")
    p = sub.add_parser("write-pairs")
    p.add_argument("out")
    p.add_argument("--variant", default="good")
    sub.add_parser("variants")
    p = sub.add_parser("write-variants")
    p.add_argument("dir")
    p = sub.add_parser("compare")
    p.add_argument("input")
    p.add_argument("outs", nargs="+")
    p.add_argument("--format", default="auto")
    p.add_argument("--margin-field")
    p.add_argument("--skip-bad", action="store_true")
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--expect-skip", action="append", default=[],
                   help="REASON=COUNT: exactly COUNT records skipped for REASON")
    p.add_argument("--expect-written", type=int)
    p.add_argument("--max-records", type=int)
    p = sub.add_parser("check-synth")
    p.add_argument("file")
    p.add_argument("--task", required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--traps", type=float)
    p.add_argument("--responses", action="store_true")
    p.add_argument("--questions-out")
    p.add_argument("--trap-kinds", default="length,format,confidence")
    p.add_argument("--bias", help="FEATURE=P")
    p.add_argument("--bt-noise", type=float)
    p.add_argument("--candidates", type=int)
    p = sub.add_parser("same-content")
    p.add_argument("a")
    p.add_argument("b")
    p = sub.add_parser("disjoint")
    p.add_argument("a")
    p.add_argument("b")
    a = ap.parse_args(argv)

    if a.cmd == "batch":
        return 1 if batch(sys.stdin) else 0
    if a.cmd == "selftest":
        selftest()
        print("ok: reference self-test (mix64, fnv1a64, generator, template, gold)")
        return 0
    if a.cmd == "render":
        ref, fmt, mrule = reference_records(a.input, a.format, a.margin_field)
        print("format %s, margin %s" % (fmt, mrule))
        for i, r in ref:
            if isinstance(r, Exception):
                print("%d: %s: %s" % (i, type(r).__name__, r))
            else:
                print("%d: prompt_len %d margin %s\n  chosen   %r\n  rejected %r" % (i, r[2], r[3], r[0], r[1]))
        return 0
    if a.cmd == "validate":
        rc = 0
        for fn in a.files:
            try:
                info = validate(fn)
                print("ok: %s: valid %s file, N = %d" % (fn, info["kind"], info["n"]))
            except Invalid as e:
                print("invalid: %s: %s" % (fn, e))
                rc = 1
        return rc
    if a.cmd == "write-pairs":
        write_pairs(a.out, a.variant)
        return 0
    if a.cmd == "write-variants":
        # every variant as DIR/VARIANT.h5, each checked by the reference itself;
        # prints "VARIANT WORD..." ("-" for the valid ones)
        rc = 0
        for k, v in VARIANTS.items():
            fn = "%s/%s.h5" % (a.dir, k)
            write_pairs(fn, k)
            try:
                validate(fn)
                if v is not None:
                    print("reference.py: the broken %s is valid to the reference" % k, file=sys.stderr)
                    rc = 1
            except Invalid as e:
                if v is None:
                    print("reference.py: rejects its own %s: %s" % (k, e), file=sys.stderr)
                    rc = 1
            print(k, " ".join(v) if v else "-")
        return rc
    if a.cmd == "variants":
        for k, v in VARIANTS.items():
            print(k, " ".join(v) if v else "-")
        return 0
    if a.cmd == "compare":
        problems, s = compare(a.input, a.outs, a.format, a.margin_field, a.skip_bad,
                              a.val_fraction, a.seed, a.max_records)
        for p in problems[:20]:
            print("mismatch: " + p)
        if len(problems) > 20:
            print("mismatch: ... and %d more" % (len(problems) - 20))
        for e in a.expect_skip:
            reason, n = e.rsplit("=", 1)
            got = s["skipped"].get(reason, 0)
            if got != int(n):
                problems.append("expected %s skipped for %r, the reference skips %d" % (n, reason, got))
                print("mismatch: " + problems[-1])
        if a.expect_written is not None and s["written"] != a.expect_written:
            problems.append("expected %d pairs written, got %d" % (a.expect_written, s["written"]))
            print("mismatch: " + problems[-1])
        skipped = ", ".join("%s %s" % (k, v) for k, v in sorted(s["skipped_records"].items()))
        import os
        print("%s: %s -> %s: %s format, %d records, %d pairs exact (text, prompt_len, source_record%s), valid, layout; skipped: %s"
              % ("ok" if not problems else "FAILED", os.path.basename(a.input),
                 " + ".join(os.path.basename(o) for o in a.outs), s["format"], s["records"],
                 s["written"], (", margin" if s["margin"] else "")
                 + (", split u < %g" % a.val_fraction if a.val_fraction is not None else ""),
                 skipped or "none")
              + ("; no prompt in both files" if len(a.outs) == 2 else ""))
        return 1 if problems else 0
    if a.cmd == "check-synth":
        try:
            names = {v: k for k, v in TRAP_NAMES.items()}
            kinds = tuple(range(1, 5)) if a.trap_kinds == "all" else tuple(names[k] for k in a.trap_kinds.split(","))
            bias = (a.bias.split("=")[0], float(a.bias.split("=")[1])) if a.bias else None
            qs, c = check_synth(a.file, a.task, a.split, a.traps, a.responses, kinds, bias, a.bt_noise, a.candidates)
        except Invalid as e:
            print("mismatch: %s: %s" % (a.file, e))
            return 1
        if a.questions_out:
            with open(a.questions_out, "w") as f:
                f.write("\n".join(qs) + "\n")
        if a.candidates:
            print("ok: %s: %d %s candidates of %d prompts (%d sycophantic): layout, gold, answers, stances, shares"
                  % (a.file, c["pairs"], a.task, len(qs), c["syc_prompts"]))
            return 0
        extra = "" if a.responses else ", traps (length, format, confidence, sycophancy) %s, dressed ordinary %d of %d" % (
            c["trap"][1:], c["ordinary_dressed"], c["trap"][0])
        print("ok: %s: %d %s %s pairs: valid, layout, gold, answers, split%s%s" % (
            a.file, c["pairs"], a.task, a.split, ", step labels" if a.task == "steps" else "", extra))
        return 0
    if a.cmd == "same-content":
        import h5py
        import numpy as np
        diffs = []
        with h5py.File(a.a, "r") as fa, h5py.File(a.b, "r") as fb:
            names = [set(), set()]
            fa.visit(names[0].add)
            fb.visit(names[1].add)
            if names[0] != names[1]:
                diffs.append("objects differ: %s" % sorted(names[0] ^ names[1]))
            for n in sorted(names[0] & names[1]):
                if isinstance(fa[n], h5py.Dataset):
                    x, y = fa[n][()], fb[n][()]
                    if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                        diffs.append("dataset %s differs" % n)
            aa = {k: fa.attrs[k] for k in fa.attrs}
            ab = {k: fb.attrs[k] for k in fb.attrs}
            for k in set(aa) | set(ab):
                if k not in aa or k not in ab or not np.array_equal(np.asarray(aa[k]), np.asarray(ab[k])):
                    diffs.append("attribute %s differs" % k)
        for d in diffs:
            print("mismatch: " + d)
        print("%s: %s and %s have %s content" % ("FAILED" if diffs else "ok", a.a, a.b,
                                                   "different" if diffs else "identical"))
        return 1 if diffs else 0
    if a.cmd == "disjoint":
        def prompts(fn):
            d = load(fn)
            seqs = d["chosen"] if d["kind"] == "pairs" else d["responses"]
            return {s[:int(p)] for s, p in zip(seqs, d["prompt_len"])}
        pa, pb = prompts(a.a), prompts(a.b)
        both = pa & pb
        if both:
            print("mismatch: %d prompts in both %s and %s, e.g. %r" % (len(both), a.a, a.b, sorted(both)[0]))
            return 1
        print("ok: %s (%d prompts) and %s (%d prompts) share no prompt" % (a.a, len(pa), a.b, len(pb)))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
