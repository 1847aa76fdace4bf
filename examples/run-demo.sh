#!/bin/sh
# The main job: the kefu command line triaging sample conversations with the
# bundled default model (intents, entities, emotion, the default escalation
# rule pack) and printing one line per message; the full JSON of each
# message is in build/demo/triage.jsonl.
set -e
cd "$(dirname "$0")/.."
kefu=build/default/bin/kefu
mkdir -p build/demo
echo "kefu $($kefu --version | cut -d' ' -f2): triaging examples/conversations.jsonl with examples/default-model.yaml" >&2
$kefu triage -m examples/default-model.yaml examples/conversations.jsonl > build/demo/triage.jsonl
# a readable summary: conversation, turn, text, intent, anger, rules, route
python3 - build/demo/triage.jsonl examples/conversations.jsonl <<'PY'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
inp = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
for o, i in zip(out, inp):
    r = o["route"]
    route = " ".join(x for x in [r["queue"] and "queue=" + r["queue"], r["tier"] and "tier=" + r["tier"],
                                 r["priority"] and "priority=%d" % r["priority"]] if x)
    print("%-6s %d  %-34.34s  %-16s anger=%3.0f  %s%s%s" % (
        o["conversation"], o["turn"], i["text"], o["intent"], o["emotion"]["anger"],
        ",".join(o["rules"]) or "-", "  -> " + route if route else "",
        "  [LOCKED]" if o["locked"] else ""))
PY
echo "full results: build/demo/triage.jsonl" >&2
