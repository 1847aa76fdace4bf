#!/bin/sh
# make bench: runs every tests/bench/bench_*.sh in order.  Each script
# builds what it needs, installs its peers when it can (skipping a peer with
# a message when it cannot) and prints a Markdown section; the sections are
# collected in build/bench/report.md to be copied into doc/benchmarks.md.
# DATASETS points at the shared data (default ../shared/datasets).
set -u
cd "$(dirname "$0")/../.."
export DATASETS=${DATASETS:-$(cd .. && pwd)/shared/datasets}
mkdir -p build/bench
: > build/bench/report.md
only=${BENCH:-}
for s in tests/bench/bench_*.sh; do
  name=$(basename "$s" .sh)
  if [ -n "$only" ] && [ "${name#bench_}" != "$only" ]; then continue; fi
  echo "== $name" >&2
  sh "$s" | tee -a build/bench/report.md
done
echo "report: build/bench/report.md" >&2
