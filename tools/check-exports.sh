#!/bin/sh
# Checks that the shared library exports exactly the KEFU_API functions of
# the public header, nothing more and nothing less.
so=$1; hdr=$2
here=$(dirname "$0")
want=$(sh "$here/gen-map.sh" "$hdr" 0 | sed -n 's/^    \(kefu_[a-z0-9_]*\);$/\1/p' | sort)
have=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u)
if [ "$want" != "$have" ]; then
  echo "exports: FAILED; diff (< header, > library):"
  printf '%s\n' "$want" > /tmp/kefu-want.$$; printf '%s\n' "$have" > /tmp/kefu-have.$$
  diff /tmp/kefu-want.$$ /tmp/kefu-have.$$; rm -f /tmp/kefu-want.$$ /tmp/kefu-have.$$
  exit 1
fi
n=$(printf '%s\n' "$want" | wc -l)
echo "exports: ok ($n kefu_* symbols, nothing else)"
