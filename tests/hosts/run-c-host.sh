#!/bin/sh
# tests/hosts/run-c-host.sh [WORKDIR] - the C host examples/chat_host.c:
# several worker threads sharing one model, one session per conversation,
# one router behind a mutex.  Runs it on a generated file of interleaved
# conversations and checks it against `kefu triage` on the same messages;
# then under valgrind and as a ThreadSanitizer build.
# Prints "N passed, N failed"; exits non-zero on failure.
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
work=${1:-build/hosts/c-host}
mkdir -p "$work" || exit 1
host=c-host
. tests/hosts/lib.sh
need cc python3
model=examples/default-model.yaml
host=build/default/bin/chat_host
kefu=build/default/bin/kefu
make -s "$host" "$kefu" >/dev/null 2>&1 || { bad "build chat_host"; finish; }

# 40 copies of the sample conversations with fresh ids, interleaved by time,
# as the JSON lines of `kefu triage` and as chat_host's tab-separated lines.
python3 - "$work" <<'EOF' || { bad "generate input"; finish; }
import json, sys
work = sys.argv[1]
base = [json.loads(l) for l in open("examples/conversations.jsonl", encoding="utf-8")]
rows = []
for k in range(40):
    for i, d in enumerate(base):
        d = dict(d)
        d["conversation"] = "%s-%02d" % (d["conversation"], k)
        d["time_ms"] = d["time_ms"] + k * 7000
        rows.append((d["time_ms"], k, i, d))
rows.sort(key=lambda r: r[:3])
with open(work + "/in.jsonl", "w", encoding="utf-8") as j, \
     open(work + "/in.tsv", "w", encoding="utf-8") as t:
    for _, _, _, d in rows:
        j.write(json.dumps(d, ensure_ascii=False) + "\n")
        c = d.get("customer", {})
        risk = c.get("risk", "")
        if isinstance(risk, list):
            risk = risk[0] if risk else ""
        t.write("\t".join([d["conversation"], str(d["time_ms"]), d.get("channel", "chat"),
                           c.get("tier", ""), str(c.get("value", 0)), risk, d["text"]]) + "\n")
EOF

"$kefu" triage -m $model "$work/in.jsonl" > "$work/expected.jsonl" 2>"$work/kefu.err"
check "kefu triage runs" test -s "$work/expected.jsonl"
"$host" -m $model -w 4 "$work/in.tsv" > "$work/out.jsonl" 2>"$work/host.err"
rc=$?
check "chat_host -w 4 exits 0" test $rc -eq 0
check "chat_host prints its summary" grep -q "4 workers, 1080 messages, 0 errors" "$work/host.err"

# Same answers as kefu triage, turn counters in order, a conversation stays
# on one worker, escalated conversations reach the router once.
python3 - "$work" <<'EOF' > "$work/compare.log" 2>&1
import json, sys
work = sys.argv[1]
exp = [json.loads(l) for l in open(work + "/expected.jsonl", encoding="utf-8")]
out = [json.loads(l) for l in open(work + "/out.jsonl", encoding="utf-8")]
ok = True
def fail(msg):
    global ok
    ok = False
    print("mismatch:", msg)
if len(exp) != len(out):
    fail("%d lines from kefu triage, %d from chat_host" % (len(exp), len(out)))
want = {(e["conversation"], e["turn"]): e for e in exp}
turns, workers, router_ids = {}, {}, {}
for o in out:
    c = o["conversation"]
    e = want.get((c, o.get("turn")))
    if e is None:
        fail("unexpected %s turn %s" % (c, o.get("turn"))); continue
    for k in ("intent", "out_of_scope", "escalated", "locked", "route"):
        if o[k] != e[k]:
            fail("%s turn %d %s: %r != %r" % (c, o["turn"], k, o[k], e[k]))
    if abs(o["confidence"] - e["confidence"]) > 1e-4:
        fail("%s turn %d confidence" % (c, o["turn"]))
    if o["turn"] != turns.get(c, 0) + 1:
        fail("%s: turn %d after %d" % (c, o["turn"], turns.get(c, 0)))
    turns[c] = o["turn"]
    if workers.setdefault(c, o["worker"]) != o["worker"]:
        fail("%s moved from worker %d to %d" % (c, workers[c], o["worker"]))
    if o["escalated"]:
        r = o.get("router")
        if not r or "error" in r:
            fail("%s turn %d: no routing: %r" % (c, o["turn"], r)); continue
        if router_ids.setdefault(c, r["id"]) != r["id"]:
            fail("%s submitted twice" % c)
        if r["state"] == "assigned" and not r["agent"]:
            fail("%s assigned to no agent" % c)
    elif "router" in o and c not in router_ids:
        fail("%s routed before escalating" % c)
if len(set(router_ids.values())) != len(router_ids):
    fail("two conversations share a router id")
used = set(workers.values())
print("conversations %d, workers used %s, routed %d" % (len(turns), sorted(used), len(router_ids)))
if len(used) < 2:
    fail("all conversations on one worker")
assigned = sum(1 for o in out if o.get("router", {}).get("state") == "assigned")
if assigned == 0:
    fail("no conversation was assigned an agent")
sys.exit(0 if ok else 1)
EOF
check "same answers as kefu triage, turns in order, one worker per conversation" test $? -eq 0
head -n 5 "$work/compare.log"

# Deterministic per conversation whatever the number of workers.
"$host" -m $model -w 1 "$work/in.tsv" 2>/dev/null | python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l); d.pop("worker"); d.pop("router", None); print(json.dumps(d, sort_keys=True))' | sort > "$work/w1.txt"
python3 -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(l); d.pop("worker"); d.pop("router", None); print(json.dumps(d, sort_keys=True))' "$work/out.jsonl" | sort > "$work/w4.txt"
check "1 worker and 4 workers give the same triage" cmp -s "$work/w1.txt" "$work/w4.txt"

# A bad line is reported and the run goes on (exit status 1).
printf 'x\t0\tonly three\nbroken line\ny\t5\t我要投诉\n' | "$host" -m $model -w 2 > "$work/bad.out" 2>/dev/null
rc=$?
check "a malformed line is an error line, the others are answered" \
  sh -c "test $rc -eq 1 && grep -c '\"error\"' '$work/bad.out' | grep -qx 1 && grep -c '\"intent\"' '$work/bad.out' | grep -qx 2"
# ... and so is a line whose time or customer value is not a number
printf 'x\t12a\thello\ny\t5\tchat\tgold\tmany\t\thello\nz\t7\thello\n' | "$host" -m $model -w 2 > "$work/bad.out" 2>/dev/null
rc=$?
check "a time or value that is not a number is an error line, not 0" \
  sh -c "test $rc -eq 1 && grep -c 'must be numbers' '$work/bad.out' | grep -qx 2 && grep -c '\"intent\"' '$work/bad.out' | grep -qx 1"

# Valgrind: no invalid access, no leak (200 messages, 3 workers).
if command -v valgrind >/dev/null 2>&1; then
  head -n 200 "$work/in.tsv" > "$work/small.tsv"
  valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect \
    --suppressions=tests/hosts/pcre2-jit.supp \
    "$host" -m $model -w 3 "$work/small.tsv" > "$work/vg.out" 2> "$work/vg.err"
  rc=$?
  check "valgrind clean (exit $rc)" test $rc -eq 0
  [ $rc -eq 0 ] || tail -n 20 "$work/vg.err"
else
  echo "skip valgrind (not installed)"
fi

# ThreadSanitizer: the library and the host built with -fsanitize=thread.
# clang when installed, else cc (src/learner.c leaves out its ifunc clone
# in sanitizer builds: an instrumented resolver would run before TSan is up).
tsan=build/tsan-hosts
tsan_cc=cc
command -v clang >/dev/null 2>&1 && tsan_cc=clang
norand=""
setarch "$(uname -m)" -R true 2>/dev/null && norand="setarch $(uname -m) -R"
if make -s -j2 CC=$tsan_cc B=$tsan OUTLIB=$tsan/lib OPT="-O1 -g" SAN="-fsanitize=thread" \
     $tsan/bin/chat_host > "$work/tsan-build.log" 2>&1; then
  head -n 400 "$work/in.tsv" > "$work/tsan.tsv"
  TSAN_OPTIONS="halt_on_error=1 exitcode=66" $norand \
    $tsan/bin/chat_host -m $model -w 4 "$work/tsan.tsv" > "$work/tsan.out" 2> "$work/tsan.err"
  rc=$?
  check "ThreadSanitizer run clean (exit $rc)" \
    sh -c "test $rc -eq 0 && ! grep -q 'WARNING: ThreadSanitizer' '$work/tsan.err'"
  [ $rc -eq 0 ] || head -n 30 "$work/tsan.err"
  check "ThreadSanitizer run answered every line" \
    test "$(wc -l < "$work/tsan.out")" -eq 400
else
  bad "ThreadSanitizer build"; tail -n 20 "$work/tsan-build.log"
fi

# Built against the library the way a host would: pkg-config, shared lib.
if command -v pkg-config >/dev/null 2>&1 && [ -f lib/kefu.pc ]; then
  pcdir=$work/pc
  mkdir -p "$pcdir"
  sed -e "s|^prefix=.*|prefix=$root|" -e "s|^libdir=.*|libdir=$root/lib|" \
      -e "s|^includedir=.*|includedir=$root/include|" lib/kefu.pc > "$pcdir/kefu.pc"
  if cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 examples/chat_host.c \
       $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs kefu) -lpthread \
       -o "$work/chat_host_pc" 2> "$work/pc.err"; then
    LD_LIBRARY_PATH=$root/lib "$work/chat_host_pc" -m $model -w 2 "$work/in.tsv" \
      2>/dev/null | python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l); d.pop("worker"); d.pop("router", None); print(json.dumps(d, sort_keys=True))' | sort > "$work/pc.txt"
    check "pkg-config build against libkefu.so gives the same triage" cmp -s "$work/pc.txt" "$work/w4.txt"
  else
    bad "pkg-config build"; cat "$work/pc.err"
  fi
fi
finish
