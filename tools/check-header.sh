#!/bin/sh
# The public header compiles cleanly as C99 (-Wall -Wextra -pedantic) and
# as C++, on its own.
cc=${1:-cc}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '#include "kefu.h"\nint main(void) { return kefu_version_number() == 0; }\n' > "$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cpp"
$cc -std=c99 -Wall -Wextra -pedantic -Werror -Iinclude -c "$tmp/h.c" -o "$tmp/h.o" || { echo "header: FAILED as C99"; exit 1; }
c++ -std=c++11 -Wall -Wextra -pedantic -Werror -Iinclude -c "$tmp/h.cpp" -o "$tmp/hpp.o" || { echo "header: FAILED as C++"; exit 1; }
echo "header: ok (C99 -pedantic, C++11)"
