#!/usr/bin/python3
"""Rebuilds the HDF5 reproducers in tests/fuzz/regress/ from seeds of tests/fuzz/corpus/
(h5py only), each changing just what regress/README.md says. The fuzz targets found
these bugs in files they built themselves; these are the same faults in files rmens
wrote, made reproducible without the fuzzers.

    /usr/bin/python3 tests/fuzz/make_regress.py [OUT_DIR]   (default: tests/fuzz/regress)
"""
import os
import shutil
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "regress")
CKPT = os.path.join(HERE, "corpus", "fuzz_checkpoint", "train-k1.h5")
PAIRS = os.path.join(HERE, "corpus", "fuzz_dataset", "h5py-format-example.h5")
MODEL = os.path.join(HERE, "corpus", "fuzz_checkpoint", "model-tiny.h5")


def derive(src, target, name, change):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    path = os.path.join(OUT, target, name)
    shutil.copy(src, path)
    with h5py.File(path, "a") as f:
        change(f)
    print(path, os.path.getsize(path))


def set_attr(obj, name, value):
    if name in obj.attrs:
        del obj.attrs[name]
    obj.attrs.create(name, value)


def empty_counts(f):
    f.attrs["n_pairs"] = np.int64(0)
    crc = f["members/000/bootstrap_counts"].attrs.get("crc32")
    del f["members/000/bootstrap_counts"]
    d = f.create_dataset("members/000/bootstrap_counts", shape=(0,), dtype=np.int32)
    if crc is not None:
        d.attrs.create("crc32", np.uint32(0))  # the CRC-32 of no bytes


def offsets_never_written(f):
    del f["chosen/offsets"]
    f.create_dataset("chosen/offsets", shape=(2**30,), dtype=np.int64, chunks=(1024,))


def overflow(f):
    for k, v in {"vocab_size": 1, "n_embd": 2**17, "n_head": 1, "n_ctx": 1, "n_layer": 2**31 - 1}.items():
        f.attrs[k] = np.int64(v)


derive(CKPT, "fuzz_checkpoint", "ckpt-lr-array999.h5", lambda f: set_attr(f, "lr", np.full(999, 1e-3)))
derive(CKPT, "fuzz_checkpoint", "ckpt-member-oob-margin-array2.h5",
       lambda f: set_attr(f["members/000"], "oob_margin", np.array([0.5, 0.5])))
derive(CKPT, "fuzz_checkpoint", "ckpt-members-0.h5", lambda f: set_attr(f, "members", np.int64(0)))
derive(CKPT, "fuzz_checkpoint", "ckpt-members-huge.h5", lambda f: set_attr(f, "members", np.int64(2**31 - 1)))
derive(CKPT, "fuzz_checkpoint", "ckpt-numel-overflow.h5", overflow)
derive(CKPT, "fuzz_checkpoint", "ckpt-npairs-0.h5", empty_counts)
derive(MODEL, "fuzz_checkpoint", "model-config-larger-than-file.h5",
       lambda f: [set_attr(f, k, np.int64(v)) for k, v in (("vocab_size", 2**24), ("n_embd", 256), ("n_head", 1))])
derive(PAIRS, "fuzz_dataset", "pairs-negative-seed.h5", lambda f: set_attr(f, "seed", np.int64(-5)))
derive(PAIRS, "fuzz_dataset", "pairs-offsets-never-written.h5", offsets_never_written)
