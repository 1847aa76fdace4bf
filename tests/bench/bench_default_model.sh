#!/bin/sh
# How well the bundled default model (examples/default-model.yaml, trained
# on load from its own examples) answers customer messages it never saw:
# the held-out messages of examples/model/heldout/, one file per language
# (Simplified and Traditional Chinese, English, mixed), six per intent
# (`oos` included).  They were written after the model and are never copied
# into its examples: a line the model gets wrong stays wrong here until the
# model learns the case from examples of its own.  No peer: this measures
# the bundled model, not the learner (the Intents section compares learners).
# Prints a Markdown section for doc/benchmarks.md.
set -eu
cd "$(dirname "$0")/../.."
out=build/bench/default_model
mkdir -p "$out"
make -s build/default/bin/kefu >/dev/null
kefu=build/default/bin/kefu
model=examples/default-model.yaml
dir=examples/model/heldout
langs="zh-hans zh-hant en mixed"
: > "$out/all.tsv"
for l in $langs; do
  cat "$dir/$l.tsv" >> "$out/all.tsv"
  "$kefu" eval -m "$model" "$dir/$l.tsv" --json > "$out/$l.json"
done
"$kefu" eval -m "$model" "$out/all.tsv" --json > "$out/all.json"
cut -f2 "$out/all.tsv" | "$kefu" classify -m "$model" - > "$out/all.jsonl"

echo "## Default model on held-out messages"
echo
echo "Command: \`sh tests/bench/bench_default_model.sh\` (or \`BENCH=default_model make bench\`), $(date -u +%Y-%m-%d), kefu $(git rev-parse --short HEAD 2>/dev/null || echo '?')."
echo "\`kefu eval -m $model FILE --json\` on each file of \`$dir/\`"
echo "(six messages per intent, \`oos\` included, written after the model and"
echo "never added to its examples); the model trains on load, as a host that"
echo "loads the YAML gets it."
echo
python3 - "$out" $langs <<'PYEOF'
import json, sys
out, langs = sys.argv[1], sys.argv[2:]
names = {"zh-hans": "Simplified Chinese", "zh-hant": "Traditional Chinese",
         "en": "English", "mixed": "mixed Chinese-English", "all": "all"}
def pct(v):
    return "—" if v is None else "%.1f" % (100 * v)
print("| messages | n | accuracy | macro-F1 | in-scope accuracy | oos recall |")
print("|---|---:|---:|---:|---:|---:|")
for l in langs + ["all"]:
    d = json.load(open("%s/%s.json" % (out, l)))
    row = (names[l], d["n"], pct(d["accuracy"]), pct(d["macro_f1"]),
           pct(d["in_scope_accuracy"]), pct(d["oos_recall"]))
    print("| %s | %d | %s | %s | %s | %s |" % row)
print()
gold = [l.split("\t", 1) for l in open("%s/all.tsv" % out, encoding="utf-8").read().splitlines()]
pred = [json.loads(l) for l in open("%s/all.jsonl" % out, encoding="utf-8")]
wrong = [(g, t, p) for (g, t), p in zip(gold, pred) if p["intent"] != g]
print("Every wrong answer (the answer kefu gives, with its confidence):")
print()
print("| gold | answer | confidence | message |")
print("|---|---|---:|---|")
for g, t, p in wrong:
    print("| %s | %s | %.2f | %s |" % (g, p["intent"], p["confidence"], t.replace("|", "\\|")))
PYEOF
