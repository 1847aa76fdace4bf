#!/bin/sh
# kefu inside real hosts: the nginx gateway (examples/nginx) under a wrk
# load run (requests/s and latency percentiles, against nginx's static
# /health as the floor), the Kamailio gateway (examples/kamailio) under a
# bounded SIPp run, and the C host (examples/chat_host.c) with 1 and 2
# worker threads.  Everything listens on 127.0.0.1 and is stopped on
# exit.  Prints a Markdown section for doc/benchmarks.md (## Hosts).
# DURATION=seconds of the wrk run (default 10).
set -u
cd "$(dirname "$0")/../.."
root=$(pwd)
dur=${DURATION:-10}
out=$root/build/bench/hosts
mkdir -p "$out"
make -s lib build/default/bin/chat_host build/default/bin/kefu >/dev/null 2>&1 ||
  { echo "bench_hosts: build failed" >&2; exit 1; }
model=$root/examples/default-model.yaml

pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -QUIT "$pid"
    for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  pid=""
}
trap stop EXIT
trap 'exit 1' INT TERM

echo "## Hosts"
echo
echo "Command: \`sh tests/bench/bench_hosts.sh\` (or \`make bench BENCH=hosts\`)"
echo "on $(uname -m), $(nproc) CPUs, $(date -u +%Y-%m-%d); a shared build machine"
echo "(other people's compiles run at the same time, so take the numbers as a"
echo "floor).  Every server listens on 127.0.0.1."
echo

# ---- nginx + Lua gateway under wrk ---------------------------------------
if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || true
fi
if ! command -v nginx >/dev/null 2>&1 || [ ! -f /usr/lib/nginx/modules/ngx_http_lua_module.so ]; then
  echo "nginx gateway: skipped (nginx or libnginx-mod-http-lua not installed; sh tools/deps.sh --hosts)"
  echo
elif ! command -v wrk >/dev/null 2>&1; then
  echo "nginx gateway: skipped (wrk not installed; Debian package wrk)"
  echo
elif ! make -s -C bindings/lua luajit >/dev/null 2>&1; then
  echo "nginx gateway: skipped (the LuaJIT module did not build)"
  echo
else
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  prefix=$root/build/bench/nginx
  sh examples/nginx/configure.sh "$prefix" "$port" "$model" 2 >/dev/null
  rm -f "$prefix/nginx.pid"
  nginx -p "$prefix" -c "$prefix/nginx.conf"
  for _ in $(seq 50); do [ -s "$prefix/nginx.pid" ] && break; sleep 0.1; done
  pid=$(cat "$prefix/nginx.pid")
  url=http://127.0.0.1:$port
  for _ in $(seq 50); do curl -s -o /dev/null "$url/health" && break; sleep 0.1; done
  # warm-up (every worker loads its model in init_worker)
  KEFU_BENCH_RUN=warm KEFU_BENCH_INPUT=examples/conversations.jsonl timeout 10 wrk -t1 -c2 -d1s \
    -s tests/bench/wrk_triage.lua "$url/triage" >/dev/null 2>&1
  KEFU_BENCH_RUN=load KEFU_BENCH_INPUT=examples/conversations.jsonl timeout $((dur + 20)) wrk -t2 -c8 -d${dur}s \
    --latency -s tests/bench/wrk_triage.lua "$url/triage" > "$out/wrk-triage.txt" 2>&1
  timeout $((dur + 20)) wrk -t2 -c8 -d${dur}s --latency "$url/health" > "$out/wrk-health.txt" 2>&1
  # one answer checked against kefu triage, so the load run measured real work
  head -n 1 examples/conversations.jsonl > "$out/one.jsonl"
  sed 's/"c1001"/"bench-check"/' "$out/one.jsonl" > "$out/one-renamed.jsonl"
  got=$(curl -s -X POST --data-binary @"$out/one-renamed.jsonl" "$url/triage")
  exp=$(build/default/bin/kefu triage -m "$model" "$out/one-renamed.jsonl")
  errs=$(grep -cE '\[(error|alert|crit)\]' "$prefix/error.log" 2>/dev/null)
  stop
  row() {  # file label
    python3 - "$1" "$2" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def lat(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, t, re.M)
    if not m:
        return "?"
    v = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return "%.2f" % v
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
req = re.search(r"(\d+) requests in", t)
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
errs = re.search(r"Socket errors:.*", t)
print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
    sys.argv[2], req.group(1) if req else "?", "%.0f" % float(rps.group(1)) if rps else "?",
    lat("50"), lat("90"), lat("99"), bad.group(1) if bad else "0",
    errs.group(0).replace("Socket errors: ", "") if errs else "none"))
EOF
  }
  echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') with libnginx-mod-http-lua (LuaJIT"
  echo "$(luajit -v 2>/dev/null | awk '{print $2}')), 2 worker processes, the gateway of examples/nginx"
  echo "(sessions restored from and dumped to a lua_shared_dict on every request);"
  echo "\`wrk -t2 -c8 -d${dur}s --latency\` on the same machine (wrk takes CPU from"
  echo "nginx: 2 CPUs are shared by both).  tests/bench/wrk_triage.lua replays"
  echo "the 12 sample conversations (2-3 turns each) under fresh ids, 1,024 at a"
  echo "time per wrk thread, each conversation's messages in order (non-2xx:"
  echo "see the comment in that script).  /health is"
  echo "nginx's \`return 200\` without Lua: the HTTP floor of this machine."
  echo "Latencies in milliseconds."
  echo
  echo "| endpoint | requests | requests/s | p50 ms | p90 ms | p99 ms | non-2xx | socket errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  row "$out/wrk-triage.txt" "POST /triage"
  row "$out/wrk-health.txt" "GET /health"
  echo
  if [ "$got" = "$exp" ]; then
    echo "After the run the gateway still answered a fresh conversation exactly as"
    echo "\`kefu triage\` does; error.log: ${errs:-0} error lines."
  else
    echo "WARNING: after the run the gateway's answer differed from kefu triage's."
  fi
  echo
fi

# ---- Kamailio + app_lua under SIPp -----------------------------------------
KMOD=""
for d in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/*/kamailio/modules; do
  [ -f "$d/app_lua.so" ] && { KMOD=$d; break; }
done
if ! command -v kamailio >/dev/null 2>&1 || [ -z "$KMOD" ]; then
  echo "Kamailio gateway: skipped (kamailio or kamailio-lua-modules not installed)"
  echo
elif ! command -v sipp >/dev/null 2>&1; then
  echo "Kamailio gateway: skipped (sipp not installed; Debian package sip-tester)"
  echo
elif ! make -s -C bindings/lua lua5.1 >/dev/null 2>&1; then
  echo "Kamailio gateway: skipped (the Lua 5.1 module did not build)"
  echo
else
  kw=$out/kamailio
  rm -rf "$kw"; mkdir -p "$kw/run"
  kport=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  sed -e "s|@PORT@|$kport|" -e "s|@MODULES@|$KMOD|" \
      -e "s|@SCRIPT@|$root/examples/kamailio/kefu_sip.lua|" \
      examples/kamailio/kamailio.cfg.in > "$kw/kamailio.cfg"
  # the texts of the conversations the bot answers itself (no relay)
  python3 - "$kw/texts.csv" <<'EOF'
import json, sys
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("SEQUENTIAL\n")
    for l in open("examples/conversations.jsonl", encoding="utf-8"):
        d = json.loads(l)
        if d["conversation"] in ("c1001", "c1002", "c1007", "c1008", "c1009", "c1010"):
            f.write(d["text"].replace(";", ",") + "\n")
EOF
  KEFU_MODEL=$model kamailio -f "$kw/kamailio.cfg" -m 512 -DD -E -Y "$kw/run" > "$kw/kamailio.log" 2>&1 &
  kpid=$!
  sleep 1
  sipp_run() {  # name calls rate: one bounded SIPp run in $kw/name
    mkdir -p "$kw/$1"
    (cd "$kw/$1" && timeout 60 sipp 127.0.0.1:$kport -sf "$root/tests/bench/sipp_message.xml" \
       -inf ../texts.csv -i 127.0.0.1 -r "$3" -m "$2" -l 200 -nostdin -timeout 50s \
       -trace_rtt -rtt_freq 1 -trace_err > sipp.out 2>&1)
  }
  sipp_run warm 400 400            # every process loads its model
  sipp_run steady 5000 500
  sipp_run overload 20000 4000
  kill -TERM $kpid 2>/dev/null
  for _ in $(seq 25); do kill -0 $kpid 2>/dev/null || break; sleep 0.2; done
  kill -0 $kpid 2>/dev/null && kill -KILL $kpid
  echo "Kamailio $(kamailio -v 2>/dev/null | awk '/^version/ {print $3}') with app_lua (Lua 5.1), 4 SIP worker processes, 512 MB shm, the"
  echo "gateway of examples/kamailio (session blobs in a shared htable, one"
  echo "model per process); SIPp $(sipp -v 2>&1 | awk '/SIPp v/ {print $2}' | cut -d- -f1) sends one MESSAGE per call (a new"
  echo "conversation each, texts the bot answers itself: 200 OK with the"
  echo "triage), at most 200 calls at once, after 400 warm-up calls: 5,000"
  echo "calls offered at 500/s, then 20,000 offered at 4,000/s (overload:"
  echo "the achieved rate is the capacity).  Response times from SIPp's per-call"
  echo "RTT trace (millisecond resolution).  \"other answers\" counts the final"
  echo "answers that were not 200, by code, from SIPp's error trace."
  echo
  echo "| offered | calls | successful | failed | calls/s achieved | p50 ms | p90 ms | p99 ms | other answers |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  for run in steady:500/s overload:4000/s; do
  python3 - "$kw/${run%%:*}" "${run#*:}" <<'EOF'
import glob, re, sys
d, label = sys.argv[1], sys.argv[2]
t = open(d + "/sipp.out", errors="replace").read()
def num(name):
    m = re.findall(r"%s\s*\|[^|\n]*\|\s*([\d.]+)" % re.escape(name), t)
    return m[-1] if m else "?"
v = []
for f in glob.glob(d + "/sipp_message_*_rtt.csv"):
    for l in open(f).readlines()[1:]:
        p = l.split(";")
        try: v.append(float(p[1]))
        except (IndexError, ValueError): pass
v.sort()
pct = lambda p: "%.0f" % v[min(len(v) - 1, int(len(v) * p))] if v else "?"
rate = num("Call Rate")
codes = {}
for f in glob.glob(d + "/sipp_message_*_errors.log"):
    for m in re.finditer(r"while expecting '200' \(index 1\), received 'SIP/2.0 (\d+ [^\r\n']*)",
                         open(f, errors="replace").read()):
        codes[m.group(1)] = codes.get(m.group(1), 0) + 1
other = ", ".join("%d x %s" % (n, c) for c, n in sorted(codes.items())) or "none"
print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (label, num("Total Calls created"),
      num("Successful call"), num("Failed call"), "%.0f" % float(rate) if rate != "?" else "?",
      pct(0.5), pct(0.9), pct(0.99), other))
EOF
  done
  echo
  echo "Kamailio's log: $(grep -cE 'ERROR|CRITICAL' "$kw/kamailio.log") error lines."
  echo
fi

# ---- the C host ------------------------------------------------------------
python3 - "$out" <<'EOF'
import json, sys
base = [json.loads(l) for l in open("examples/conversations.jsonl", encoding="utf-8")]
with open(sys.argv[1] + "/host.tsv", "w", encoding="utf-8") as t:
    for k in range(400):
        for d in base:
            c = d.get("customer", {})
            t.write("\t".join(["%s-%d" % (d["conversation"], k), str(d["time_ms"] + k * 1000),
                               d.get("channel", "chat"), c.get("tier", ""), str(c.get("value", 0)),
                               c.get("risk", "") if isinstance(c.get("risk"), str) else "",
                               d["text"]]) + "\n")
EOF
n=$(wc -l < "$out/host.tsv")
echo "examples/chat_host.c on $n messages (400 copies of the sample"
echo "conversations, tab-separated, read from a file; escalations go to the"
echo "one router behind its mutex; output to /dev/null).  Wall time and CPU"
echo "time (user + system, all threads) of the whole run, model load"
echo "included; best of 3 by wall time.  On this loaded machine wall time is"
echo "mostly waiting for a CPU: CPU time is the cost."
echo
echo "| workers | messages | wall s | messages/s (wall) | CPU s | messages per CPU second |"
echo "|---:|---:|---:|---:|---:|---:|"
for w in 1 2; do
  best=""; cpu=""
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %U %S" -o "$out/time.txt" \
      build/default/bin/chat_host -m "$model" -w $w "$out/host.tsv" > /dev/null 2>&1
    read -r t u k < "$out/time.txt"
    if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then
      best=$t; cpu=$(awk -v u="$u" -v k="$k" 'BEGIN { printf "%.2f", u + k }')
    fi
  done
  echo "| $w | $n | $best | $(awk -v n="$n" -v t="$best" 'BEGIN { printf "%.0f", n / t }') | $cpu | $(awk -v n="$n" -v c="$cpu" 'BEGIN { printf "%.0f", n / c }') |"
done
echo
