#!/bin/sh
# Lua binding tests: builds bindings/lua for each installed Lua, runs
# tests/test_kefu.lua under lua5.1, luajit and lua5.4, checks that the
# modules link no Lua library and export only luaopen_kefu, and runs the
# 5.4 suite once under valgrind (no definite/indirect leaks, no invalid
# accesses).  Usage: run-tests.sh [RESULTS_PREFIX]
# Prints a closing "N passed, N failed" line; exits non-zero on failure.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prefix=${1:-$root/build/default/results/bindings_lua}
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
mkdir -p "$(dirname "$prefix")"
passed=0; failed=0
ok()  { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

if ! make -s -C "$here" > "$prefix.build.log" 2>&1; then
  cat "$prefix.build.log"; bad "make -C bindings/lua"
  echo "$passed passed, $failed failed"; exit 1
fi
ran=0
for v in lua5.1 luajit lua5.4; do
  mod="$root/build/$v/kefu.so"
  if ! command -v "$v" >/dev/null 2>&1; then
    echo "skip $v: interpreter not installed (tools/deps.sh installs lua5.1 lua5.4 luajit2)"
    continue
  fi
  if [ ! -f "$mod" ]; then
    echo "skip $v: no headers to build the module (pkg-config $v; Debian: liblua5.1-0-dev liblua5.4-dev libluajit2-5.1-dev)"
    continue
  fi
  ran=1
  # the host provides Lua: the module must not pull in a Lua library
  if ldd "$mod" | grep -Eq 'liblua|libluajit'; then
    bad "$v: module links a Lua library: $(ldd "$mod" | grep -E 'liblua|libluajit')"
  elif [ "$(nm -D --defined-only "$mod" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | sort -u | tr '\n' ' ')" != "luaopen_kefu " ]; then
    bad "$v: module exports more than luaopen_kefu"
  else
    ok "$v: module links no Lua library, exports only luaopen_kefu"
  fi
  echo "--- $v ($($v -v 2>&1 | head -n 1))"
  LUA_CPATH="$root/build/$v/?.so" "$v" "$here/tests/test_kefu.lua" "$root" > "$prefix.$v.log" 2>&1
  rc=$?
  cat "$prefix.$v.log"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$prefix.$v.log" | tail -n 1)
  p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
  [ -z "$line" ] && f=1
  [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done

# valgrind, Lua 5.4 build.  PCRE2's JIT-compiled code reads whole words
# and trips "conditional jump on uninitialised value" in anonymous JIT
# pages (frames "???"); those are reported, not counted.  Leaks and invalid
# accesses fail.
if [ -f "$root/build/lua5.4/kefu.so" ] && command -v lua5.4 >/dev/null 2>&1; then
  if command -v valgrind >/dev/null 2>&1; then
    LUA_CPATH="$root/build/lua5.4/?.so" valgrind --leak-check=full \
      --show-leak-kinds=definite,indirect --log-file="$prefix.valgrind.log" \
      lua5.4 "$here/tests/test_kefu.lua" "$root" > "$prefix.valgrind.out" 2>&1
    vrc=$?
    def=$(grep -E 'definitely lost:' "$prefix.valgrind.log" | grep -oE '[0-9,]+ bytes' | head -n 1 | tr -d ', bytes')
    ind=$(grep -E 'indirectly lost:' "$prefix.valgrind.log" | grep -oE '[0-9,]+ bytes' | head -n 1 | tr -d ', bytes')
    inval=$(grep -cE 'Invalid (read|write|free)|Mismatched free|uninitialised byte|Source and destination overlap' "$prefix.valgrind.log")
    jit=$(grep -c 'Conditional jump' "$prefix.valgrind.log")
    # an uninitialised-value report whose top frame is known code is real
    real=$(awk '/Conditional jump|Use of uninitialised/ {getline; if ($0 !~ /\?\?\?/) n++} END {print n+0}' "$prefix.valgrind.log")
    inval=$((inval + real))
    if [ $vrc -eq 0 ] && [ "${def:-0}" = 0 ] && [ "${ind:-0}" = 0 ] && [ "$inval" -eq 0 ]; then
      ok "valgrind lua5.4: definitely lost ${def:-0}, indirectly lost ${ind:-0}, no invalid accesses ($jit JIT-code notes)"
    else
      grep -A12 -E 'Invalid|lost in' "$prefix.valgrind.log" | head -n 60
      tail -n 3 "$prefix.valgrind.out"
      bad "valgrind lua5.4: exit $vrc, definitely lost ${def:-?}, indirectly lost ${ind:-?}, $inval invalid accesses"
    fi
  else
    echo "skip valgrind: not installed (tools/deps.sh installs it)"
  fi
fi
# the rockspec: LuaRocks builds the module against lib/libkefu.so
if command -v luarocks >/dev/null 2>&1 && command -v lua5.4 >/dev/null 2>&1 &&
   pkg-config --exists lua5.4; then
  rt=$(mktemp -d)
  mkdir -p "$rt/src/bindings/lua" "$rt/lib"
  cp "$here/kefu.c" "$here/kefu-scm-1.rockspec" "$rt/src/bindings/lua/"
  # a private copy of the shared library: other builds may relink lib/
  cp -P "$root"/lib/libkefu.so* "$rt/lib/"
  if (cd "$rt/src" && luarocks --lua-version 5.4 make bindings/lua/kefu-scm-1.rockspec \
        --tree "$rt/tree" LIBKEFU_INCDIR="$root/include" LIBKEFU_LIBDIR="$rt/lib") \
        > "$prefix.rock.log" 2>&1 &&
     LD_LIBRARY_PATH="$rt/lib" LUA_CPATH="$rt/tree/lib/lua/5.4/?.so" lua5.4 -e '
       local k = require "kefu"
       local m = assert(k.load_buffer("kefu: 1\nintents:\n  a: {examples: [hello, hi]}\n  b: {examples: [refund please, money back]}\n"))
       assert(m:classify("refund please").intent == "b")' >> "$prefix.rock.log" 2>&1 ||
     { echo "lua5.4 exited with status $?" >> "$prefix.rock.log"; false; }; then
    ok "luarocks make kefu-scm-1.rockspec (Lua 5.4, against lib/libkefu.so)"
  else
    cat "$prefix.rock.log"; bad "luarocks make kefu-scm-1.rockspec"
  fi
  rm -rf "$rt"
else
  echo "skip rockspec check: luarocks not installed (Debian: luarocks)"
fi
[ $ran -eq 0 ] && echo "lua: no interpreter with headers installed; nothing run (sh tools/deps.sh installs them on Debian)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
