#!/bin/sh
# tests/hosts/run-nginx.sh [WORKDIR] - the nginx chat gateway
# (examples/nginx): starts nginx with the Lua module on 127.0.0.1 with a
# private prefix under build/, drives POST /triage with curl, checks the
# answers against `kefu triage` on the same lines, stops nginx by its PID.
# Prints "N passed, N failed"; exits non-zero on failure.
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
host=nginx
. tests/hosts/lib.sh

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
MODULES=${NGINX_MODULES:-/usr/lib/nginx/modules}
[ -x "$NGINX" ] || skip "nginx is not installed (Debian: sh tools/deps.sh --hosts)"
[ -f "$MODULES/ngx_http_lua_module.so" ] ||
  skip "the nginx Lua module is not installed (Debian: libnginx-mod-http-lua; note that Debian's luajit / libluajit-5.1-dev remove it - use luajit2 / libluajit2-5.1-dev)"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"
need python3
pkg-config --exists luajit 2>/dev/null ||
  skip "no LuaJIT headers to build the kefu module (Debian: libluajit2-5.1-dev)"

prefix=$root/build/hosts/nginx
work=$root/${1:-build/hosts/nginx-work}
case "$1" in /*) work=$1 ;; esac
mkdir -p "$prefix" "$work" || exit 1
kefu=build/default/bin/kefu
model=$root/examples/default-model.yaml
make -s lib "$kefu" >/dev/null 2>&1 || { bad "build libkefu and kefu"; finish; }
make -s -C bindings/lua luajit > "$work/lua-build.log" 2>&1 ||
  { bad "build the LuaJIT module (bindings/lua)"; cat "$work/lua-build.log"; finish; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sh examples/nginx/configure.sh "$prefix" "$port" "$model" 2 > /dev/null ||
  { bad "configure"; finish; }
rm -f "$prefix/nginx.pid" "$prefix/error.log"

pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -QUIT "$pid"
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
}
trap stop EXIT
trap 'exit 1' INT TERM

"$NGINX" -p "$prefix" -c "$prefix/nginx.conf" -t > "$work/conf-test.log" 2>&1
check "nginx -t accepts the configuration" test $? -eq 0
"$NGINX" -p "$prefix" -c "$prefix/nginx.conf" 2> "$work/start.log"
for _ in $(seq 50); do [ -s "$prefix/nginx.pid" ] && break; sleep 0.1; done
pid=$(cat "$prefix/nginx.pid" 2>/dev/null)
check "nginx started (pid ${pid:-none})" test -n "$pid"
[ -n "$pid" ] || { cat "$work/start.log" "$prefix/error.log" 2>/dev/null; finish; }
url=http://127.0.0.1:$port/triage
for _ in $(seq 50); do curl -s -o /dev/null "$url" && break; sleep 0.1; done

post() { curl -s -X POST --data-binary "$1" -H 'Content-Type: application/json' "$url"; }

# 1. Every sample message, one conversation after another: the answers are
#    the lines kefu triage writes, byte for byte.
"$kefu" triage -m "$model" examples/conversations.jsonl > "$work/expected.jsonl"
: > "$work/got.jsonl"
while IFS= read -r line; do
  post "$line" >> "$work/got.jsonl"
done < examples/conversations.jsonl
check "27 answers equal kefu triage's lines" cmp "$work/expected.jsonl" "$work/got.jsonl"

# 2. Fields of a few turns (sessions carried between requests), read once.
python3 -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(l)
    for k in ("intent", "escalated", "locked"):
        print(d["conversation"], d["turn"], k, json.dumps(d[k]))
    for k, v in d["route"].items():
        print(d["conversation"], d["turn"], "route." + k, json.dumps(v))' \
  "$work/got.jsonl" > "$work/fields.txt"
has() { for f in "$@"; do grep -qxF "$f" "$work/fields.txt" || return 1; done; }
check "c1001 turn 1 is order_status" has 'c1001 1 intent "order_status"'
check "c1001 turn 3 (third request) is thanks" has 'c1001 3 intent "thanks"'
check "c1003 turn 2 escalates a complaint to the human queue, senior tier" \
  has 'c1003 2 escalated true' 'c1003 2 route.queue "human"' 'c1003 2 route.tier "senior"'
check "c1004 third request for a human jumps to the priority queue" \
  has 'c1004 2 escalated false' 'c1004 3 route.queue "priority"' 'c1004 3 route.priority 80'
check "c1011 fraud report locks and goes to risk, expert tier" \
  has 'c1011 2 locked true' 'c1011 2 route.queue "risk"' 'c1011 2 route.tier "expert"'
check "c1012 anger fires angry_customer" \
  grep -q '"conversation":"c1012","turn":1,.*"angry_customer"' "$work/got.jsonl"

# 3. The same messages again, 8 copies of each conversation under new ids,
#    all conversations at once (4 client threads; a conversation's messages
#    in order), spread over both workers: still kefu triage's answers.
python3 - "$work" "$port" <<'EOF'
import http.client, json, sys
from concurrent.futures import ThreadPoolExecutor
work, port = sys.argv[1], int(sys.argv[2])
base = [json.loads(l) for l in open("examples/conversations.jsonl", encoding="utf-8")]
convs = {}
with open(work + "/many.jsonl", "w", encoding="utf-8") as out:
    for k in range(8):
        for d in base:
            d = dict(d, conversation="%s-%d" % (d["conversation"], k))
            line = json.dumps(d, ensure_ascii=False)
            out.write(line + "\n")
            convs.setdefault(d["conversation"], []).append(line)
def run(lines):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    got = []
    for line in lines:
        c.request("POST", "/triage", body=line.encode("utf-8"))
        got.append(c.getresponse().read().decode("utf-8"))
    c.close()
    return got
with ThreadPoolExecutor(4) as pool:
    answers = [a for got in pool.map(run, convs.values()) for a in got]
with open(work + "/many.got", "w", encoding="utf-8") as f:
    f.write("".join(sorted(answers)))
EOF
"$kefu" triage -m "$model" "$work/many.jsonl" | sort > "$work/many.expected"
check "96 conversations from 4 parallel clients equal kefu triage" cmp -s "$work/many.expected" "$work/many.got"

# 3b. Host facts (`facts`, declared by the model's rules): a large
#     transfer locks the conversation and stays set for its next turn, but
#     not for another conversation served by the same worker in between;
#     null unsets; a fact of the wrong type is kefu triage's error line.
#     Four rounds, so that with two nginx workers g1 meets f1's worker.
: > "$work/facts.jsonl"
for k in 1 2 3 4; do
  printf '%s\n' '{"conversation":"f1-'$k'","text":"我要转账","time_ms":0,"facts":{"transfer_amount":90000}}' \
    '{"conversation":"g1-'$k'","text":"我要转账","time_ms":0}' \
    '{"conversation":"f1-'$k'","text":"我要转账","time_ms":1000}' \
    '{"conversation":"f1-'$k'","text":"我要转账","time_ms":2000,"facts":{"transfer_amount":null}}' >> "$work/facts.jsonl"
done
echo '{"conversation":"f2","text":"我要转账","time_ms":0,"facts":{"transfer_amount":"x"}}' >> "$work/facts.jsonl"
"$kefu" triage -m "$model" "$work/facts.jsonl" > "$work/facts.expected" 2>/dev/null
: > "$work/facts.got"
while IFS= read -r line; do post "$line" >> "$work/facts.got"; done < "$work/facts.jsonl"
check "host facts: answers equal kefu triage's (kept per conversation, not leaked, unset, type error)" \
  sh -c "cmp -s '$work/facts.expected' '$work/facts.got' && grep -q high_risk_transaction '$work/facts.got'"

# 4. Errors look like kefu triage's error lines, with HTTP 400 / 405.
bad_line='{"conversation": "e1", "time_ms": 0}'
exp=$(printf '%s\n' "$bad_line" | "$kefu" triage -m "$model" 2>/dev/null)
got=$(post "$bad_line")
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "$bad_line" "$url")
check "a message without text: 400 and kefu triage's error line" test "$code $got" = "400 $exp"
bad_line='{"conversation": {"id": 1}, "text": "hi"}'
exp=$(printf '%s\n' "$bad_line" | "$kefu" triage -m "$model" 2>/dev/null)
got=$(post "$bad_line")
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "$bad_line" "$url")
check "a conversation id that is an object: 400 and kefu triage's error line" \
  sh -c "test '$code' = 400 && test '$got' = '$exp' && echo '$got' | grep -q 'must be a string or a whole number'"
# fields of the wrong type or range: the same error line as kefu triage
: > "$work/fields.exp"; : > "$work/fields.got"
for f in '"time_ms":"soon"' '"time_ms":1e300' '"wait_ms":-5e300' '"external_emotion":101' \
         '"contacts_7d":-1' '"channel":7' '"bot_failed":1' '"customer":{"value":"high"}' \
         '"customer":{"risk":["fraud",3]}' '"customer":{"tier":5}' '"customer":"vip"'; do
  line='{"conversation":"e4","text":"hi",'"$f"'}'
  printf '%s\n' "$line" | "$kefu" triage -m "$model" >> "$work/fields.exp" 2>/dev/null
  post "$line" >> "$work/fields.got"
done
check "fields of the wrong type or range: kefu triage's error lines, one per field" \
  sh -c "cmp -s '$work/fields.exp' '$work/fields.got' && test \$(grep -c '\"error\"' '$work/fields.got') -eq 11"
bad_utf8=$(printf '{"conversation":"e2","text":"\377\376"}')
code=$(curl -s -o "$work/utf8.out" -w '%{http_code}' -X POST --data-binary "$bad_utf8" "$url")
check "invalid UTF-8 text: 400 with an error" sh -c "test $code = 400 && grep -q '\"error\"' '$work/utf8.out'"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary 'not json' "$url")
check "a body that is not JSON: 400" test "$code" = 400
code=$(curl -s -o /dev/null -w '%{http_code}' "$url")
check "GET /triage: 405" test "$code" = 405
got=$(post '{"conversation": "e3", "text": "你好，我的订单到哪了？"}')
check "the conversation after an error goes on normally" \
  sh -c "echo '$got' | grep -q '\"turn\":1,\"intent\":\"order_status\"'"

# 5. The error log holds no errors (alerts, Lua errors).
check "error.log has no [error]/[alert]/[crit] lines" \
  sh -c "! grep -E '\[(error|alert|crit|emerg)\]' '$prefix/error.log'"
grep -E '\[(error|alert|crit|emerg)\]' "$prefix/error.log" | head -n 5

stop
check "nginx stopped (pid $pid)" sh -c "! kill -0 $pid 2>/dev/null"
pid=""
finish
