#!/bin/sh
# Runs the cmocka suites; records pass/fail counts for the summary line.
# usage: run-unit.sh "WRAPPER" RESULTS_DIR TEST...
wrap=$1; out=$2; shift 2
mkdir -p "$out"
fail=0
for t in "$@"; do
  name=$(basename "$t")
  if $wrap "$t" > "$out/$name.log" 2>&1; then st=ok; else st=FAILED; fail=1; fi
  p=$(grep -c '^\[       OK \]' "$out/$name.log")
  f=$(grep -c '^\[  FAILED  \]' "$out/$name.log")
  [ "$st" = FAILED ] && [ "$f" -eq 0 ] && f=1
  echo "$p $f" > "$out/$name.count"
  printf '%-28s %s (%s passed, %s failed)\n' "$name" "$st" "$p" "$f"
  [ "$st" = FAILED ] && cat "$out/$name.log"
done
exit $fail
