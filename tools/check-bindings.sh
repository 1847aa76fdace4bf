#!/bin/sh
# Runs the Python and Lua binding tests and the real-host scripts, when the
# bindings exist.  Each writes "passed failed" counts for the summary line.
out=${1:-build/default/results}
mkdir -p "$out"
ran=0; fail=0
for t in bindings/*/run-tests.sh tests/hosts/run-*.sh; do
  [ -f "$t" ] || continue
  ran=1
  name=$(echo "$t" | tr '/' '_' | sed 's/\.sh$//')
  if sh "$t" "$out/$name" > "$out/$name.log" 2>&1; then st=ok; else st=FAILED; fail=1; fi
  # each script prints a closing "N passed, N failed" line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/$name.log" | tail -n 1)
  p=$(echo "$line" | awk '{print $1+0}'); f=$(echo "$line" | awk '{print $3+0}')
  [ "$st" = FAILED ] && [ "${f:-0}" -eq 0 ] && f=1
  echo "${p:-0} ${f:-0}" > "$out/$name.count"
  printf '%-28s %s (%s)\n' "$t" "$st" "${line:-no summary line}"
  [ "$st" = FAILED ] && tail -n 40 "$out/$name.log"
done
[ $ran -eq 0 ] && echo "bindings: none built yet"
exit $fail
