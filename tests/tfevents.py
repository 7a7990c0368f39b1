#!/usr/bin/env python3
"""Independent reader of TensorBoard event files, written from the documented formats:
TFRecord (uint64 length, uint32 masked CRC-32C of the length bytes, data, uint32 masked
CRC-32C of the data; mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8) around tensorflow's
Event protocol buffer (1: double wall_time, 2: int64 step, 3: string file_version,
5: Summary summary; Summary 1: repeated Value; Value 1: string tag, 2: float
simple_value), parsed with a generic protobuf wire-format decoder. CRC-32C comes from
Debian's python3-crc32c (not rmens' code).

  tfevents.py dump FILE            prints "step tag value" lines
  tfevents.py compare FILE METRICS.jsonl    every metrics figure is in the file, and
                                            nothing else
"""
import json
import math
import struct
import sys

import crc32c


def masked(data):
    c = crc32c.crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(path):
    raw = open(path, "rb").read()
    at = 0
    while at < len(raw):
        if at + 12 > len(raw):
            raise ValueError("truncated record header at byte %d" % at)
        head = raw[at:at + 8]
        (n,) = struct.unpack("<Q", head)
        (c,) = struct.unpack("<I", raw[at + 8:at + 12])
        if c != masked(head):
            raise ValueError("length CRC mismatch at byte %d" % at)
        data = raw[at + 12:at + 12 + n]
        (d,) = struct.unpack("<I", raw[at + 12 + n:at + 16 + n])
        if len(data) != n or d != masked(data):
            raise ValueError("data CRC mismatch at byte %d" % at)
        yield data
        at += 16 + n


def fields(buf):
    """(field number, wire type, value) of a protobuf message."""
    i = 0

    def varint():
        nonlocal i
        v = s = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << s
            s += 7
            if not b & 0x80:
                return v
    while i < len(buf):
        key = varint()
        f, wt = key >> 3, key & 7
        if wt == 0:
            yield f, wt, varint()
        elif wt == 1:
            yield f, wt, buf[i:i + 8]
            i += 8
        elif wt == 2:
            n = varint()
            yield f, wt, buf[i:i + n]
            i += n
        elif wt == 5:
            yield f, wt, buf[i:i + 4]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)


def events(path):
    """[(wall_time, step, file_version, [(tag, value)])]"""
    out = []
    for data in records(path):
        wall, step, version, values = None, 0, None, []
        for f, wt, v in fields(data):
            if f == 1 and wt == 1:
                (wall,) = struct.unpack("<d", v)
            elif f == 2 and wt == 0:
                step = v
            elif f == 3 and wt == 2:
                version = v.decode()
            elif f == 5 and wt == 2:
                for g, gw, val in fields(v):
                    assert g == 1 and gw == 2, (g, gw)
                    tag, x = None, None
                    for h, hw, y in fields(val):
                        if h == 1 and hw == 2:
                            tag = y.decode()
                        elif h == 2 and hw == 5:
                            (x,) = struct.unpack("<f", y)
                    values.append((tag, x))
        out.append((wall, step, version, values))
    return out


def expected(metrics):
    """{(step, tag): value} the metrics file holds, by docs/TRAINING.md's tags."""
    want = {}
    for line in open(metrics):
        r = json.loads(line)
        if r["type"] == "train":
            s = r["step"]
            losses = [x for x in r["loss"] if x is not None]
            for name in ("loss", "accuracy"):
                for k, x in enumerate(r[name]):
                    if x is not None:
                        want[(s, "train/%s/member_%d" % (name, k))] = x
            if losses:
                want[(s, "train/loss_mean")] = sum(losses) / len(losses)
            for name in ("lr", "pairs_per_s"):
                if name in r:
                    want[(s, "train/" + name)] = r[name]
        elif r["type"] == "eval":
            s = r["step"]
            for m in r["members"]:
                for key in ("val_loss", "val_accuracy", "val_margin", "oob_loss", "oob_accuracy", "oob_margin"):
                    x = m.get(key)
                    if isinstance(x, (int, float)) and math.isfinite(x):
                        want[(s, "%s/%s/member_%d" % (key[:3], key[4:], m["member"]))] = x
            for key, x in (r.get("ensemble") or {}).items():
                if key.startswith("val_accuracy_") and isinstance(x, (int, float)) and math.isfinite(x):
                    want[(s, "val/ensemble_accuracy_" + key[len("val_accuracy_"):])] = x
    return want


def compare(path, metrics):
    ev = events(path)
    assert ev[0][2] == "brain.Event:2", ev[0]
    got = {}
    walls = []
    for wall, step, _, values in ev[1:]:
        walls.append(wall)
        for tag, x in values:
            assert (step, tag) not in got, ("duplicate", step, tag)
            got[(step, tag)] = x
    want = expected(metrics)
    assert set(got) == set(want), (sorted(set(want) - set(got))[:5], sorted(set(got) - set(want))[:5])
    for key, x in want.items():
        f32 = struct.unpack("<f", struct.pack("<f", x))[0]
        assert got[key] == f32, (key, got[key], x)
    assert all(b >= a for a, b in zip(walls, walls[1:])), "wall times go back"
    print("ok: %d scalars in %s equal the metrics (float32), %d events, CRC-32C checked" % (len(got), path, len(ev)))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        for wall, step, version, values in events(sys.argv[2]):
            for tag, x in values:
                print(step, tag, x)
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        try:
            compare(sys.argv[2], sys.argv[3])
        except (AssertionError, ValueError) as e:
            print("FAIL: %r" % (e,), file=sys.stderr)
            sys.exit(1)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
