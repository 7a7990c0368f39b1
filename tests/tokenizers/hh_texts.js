// Writes both sides of every HH-RLHF pair as one JSON string per line.
// Usage: node hh_texts.js FILE.jsonl.gz > texts.jsonl
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const out = [];
for (const line of zlib.gunzipSync(fs.readFileSync(process.argv[2])).toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line);
    out.push(JSON.stringify(r.chosen), JSON.stringify(r.rejected));
}
fs.writeSync(1, out.join('\n') + '\n');
