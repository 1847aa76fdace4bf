#!/bin/sh
# The per-message pipeline in C: each stage and the whole session turn
# (normalise -> intent -> entities -> emotion -> counters -> rules) with the
# bundled default model, on one core, over the validation texts of the
# English and Chinese intent sets (the mix a bilingual contact center sees).
set -u
cd "$(dirname "$0")/../.."
DATASETS=${DATASETS:-../shared/datasets}
out=build/bench/pipeline
mkdir -p "$out"
make -s lib build/default/bin/kefu >/dev/null || exit 1
cc -O2 -Iinclude tests/bench/bench_pipeline.c lib/libkefu.a \
   $(pkg-config --libs libpcre2-8 libutf8proc yaml-0.1) -lm -lpthread -o "$out/bench_pipeline" || exit 1
: > "$out/texts.txt"
for f in clinc150/val.tsv banking77/val.tsv smp2017/val.tsv cais/val.tsv; do
  [ -f "$DATASETS/$f" ] && cut -f2 "$DATASETS/$f" >> "$out/texts.txt"
done
n=$(wc -l < "$out/texts.txt")
TS=""; command -v taskset >/dev/null 2>&1 && TS="taskset -c 0"
echo "## Pipeline"
echo
echo "Command: \`sh tests/bench/bench_pipeline.sh\` (or \`BENCH=pipeline make bench\`), $(date -u +%Y-%m-%d), $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)."
nint=$(build/default/bin/kefu info -m examples/default-model.yaml |
  python3 -c 'import json, sys; print(len(json.load(sys.stdin)["intents"]))' 2>/dev/null || echo '?')
echo "Model: examples/default-model.yaml ($nint intents, \`oos\` included, trained on load; its entities; the default rule pack)."
echo "Texts: the $n validation texts of clinc150, banking77, smp2017 and cais (English and Chinese), one core, best of 5 passes; a new session every 8 messages."
echo
echo "| stage | µs per message | messages per second |"
echo "|---|---:|---:|"
$TS "$out/bench_pipeline" examples/default-model.yaml "$out/texts.txt" 5
