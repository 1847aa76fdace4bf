// emotion_calibrate.js - fits the 0..100 scale of kefu's built-in emotion
// scores on train splits (never val or test):
//   node emotion_calibrate.js SCORES...
// SCORES are `bench_emotion scores` outputs of train files (label, six
// scores, negativity, then the raw values).  For each category with labels
// in the data, t50 is the mean over sets of the raw threshold with the best
// F1, and t80 the mean of the smallest raw threshold whose precision is
// a third of the way from the precision at t50 to 1 (at least 20 hits).  The map
//   score = 100 * (1 - exp(-(raw / k)^p))
// is then solved to give 50 at t50 and 80 at t80.  Anxiety and
// disappointment have no labels in public data and take anger's map.
'use strict';
const fs = require('fs');
const CATS = ['anger', 'anxiety', 'disappointment', 'sadness', 'fear', 'joy', 'negativity'];
const LABELS = {
  anger: ['anger', 'angry'], sadness: ['sadness', 'sad'], fear: ['fear'], joy: ['joy', 'happy'],
  negativity: ['anger', 'angry', 'sadness', 'sad', 'fear', 'disgust'],
};
const sets = process.argv.slice(2).map((p) => fs.readFileSync(p, 'utf8').split('\n')
  .filter((l) => l.length).map((l) => {
    const f = l.split('\t');
    return { labels: f[0].split(','), raw: f.slice(8, 15).map(Number) };
  }));
function fit(cat) {
  const ci = CATS.indexOf(cat), pos = new Set(LABELS[cat]);
  const t50s = [], t80s = [];
  for (const rows of sets) {
    const xs = rows.map((r) => ({ s: r.raw[ci], y: r.labels.some((l) => pos.has(l)) }))
      .sort((a, b) => b.s - a.s);
    const P = xs.filter((x) => x.y).length;
    if (P === 0 || P === xs.length) continue;
    let tp = 0, best = { f: -1, t: 0, p: 0 };
    const curve = [];
    for (let i = 0; i < xs.length; i++) {
      tp += xs[i].y;
      if (i + 1 < xs.length && xs[i + 1].s === xs[i].s) continue;
      if (xs[i].s <= 0) break;
      const p = tp / (i + 1), r = tp / P, f = 2 * p * r / (p + r || 1);
      curve.push({ t: xs[i].s, p });
      if (f > best.f) best = { f, t: xs[i].s, p };
    }
    // t80: the smallest threshold above t50 whose precision reaches a third
    // of the way from the precision at t50 to 1, with at least 20 hits
    const want = best.p + (1 - best.p) / 3;
    let t80 = null;
    for (let i = curve.length - 1; i >= 0; i--) {
      if (curve[i].t <= best.t || i + 1 < 20) continue;
      if (curve[i].p >= want) { t80 = curve[i].t; break; }
    }
    if (t80 === null) t80 = best.t * 2;
    t50s.push(best.t);
    t80s.push(t80 !== null ? t80 : bp.t);
  }
  if (!t50s.length) return null;
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  const t50 = mean(t50s), t80 = Math.max(mean(t80s), t50 * 1.25);
  // p < 1 would make the map concave at 0 and lift faint cues (strength 5)
  // to visible scores; keep it at least 1 (80 then sits above t80, the
  // conservative side for "above 80")
  const p = Math.max(1, Math.log(Math.log(5) / Math.log(2)) / Math.log(t80 / t50));
  const k = t50 / Math.pow(Math.log(2), 1 / p);
  return { t50, t80, k, p };
}
const out = {};
for (const c of ['anger', 'sadness', 'fear', 'joy']) out[c] = fit(c);
// negativity is derived from the category scores (src/emotion.c), not fitted
out.anxiety = out.anger; out.disappointment = out.anger;
const ks = CATS.map((c) => (out[c] ? out[c].k.toFixed(3) + 'f' : '1.0f'));
const ps = CATS.map((c) => (out[c] ? out[c].p.toFixed(3) + 'f' : '1.0f'));
console.log(JSON.stringify(out));
console.log(`    {${ks.join(', ')}},\n    {${ps.join(', ')}},`);
