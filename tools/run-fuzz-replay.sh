#!/bin/sh
# Replays each fuzz target's corpus (tests/fuzz/corpus/<name>/) through the
# standalone driver.  usage: run-fuzz-replay.sh "WRAPPER" RESULTS_DIR BIN...
wrap=$1; out=$2; shift 2
mkdir -p "$out"
fail=0
for b in "$@"; do
  name=$(basename "$b"); corpus=tests/fuzz/corpus/${name#fuzz_}
  if [ ! -d "$corpus" ]; then echo "$name: no corpus at $corpus"; fail=1; continue; fi
  n=$(ls "$corpus" | wc -l)
  if $wrap "$b" "$corpus"/* > "$out/$name.log" 2>&1; then
    echo "$n 0" > "$out/$name.count"; printf '%-28s ok (%s inputs replayed)\n' "$name" "$n"
  else
    echo "0 1" > "$out/$name.count"; printf '%-28s FAILED\n' "$name"; cat "$out/$name.log"; fail=1
  fi
done
exit $fail
