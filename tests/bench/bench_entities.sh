#!/bin/sh
# Entity extraction and redaction with the default model's entities on the
# validation sets of the intent benchmarks (real customer messages, no real
# personal data: every redaction is a candidate false positive).  No peer:
# there is no Debian or npm packaged bilingual PII masker to compare with.
# Prints a Markdown section for doc/benchmarks.md.
set -eu
cd "$(dirname "$0")/../.."
DATASETS=${DATASETS:-$(cd .. && pwd)/shared/datasets}
make -s lib >/dev/null
mkdir -p build/bench
${CC:-cc} -std=c11 -O2 -Iinclude tests/bench/bench_entities.c lib/libkefu.a \
    $(pkg-config --libs libpcre2-8 libutf8proc yaml-0.1 2>/dev/null || echo -lpcre2-8 -lutf8proc -lyaml) \
    -lm -lpthread -o build/bench/bench_entities
set --
for d in clinc150 banking77 smp2017 cais; do
  [ -f "$DATASETS/$d/val.tsv" ] && set -- "$@" "$d=$DATASETS/$d/val.tsv"
done
echo "## Entities and redaction"
echo
echo "Command: \`sh tests/bench/bench_entities.sh\` (or \`make bench BENCH=entities\`)"
echo "on $(uname -m), $(date -u +%Y-%m-%d): the 9 entities of"
echo "examples/default-model.yaml (built-ins, two patterns, two lookup lists) and"
echo "the default redaction policy, one thread, best of 3 passes, text stage"
echo "included (each call normalises the message).  The validation sets hold"
echo "no real personal data, so \"msgs redacted\" counts false positives."
echo
build/bench/bench_entities examples/default-model.yaml "$@" 2>build/bench/entities_samples.txt
echo
