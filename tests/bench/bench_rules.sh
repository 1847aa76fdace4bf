#!/bin/sh
# Rule evaluation: kefu against json-rules-engine and @marcbachmann/cel-js
# (npm) on the same rule packs and the same 2000 facts records.
#   - the default pack, examples/default-rules.yaml (hand-translated for the
#     peers in bench_rules_peers.mjs), with and without its regexes
#   - a 200-rule synthetic pack generated in all three syntaxes
# Every engine's "fired" checksum (rules fired summed over the records) must
# agree, which shows the packs are equivalent.  Times are CPU time per
# evaluation of a whole pack on one record.  Prints a Markdown section.
# usage: sh tests/bench/bench_rules.sh   (or BENCH=rules make bench)
set -u
cd "$(dirname "$0")/../.."
B=build/bench
SECS=${SECS:-2}
mkdir -p $B
CC=${CC:-cc}
LIBS=$(pkg-config --libs libpcre2-8 libutf8proc yaml-0.1 2>/dev/null || echo -lpcre2-8 -lutf8proc -lyaml)

[ -f lib/libkefu.a ] || make -s lib >&2 || exit 1
$CC -O2 -Iinclude tests/bench/bench_rules.c lib/libkefu.a $LIBS -lm -lpthread \
    -o $B/bench_rules || exit 1
$B/bench_rules gen $B || exit 1
# the default pack without `text matches` (the target excludes regex time)
sed 's/text matches "[^"]*"/false/' examples/default-rules.yaml > $B/default-noregex.yaml

peers=1
if ! command -v node >/dev/null 2>&1; then
  echo "bench_rules: node not found; skipping json-rules-engine and cel-js" >&2
  peers=0
elif [ ! -d $B/node_modules/json-rules-engine ] || [ ! -d $B/node_modules/@marcbachmann/cel-js ]; then
  [ -f $B/package.json ] || echo '{"private": true}' > $B/package.json
  if ! (cd $B && npm install --no-audit --no-fund --silent json-rules-engine @marcbachmann/cel-js >&2); then
    echo "bench_rules: npm install failed; skipping json-rules-engine and cel-js" >&2
    peers=0
  fi
fi

kefu() { $B/bench_rules run "$1" $B/facts.tsv "$SECS"; }
peer() { [ $peers = 1 ] && node tests/bench/bench_rules_peers.mjs "$1" "$2" $B "$SECS" 2>/dev/null; }

k_def=$(kefu examples/default-rules.yaml)
k_nore=$(kefu $B/default-noregex.yaml)
k_syn=$(kefu $B/synthetic.yaml)
c_def=$(peer cel default || true)
c_syn=$(peer cel synthetic || true)
j_def=$(peer jre default || true)
j_syn=$(peer jre synthetic || true)

# row PACK ENGINE "eps ns checksum rules" KEFU_NS
row() {
  if [ -z "$3" ]; then
    printf '| %s | %s | skipped | | | |\n' "$1" "$2"
    return
  fi
  set -- "$1" "$2" $3 "$4"
  awk -v p="$1" -v e="$2" -v eps="$3" -v ns="$4" -v sum="$5" -v k="$7" 'BEGIN {
    r = (e == "kefu") ? "1" : sprintf("%.0fx", ns / k);
    printf "| %s | %s | %.0f | %.3f | %s | %s |\n", p, e, eps, ns / 1000, r, sum }'
}

kns() { echo "$1" | awk '{print $2}'; }

cat <<EOF
## Rules

\`BENCH=rules make bench\` (tests/bench/bench_rules.sh: bench_rules.c and
bench_rules_peers.mjs).  One evaluation = one whole pack on one facts record;
2000 generated records (intent, text, emotion, customer, session counters,
wait), the same for every engine; facts objects / contexts are built before
timing.  Times are CPU time (the machine may be shared).  "fired" is the
number of rules that fired over all records: equal numbers show that the
packs are equivalent.  json-rules-engine runs with a \`matches\` operator
(JavaScript RegExp) for the default pack's patterns.

| pack | engine | evaluations/s | µs/evaluation | kefu is faster by | fired |
|---|---|---|---|---|---|
EOF
row "default (10 rules)" kefu "$k_def" "$(kns "$k_def")"
row "default (10 rules)" cel-js "$c_def" "$(kns "$k_def")"
row "default (10 rules)" json-rules-engine "$j_def" "$(kns "$k_def")"
row "default, no regex" kefu "$k_nore" "$(kns "$k_nore")"
row "synthetic (200 rules)" kefu "$k_syn" "$(kns "$k_syn")"
row "synthetic (200 rules)" cel-js "$c_syn" "$(kns "$k_syn")"
row "synthetic (200 rules)" json-rules-engine "$j_syn" "$(kns "$k_syn")"
echo
echo "$(uname -m), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null); node $(node --version 2>/dev/null || echo -)."
echo
