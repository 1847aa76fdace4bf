#!/bin/sh
# bench_emotion.sh - built-in emotion scorer (no training) against the npm
# lexicon tools vader-sentiment and sentiment (AFINN):
#   * anger-vs-rest F1 on tweeteval_emotion, goemotions_ekman (English) and
#     smp2020_ewect (Chinese, where the peers have no lexicon).  Every
#     detector's threshold is chosen for the best F1 on the train split and
#     F1 is reported on val (usual: threshold from virus train).  kefu is
#     also reported at its fixed thresholds 50 and 80 (precision, recall);
#   * throughput on one core, C API against VADER's JavaScript.
# Prints a Markdown section.  DATASETS defaults to ../shared/datasets;
# SECONDS_PER_RUN (default 3) sets the length of each timing run.
# --calibrate prints the fitted 0..100 map instead (train splits only).
set -u
cd "$(dirname "$0")/../.."
D=${DATASETS:-$(cd .. && pwd)/shared/datasets}
T=${SECONDS_PER_RUN:-3}
B=build/bench
mkdir -p $B/emotion
make -s lib >&2 || exit 1
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc tests/bench/bench_emotion.c \
   lib/libkefu.a $(pkg-config --libs libpcre2-8 libutf8proc yaml-0.1 2>/dev/null || echo -lpcre2-8 -lutf8proc -lyaml) \
   -lm -lpthread -o $B/bench_emotion || exit 1

SETS="tweeteval_emotion/train tweeteval_emotion/val goemotions_ekman/train goemotions_ekman/val smp2020_ewect/virus_train smp2020_ewect/virus_val smp2020_ewect/usual_val"
for s in $SETS; do
  f=$D/$s.tsv
  if [ ! -f "$f" ]; then echo "missing $f" >&2; exit 1; fi
  $B/bench_emotion scores "$f" > $B/emotion/kefu_$(echo $s | tr / _).tsv
done
if [ "${1:-}" = "--calibrate" ]; then
  node tests/bench/emotion_calibrate.js $B/emotion/kefu_tweeteval_emotion_train.tsv \
    $B/emotion/kefu_goemotions_ekman_train.tsv $B/emotion/kefu_smp2020_ewect_virus_train.tsv
  exit 0
fi

peers=1
if ! command -v node >/dev/null 2>&1; then
  echo "node not found: skipping vader-sentiment and sentiment" >&2; peers=0
elif [ ! -d $B/node_modules/vader-sentiment ] || [ ! -d $B/node_modules/sentiment ]; then
  (cd $B && npm install --prefix . --no-audit --no-fund --silent vader-sentiment sentiment >&2) ||
    { echo "npm install failed: skipping vader-sentiment and sentiment" >&2; peers=0; }
fi
[ -d $B/node_modules/vader-sentiment ] || peers=0
if [ $peers = 1 ]; then
  for s in tweeteval_emotion/train tweeteval_emotion/val goemotions_ekman/train goemotions_ekman/val; do
    NODE_PATH=$B/node_modules node tests/bench/emotion_peers.js scores $D/$s.tsv \
      > $B/emotion/peer_$(echo $s | tr / _).tsv
  done
fi

ev() { node tests/bench/emotion_eval.js "$@"; }
j() { node -e 'const o=JSON.parse(process.argv[1]);const k=process.argv[2];const v=o[k];console.log(typeof v==="number"?(k==="threshold"?v.toFixed(2):(100*v).toFixed(1)):"-")' "$1" "$2"; }

echo "## Emotion (built-in)"
echo
echo "Built-in lexicon and rules, no training (\`kefu: 1\` model).  Anger vs rest:"
echo "each detector's threshold is chosen for the best F1 on the train split,"
echo "F1 (precision / recall) is reported on val; kefu also at its fixed"
echo "thresholds 50 and 80 on the 0..100 scale (doc/emotion.md).  Peers use"
echo "their negative score: VADER \`neg\`, AFINN \`-score\`."
echo
echo "| set (val) | n / anger | kefu F1 (P / R) | kefu P / R @50 | kefu P / R @80 | VADER F1 (P / R) | AFINN F1 (P / R) |"
echo "|---|---|---|---|---|---|---|"
row() { # name train val poslabels
  k=$(ev $B/emotion/kefu_$2.tsv $B/emotion/kefu_$3.tsv 1 "$4" 0 50 80)
  if [ $peers = 1 ] && [ -f $B/emotion/peer_$3.tsv ]; then
    v=$(ev $B/emotion/peer_$2.tsv $B/emotion/peer_$3.tsv 1 "$4" 0)
    a=$(ev $B/emotion/peer_$2.tsv $B/emotion/peer_$3.tsv 3 "$4" 1)
    vs="$(j "$v" val_f1) ($(j "$v" val_p) / $(j "$v" val_r))"
    as="$(j "$a" val_f1) ($(j "$a" val_p) / $(j "$a" val_r))"
  else
    vs="no lexicon"; as="no lexicon"
  fi
  echo "| $1 | $(node -e "console.log(JSON.parse(process.argv[1]).n)" "$k")/$(node -e 'console.log(JSON.parse(process.argv[1]).positives)' "$k") | **$(j "$k" val_f1)** ($(j "$k" val_p) / $(j "$k" val_r)) | $(j "$k" p@50) / $(j "$k" r@50) | $(j "$k" p@80) / $(j "$k" r@80) | $vs | $as |"
}
row "tweeteval_emotion (en)" tweeteval_emotion_train tweeteval_emotion_val anger
row "goemotions_ekman (en)" goemotions_ekman_train goemotions_ekman_val anger
row "smp2020_ewect virus (zh)" smp2020_ewect_virus_train smp2020_ewect_virus_val angry
row "smp2020_ewect usual (zh)" smp2020_ewect_virus_train smp2020_ewect_usual_val angry
echo

# throughput: short messages (<= 60 bytes) and whole val files
cat $D/tweeteval_emotion/val.tsv $D/goemotions_ekman/val.tsv $D/smp2020_ewect/virus_val.tsv \
    $D/smp2020_ewect/usual_val.tsv | awk -F'\t' 'length($2) <= 60' > $B/emotion/short.tsv
cat $D/tweeteval_emotion/val.tsv $D/smp2020_ewect/virus_val.tsv > $B/emotion/mixed.tsv
# the service messages of the data-driven cases (short chat turns, zh + en)
for f in tests/cases/emotion/*/input.txt; do head -c 200 "$f"; echo; done | grep -v '^$' > $B/emotion/service.tsv
speed() { taskset -c 0 "$@" 2>/dev/null || "$@"; }
sv() { speed $B/bench_emotion speed $T $1 | awk '{printf "%.0f k msgs/s (%s ns/msg, %.0f bytes)", $1/1000, $5, $10}'; }
tv() { speed $B/bench_emotion text $T $1 | awk '{printf "%.0f k msgs/s (%s ns/msg)", $1/1000, $5}'; }
pv() { NODE_PATH=$B/node_modules speed node tests/bench/emotion_peers.js speed $T $1 | awk '{printf "%.1f k msgs/s (%s ns/msg)", $1/1000, $3}'; }
echo
echo 'Throughput on one core (`taskset -c 0`; CPU time of the scoring calls, texts in memory; the'
echo 'text stage column is kefu_text_run alone, the share of normalisation and tokenising):'
echo
echo "| texts | kefu_emotion_score (C) | of which text stage | vader-sentiment (node $(node --version 2>/dev/null)) |"
echo "|---|---|---|---|"
for row in "service:service messages of tests/cases/emotion ($(wc -l < $B/emotion/service.tsv), zh + en)" \
           "short:short messages from the val files (<= 60 bytes, $(wc -l < $B/emotion/short.tsv))" \
           "mixed:tweets and Weibo posts (tweeteval + smp2020 virus val)"; do
  f=$B/emotion/${row%%:*}.tsv
  if [ $peers = 1 ]; then p=$(pv $f); else p=skipped; fi
  echo "| ${row#*:} | $(sv $f) | $(tv $f) | $p |"
done
echo
echo "Command: \`make bench BENCH=emotion\` (tests/bench/bench_emotion.sh), $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)."
