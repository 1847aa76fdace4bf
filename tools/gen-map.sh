#!/bin/sh
# Prints a linker version script exporting exactly the functions that the
# public header declares with KEFU_API.  Convention: every declaration
# starts a line with "KEFU_API" and names the function on that line.
# usage: gen-map.sh HEADER MAJOR
hdr=$1; major=$2
echo "KEFU_$major {"
echo "  global:"
grep '^KEFU_API ' "$hdr" | sed 's/(.*//' | grep -o 'kefu_[a-z0-9_]*$' \
  | sort -u | sed 's/^/    /; s/$/;/'
echo "  local: *;"
echo "};"
