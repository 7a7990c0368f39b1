// Compares rmens's ids with a reference's, line by line (tests/tokenizers.sh).
// Usage: node compare.js LABEL TEXTS.jsonl REFERENCE.jsonl RMENS.jsonl [--js-space]
// --js-space: the reference is a JavaScript regex port, whose \s takes U+FEFF and leaves
// out U+0085, the opposite of Unicode White_Space that Hugging Face's Rust tokenizers
// follow; texts holding either character may differ (they are counted and shown), any
// other difference fails. Exit status 1 on a failing difference.
'use strict';
const fs = require('fs');
const [label, textsPath, refPath, oursPath, flag] = process.argv.slice(2);
const read = (p) => fs.readFileSync(p, 'utf8').split('\n').filter((l) => l !== '');
const texts = read(textsPath).map((l) => JSON.parse(l));
const ref = read(refPath);
const ours = read(oursPath);
if (ref.length !== texts.length || ours.length !== texts.length) {
    console.error(`FAIL ${label}: ${texts.length} texts, ${ref.length} reference lines, ${ours.length} rmens lines`);
    process.exit(1);
}
const jsSpace = flag === '--js-space';
let same = 0, excused = 0, bad = 0, tokens = 0;
for (let i = 0; i < texts.length; i++) {
    tokens += JSON.parse(ours[i]).length;
    if (ref[i] === ours[i]) { same++; continue; }
    if (jsSpace && /[\ufeff\u0085]/.test(texts[i])) {
        excused++;
        console.log(`  known reference flaw, line ${i + 1} ${JSON.stringify(texts[i]).slice(0, 60)}: reference ${ref[i]}, rmens ${ours[i]}`);
        continue;
    }
    if (bad++ < 5) {
        const r = JSON.parse(ref[i]), o = JSON.parse(ours[i]);
        let k = 0;
        while (k < r.length && r[k] === o[k]) k++;
        console.error(`FAIL ${label}: line ${i + 1} differs at token ${k}: reference ${JSON.stringify(r.slice(k, k + 8))}, rmens ${JSON.stringify(o.slice(k, k + 8))}; text ${JSON.stringify(texts[i]).slice(0, 200)}`);
    }
}
console.log(`${bad ? 'FAIL' : 'ok'}: ${label}: ${same} of ${texts.length} texts identical (${tokens} tokens)` +
            (excused ? `, ${excused} differ only by the reference's JavaScript \\s` : '') +
            (bad ? `, ${bad} differ` : ''));
process.exit(bad ? 1 : 0);
