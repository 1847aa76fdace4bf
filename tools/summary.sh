#!/bin/sh
# Adds up the *.count files ("passed failed" per suite) of the given result
# directories and prints the closing line CI reads.
p=0; f=0
for dir in "$@"; do
  for c in "$dir"/*.count; do
    [ -f "$c" ] || continue
    read a b < "$c"; p=$((p + a)); f=$((f + b))
  done
done
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
