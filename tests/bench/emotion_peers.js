// emotion_peers.js - scores label<TAB>text files with the npm lexicon
// tools kefu's built-in emotion scorer is compared with.
//   node emotion_peers.js scores FILE   -> label<TAB>vader_neg<TAB>vader_compound<TAB>afinn_score
//   node emotion_peers.js speed SECONDS FILE -> VADER messages per second
// Modules are looked up in build/bench/node_modules (NODE_PATH).
'use strict';
const fs = require('fs');
let vader = null, Sentiment = null;
try { vader = require('vader-sentiment'); } catch (e) { /* skipped */ }
try { Sentiment = require('sentiment'); } catch (e) { /* skipped */ }
const [mode, a1, a2] = process.argv.slice(2);
function lines(path) {
  return fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.length)
    .map((l) => { const i = l.indexOf('\t'); return i < 0 ? ['', l] : [l.slice(0, i), l.slice(i + 1)]; });
}
if (mode === 'scores') {
  const afinn = Sentiment ? new Sentiment() : null;
  const out = [];
  for (const [label, text] of lines(a1)) {
    const v = vader ? vader.SentimentIntensityAnalyzer.polarity_scores(text) : { neg: NaN, compound: NaN };
    const s = afinn ? afinn.analyze(text).score : NaN;
    out.push(`${label}\t${v.neg}\t${v.compound}\t${s}`);
  }
  process.stdout.write(out.join('\n') + '\n');
} else if (mode === 'speed') {
  if (!vader) { console.log('vader-sentiment unavailable'); process.exit(0); }
  const texts = lines(a2).map((x) => x[1]);
  const secs = parseFloat(a1);
  let n = 0; let sink = 0;
  for (const t of texts) sink += vader.SentimentIntensityAnalyzer.polarity_scores(t).neg;
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; }; // CPU seconds
  const t0 = cpu();
  let el = 0;
  do {
    for (const t of texts) sink += vader.SentimentIntensityAnalyzer.polarity_scores(t).neg;
    n += texts.length;
    el = cpu() - t0;
  } while (el < secs);
  console.log(`${Math.round(n / el)} msgs/s ${Math.round(el * 1e9 / n)} ns/msg ${n} msgs (sink ${sink > 0})`);
}
