#!/bin/sh
# Text stage throughput (kefu alone): MB/s and messages/s over the text of
# every shared dataset, one core, best of 5 passes.
set -u
cd "$(dirname "$0")/../.."
DATASETS=${DATASETS:-../shared/datasets}
out=build/bench/text
mkdir -p "$out"
make -s lib >/dev/null || exit 1
cc -O2 -Iinclude tests/bench/bench_text.c lib/libkefu.a \
   $(pkg-config --libs libpcre2-8 libutf8proc yaml-0.1) -lm -lpthread -o "$out/bench_text" || exit 1
TS=""; command -v taskset >/dev/null 2>&1 && TS="taskset -c 0"
echo "## Text stage"
echo
echo "Command: \`sh tests/bench/bench_text.sh\` (or \`BENCH=text make bench\`), $(date -u +%Y-%m-%d), $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1); one core, best of 5 passes over the train and val text of each set (validation, NFKC + case fold, Traditional->Simplified, tokens with byte and character offsets)."
echo
echo "| data | messages | MB | tokens/message | MB/s | messages/s | µs/message |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for d in clinc150 banking77 smp2017 cais tweeteval_emotion smp2020_ewect goemotions_ekman; do
  [ -d "$DATASETS/$d" ] || continue
  cat "$DATASETS/$d"/*.tsv | cut -f2 > "$out/$d.txt"
  set -- $($TS "$out/bench_text" "$out/$d.txt" 5)
  awk -v d="$d" -v n="$1" -v b="$2" -v t="$3" -v s="$4" 'BEGIN {
    printf "| %s | %d | %.2f | %.1f | %.1f | %.0f | %.2f |\n", d, n, b / 1e6, t / n, b / 1e6 / s, n / s, s / n * 1e6 }'
done
