#!/bin/sh
# tests/hosts/run-kamailio.sh [WORKDIR] - the SIP chat gateway
# (examples/kamailio): starts Kamailio with app_lua on 127.0.0.1 (a free
# high port), sends the sample conversations as SIP MESSAGE requests with
# a short python3 UDP client that also plays the agents' desk
# (tests/hosts/sip_chat.py), checks the answers against `kefu triage`, and
# stops Kamailio by its PID.  Prints "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
host=kamailio
. tests/hosts/lib.sh

KAMAILIO=${KAMAILIO:-$(command -v kamailio || echo /usr/sbin/kamailio)}
[ -x "$KAMAILIO" ] || skip "kamailio is not installed (Debian: sh tools/deps.sh --hosts)"
KMOD=${KAMAILIO_MODULES:-}
if [ -z "$KMOD" ]; then
  for d in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/*/kamailio/modules \
           /usr/lib/kamailio/modules /usr/local/lib64/kamailio/modules; do
    [ -f "$d/app_lua.so" ] && { KMOD=$d; break; }
  done
fi
[ -n "$KMOD" ] || skip "Kamailio's app_lua is not installed (Debian: kamailio-lua-modules)"
need python3
pkg-config --exists lua5.1 2>/dev/null ||
  skip "no Lua 5.1 headers to build the kefu module (Debian: liblua5.1-0-dev)"

work=$root/${1:-build/hosts/kamailio}
case "$1" in /*) work=$1 ;; esac
mkdir -p "$work/run" || exit 1
kefu=build/default/bin/kefu
model=$root/examples/default-model.yaml
make -s lib "$kefu" >/dev/null 2>&1 || { bad "build libkefu and kefu"; finish; }
make -s -C bindings/lua lua5.1 > "$work/lua-build.log" 2>&1 ||
  { bad "build the Lua 5.1 module (bindings/lua)"; cat "$work/lua-build.log"; finish; }

ports=$(python3 -c '
import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
port=${ports% *}; agent_port=${ports#* }
sed -e "s|@PORT@|$port|" -e "s|@MODULES@|$KMOD|" \
    -e "s|@SCRIPT@|$root/examples/kamailio/kefu_sip.lua|" \
    examples/kamailio/kamailio.cfg.in > "$work/kamailio.cfg"

"$KAMAILIO" -f "$work/kamailio.cfg" -c > "$work/check.log" 2>&1
check "kamailio -c accepts the configuration" test $? -eq 0

pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
}
trap stop EXIT
trap 'exit 1' INT TERM

# -DD: the main process stays in the foreground (its PID is $!), -E: log
# to stderr; -Y: runtime files under build/.
KEFU_AGENTS=127.0.0.1:$agent_port KEFU_MODEL=$model \
  "$KAMAILIO" -f "$work/kamailio.cfg" -m 128 -DD -E -Y "$work/run" > "$work/kamailio.log" 2>&1 &
pid=$!
sleep 0.5
check "kamailio started (pid $pid)" kill -0 "$pid"
kill -0 "$pid" 2>/dev/null || { tail -n 20 "$work/kamailio.log"; finish; }

"$kefu" triage -m "$model" examples/conversations.jsonl > "$work/expected.jsonl"
timeout 120 python3 tests/hosts/sip_chat.py "$port" "$agent_port" \
  examples/conversations.jsonl "$work/expected.jsonl" > "$work/client.log" 2>&1
cat "$work/client.log"
pass=$((pass + $(grep -c '^ok ' "$work/client.log")))
fail=$((fail + $(grep -c '^FAIL ' "$work/client.log")))
grep -q '^ok .*MESSAGEs' "$work/client.log" || bad "the SIP client ran to the end"

check "no Lua or module errors in Kamailio's log" \
  sh -c "! grep -E 'ERROR|CRITICAL|ALERT' '$work/kamailio.log' | grep -v 'Bad Message\|kefu: invalid' | grep -q ."
grep -E 'ERROR|CRITICAL|ALERT' "$work/kamailio.log" | head -n 5

stop
check "kamailio stopped (pid $pid)" sh -c "! kill -0 $pid 2>/dev/null"
pid=""
finish
