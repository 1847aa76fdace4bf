#!/bin/sh
# How well the bundled default model (examples/default-model.yaml, trained
# on load from its own examples) answers customer messages it never saw:
# the held-out batches of examples/model/heldout/N/, one file per language
# (Simplified and Traditional Chinese, English, mixed), up to six messages per
# intent (`oos` included).  Each batch was written without seeing the
# model's answers on it, and no held-out line is ever copied into the
# model's examples (doc/intents.md, "The default model").  No peer: this
# measures the bundled model, not the learner (the Intents section
# compares learners).  MODEL=path measures another model the same way.
# Prints a Markdown section for doc/benchmarks.md.
set -eu
cd "$(dirname "$0")/../.."
out=build/bench/default_model
mkdir -p "$out"
make -s build/default/bin/kefu >/dev/null
kefu=build/default/bin/kefu
model=${MODEL:-examples/default-model.yaml}
langs="zh-hans zh-hant en mixed"
batches=""
for d in examples/model/heldout/*/; do
  b=$(basename "$d")
  batches="$batches $b"
  : > "$out/$b.tsv"
  for l in $langs; do
    cat "$d$l.tsv" >> "$out/$b.tsv"
    "$kefu" eval -m "$model" "$d$l.tsv" --json > "$out/$b.$l.json"
  done
  "$kefu" eval -m "$model" "$out/$b.tsv" --json > "$out/$b.all.json"
  cut -f2 "$out/$b.tsv" | "$kefu" classify -m "$model" - > "$out/$b.jsonl"
done

echo "## Default model on held-out messages"
echo
echo "Command: \`sh tests/bench/bench_default_model.sh\` (or \`BENCH=default_model make bench\`), $(date -u +%Y-%m-%d), kefu $(git rev-parse --short HEAD 2>/dev/null || echo '?'), model \`$model\`."
echo "\`kefu eval -m MODEL FILE --json\` on each file of \`examples/model/heldout/N/\`"
echo "(six messages per intent in batch 1; batch 2 keeps those unlike batch 1; \`oos\` included); the model trains on load, as"
echo "a host that loads the YAML gets it."
echo
python3 - "$out" "$langs" $batches <<'PYEOF'
import json, sys
out, langs, batches = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
names = {"zh-hans": "Simplified Chinese", "zh-hant": "Traditional Chinese",
         "en": "English", "mixed": "mixed Chinese-English", "all": "all"}
def pct(v):
    return "—" if v is None else "%.1f" % (100 * v)
print("| batch | messages | n | accuracy | macro-F1 | in-scope accuracy | oos recall |")
print("|---|---|---:|---:|---:|---:|---:|")
for b in batches:
    for l in langs + ["all"]:
        d = json.load(open("%s/%s.%s.json" % (out, b, l)))
        row = (b, names[l], d["n"], pct(d["accuracy"]), pct(d["macro_f1"]),
               pct(d["in_scope_accuracy"]), pct(d["oos_recall"]))
        print("| %s | %s | %d | %s | %s | %s | %s |" % row)
print()
print("Every wrong answer (the answer kefu gives, with its confidence):")
print()
print("| batch | gold | answer | confidence | message |")
print("|---|---|---|---:|---|")
for b in batches:
    gold = [l.split("\t", 1) for l in
            open("%s/%s.tsv" % (out, b), encoding="utf-8").read().splitlines()]
    pred = [json.loads(l) for l in open("%s/%s.jsonl" % (out, b), encoding="utf-8")]
    for (g, t), p in zip(gold, pred):
        if p["intent"] != g:
            print("| %s | %s | %s | %.2f | %s |" % (b, g, p["intent"], p["confidence"],
                                                   t.replace("|", "\\|")))
PYEOF
