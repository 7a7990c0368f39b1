#!/bin/bash
# Regenerates the seed corpus of the fuzz targets into OUT_DIR/<target>/ (a developer
# tool: the committed corpus in tests/fuzz/corpus was made with it; review and copy).
# Needs the built ./rmens of BUILD_DIR (rmens synth, prep, train), /usr/bin/python3
# with h5py and numpy, and optionally the real HH-RLHF sample in ../shared/data.
#
#   tests/fuzz/make_seeds.sh BUILD_DIR OUT_DIR
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: make_seeds.sh BUILD_DIR OUT_DIR}" && pwd)
out=${2:?usage: make_seeds.sh BUILD_DIR OUT_DIR}
rmens="$build/rmens"
py=${PYTHON3:-/usr/bin/python3}
shared=${RMENS_SHARED_DATA:-$src/../shared/data}
hh="$shared/hh-rlhf/harmless-base/dev-1800.jsonl.gz"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rmens-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export TMPDIR="$tmp"
mkdir -p "$out"/{fuzz_prep,fuzz_dataset,fuzz_dataset_fields,fuzz_checkpoint,fuzz_checkpoint_fields}

# ---- pairs and responses files from the program itself (small: tiny files mutate better)
"$rmens" synth --task sort --n 3 --seed 1 --out "$out/fuzz_dataset/synth-sort-3.h5" --force --quiet
"$rmens" synth --task add --n 4 --seed 2 --split test --responses --out "$out/fuzz_dataset/synth-add-responses-4.h5" --force --quiet
"$rmens" synth --task steps --n 3 --seed 3 --out "$out/fuzz_dataset/synth-steps-3.h5" --force --quiet
"$rmens" synth --task steps --n 4 --seed 5 --responses --out "$out/fuzz_dataset/synth-steps-responses-4.h5" --force --quiet
"$rmens" synth --task sort --n 20 --traps 0.5 --seed 7 --out "$out/fuzz_dataset/synth-sort-traps-20.h5" --force --quiet
if [ -r "$hh" ]; then
    # The two shortest real HH-RLHF records (lines 926 and 1453 of the sample).
    zcat "$hh" | sed -n '926p;1453p' >"$tmp/hh2.jsonl"
    "$rmens" prep "$tmp/hh2.jsonl" --out "$out/fuzz_dataset/prep-hh-2.h5" --force >/dev/null
fi

# ---- a checkpoint from rmens train: tiny model, tiny data
"$rmens" synth --task sort --n 20 --seed 4 --out "$tmp/train.h5" --quiet
"$rmens" train --data "$tmp/train.h5" --members 1 --layers 1 --heads 1 --embd 4 --ctx 32 --batch 4 \
    --warmup 1 --steps 3 --truncate-prompts --out "$out/fuzz_checkpoint/train-k1.h5" --force --quiet

# ---- JSON inputs for prep, files written to the format with h5py
"$py" - "$out" "$tmp/hh2.jsonl" <<'EOF'
import gzip, json, os, sys
import h5py
import numpy as np

out, hh = sys.argv[1], sys.argv[2]
FMT = {"auto": 0, "hh": 1, "prompt": 2, "messages": 3, "sharegpt": 4}
GZ, SKIP, VAL, MFIELD, MAXREC = 8, 16, 32, 64, 128


def prep_seed(name, records, fmt="auto", flags=0, b1=0, b2=3, array=False, raw=None):
    if raw is not None:
        body = raw
    elif array:
        body = json.dumps(records).encode()
    else:
        body = b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)
    with open(os.path.join(out, "fuzz_prep", name), "wb") as f:
        f.write(bytes([FMT[fmt] | flags, b1, b2]) + body)


def msg(role, content, a="role", b="content"):
    return {a: role, b: content}


if os.path.exists(hh):
    lines = open(hh, "rb").read().splitlines()
    prep_seed("hh-real-2", lines)
    prep_seed("hh-real-2-forced-gzip", lines, "hh", GZ)
    prep_seed("hh-real-array-val", [json.loads(l) for l in lines], "hh", VAL, b1=0, array=True)
hh_syn = {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}
prep_seed("hh-synthetic", [hh_syn, {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: X\n\nAssistant: c"}])
prep_seed("hh-margin", [dict(hh_syn, margin=1.5), dict(hh_syn, margin=-0.5)], "hh")
prep_seed("prompt", [{"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "margin": 2},
                     {"prompt": "\n\nHuman: hi\n\nAssistant:", "chosen": " hello", "rejected": " go"}])
prep_seed("prompt-scores-forced", [{"prompt": "Sort 3 1 2", "chosen": "1 2 3", "rejected": "3 2 1",
                                    "score_chosen": 9, "score_rejected": 2.5}], "prompt")
prep_seed("prompt-margin-field", [{"prompt": "p", "chosen": "a", "rejected": "b", "m": 0.25}], "prompt",
          MFIELD, b1=2)
prep_seed("messages-explicit", [{"prompt": [msg("system", "be kind"), msg("user", "hi")],
                                 "chosen": [msg("assistant", "hello"), msg("user", "thanks"),
                                            msg("assistant", "welcome")],
                                 "rejected": [msg("assistant", "go away")]}])
prep_seed("messages-implicit", [{"chosen": [msg("user", "hi"), msg("assistant", "hello")],
                                 "rejected": [msg("user", "hi"), msg("assistant", "bye")]}], "messages")
prep_seed("messages-parts", [{"prompt": "hi",
                              "chosen": msg("assistant", [{"type": "text", "text": "hel"},
                                                          {"type": "text", "text": "lo"}]),
                              "rejected": "nope"}], "messages")
prep_seed("sharegpt", [{"conversations": [msg("human", "hi", "from", "value")],
                        "chosen": msg("gpt", "hello", "from", "value"),
                        "rejected": msg("gpt", "go", "from", "value")}])
prep_seed("sharegpt-array-val", [{"conversations": [msg("system", "s", "from", "value"),
                                                    msg("human", "q%d" % i, "from", "value")],
                                  "chosen": msg("gpt", "yes", "from", "value"),
                                  "rejected": msg("bard", "no", "from", "value")} for i in range(4)],
          "sharegpt", VAL, b1=0, array=True)
# the formats of issue 18, detected by --format auto (the target's format bits stop at sharegpt)
prep_seed("summarize", [{"info": {"post": "p", "title": "t", "subreddit": "s"}, "summaries": [{"text": "a"}, {"text": "b"}],
                         "choice": 1, "extra": {"confidence": 3}},
                        {"info": {"post": None, "article": "x"}, "summaries": [{"text": "c"}, {"text": "d"}],
                         "choice": 0, "extra": {"confidence": 9}}])
prep_seed("ultrafeedback", [{"prompt": "q", "chosen": [msg("user", "q"), msg("assistant", "a")],
                             "rejected": [msg("user", "q"), msg("assistant", "b")], "score_chosen": 8, "score_rejected": 2.5}])
prep_seed("helpsteer2-pref", [{"prompt": "q", "response_1": "a", "response_2": "b", "preference_strength": s}
                              for s in (-3, 0, 2)])
prep_seed("helpsteer2", [{"prompt": "q%d" % (i % 2), "response": "r%d" % i, "helpfulness": i % 5, "correctness": 2,
                          "coherence": 4, "complexity": 1, "verbosity": 0} for i in range(5)])
prep_seed("ranking", [{"prompt": "q", "responses": ["a", "b", "c", "d"], "scores": [3, 1, 3, 2]},
                      {"prompt": [msg("user", "q2")], "responses": ["x", msg("assistant", "y")], "scores": [0, 1]}])
prep_seed("ranking-ranks-val", [{"prompt": "q%d" % i, "responses": ["a", "b", "c"], "ranking": [2, 1, 3]}
                                for i in range(4)], flags=VAL, array=True)
prep_seed("ultrafeedback-raw", [{"instruction": "i", "completions": [{"response": "a", "overall_score": 9},
                                                                     {"response": "b", "overall_score": None},
                                                                     {"response": "c", "overall_score": 4}]}])
prep_seed("skip-bad", [hh_syn, b"not json", b"[1, 2]", {"chosen": 1, "rejected": "x"},
                       {"chosen": "\n\nHuman: a\n\nAssistant: same", "rejected": "\n\nHuman: a\n\nAssistant: same"},
                       {"prompt": "p", "chosen": "", "rejected": "x"}, b"", b"{\"chosen\": \"trunc"], "auto", SKIP)
prep_seed("bad-stops", [hh_syn, b"{\"chosen\": 3}"])
prep_seed("invalid-utf8", [b'{"prompt": "caf\xe9", "chosen": "\xff\xfe ok", "rejected": "\xc3\x28"}'], "prompt")
prep_seed("unknown-role", [{"prompt": [msg("wizard", "hi")], "chosen": [msg("assistant", "a")],
                            "rejected": [msg("assistant", "b")]}], "messages", SKIP)
prep_seed("gzip-truncated", [hh_syn] * 3, "auto", GZ, b1=0x80 | 5)
prep_seed("max-records", [hh_syn] * 5, "auto", MAXREC, b2=2)
prep_seed("mixed-formats", [hh_syn, {"prompt": "p", "chosen": "a", "rejected": "b"}])

# ---- pairs files to the letter of docs/FORMAT.md (its h5py example, and every optional part)
def tok(text):
    return list(text.encode("utf-8")) + [256]


def write_pairs(path, pairs, extra=True):
    ch = [tok(p + c) for p, c, r in pairs]
    rj = [tok(p + r) for p, c, r in pairs]
    with h5py.File(path, "w") as f:
        f.attrs["rmens_format"] = "pairs"
        f.attrs["rmens_version"] = 1
        f.attrs["vocab_size"] = 257
        f.attrs["eot_token"] = 256
        f.attrs["tokenizer"] = "bytes"
        for name, seqs in (("chosen", ch), ("rejected", rj)):
            f[f"{name}/tokens"] = np.concatenate(seqs).astype(np.int32)
            f[f"{name}/offsets"] = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
            if extra:
                f[f"{name}/gold"] = np.linspace(0, 1, len(seqs)).astype(np.float32)
        f["prompt_len"] = np.array([len(p.encode()) for p, _, _ in pairs], np.int32)
        if extra:
            f["margin"] = np.array([0.5] * len(pairs), np.float32)
            f["trap"] = np.array([i % 4 for i in range(len(pairs))], np.int8)
            f["source_record"] = np.arange(len(pairs), dtype=np.int64)


write_pairs(os.path.join(out, "fuzz_dataset", "h5py-format-example.h5"),
            [("\n\nHuman: hi\n\nAssistant:", " Hello!", " Go away.")], extra=False)
write_pairs(os.path.join(out, "fuzz_dataset", "h5py-all-fields.h5"),
            [("\n\nHuman: hi\n\nAssistant:", " Hello!", " Go away."), ("\n\nHuman: 1+1\n\nAssistant:", " 2", " 3")])

# ---- model files and checkpoints of a tiny GPT-2 (vocab 8, n_embd 2): every tensor small
V, T, L, H, C = 8, 4, 1, 1, 2
rng = np.random.default_rng(1)
shapes = [("transformer.wte.weight", (V, C)), ("transformer.wpe.weight", (T, C))]
for i in range(L):
    for n, s in (("ln_1.weight", (C,)), ("ln_1.bias", (C,)), ("attn.c_attn.weight", (C, 3 * C)),
                 ("attn.c_attn.bias", (3 * C,)), ("attn.c_proj.weight", (C, C)), ("attn.c_proj.bias", (C,)),
                 ("ln_2.weight", (C,)), ("ln_2.bias", (C,)), ("mlp.c_fc.weight", (C, 4 * C)),
                 ("mlp.c_fc.bias", (4 * C,)), ("mlp.c_proj.weight", (4 * C, C)), ("mlp.c_proj.bias", (C,))):
        shapes.append((f"transformer.h.{i}.{n}", s))
shapes += [("transformer.ln_f.weight", (C,)), ("transformer.ln_f.bias", (C,)), ("score.weight", (1, C))]


def config(f, kind):
    f.attrs["rmens_format"] = kind
    f.attrs["rmens_version"] = 1
    for k, v in (("vocab_size", V), ("n_ctx", T), ("n_layer", L), ("n_head", H), ("n_embd", C)):
        f.attrs[k] = v
    f.attrs["architecture"] = "GPT2ForSequenceClassification"
    f.attrs["tokenizer"] = "bytes"


def tensors(g, head=True):
    for n, s in shapes:
        if head or n != "score.weight":
            g[n] = (0.1 * rng.standard_normal(s)).astype(np.float32)


for name, head in (("model-tiny.h5", True), ("model-tiny-lm-no-head.h5", False)):
    with h5py.File(os.path.join(out, "fuzz_checkpoint", name), "w") as f:
        config(f, "model")
        tensors(f.create_group("params"), head)


def checkpoint(path, K, optimizer):
    with h5py.File(path, "w") as f:
        config(f, "ensemble")
        for k, v in (("step", 3), ("total_steps", 3), ("n_pairs", 4), ("data_crc32", 1234), ("seed", 1),
                     ("members", K), ("batch", 4), ("warmup", 1), ("share", 1), ("member_offset", 0),
                     ("ensemble_size", K)):
            f.attrs[k] = np.int64(v)
        for k, v in (("lr", 1e-3), ("min_lr_frac", 0.1), ("beta1", 0.9), ("beta2", 0.95), ("eps", 1e-8),
                     ("weight_decay", 0.01), ("clip", 1.0), ("margin_scale", 0.0), ("center", 0.0),
                     ("bootstrap", 1.0)):
            f.attrs[k] = np.float64(v)
        f.attrs["generator"] = "splitmix64-counter"
        f.attrs["data"] = "train.h5"
        f.attrs["command_line"] = "rmens train --data train.h5"
        for k in range(K):
            g = f.create_group("members/%03d" % k)
            tensors(g.create_group("params"))
            if optimizer:
                tensors(g.create_group("optimizer/m"))
                tensors(g.create_group("optimizer/v"))
            g["bootstrap_counts"] = np.array([1, 0, 2, 1], np.int32)
            g.attrs["member"], g.attrs["step"], g.attrs["seed"] = k, 3, 1
            for a in ("val_loss", "val_accuracy", "val_margin", "oob_accuracy", "oob_loss", "oob_margin"):
                g.attrs[a] = np.float64("nan")
            g.attrs["reward_mean"], g.attrs["reward_std"] = 0.1, 0.5


checkpoint(os.path.join(out, "fuzz_checkpoint", "h5py-k2-no-optimizer.h5"), 2, False)
checkpoint(os.path.join(out, "fuzz_checkpoint", "h5py-k1-optimizer.h5"), 1, True)

# ---- the structure-aware targets decode any bytes: all zeros is "every usual choice"
rnd = np.random.default_rng(7)
for t in ("fuzz_dataset_fields", "fuzz_checkpoint_fields"):
    with open(os.path.join(out, t, "zeros-256"), "wb") as f:
        f.write(bytes(256))
    for i in range(4):
        with open(os.path.join(out, t, "random-%d" % i), "wb") as f:
            f.write(rnd.integers(0, 256, 200 + 300 * i, dtype=np.uint8).tobytes())
EOF
find "$out" -type f -size +64k -printf 'make_seeds.sh: warning: %p is larger than 64 KiB\n'
echo "make_seeds.sh: $(find "$out" -type f | wc -l) seeds in $out ($(du -sk "$out" | cut -f1) KiB)"
