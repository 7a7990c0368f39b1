#!/usr/bin/python3
"""Convert a Hugging Face GPT-2 checkpoint to an rmens model file and back.

  hf_to_rmens.py to-rmens HF_DIR OUT.h5 [--tokenizer NAME] [--force]
      HF_DIR holds config.json and pytorch_model.bin (a GPT2Model, GPT2LMHeadModel or
      GPT2ForSequenceClassification state dict; keys with or without "transformer.").
      The attn.bias / attn.masked_bias buffers and lm_head are dropped. Without
      score.weight (a language model) the file has no head, and rmens starts a fresh
      one (N(0, 0.02)) when it loads it.
  hf_to_rmens.py to-hf MODEL.h5 OUT_DIR [--force]
      writes config.json and pytorch_model.bin as GPT2ForSequenceClassification
      (num_labels 1) would save them.

The rmens model file is described in docs/FORMAT.md ("model" files): float32 tensors
under /params/ named by the Hugging Face key, with Hugging Face's shapes (Conv1D
weights [in, out]), so both directions copy tensors without reshaping. Each tensor
carries a crc32 attribute, which to-hf verifies when present. Files are written under a
temporary name and renamed into place when complete.
Needs torch, numpy and h5py. Exit status 0 ok, 1 error, 2 usage.
"""

import argparse
import json
import os
import sys

FORMAT_VERSION = 1
BUFFERS = (".attn.bias", ".attn.masked_bias")


class ConvertError(Exception):
    pass


def block_shapes(i, C):
    p = f"transformer.h.{i}."
    return {p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
            p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
            p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
            p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
            p + "mlp.c_fc.weight": (C, 4 * C), p + "mlp.c_fc.bias": (4 * C,),
            p + "mlp.c_proj.weight": (4 * C, C), p + "mlp.c_proj.bias": (C,)}


def expected_shapes(cfg):
    """HF key -> shape for the body (without score.weight), in state-dict order."""
    V, T, C = cfg["vocab_size"], cfg["n_ctx"], cfg["n_embd"]
    s = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (T, C)}
    for i in range(cfg["n_layer"]):
        s.update(block_shapes(i, C))
    s["transformer.ln_f.weight"] = (C,)
    s["transformer.ln_f.bias"] = (C,)
    return s


def check_cfg(cfg, where):
    for k in ("vocab_size", "n_ctx", "n_layer", "n_head", "n_embd"):
        v = cfg[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConvertError(f"{where}: {k} must be a positive integer, not {v!r}")
    if cfg["n_embd"] % cfg["n_head"]:
        raise ConvertError(f"{where}: n_embd {cfg['n_embd']} is not divisible by n_head {cfg['n_head']}")


def check_tensor(name, arr, shape, where):
    import numpy as np
    if tuple(arr.shape) != tuple(shape):
        raise ConvertError(f"{where}: {name} has shape {list(arr.shape)}, expected {list(shape)}")
    if not np.all(np.isfinite(arr)):
        raise ConvertError(f"{where}: {name} has a NaN or Inf value")


def crc32_of(arr):
    """The crc32 attribute of a tensor (docs/FORMAT.md): zlib's CRC-32 of its values as
    little-endian float32 in C order."""
    import zlib
    import numpy as np
    return zlib.crc32(np.ascontiguousarray(arr, dtype="<f4").tobytes())


def atomic_replace(tmp, final):
    os.replace(tmp, final)


# ------------------------------------------------------------------ HF -> rmens

def read_hf_config(hf_dir):
    path = os.path.join(hf_dir, "config.json")
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    try:
        with open(path) as fh:
            c = json.load(fh)
    except (OSError, ValueError) as e:
        raise ConvertError(f"{path}: {e}")
    if not isinstance(c, dict):
        raise ConvertError(f"{path}: not a JSON object")
    if c.get("model_type", "gpt2") != "gpt2":
        raise ConvertError(f"{path}: model_type is {c.get('model_type')!r}, not 'gpt2'")
    cfg = {}
    for k in ("vocab_size", "n_layer", "n_head", "n_embd"):
        if k not in c:
            raise ConvertError(f"{path}: no {k}")
        cfg[k] = c[k]
    if "n_positions" in c:
        cfg["n_ctx"] = c["n_positions"]
    elif "n_ctx" in c:
        cfg["n_ctx"] = c["n_ctx"]
    else:
        raise ConvertError(f"{path}: no n_positions (or n_ctx)")
    check_cfg(cfg, path)
    act = c.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh"):
        print(f"hf_to_rmens.py: warning: {path}: activation_function {act!r}; rmens uses "
              "GELU with the tanh approximation (gelu_new)", file=sys.stderr)
    eps = c.get("layer_norm_epsilon", 1e-5)
    if abs(float(eps) - 1e-5) > 1e-12:
        print(f"hf_to_rmens.py: warning: {path}: layer_norm_epsilon {eps}; rmens uses 1e-5",
              file=sys.stderr)
    if c.get("n_inner") not in (None, 4 * cfg["n_embd"]):
        raise ConvertError(f"{path}: n_inner {c['n_inner']}; rmens needs 4*n_embd = {4 * cfg['n_embd']}")
    return cfg


def read_hf_state(hf_dir):
    import torch
    path = os.path.join(hf_dir, "pytorch_model.bin")
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    try:
        sd = torch.load(path, map_location="cpu")
    except Exception as e:   # torch raises several kinds for a damaged file
        raise ConvertError(f"{path}: cannot load: {e}")
    if not isinstance(sd, dict):
        raise ConvertError(f"{path}: not a state dict")
    return path, sd


def hf_to_params(cfg, sd, where):
    """{rmens name: float32 ndarray} from an HF state dict; checks names and shapes."""
    import torch
    want = expected_shapes(cfg)
    out = {}
    for key, t in sd.items():
        if not isinstance(key, str):
            raise ConvertError(f"{where}: key {key!r} is not a string")
        if key.endswith(BUFFERS) or key == "lm_head.weight" or key.startswith("lm_head."):
            continue
        name = key if key == "score.weight" or key.startswith("transformer.") else "transformer." + key
        if name not in want and name != "score.weight":
            raise ConvertError(f"{where}: unexpected tensor {key} (not part of a GPT-2 with "
                               f"n_layer {cfg['n_layer']})")
        if name in out:
            raise ConvertError(f"{where}: {name} appears twice (with and without 'transformer.')")
        if not torch.is_tensor(t):
            raise ConvertError(f"{where}: {key} is not a tensor")
        if not t.is_floating_point():
            raise ConvertError(f"{where}: {key} is not a floating-point tensor ({t.dtype})")
        arr = t.detach().to(torch.float32).contiguous().numpy().copy()
        shape = (1, cfg["n_embd"]) if name == "score.weight" else want[name]
        check_tensor(key, arr, shape, where)
        out[name] = arr
    for name in want:
        if name not in out:
            raise ConvertError(f"{where}: missing tensor {name} (or {name[len('transformer.'):]})")
    ordered = {k: out[k] for k in want}
    if "score.weight" in out:
        ordered["score.weight"] = out["score.weight"]
    return ordered


def write_rmens(path, cfg, params, source=None, tokenizer=None):
    import h5py
    import numpy as np
    tmp = path + ".tmp"
    try:
        with h5py.File(tmp, "w", libver=("v108", "v108")) as f:
            f.attrs["rmens_format"] = "model"
            f.attrs["rmens_version"] = np.int32(FORMAT_VERSION)
            for k in ("vocab_size", "n_ctx", "n_layer", "n_head", "n_embd"):
                f.attrs[k] = np.int64(cfg[k])
            f.attrs["architecture"] = "GPT2ForSequenceClassification"
            if tokenizer:
                f.attrs["tokenizer"] = tokenizer
            f.attrs["created_by"] = "hf_to_rmens.py"
            if source:
                f.attrs["source"] = source
            g = f.create_group("params")
            for name, arr in params.items():
                a = np.ascontiguousarray(arr, dtype="<f4")
                d = g.create_dataset(name, data=a, fletcher32=True)
                d.attrs["crc32"] = np.uint32(crc32_of(a))
        atomic_replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def to_rmens(hf_dir, out, tokenizer=None, force=False):
    if not os.path.isdir(hf_dir):
        raise ConvertError(f"{hf_dir}: not a directory")
    if os.path.exists(out) and not force:
        raise ConvertError(f"{out} exists (use --force to replace it)")
    cfg = read_hf_config(hf_dir)
    where, sd = read_hf_state(hf_dir)
    params = hf_to_params(cfg, sd, where)
    write_rmens(out, cfg, params, source=os.path.abspath(hf_dir), tokenizer=tokenizer)
    head = "with score.weight" if "score.weight" in params else \
        "without score.weight (a language model: rmens starts a fresh head)"
    print(f"{hf_dir} -> {out}: {cfg['n_layer']} layers, n_embd {cfg['n_embd']}, "
          f"{cfg['n_head']} heads, n_ctx {cfg['n_ctx']}, vocab {cfg['vocab_size']}, "
          f"{len(params)} tensors, {head}")


# ------------------------------------------------------------------ rmens -> HF

def _attr(f, name, path):
    if name not in f.attrs:
        raise ConvertError(f"{path}: no root attribute {name}")
    v = f.attrs[name]
    if isinstance(v, bytes):
        v = v.decode()
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode()
    return v


def read_rmens(path):
    import h5py
    import numpy as np
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ConvertError(f"{path}: not an HDF5 file ({e})")
    with f:
        fmt = _attr(f, "rmens_format", path)
        if fmt != "model":
            raise ConvertError(f"{path}: rmens_format is {fmt!r}, not 'model'")
        ver = _attr(f, "rmens_version", path)
        if not isinstance(ver, int) or ver < 1 or ver > FORMAT_VERSION:
            raise ConvertError(f"{path}: rmens_version {ver!r} (this converter reads up to {FORMAT_VERSION})")
        cfg = {}
        for k in ("vocab_size", "n_ctx", "n_layer", "n_head", "n_embd"):
            v = _attr(f, k, path)
            if isinstance(v, float) or not isinstance(v, int):
                raise ConvertError(f"{path}: attribute {k} is not an integer ({v!r})")
            cfg[k] = v
        check_cfg(cfg, path)
        if "params" not in f or not isinstance(f["params"], h5py.Group):
            raise ConvertError(f"{path}: no /params group")
        g = f["params"]
        want = expected_shapes(cfg)
        for name in g:
            if name not in want and name != "score.weight":
                raise ConvertError(f"{path}: unexpected tensor /params/{name}")
        params = {}
        for name in list(want) + ["score.weight"]:
            if name not in g:
                if name == "score.weight":
                    continue
                raise ConvertError(f"{path}: missing tensor /params/{name}")
            d = g[name]
            if not isinstance(d, h5py.Dataset) or d.dtype.kind != "f" or d.dtype.itemsize > 4:
                raise ConvertError(f"{path}: /params/{name} is not stored as float (of at most 32 bits)")
            arr = np.asarray(d[...], dtype=np.float32)
            if "crc32" in d.attrs:  # written by rmens (or copied from an ensemble member)
                stored, got = int(d.attrs["crc32"]), crc32_of(arr)
                if stored != got:
                    raise ConvertError(f"{path}: /params/{name}: checksum mismatch (stored 0x{stored:08x}, "
                                       f"computed 0x{got:08x}): the file is corrupted")
            shape = (1, cfg["n_embd"]) if name == "score.weight" else want[name]
            check_tensor("/params/" + name, arr, shape, path)
            params[name] = arr
    return cfg, params


def hf_config(cfg):
    return {
        "architectures": ["GPT2ForSequenceClassification"],
        "model_type": "gpt2",
        "num_labels": 1,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "n_inner": None,
        "n_embd": cfg["n_embd"],
        "n_head": cfg["n_head"],
        "n_layer": cfg["n_layer"],
        "n_positions": cfg["n_ctx"],
        "n_ctx": cfg["n_ctx"],
        "vocab_size": cfg["vocab_size"],
        "scale_attn_weights": True,
        "torch_dtype": "float32",
    }


def to_hf(model, out_dir, force=False):
    cfg, params = read_rmens(model)
    import torch
    os.makedirs(out_dir, exist_ok=True)
    cpath, wpath = os.path.join(out_dir, "config.json"), os.path.join(out_dir, "pytorch_model.bin")
    for p in (cpath, wpath):
        if os.path.exists(p) and not force:
            raise ConvertError(f"{p} exists (use --force to replace it)")
    if "score.weight" not in params:
        print(f"hf_to_rmens.py: warning: {model} has no score.weight (a language model); "
              "pytorch_model.bin has no head either", file=sys.stderr)
    sd = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    tmps = []
    try:
        tmps.append(wpath + ".tmp")
        torch.save(sd, tmps[-1])
        tmps.append(cpath + ".tmp")
        with open(tmps[-1], "w") as fh:
            json.dump(hf_config(cfg), fh, indent=2)
            fh.write("\n")
        atomic_replace(wpath + ".tmp", wpath)
        atomic_replace(cpath + ".tmp", cpath)
    except BaseException:
        for t in tmps:
            if os.path.exists(t):
                os.unlink(t)
        raise
    print(f"{model} -> {out_dir}: {len(sd)} tensors, config.json and pytorch_model.bin")


def main(argv):
    ap = argparse.ArgumentParser(prog="hf_to_rmens.py",
                                 description="Convert Hugging Face GPT-2 checkpoints to rmens model files and back.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-rmens", help="HF directory -> rmens model file")
    a.add_argument("hf_dir")
    a.add_argument("out")
    a.add_argument("--tokenizer", help="value of the tokenizer attribute (e.g. bytes)")
    a.add_argument("--force", action="store_true", help="replace an existing output")
    b = sub.add_parser("to-hf", help="rmens model file -> HF directory")
    b.add_argument("model")
    b.add_argument("out_dir")
    b.add_argument("--force", action="store_true", help="replace existing output files")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "to-rmens":
            to_rmens(args.hf_dir, args.out, args.tokenizer, args.force)
        else:
            to_hf(args.model, args.out_dir, args.force)
    except ConvertError as e:
        print(f"hf_to_rmens.py: error: {e}", file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"hf_to_rmens.py: error: {e} (needs torch, numpy and h5py)", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"hf_to_rmens.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
