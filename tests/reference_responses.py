#!/usr/bin/env python3
"""Independent reference for `rmens prep --responses` (docs/FORMAT.md, "responses" files
and the conversation template), written from the document: renders each record's
responses, groups them by prompt text, and compares a file rmens wrote, read with h5py.

  reference_responses.py compare INPUT OUT [--expect-empty N]
Exits 0 when every response, prompt_len, prompt_id and source_record matches.
"""
import sys

import reference as R


def render_prompt_value(p):
    if isinstance(p, str):
        b = R.to_bytes(p)
        if b.startswith(R.HUMAN):
            return b if b.endswith(R.HEADER) else b + R.HEADER
        return R.turn(b"Human", b) + R.HEADER
    if isinstance(p, list):
        return b"".join(R.turn(s, c) for s, c in (R.message(m, "role", "content") for m in p)) + R.HEADER
    raise R.Bad("prompt has the wrong type")


def render_response(v):
    """(bytes after the prompt, empty?) of a string, a message or a list of messages."""
    msgs = R.messages_of(v, "role", "content", "response")
    if not msgs:
        return b"", True
    if msgs[0][0] != b"Assistant":
        raise R.Bad("a response must begin with an assistant message")
    first = msgs[0][1]
    return R.separator(first) + first + b"".join(R.turn(s, c) for s, c in msgs[1:]), len(first) == 0


def render(rec):
    """(prompt bytes, [(response bytes, empty)]) of one record."""
    if "prompt" in rec and "responses" in rec:
        return render_prompt_value(rec["prompt"]), [render_response(v) for v in rec["responses"]]
    if "prompt" in rec and "response" in rec:
        return render_prompt_value(rec["prompt"]), [render_response(rec["response"])]
    for key, rk, ck in (("messages", "role", "content"), ("conversations", "from", "value")):
        if key in rec:
            conv = [R.message(m, rk, ck) for m in rec[key]]
            if len(conv) < 2 or conv[-1][0] != b"Assistant":
                raise R.Bad("a conversation ends with the assistant's response")
            prompt = b"".join(R.turn(s, c) for s, c in conv[:-1]) + R.HEADER
            last = conv[-1][1]
            return prompt, [(R.separator(last) + last, len(last) == 0)]
    raise R.Bad("not a responses record")


def compare(inp, out, expect_empty=None):
    recs, _ = R.read_input(inp)
    want, ids, empty = [], {}, 0
    for i, rec in recs:
        prompt, resps = render(rec)
        for body, is_empty in resps:
            if is_empty:
                empty += 1
                continue
            pid = ids.setdefault(prompt, len(ids))
            want.append((prompt + body, len(prompt), pid, i))
    R.validate(out)
    got = R.load(out)
    assert got["kind"] == "responses", got["kind"]
    seqs = got["responses"]
    assert len(seqs) == len(want), ("responses", len(seqs), len(want))
    for k, (text, plen, pid, src) in enumerate(want):
        assert seqs[k] == text, (k, seqs[k][:80], text[:80])
        assert int(got["prompt_len"][k]) == plen, (k, got["prompt_len"][k], plen)
        assert int(got["prompt_id"][k]) == pid, (k, got["prompt_id"][k], pid)
        assert int(got["source_record"][k]) == src, (k, got["source_record"][k], src)
    if expect_empty is not None:
        assert empty == expect_empty, ("empty responses", empty, expect_empty)
    print("ok: %d responses to %d prompts match the reference (%d empty skipped)" % (len(want), len(ids), empty))


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] != "compare":
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    ee = int(sys.argv[sys.argv.index("--expect-empty") + 1]) if "--expect-empty" in sys.argv else None
    try:
        compare(sys.argv[2], sys.argv[3], ee)
    except (AssertionError, R.Invalid, R.Bad) as e:
        print("FAIL: %r" % (e,), file=sys.stderr)
        sys.exit(1)
