#!/bin/sh
# Routing decisions per second and latency percentiles at 100, 1,000 and
# 10,000 agents: the kefu router against a scan-everything implementation
# kept in tests/bench/bench_router.c (both must make the same decisions).
# Prints a Markdown section for doc/benchmarks.md.  QUICK=1 for a short run.
set -eu
cd "$(dirname "$0")/../.."
make -s lib >/dev/null
mkdir -p build/bench
${CC:-cc} -std=c11 -O2 -Iinclude tests/bench/bench_router.c lib/libkefu.a \
    $(pkg-config --libs libpcre2-8 libutf8proc yaml-0.1 2>/dev/null || echo -lpcre2-8 -lutf8proc -lyaml) \
    -lm -o build/bench/bench_router
arg=
[ "${QUICK:-0}" = 1 ] && arg=--quick
echo "## Routing"
echo
echo "Command: \`sh tests/bench/bench_router.sh\` (or \`make bench BENCH=router\`)"
echo "on $(uname -m), $(nproc) CPUs, $(date -u +%Y-%m-%d); latencies of single"
echo "calls (submit or complete) in microseconds, measured with"
echo "CLOCK_MONOTONIC around each call.  \"scan\" is the straightforward"
echo "implementation in tests/bench/bench_router.c that looks at every agent"
echo "(arrival) or every waiting conversation (agent frees up); it makes the"
echo "same decisions as kefu (checked on every call).  ratio = kefu"
echo "decisions/s over scan decisions/s.  Shared build machine: p99.9 tails"
echo "include other people's compiles."
echo
build/bench/bench_router $arg
