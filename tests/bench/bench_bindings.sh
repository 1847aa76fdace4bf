#!/bin/sh
# bench_bindings.sh - per-call cost of the Python (ctypes) and Lua (LuaJIT,
# Lua 5.4, Lua 5.1) bindings against the C call, on the same messages
# (clinc150 val, English, and smp2017 val, Chinese) with the bundled
# default model: classify (result and top list read back, no entities),
# emotion, and a session turn (the whole pipeline).  One thread, best of
# PASSES (default 3) passes, timed in process CPU time everywhere (C:
# CLOCK_PROCESS_CPUTIME_ID, Python: time.process_time, Lua: os.clock) so
# that a busy machine does not inflate one side.  Prints a Markdown section.
set -u
cd "$(dirname "$0")/../.."
D=${DATASETS:-$(cd .. && pwd)/shared/datasets}
P=${PASSES:-3}
B=build/bench/bindings
mkdir -p $B
make -s lib >&2 || exit 1
make -s -C bindings/lua >&2 || echo "lua modules not built" >&2
cc -O2 -std=c11 -Iinclude tests/bench/bench_bindings.c lib/libkefu.a \
   $(pkg-config --libs libpcre2-8 libutf8proc yaml-0.1 2>/dev/null || echo -lpcre2-8 -lutf8proc -lyaml) \
   -lm -lpthread -o $B/bench_bindings || exit 1
# the model once as a binary model (YAML loading trains)
build/default/bin/kefu train --config examples/default-model.yaml -o $B/model.kefu --quiet >&2 ||
  { echo "cannot build the model" >&2; exit 1; }
for s in clinc150 smp2017; do
  f=$D/$s/val.tsv
  [ -f "$f" ] || { echo "missing $f" >&2; exit 1; }
  cut -f2 "$f" > $B/$s.txt
done

run() {  # run NAME SET CMD... -> $B/NAME.SET
  "$@" > "$B/out" 2>&1 && mv "$B/out" "$B/$res" || { echo "$res failed:" >&2; cat "$B/out" >&2; : > "$B/$res"; }
}
ifaces="C"
for s in clinc150 smp2017; do
  res=C.$s run $B/bench_bindings $B/model.kefu $B/$s.txt $P
  res=Python.$s run python3 tests/bench/bench_bindings.py $B/model.kefu $B/$s.txt $P
  for v in luajit lua5.4 lua5.1; do
    if command -v $v >/dev/null 2>&1 && [ -f build/$v/kefu.so ]; then
      res=$v.$s run env LUA_CPATH="build/$v/?.so" $v tests/bench/bench_bindings.lua $B/model.kefu $B/$s.txt $P
    fi
  done
done
val() { awk -v op="$2" '$1 == op {print $2}' "$B/$1" 2>/dev/null; }

echo "## Bindings: per-call cost"
echo
echo "Command: \`sh tests/bench/bench_bindings.sh\` (or \`make bench BENCH=bindings\`)"
echo "on $(uname -m), $(date -u +%Y-%m-%d): the bundled default model (binary),"
echo "one thread, best of $P passes over each validation set, process CPU time;"
echo "microseconds per call, and in brackets the binding's overhead over the C call."
echo "classify = kefu_classify plus reading the top list back (Python"
echo "\`model.classify(t, entities=False)\`, Lua \`m:classify(t, {entities=false})\`);"
echo "emotion = kefu_emotion_score; turn = kefu_session_turn (the whole pipeline"
echo "with rules, one session per pass).  $(python3 --version 2>&1), $(luajit -v 2>/dev/null | cut -d' ' -f1-2), $(lua5.4 -v 2>/dev/null | cut -d' ' -f1-2)."
echo
echo "| data | call | C µs | Python µs | LuaJIT µs | Lua 5.4 µs | Lua 5.1 µs |"
echo "|---|---|---:|---:|---:|---:|---:|"
for s in clinc150 smp2017; do
  for op in classify emotion turn; do
    c=$(val C.$s $op)
    row="| $s | $op | ${c:--}"
    for i in Python luajit lua5.4 lua5.1; do
      v=$(val $i.$s $op)
      if [ -n "$v" ] && [ -n "$c" ]; then
        row="$row | $(awk -v v="$v" -v c="$c" 'BEGIN {printf "%.2f (+%.2f)", v, v - c}')"
      else
        row="$row | -"
      fi
    done
    echo "$row |"
  done
done
echo
