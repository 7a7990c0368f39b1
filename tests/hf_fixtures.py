#!/usr/bin/python3
"""Hugging Face checkpoint fixtures, written and checked apart from rmens' C code.

The safetensors format is written here by hand from its specification (the `safetensors`
package is not in Debian): an 8-byte little-endian header length, the JSON header
(name -> {dtype, shape, data_offsets}, "__metadata__"), padded with spaces to a multiple of
8 bytes as the reference writer does, then the data. Sharded checkpoints follow
transformers' save_pretrained: model-0000K-of-0000N.safetensors and
model.safetensors.index.json ({"metadata": {"total_size"}, "weight_map"}).

  hf_fixtures.py write OUT [--full-vocab]   fixtures (GPT-2, SmolLM2, Qwen2.5, Qwen3,
                                            Pythia shapes, 2 layers), special.safetensors,
                                            configs alone; OUT/bad: broken inputs and
                                            OUT/bad/cases.tsv (what each must make rmens say)
  hf_fixtures.py check MANIFEST             runs the checks MANIFEST lists, one a line:
    dump DIR LIST DUMP        hf_tool dump's listing and values against what was written
    config DIR OUT            hf_tool config's fields against config.json
    written FILE DIR DTYPE    the file rmens wrote, parsed here with numpy, against DIR's
                              values (BF16: torch's round-to-nearest-even of them)
    rmconfig SRC OUT PAD DTYPE  the reward model's config.json rmens wrote from SRC's
  hf_fixtures.py tiny OUT [--arch qwen3|qwen2|llama] [--vocab V] [--ctx T] [--hidden C]
      [--layers L] [--heads H] [--kv KV] [--head-dim D] [--inter I] [--dtype F32|BF16|F16]
      [--shards N] [--seed S] [--seq-cls [--labels N]] [--lm-head] [--attention-bias] [--drop NAME]
      [--reshape NAME] [--int64 NAME] [--nan NAME]
                                            a small random checkpoint of that architecture in
                                            Hugging Face layout (ForCausalLM, or
                                            ForSequenceClassification with score.weight
                                            [labels, hidden]); --attention-bias: q/k/v/o
                                            biases (llama, qwen3); --drop, --reshape, --int64
                                            (stored as I64) and --nan break one tensor
                                            (refusal tests)
  hf_fixtures.py neox OUT [--vocab V] [--ctx T] [--hidden C] [--layers L] [--heads H] [--inter I]
      [--rotary-pct P] [--base B] [--dtype F32|BF16|F16] [--shards N] [--seed S] [--seq-cls]
      [--lm-head] [--sequential] [--no-bias] [--new-names]
                                            a random GPT-NeoX checkpoint (Pythia-160m's sizes
                                            by default, max_position_embeddings 64)
Values are regenerated from each fixture's seed, so nothing large is kept twice. The
vocabularies of GPT-2, Qwen and Pythia shapes are cut (to about 1000 rows: their token
ids with them) unless --full-vocab; SmolLM2's is whole (49152)."""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DT = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
      "BOOL": (torch.bool, 1), "I64": (torch.int64, 8)}


def st_bytes(tensors, metadata=None):
    """The bytes of a safetensors file holding tensors [(name, torch tensor, dtype)]."""
    header, chunks, at = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, t, dtype in tensors:
        raw = raw_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
        chunks.append(raw)
        at += len(raw)
    return pack(header, b"".join(chunks))


def pack(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def raw_bytes(t, dtype):
    t = t.to(DT[dtype][0]).contiguous()
    if dtype in ("F16", "BF16"):
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().tobytes()


def as_stored(t, dtype):
    """The float32 values a reader must give for t stored as dtype."""
    return t.to(DT[dtype][0]).to(torch.float32)


# ------------------------------------------------------------------ the fixtures

def gpt2(v):
    cfg = {"activation_function": "gelu_new", "architectures": ["GPT2ForSequenceClassification"],
           "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
           "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}, "initializer_range": 0.02,
           "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
           "n_inner": None, "n_layer": 2, "n_positions": 1024, "pad_token_id": 50256, "reorder_and_upcast_attn": False,
           "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
           "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
           "summary_type": "cls_index", "summary_use_proj": True, "torch_dtype": "float32",
           "transformers_version": "4.46.3", "use_cache": True, "vocab_size": v or 50257}
    h, V = 768, cfg["vocab_size"]
    shapes = [("transformer.wte.weight", [V, h]), ("transformer.wpe.weight", [1024, h])]
    for i in range(2):
        p = f"transformer.h.{i}."
        shapes += [(p + "ln_1.weight", [h]), (p + "ln_1.bias", [h]),
                   (p + "attn.c_attn.weight", [h, 3 * h]), (p + "attn.c_attn.bias", [3 * h]),
                   (p + "attn.c_proj.weight", [h, h]), (p + "attn.c_proj.bias", [h]),
                   (p + "ln_2.weight", [h]), (p + "ln_2.bias", [h]),
                   (p + "mlp.c_fc.weight", [h, 4 * h]), (p + "mlp.c_fc.bias", [4 * h]),
                   (p + "mlp.c_proj.weight", [4 * h, h]), (p + "mlp.c_proj.bias", [h])]
    shapes += [("transformer.ln_f.weight", [h]), ("transformer.ln_f.bias", [h]), ("score.weight", [1, h])]
    return cfg, shapes


def gpt2_hub(v):
    """GPT-2 as the Hub stores it: GPT2LMHeadModel saved from the bare GPT2Model (no
    "transformer." prefix, no head: lm_head is tied to wte)."""
    cfg, shapes = gpt2(v)
    for k in ("id2label", "label2id", "pad_token_id"):
        cfg.pop(k)
    cfg["architectures"] = ["GPT2LMHeadModel"]
    return cfg, [(n[len("transformer."):], s) for n, s in shapes if n.startswith("transformer.")]


def llama_layers(h, inter, q, kv, prefix="model.", bias=False, qk_norm=False, hd=None):
    shapes = []
    for i in range(2):
        p = f"{prefix}layers.{i}."
        shapes += [(p + "input_layernorm.weight", [h]),
                   (p + "self_attn.q_proj.weight", [q * hd, h]), (p + "self_attn.k_proj.weight", [kv * hd, h]),
                   (p + "self_attn.v_proj.weight", [kv * hd, h]), (p + "self_attn.o_proj.weight", [h, q * hd])]
        if bias:
            shapes += [(p + "self_attn.q_proj.bias", [q * hd]), (p + "self_attn.k_proj.bias", [kv * hd]),
                       (p + "self_attn.v_proj.bias", [kv * hd])]
        if qk_norm:
            shapes += [(p + "self_attn.q_norm.weight", [hd]), (p + "self_attn.k_norm.weight", [hd])]
        shapes += [(p + "post_attention_layernorm.weight", [h]), (p + "mlp.gate_proj.weight", [inter, h]),
                   (p + "mlp.up_proj.weight", [inter, h]), (p + "mlp.down_proj.weight", [h, inter])]
    return shapes


def smollm2(v):
    cfg = {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "silu", "hidden_size": 576,
           "initializer_range": 0.041666666666666664, "intermediate_size": 1536, "is_llama_config": True,
           "max_position_embeddings": 8192, "model_type": "llama", "num_attention_heads": 9,
           "num_hidden_layers": 2, "num_key_value_heads": 3, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
           "rope_interleaved": False, "rope_scaling": None, "rope_theta": 100000, "tie_word_embeddings": True,
           "torch_dtype": "bfloat16", "transformers_version": "4.42.3", "use_cache": True, "vocab_size": 49152}
    shapes = [("model.embed_tokens.weight", [49152, 576])] + llama_layers(576, 1536, 9, 3, hd=64)
    return cfg, shapes + [("model.norm.weight", [576])]


def qwen25(v):
    cfg = {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
           "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
           "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 24,
           "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 2, "num_key_value_heads": 2,
           "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": True,
           "torch_dtype": "bfloat16", "transformers_version": "4.40.1", "use_cache": True, "use_mrope": False,
           "use_sliding_window": False, "vocab_size": v or 151936}
    shapes = [("model.embed_tokens.weight", [cfg["vocab_size"], 896])]
    shapes += llama_layers(896, 4864, 14, 2, bias=True, hd=64)
    return cfg, shapes + [("model.norm.weight", [896])]


def qwen3(v):
    cfg = {"architectures": ["Qwen3ForSequenceClassification"], "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
           "hidden_size": 1024, "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
           "initializer_range": 0.02, "intermediate_size": 3072, "max_position_embeddings": 40960,
           "max_window_layers": 28, "model_type": "qwen3", "num_attention_heads": 16, "num_hidden_layers": 2,
           "num_key_value_heads": 8, "pad_token_id": 151643, "rms_norm_eps": 1e-06, "rope_scaling": None,
           "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
           "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False,
           "vocab_size": v or 151936}
    shapes = [("model.embed_tokens.weight", [cfg["vocab_size"], 1024])]
    shapes += llama_layers(1024, 3072, 16, 8, qk_norm=True, hd=128)
    return cfg, shapes + [("model.norm.weight", [1024]), ("score.weight", [1, 1024])]


def pythia(v):
    cfg = {"architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu",
           "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
           "max_position_embeddings": 2048, "model_type": "gpt_neox", "num_attention_heads": 12,
           "num_hidden_layers": 2, "rotary_emb_base": 10000, "rotary_pct": 0.25, "tie_word_embeddings": False,
           "torch_dtype": "float16", "transformers_version": "4.24.0", "use_cache": True,
           "use_parallel_residual": True, "vocab_size": v or 50304}
    h, V = 768, cfg["vocab_size"]
    shapes = [("gpt_neox.embed_in.weight", [V, h])]
    for i in range(2):
        p = f"gpt_neox.layers.{i}."
        shapes += [(p + "input_layernorm.weight", [h]), (p + "input_layernorm.bias", [h]),
                   (p + "post_attention_layernorm.weight", [h]), (p + "post_attention_layernorm.bias", [h]),
                   (p + "attention.bias", [1, 1, 2048, 2048], "BOOL"), (p + "attention.masked_bias", [], "F32"),
                   (p + "attention.rotary_emb.inv_freq", [8], "F32"),
                   (p + "attention.query_key_value.weight", [3 * h, h]), (p + "attention.query_key_value.bias", [3 * h]),
                   (p + "attention.dense.weight", [h, h]), (p + "attention.dense.bias", [h]),
                   (p + "mlp.dense_h_to_4h.weight", [4 * h, h]), (p + "mlp.dense_h_to_4h.bias", [4 * h]),
                   (p + "mlp.dense_4h_to_h.weight", [h, 4 * h]), (p + "mlp.dense_4h_to_h.bias", [h])]
    shapes += [("gpt_neox.final_layer_norm.weight", [h]), ("gpt_neox.final_layer_norm.bias", [h]),
               ("embed_out.weight", [V, h])]
    return cfg, shapes


# name: (builder, dtype, shards, seed, vocab when cut)
FIXTURES = {
    "gpt2": (gpt2, "F32", 1, 11, 1000),
    "gpt2_hub": (gpt2_hub, "F32", 1, 11, 1000),
    "smollm2": (smollm2, "BF16", 2, 12, None),
    "qwen25": (qwen25, "F16", 3, 13, 1200),
    "qwen3": (qwen3, "BF16", 1, 14, 1100),
    "pythia": (pythia, "F16", 2, 15, 900),
}


def config_of(name, full):
    """The fixture's config and tensor shapes; a cut vocabulary takes its token ids with it."""
    build, _, _, _, cut = FIXTURES[name]
    cfg, shapes = build(None if full else cut)
    for k in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if isinstance(cfg.get(k), int) and cfg[k] >= cfg["vocab_size"]:
            cfg[k] = cfg["vocab_size"] - 1 - ("bos eos pad".split().index(k[:3]))
    return cfg, shapes


def tensors_of(name, full):
    """[(tensor name, torch tensor, dtype)] in state-dict order, from the fixture's seed."""
    build, dtype, shards, seed, cut = FIXTURES[name]
    cfg, shapes = config_of(name, full)
    g = torch.Generator().manual_seed(seed)
    out = []
    for s in shapes:
        n, shape, dt = s[0], s[1], (s[2] if len(s) > 2 else dtype)
        if dt == "BOOL":
            t = torch.ones(shape, dtype=torch.bool).tril_(0) if len(shape) == 4 else torch.ones(shape, dtype=torch.bool)
        elif n.endswith("inv_freq"):
            t = 1.0 / (10000 ** (torch.arange(0, 16, 2, dtype=torch.float32) / 16))
        elif n.endswith("masked_bias"):
            t = torch.tensor(-1e9)
        else:
            t = torch.randn(shape, generator=g) * (0.02 if len(shape) > 1 else 1.0) + (1.0 if len(shape) == 1 else 0.0)
        out.append((n, t, dt))
    # values a half-precision converter gets wrong: zeros, infinities, NaN, subnormals, the limits
    if dtype in ("F16", "BF16"):
        for i, (n, t, dt) in enumerate(out):
            if t.dim() == 1 and t.numel() >= 16:
                special = torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan, 6e-8, -6e-8, 1e-40, 65504.0,
                                        -65504.0, 3e38, 1.0, -2.5, 1e-5, 5.96e-8, 6.1e-5])
                t[:16] = special
                break
    return cfg, out


def write_fixture(out, name, full):
    cfg, ts = tensors_of(name, full)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    shards = FIXTURES[name][2]
    meta = {"format": "pt"}
    if shards == 1:
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(st_bytes(ts, meta))
        return
    per = -(-len(ts) // shards)
    weight_map, total = {}, 0
    for k in range(shards):
        part = ts[k * per:(k + 1) * per]
        fn = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        with open(os.path.join(d, fn), "wb") as f:
            f.write(st_bytes(part, meta))
        for n, t, dt in part:
            weight_map[n] = fn
            total += len(raw_bytes(t, dt))
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)


def special_tensors():
    """Every 16-bit pattern as F16 and as BF16, and float32 values whose BF16 rounding is
    delicate (ties, carries into the exponent, overflow to infinity, NaN, subnormals)."""
    allbits = torch.arange(65536, dtype=torch.int32).to(torch.int16).reshape(256, 256)
    g = torch.Generator().manual_seed(5)
    edge = [0.0, -0.0, 1.0, 1.00390625, 1.01171875, 1.0078125, 3.3895314e38, 3.4028235e38, -3.4e38, math.inf,
            -math.inf, math.nan, 1e-45, 1e-39, -1e-39, 9.18e-41, 1.1754942e-38]
    bits = torch.randint(-2**31, 2**31 - 1, (4096,), generator=g, dtype=torch.int64).to(torch.int32)
    f32 = torch.cat([torch.tensor(edge, dtype=torch.float32), bits.view(torch.float32),
                     torch.randn(4096, generator=g)])
    return [("f16_all", allbits.view(torch.float16), "F16"), ("bf16_all", allbits.view(torch.bfloat16), "BF16"),
            ("f32_edge", f32, "F32"), ("empty", torch.zeros(0, 3), "F32"), ("scalar", torch.tensor(2.5), "F32")]


# ------------------------------------------------------------------ broken inputs

def bad_cases(out):
    """Each case: a directory or file under out, what hf_tool does with it, and strings its
    message must hold (the file and the tensor or field)."""
    cases = []
    good = [("a", torch.arange(6, dtype=torch.float32).reshape(2, 3), "F32"), ("b", torch.ones(4), "F32")]

    def case(name, data, cmd="list", must=(), fname="model.safetensors", extra=None):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        if data is not None:
            with open(os.path.join(d, fname), "wb") as f:
                f.write(data)
        for fn, content in (extra or {}).items():
            with open(os.path.join(d, fn), "wb" if isinstance(content, bytes) else "w") as f:
                f.write(content)
        cases.append((name, cmd, d, list(must)))

    valid = st_bytes(good, {"format": "pt"})
    hdr = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
           "b": {"dtype": "F32", "shape": [4], "data_offsets": [24, 40]}}
    data = bytes(40)

    def with_hdr(change):
        h = json.loads(json.dumps(hdr))
        change(h)
        return pack(h, data)

    case("truncated", valid[:-5], must=["model.safetensors", "truncated", "tensor b"])
    case("short", valid[:5], must=["model.safetensors", "shorter than the 8-byte"])
    case("header_cut", valid[:30], must=["model.safetensors", "runs past the end"])
    case("header_over_limit", struct.pack("<Q", 100000001) + b"{}" + bytes(64), must=["model.safetensors", "over the limit"])
    case("trailing", valid + b"\0\0\0\0", must=["model.safetensors", "4 bytes after the last tensor"])
    case("overlap", with_hdr(lambda h: h["b"].update(data_offsets=[20, 36])) + bytes(0),
         must=["model.safetensors", "tensors a and b overlap"])
    case("gap", with_hdr(lambda h: h["b"].update(data_offsets=[28, 44])),
         must=["model.safetensors", "before tensor b"])
    case("past_end", pack({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                           "b": {"dtype": "F32", "shape": [4], "data_offsets": [24, 40]}}, bytes(30)),
         must=["model.safetensors", "tensor b ends at byte 40", "truncated"])
    case("size_mismatch", with_hdr(lambda h: h["b"].update(shape=[5])),
         must=["model.safetensors", "tensor b", "needs 20 bytes"])
    case("unknown_dtype", with_hdr(lambda h: h["b"].update(dtype="F33")),
         must=["model.safetensors", "tensor b", "unknown dtype \"F33\""])
    case("offsets_type", with_hdr(lambda h: h["a"].update(data_offsets=["0", 24])),
         must=["model.safetensors", "tensor a", "data_offsets"])
    case("shape_negative", with_hdr(lambda h: h["a"].update(shape=[-2, 3])),
         must=["model.safetensors", "tensor a", "shape[0]"])
    case("dtype_missing", with_hdr(lambda h: h["a"].pop("dtype")), must=["model.safetensors", "tensor a", "dtype is missing"])
    case("metadata_type", with_hdr(lambda h: h.update(__metadata__={"format": 1})),
         must=["model.safetensors", "__metadata__.format"])
    case("not_json", struct.pack("<Q", 8) + b"{\"a\":[1" + b" " + bytes(0), must=["model.safetensors", "not valid JSON"])
    case("no_checkpoint", None, must=["neither model.safetensors"])
    # reads: an unreadable dtype, a wrong shape, a name that is not there
    i64 = st_bytes([("ids", torch.arange(4), "I64"), ("w", torch.ones(2, 2), "F32")], {"format": "pt"})
    case("read_i64", i64, cmd="read ids 4", must=["model.safetensors", "tensor ids", "I64"])
    case("read_shape", i64, cmd="read w 2 3", must=["model.safetensors", "tensor w", "[2, 2]", "[2, 3]"])
    case("read_missing", i64, cmd="read nope 1", must=["no tensor nope"])
    # shards that disagree with their index
    s1 = st_bytes([("a", torch.ones(2), "F32")], {"format": "pt"})
    s2 = st_bytes([("b", torch.ones(3), "F32")], {"format": "pt"})
    n1, n2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"

    def index(wm):
        return json.dumps({"metadata": {"total_size": 20}, "weight_map": wm})

    ix = "model.safetensors.index.json"
    case("shard_missing", None, extra={ix: index({"a": n1, "b": n2}), n1: s1},
         must=[ix, n2, "missing", "tensor b"])
    case("shard_lacks_tensor", None, extra={ix: index({"a": n1, "b": n1}), n1: s1, n2: s2},
         must=[ix, "tensor b", n1, "does not hold it"])
    case("tensor_in_two_shards", None,
         extra={ix: index({"a": n1, "b": n2}), n1: st_bytes([("a", torch.ones(2), "F32"), ("b", torch.ones(3), "F32")]),
                n2: s2}, must=[ix, "tensor b is in two shards", n1, n2])
    case("tensor_not_indexed", None,
         extra={ix: index({"a": n1}), n1: st_bytes([("a", torch.ones(2), "F32"), ("c", torch.ones(1), "F32")])},
         must=[ix, "tensor c", "does not list"])
    case("shard_escape", None, extra={ix: index({"a": "../x.safetensors"})}, must=[ix, "weight_map.a"])
    case("index_no_map", None, extra={ix: json.dumps({"metadata": {}})}, must=[ix, "weight_map is missing"])
    case("shard_corrupt", None, extra={ix: index({"a": n1, "b": n2}), n1: s1, n2: s2[:-2]},
         must=[n2, "tensor b", "truncated"])
    # config.json: missing, mistyped, unsupported
    base = smollm2(None)[0]

    def cfg_case(name, change, must):
        c = json.loads(json.dumps(base))
        change(c)
        case(name, None, cmd="config", extra={"config.json": json.dumps(c, indent=2)}, must=["config.json"] + must)

    cfg_case("cfg_missing_hidden", lambda c: c.pop("hidden_size"), ["hidden_size is missing"])
    cfg_case("cfg_string_heads", lambda c: c.update(num_attention_heads="9"), ["num_attention_heads", "not an integer"])
    cfg_case("cfg_float_layers", lambda c: c.update(num_hidden_layers=2.0), ["num_hidden_layers", "not an integer"])
    cfg_case("cfg_bool_tie", lambda c: c.update(tie_word_embeddings="yes"), ["tie_word_embeddings", "not true or false"])
    cfg_case("cfg_eps_string", lambda c: c.update(rms_norm_eps="1e-5"), ["rms_norm_eps", "not a number"])
    cfg_case("cfg_null_vocab", lambda c: c.update(vocab_size=None), ["vocab_size is missing"])
    cfg_case("cfg_kv_divides", lambda c: c.update(num_key_value_heads=2), ["num_key_value_heads = 2"])
    cfg_case("cfg_yarn", lambda c: c.update(rope_scaling={"rope_type": "yarn", "factor": 4.0}),
             ["rope_scaling.rope_type", "yarn"])
    cfg_case("cfg_linear_type", lambda c: c.update(rope_scaling={"type": "linear", "factor": 2.0}),
             ["rope_scaling.rope_type", "linear"])
    cfg_case("cfg_llama3_missing", lambda c: c.update(rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                                    "low_freq_factor": 1.0, "high_freq_factor": 4.0}),
             ["rope_scaling.original_max_position_embeddings is missing"])
    cfg_case("cfg_mistral", lambda c: c.update(model_type="mistral"), ["model_type \"mistral\""])
    cfg_case("cfg_moe", lambda c: c.update(model_type="qwen2_moe"), ["qwen2_moe", "mixtures of experts"])
    cfg_case("cfg_experts", lambda c: c.update(num_local_experts=8), ["num_local_experts = 8", "mixtures of experts"])
    cfg_case("cfg_sliding", lambda c: c.update(use_sliding_window=True), ["use_sliding_window", "sliding-window"])
    cfg_case("cfg_act", lambda c: c.update(hidden_act="relu2"), ["hidden_act \"relu2\""])
    cfg_case("cfg_arch", lambda c: c.update(architectures=["MistralForCausalLM"]), ["architectures[0]", "Mistral"])
    cfg_case("cfg_arch_type", lambda c: c.update(architectures="LlamaForCausalLM"), ["architectures"])
    cfg_case("cfg_eos_list", lambda c: c.update(eos_token_id=[1, "2"]), ["eos_token_id[1]"])
    cfg_case("cfg_qwen_kv", lambda c: (c.update(model_type="qwen2", architectures=["Qwen2ForCausalLM"]),
                                       c.pop("num_key_value_heads")), ["num_key_value_heads is missing"])
    cfg_case("cfg_qwen3_head_dim", lambda c: c.update(model_type="qwen3", architectures=["Qwen3ForCausalLM"]),
             ["head_dim is missing"])
    case("cfg_not_json", None, cmd="config", extra={"config.json": "{\"model_type\": \"llama\",}"},
         must=["config.json", "not valid JSON"])
    case("cfg_absent", None, cmd="config", must=["config.json"])
    with open(os.path.join(out, "cases.tsv"), "w") as f:
        for name, cmd, d, must in cases:
            f.write("\t".join([name, cmd, d] + must) + "\n")


# ------------------------------------------------------------------ checks

def parse_st(path):
    """A safetensors file parsed here, independently of rmens: {name: (dtype, shape, bytes)}, metadata."""
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", None)
    data = b[8 + n:]
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in h.items())
    at = 0
    for s, e, k in spans:
        assert s == at, f"{path}: {k} does not start where the previous tensor ends"
        at = e
    assert at == len(data), f"{path}: the data section is not covered exactly"
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items()}, meta


def to_f32(dtype, raw, shape):
    if dtype == "F32":
        return np.frombuffer(raw, "<f4").reshape(shape)
    if dtype == "F16":
        return np.frombuffer(raw, "<f2").astype(np.float32).reshape(shape)
    if dtype == "BF16":
        return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    raise ValueError(dtype)


def same_bits(a, b, what):
    """Bit for bit, except that any NaN matches any NaN."""
    a, b = np.ascontiguousarray(a, np.float32).ravel(), np.ascontiguousarray(b, np.float32).ravel()
    if a.shape != b.shape:
        sys.exit(f"FAIL: {what}: {a.size} values, expected {b.size}")
    nan = np.isnan(a) & np.isnan(b)
    bad = (a.view(np.uint32) != b.view(np.uint32)) & ~nan
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        sys.exit(f"FAIL: {what}: {int(bad.sum())} values differ, first at {i}: {a[i]!r} (0x{a.view(np.uint32)[i]:08x})"
                 f" expected {b[i]!r} (0x{b.view(np.uint32)[i]:08x})")
    return a.size


def expected_of(d):
    """{name: (dtype, shape, float32 values, file)} that fixture directory d holds."""
    name = os.path.basename(os.path.normpath(d))
    if name == "special.safetensors":
        return {n: (dt, list(t.shape), as_stored(t, dt) if dt in ("F32", "F16", "BF16") else None, name)
                for n, t, dt in special_tensors()}
    full = json.load(open(os.path.join(d, "config.json")))["vocab_size"] != FIXTURES[name][4]
    _, ts = tensors_of(name, full)
    shards = FIXTURES[name][2]
    per = -(-len(ts) // shards)
    out = {}
    for i, (n, t, dt) in enumerate(ts):
        fn = "model.safetensors" if shards == 1 else f"model-{i // per + 1:05d}-of-{shards:05d}.safetensors"
        out[n] = (dt, list(t.shape), as_stored(t, dt) if dt in ("F32", "F16", "BF16") else None, fn)
    return out


def check_dump(d, listing, dump):
    want = expected_of(d)
    lines = open(listing).read().splitlines()
    meta = [ln for ln in lines if ln.startswith("#metadata")]
    lines = [ln for ln in lines if not ln.startswith("#")]
    if meta != ["#metadata format=pt"]:
        sys.exit(f"FAIL: {d}: metadata line {meta}")
    names = [ln.split("\t")[0] for ln in lines]
    if names != sorted(want):
        sys.exit(f"FAIL: {d}: tensors listed {len(names)}, expected {len(want)} (sorted by name)")
    vals = np.fromfile(dump, np.float32)
    at, count = 0, 0
    for ln in lines:
        n, dt, shape, fn = ln.split("\t")
        wdt, wshape, wval, wfn = want[n]
        if dt != wdt or json.loads(shape) != wshape or fn != wfn:
            sys.exit(f"FAIL: {d}: {n} listed as {dt} {shape} in {fn}, expected {wdt} {wshape} in {wfn}")
        if wval is None:
            continue
        k = wval.numel()
        count += same_bits(vals[at:at + k], wval.numpy(), f"{d}: {n}")
        at += k
    if at != vals.size:
        sys.exit(f"FAIL: {d}: the dump has {vals.size} values, the tensors {at}")
    print(f"ok: {os.path.basename(os.path.normpath(d))}: {len(lines)} tensors, {count} values bit-identical")


def check_written(path, d, dtype):
    want = expected_of(d)
    got, meta = parse_st(path)
    if meta.get("format") != "pt" or meta.get("writer") != "rmens hf_tool":
        sys.exit(f"FAIL: {path}: __metadata__ {meta}")
    readable = {n: v for n, v in want.items() if v[2] is not None}
    if sorted(got) != sorted(readable):
        sys.exit(f"FAIL: {path}: holds {sorted(got)[:5]}..., expected {sorted(readable)[:5]}...")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
    if n % 8:
        sys.exit(f"FAIL: {path}: header of {n} bytes is not padded to 8")
    count = 0
    for name, (wdt, wshape, wval, _) in readable.items():
        gdt, gshape, raw = got[name]
        if gdt != dtype or gshape != wshape:
            sys.exit(f"FAIL: {path}: {name} is {gdt} {gshape}, expected {dtype} {wshape}")
        ref = wval if dtype == "F32" else wval.to(torch.bfloat16).to(torch.float32)
        count += same_bits(to_f32(gdt, raw, gshape), ref.numpy(), f"{path}: {name}")
    print(f"ok: {os.path.basename(path)}: {len(got)} tensors, {count} values as written ({dtype})")


def check_rmconfig(src, out, pad, dtype):
    """Every field of the backbone's config kept; the head's fields as transformers'
    <Family>ForSequenceClassification with one label reads them."""
    a = json.load(open(os.path.join(src, "config.json")))
    b = json.load(open(out))
    family = {"gpt2": "GPT2", "llama": "Llama", "qwen2": "Qwen2", "qwen3": "Qwen3", "gpt_neox": "GPTNeoX"}[a["model_type"]]
    want = dict(a, architectures=[family + "ForSequenceClassification"], id2label={"0": "LABEL_0"},
                label2id={"LABEL_0": 0}, pad_token_id=int(pad), torch_dtype=dtype)
    want.pop("num_labels", None)
    if b != want:
        diff = sorted(k for k in set(a) | set(b) | set(want) if b.get(k, "absent") != want.get(k, "absent"))
        sys.exit(f"FAIL: {out}: fields {diff} differ from what {src}/config.json implies")
    print(f"ok: {out}: the reward model's config ({len(b)} fields)")


def expected_config(c):
    """What rmens must read from config dict c, derived here from transformers' semantics."""
    mt = c["model_type"]
    g = mt == "gpt2"
    hidden = c["n_embd" if g else "hidden_size"]
    heads = c["n_head" if g else "num_attention_heads"]
    kv = c.get("num_key_value_heads") or heads
    hd = c.get("head_dim") or hidden // heads
    partial = c.get("partial_rotary_factor", c.get("rotary_pct", 0.25 if mt == "gpt_neox" else 1.0))
    rs = c.get("rope_scaling") or {}
    eos = c.get("eos_token_id")
    eos = eos if isinstance(eos, list) else ([] if eos is None else [eos])
    act = c.get("activation_function" if g else "hidden_act", {"gpt2": "gelu_new", "gpt_neox": "gelu"}.get(mt, "silu"))
    attn_bias = {"gpt2": True, "qwen2": True}.get(mt, c.get("attention_bias", mt == "gpt_neox"))
    arch = (c.get("architectures") or [""])[0]
    e = {"family": mt, "model_type": mt, "architecture": arch,
         "sequence_classification": int(arch.endswith("ForSequenceClassification")),
         "vocab_size": c["vocab_size"], "hidden_size": hidden,
         "intermediate_size": (c.get("n_inner") or 4 * hidden) if g else c["intermediate_size"],
         "num_hidden_layers": c["n_layer" if g else "num_hidden_layers"], "num_attention_heads": heads,
         "num_key_value_heads": kv, "head_dim": hd,
         "max_position_embeddings": c["n_positions" if g else "max_position_embeddings"],
         "norm_eps": c.get("rms_norm_eps", c.get("layer_norm_epsilon", c.get("layer_norm_eps",
                                                                                {"gpt2": 1e-5, "gpt_neox": 1e-5}.get(mt, 1e-6)))),
         "rope_theta": 0.0 if g else float(c.get("rope_theta", c.get("rotary_emb_base", 10000))),
         "partial_rotary_factor": 0.0 if g else float(partial), "rotary_dim": 0 if g else int(hd * partial),
         "rope_llama3": int(rs.get("rope_type", rs.get("type")) == "llama3"),
         "rope_factor": float(rs.get("factor", 0)), "rope_low_freq_factor": float(rs.get("low_freq_factor", 0)),
         "rope_high_freq_factor": float(rs.get("high_freq_factor", 0)),
         "rope_original_max_position_embeddings": rs.get("original_max_position_embeddings", 0),
         "hidden_act": act, "act": {"gelu_new": 0, "gelu_pytorch_tanh": 0, "gelu": 1, "silu": 2}[act],
         "tie_word_embeddings": int(c.get("tie_word_embeddings", mt == "gpt2")),
         "attention_bias": int(attn_bias), "qkv_bias": int(attn_bias), "o_bias": int(attn_bias and mt != "qwen2"),
         "mlp_bias": int(c.get("mlp_bias", mt in ("gpt2", "gpt_neox"))), "qk_norm": int(mt == "qwen3"),
         "use_parallel_residual": int(c.get("use_parallel_residual", True) if mt == "gpt_neox" else False),
         "bos_token_id": c.get("bos_token_id") if c.get("bos_token_id") is not None else -1,
         "eos_token_id": eos[0] if eos else -1,
         "pad_token_id": c.get("pad_token_id") if c.get("pad_token_id") is not None else -1,
         "num_labels": len(c["id2label"]) if "id2label" in c else c.get("num_labels", 2),
         "eos_token_ids": ",".join(str(x) for x in eos),
         "backbone_prefix": {"gpt2": "transformer.", "gpt_neox": "gpt_neox."}.get(mt, "model.")}
    return e


def check_config(d, out):
    c = json.load(open(os.path.join(d, "config.json")))
    want = expected_config(c)
    got = dict(ln.split("=", 1) for ln in open(out).read().splitlines())
    if sorted(got) != sorted(want):
        sys.exit(f"FAIL: {d}: fields {sorted(set(got) ^ set(want))} differ between rmens and this script")
    for k, v in want.items():
        g = got[k]
        ok = float(g) == float(v) if isinstance(v, float) else g == str(v)
        if not ok:
            sys.exit(f"FAIL: {d}/config.json: {k} read as {g}, expected {v}")
    name = os.path.basename(os.path.normpath(d))
    if name in FIXTURES and not name.endswith("_hub"):  # backbone under the prefix, heads outside it
        heads = {"score.weight", "lm_head.weight", "embed_out.weight"}
        for n in (e[0] for e in config_of(name, False)[1]):
            if (n in heads) == n.startswith(want["backbone_prefix"]):
                sys.exit(f"FAIL: {d}: tensor {n} and the backbone prefix {want['backbone_prefix']} disagree")
    print(f"ok: {os.path.basename(os.path.normpath(d))}/config.json: {len(want)} fields")


def config_only(out):
    """Configs with no weights: Llama 3.2 (llama3 rope scaling, an eos list), a bare Llama
    with every optional field absent, a Pythia config in transformers 5's names."""
    cfgs = {
        "llama32": {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
                    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": 64,
                    "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 8192,
                    "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama",
                    "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
                    "pretraining_tp": 1, "rms_norm_eps": 1e-05,
                    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                    "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
                    "transformers_version": "4.45.0.dev0", "use_cache": True, "vocab_size": 128256},
        "llama_bare": {"model_type": "llama", "vocab_size": 32000, "hidden_size": 256, "intermediate_size": 688,
                       "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 2048},
        "neox_new": {"architectures": ["GPTNeoXForSequenceClassification"], "model_type": "gpt_neox",
                     "vocab_size": 50304, "hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 2,
                     "num_attention_heads": 8, "max_position_embeddings": 2048, "layer_norm_eps": 1e-5,
                     "partial_rotary_factor": 0.5, "rope_theta": 10000, "use_parallel_residual": False,
                     "attention_bias": True, "num_labels": 1, "pad_token_id": 1},
    }
    for name, c in cfgs.items():
        os.makedirs(os.path.join(out, name), exist_ok=True)
        with open(os.path.join(out, name, "config.json"), "w") as f:
            json.dump(c, f, indent=2)


def fuzz_seeds(out):
    """The seed corpora of tests/fuzz/fuzz_safetensors and fuzz_hfconfig (each file small)."""
    st, cf = os.path.join(out, "fuzz_safetensors"), os.path.join(out, "fuzz_hfconfig")
    os.makedirs(st, exist_ok=True)
    os.makedirs(cf, exist_ok=True)
    g = torch.Generator().manual_seed(3)
    small = [("model.embed_tokens.weight", torch.randn(8, 4, generator=g), "BF16"),
             ("model.norm.weight", torch.randn(4, generator=g), "F16"),
             ("score.weight", torch.randn(1, 4, generator=g), "F32"),
             ("attention.bias", torch.ones(1, 1, 2, 2, dtype=torch.bool), "BOOL"),
             ("ids", torch.arange(3), "I64"), ("empty", torch.zeros(0, 2), "F32"), ("scalar", torch.tensor(1.5), "F16")]
    seeds = {"single": st_bytes(small, {"format": "pt"}), "no-metadata": st_bytes(small[:3]),
             "all-f16": st_bytes([("x", torch.arange(2048, dtype=torch.int32).to(torch.int16).view(torch.float16), "F16")]),
             "empty": pack({}, b""), "truncated": st_bytes(small, {"format": "pt"})[:-3],
             "overlap": pack({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                              "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12))}
    for name, b in seeds.items():
        with open(os.path.join(st, name), "wb") as f:
            f.write(b"\0" + b)
    shard1 = st_bytes([("a", torch.ones(2), "F32"), ("b", torch.randn(3, generator=g), "BF16")], {"format": "pt"})
    for name, wm in (("sharded", {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                                  "fixed": "model-00002-of-00002.safetensors"}),
                     ("sharded-disagree", {"a": "model-00002-of-00002.safetensors",
                                           "fixed": "model-00002-of-00002.safetensors"})):
        index = json.dumps({"metadata": {"total_size": 22}, "weight_map": wm}).encode()
        with open(os.path.join(st, name), "wb") as f:
            f.write(b"\1" + index + b"\0" + shard1)
    configs = {name: config_of(name, False)[0] for name in FIXTURES}
    tmp = os.path.join(out, "tmp-configs")
    config_only(tmp)
    for name in os.listdir(tmp):
        configs[name] = json.load(open(os.path.join(tmp, name, "config.json")))
        os.remove(os.path.join(tmp, name, "config.json"))
        os.rmdir(os.path.join(tmp, name))
    os.rmdir(tmp)
    configs["yarn"] = dict(configs["llama32"], rope_scaling={"rope_type": "yarn", "factor": 4.0})
    configs["string-size"] = dict(configs["qwen3"], hidden_size="1024")
    for name, c in configs.items():
        with open(os.path.join(cf, name + ".json"), "w") as f:
            json.dump(c, f, indent=1)


def tiny(argv):
    """A small random checkpoint (see the module's usage)."""
    import argparse
    ap = argparse.ArgumentParser(prog="hf_fixtures.py tiny")
    ap.add_argument("out")
    ap.add_argument("--arch", default="qwen3", choices=("qwen3", "qwen2", "llama"))
    for k, v in (("vocab", 300), ("ctx", 256), ("hidden", 64), ("layers", 2), ("heads", 4), ("kv", 2),
                 ("head-dim", 32), ("inter", 96), ("shards", 1), ("seed", 7), ("labels", 1)):
        ap.add_argument("--" + k, type=int, default=v)
    ap.add_argument("--dtype", default="F32", choices=("F32", "BF16", "F16"))
    ap.add_argument("--seq-cls", action="store_true")
    ap.add_argument("--lm-head", action="store_true")
    ap.add_argument("--attention-bias", action="store_true")
    ap.add_argument("--drop", default=None)
    ap.add_argument("--reshape", default=None)
    ap.add_argument("--int64", default=None)
    ap.add_argument("--nan", default=None)
    a = ap.parse_args(argv)
    V, C, L, H, KV, D, FF = a.vocab, a.hidden, a.layers, a.heads, a.kv, a.head_dim, a.inter
    prefix = {"qwen3": "Qwen3", "qwen2": "Qwen2", "llama": "Llama"}[a.arch]
    cfg = {"architectures": [prefix + ("ForSequenceClassification" if a.seq_cls else "ForCausalLM")],
           "model_type": a.arch, "vocab_size": V, "max_position_embeddings": a.ctx, "hidden_size": C,
           "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": KV, "head_dim": D,
           "intermediate_size": FF, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "hidden_act": "silu",
           "tie_word_embeddings": not a.lm_head, "torch_dtype": {"F32": "float32", "BF16": "bfloat16",
                                                                 "F16": "float16"}[a.dtype],
           "bos_token_id": V - 2, "eos_token_id": V - 1, "attention_dropout": 0.0, "use_cache": True,
           "transformers_version": "4.51.0"}
    if a.arch != "qwen2":
        cfg["attention_bias"] = a.attention_bias
    if a.arch == "qwen2":
        cfg["use_sliding_window"] = False
    if a.seq_cls:
        cfg["id2label"] = {str(i): f"LABEL_{i}" for i in range(a.labels)}
        cfg["label2id"] = {f"LABEL_{i}": i for i in range(a.labels)}
        cfg["pad_token_id"] = V - 1
    shapes = [("model.embed_tokens.weight", [V, C])]
    for i in range(L):   # llama_layers writes two layers; here any number
        p = f"model.layers.{i}."
        shapes += [(p + "input_layernorm.weight", [C]), (p + "self_attn.q_proj.weight", [H * D, C]),
                   (p + "self_attn.k_proj.weight", [KV * D, C]), (p + "self_attn.v_proj.weight", [KV * D, C]),
                   (p + "self_attn.o_proj.weight", [C, H * D])]
        if a.arch == "qwen2" or a.attention_bias:
            shapes += [(p + "self_attn.q_proj.bias", [H * D]), (p + "self_attn.k_proj.bias", [KV * D]),
                       (p + "self_attn.v_proj.bias", [KV * D])]
        if a.attention_bias and a.arch != "qwen2":
            shapes.append((p + "self_attn.o_proj.bias", [C]))
        if a.arch == "qwen3":
            shapes += [(p + "self_attn.q_norm.weight", [D]), (p + "self_attn.k_norm.weight", [D])]
        shapes += [(p + "post_attention_layernorm.weight", [C]), (p + "mlp.gate_proj.weight", [FF, C]),
                   (p + "mlp.up_proj.weight", [FF, C]), (p + "mlp.down_proj.weight", [C, FF])]
    shapes.append(("model.norm.weight", [C]))
    if a.lm_head:
        shapes.append(("lm_head.weight", [V, C]))
    if a.seq_cls:
        shapes.append(("score.weight", [a.labels, C]))
    g = torch.Generator().manual_seed(a.seed)
    ts = []
    for n, shape in shapes:
        if n == a.drop:
            continue
        if n == a.reshape:
            shape = [shape[0] + 1] + shape[1:]
        if len(shape) == 1:
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif n == "score.weight":
            t = torch.randn(shape, generator=g) / math.sqrt(C)
        else:
            t = 0.1 * torch.randn(shape, generator=g)
        if n == a.nan:
            t.view(-1)[len(t.view(-1)) // 2] = math.nan
        ts.append((n, t, "I64" if n == a.int64 else a.dtype))
    write_dir(a.out, cfg, ts, a.shards, total_size=False)


def write_dir(out, cfg, ts, shards, total_size=True):
    """config.json and the tensors [(name, tensor, dtype)]: model.safetensors, or that many
    shards and model.safetensors.index.json (total_size 0 unless total_size)."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    if shards == 1:
        with open(os.path.join(out, "model.safetensors"), "wb") as f:
            f.write(st_bytes(ts, {"format": "pt"}))
        return
    per = -(-len(ts) // shards)
    weight_map, total = {}, 0
    for k in range(shards):
        fn = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        with open(os.path.join(out, fn), "wb") as f:
            f.write(st_bytes(ts[k * per:(k + 1) * per], {"format": "pt"}))
        for n, t, dt in ts[k * per:(k + 1) * per]:
            weight_map[n] = fn
            total += len(raw_bytes(t, dt)) if total_size else 0
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def neox(argv):
    """A random GPT-NeoX checkpoint (see the module's usage): Pythia-160m's config.json keys
    (rotary_pct, rotary_emb_base; --new-names: partial_rotary_factor, rope_theta), weights
    scaled by 1/sqrt(fan-in) so that activations stay O(1) at any width, and, as checkpoints
    saved by transformers 4.24 (Pythia's) hold them, the attention.bias mask,
    attention.masked_bias and rotary_emb.inv_freq buffers; --lm-head adds embed_out."""
    import argparse
    ap = argparse.ArgumentParser(prog="hf_fixtures.py neox")
    ap.add_argument("out")
    for k, v in (("vocab", 50304), ("ctx", 64), ("hidden", 768), ("layers", 2), ("heads", 12), ("inter", 3072),
                 ("shards", 1), ("seed", 7)):
        ap.add_argument("--" + k, type=int, default=v)
    ap.add_argument("--rotary-pct", type=float, default=0.25)
    ap.add_argument("--base", type=float, default=10000.0)
    ap.add_argument("--dtype", default="F32", choices=("F32", "BF16", "F16"))
    for k in ("seq-cls", "lm-head", "sequential", "no-bias", "new-names"):
        ap.add_argument("--" + k, action="store_true")
    a = ap.parse_args(argv)
    V, C, L, H, FF, T = a.vocab, a.hidden, a.layers, a.heads, a.inter, a.ctx
    D = C // H
    cfg = {"architectures": ["GPTNeoX" + ("ForSequenceClassification" if a.seq_cls else "ForCausalLM")],
           "model_type": "gpt_neox", "vocab_size": V, "max_position_embeddings": T, "hidden_size": C,
           "num_hidden_layers": L, "num_attention_heads": H, "intermediate_size": FF, "layer_norm_eps": 1e-5,
           "hidden_act": "gelu", "use_parallel_residual": not a.sequential, "tie_word_embeddings": False,
           "bos_token_id": 0, "eos_token_id": 0, "initializer_range": 0.02, "use_cache": True,
           "torch_dtype": {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[a.dtype],
           "transformers_version": "4.24.0", "hidden_dropout": 0.0, "attention_dropout": 0.0}
    cfg.update({"partial_rotary_factor": a.rotary_pct, "rope_theta": a.base} if a.new_names else
               {"rotary_pct": a.rotary_pct, "rotary_emb_base": a.base})
    if a.no_bias:
        cfg["attention_bias"] = False
    if a.seq_cls:
        cfg.update(id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0}, pad_token_id=1)
    g = torch.Generator().manual_seed(a.seed)

    def w(*shape, std):
        return torch.randn(shape, generator=g) * std
    rot = int(D * a.rotary_pct)
    ts = [("gpt_neox.embed_in.weight", w(V, C, std=1.0))]
    for i in range(L):
        p = f"gpt_neox.layers.{i}."
        ts += [(p + "input_layernorm.weight", 1 + w(C, std=0.1)), (p + "input_layernorm.bias", w(C, std=0.1)),
               (p + "post_attention_layernorm.weight", 1 + w(C, std=0.1)),
               (p + "post_attention_layernorm.bias", w(C, std=0.1)),
               (p + "attention.bias", torch.ones(1, 1, T, T, dtype=torch.bool).tril(), "BOOL"),
               (p + "attention.masked_bias", torch.tensor(-1e9), "F32"),
               (p + "attention.rotary_emb.inv_freq",
                1.0 / (a.base ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot)), "F32"),
               (p + "attention.query_key_value.weight", w(3 * C, C, std=C ** -0.5))]
        if not a.no_bias:
            ts.append((p + "attention.query_key_value.bias", w(3 * C, std=0.3)))
        ts.append((p + "attention.dense.weight", w(C, C, std=C ** -0.5)))
        if not a.no_bias:
            ts.append((p + "attention.dense.bias", w(C, std=0.1)))
        ts += [(p + "mlp.dense_h_to_4h.weight", w(FF, C, std=C ** -0.5)), (p + "mlp.dense_h_to_4h.bias", w(FF, std=0.3)),
               (p + "mlp.dense_4h_to_h.weight", w(C, FF, std=FF ** -0.5)), (p + "mlp.dense_4h_to_h.bias", w(C, std=0.1))]
    ts += [("gpt_neox.final_layer_norm.weight", 1 + w(C, std=0.1)), ("gpt_neox.final_layer_norm.bias", w(C, std=0.1))]
    if a.lm_head:
        ts.append(("embed_out.weight", w(V, C, std=C ** -0.5)))
    if a.seq_cls:
        ts.append(("score.weight", w(1, C, std=C ** -0.5)))
    ts = [(t[0], t[1], t[2] if len(t) > 2 else a.dtype) for t in ts]
    write_dir(a.out, cfg, ts, a.shards)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "tiny":
        return tiny(argv[2:])
    if cmd == "neox":
        return neox(argv[2:])
    if cmd == "write":
        out, full = argv[2], "--full-vocab" in argv
        for name in FIXTURES:
            write_fixture(out, name, full)
        with open(os.path.join(out, "special.safetensors"), "wb") as f:
            f.write(st_bytes(special_tensors(), {"format": "pt"}))
        config_only(out)
        os.makedirs(os.path.join(out, "bad"), exist_ok=True)
        bad_cases(os.path.join(out, "bad"))
    elif cmd == "seeds":
        fuzz_seeds(argv[2])
    elif cmd == "check":
        checks = {"dump": check_dump, "config": check_config, "written": check_written, "rmconfig": check_rmconfig}
        for line in open(argv[2]).read().splitlines():
            what, *args = line.split()
            checks[what](*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
