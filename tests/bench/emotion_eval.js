// emotion_eval.js - anger-vs-rest evaluation of a detector score.
//   node emotion_eval.js TRAIN VAL COLUMN POSLABELS [NEGATE] [AT...]
// TRAIN and VAL are label<TAB>score... files (labels comma-joined);
// COLUMN is the 1-based score column; POSLABELS comma-separated labels
// that count as positive.  NEGATE=1 flips the sign (AFINN's score, VADER's
// compound).  The threshold is chosen on TRAIN for the best F1 and F1 is
// reported on VAL; AT thresholds (e.g. 50 80) add precision/recall on VAL.
// Prints one JSON object.
'use strict';
const fs = require('fs');
const [train, val, col, pos, neg, ...at] = process.argv.slice(2);
const P = new Set(pos.split(','));
const sign = neg === '1' ? -1 : 1;
function load(path) {
  return fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.length).map((l) => {
    const f = l.split('\t');
    return { y: f[0].split(',').some((x) => P.has(x)), s: sign * parseFloat(f[parseInt(col, 10)]) };
  }).filter((r) => !Number.isNaN(r.s));
}
function prf(rows, t) {
  let tp = 0, fp = 0, fn = 0;
  for (const r of rows) {
    if (r.s >= t) { if (r.y) tp++; else fp++; } else if (r.y) fn++;
  }
  const p = tp + fp ? tp / (tp + fp) : 0, rc = tp + fn ? tp / (tp + fn) : 0;
  return { p, r: rc, f1: p + rc ? 2 * p * rc / (p + rc) : 0 };
}
const tr = load(train), va = load(val);
if (!tr.length || !va.length) { console.log(JSON.stringify({ error: 'no scores' })); process.exit(0); }
const cands = [...new Set(tr.map((r) => r.s))].sort((a, b) => a - b);
let best = { f1: -1, t: 0 };
// strictly above the smallest score, so "everything positive" is not chosen by default
for (const t of cands) { const m = prf(tr, t); if (m.f1 > best.f1) best = { f1: m.f1, t }; }
const v = prf(va, best.t);
const out = { threshold: best.t, train_f1: best.f1, val_f1: v.f1, val_p: v.p, val_r: v.r, n: va.length,
  positives: va.filter((r) => r.y).length };
for (const t of at) { const m = prf(va, parseFloat(t)); out[`p@${t}`] = m.p; out[`r@${t}`] = m.r; }
console.log(JSON.stringify(out));
