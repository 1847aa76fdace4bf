#!/bin/sh
# bench_intent_features.sh - how the intent defaults for word pairs and
# sub-words were chosen: accuracy of feature variants on fifths of the
# training sets held out, then on val, with kefu classify's time on the
# intent benchmark's throughput file.
#
#   BENCH=intent_features make bench   (or: sh tests/bench/bench_intent_features.sh)
#
# Environment:
#   DATASETS        shared data (default ../shared/datasets)
#   FEATURE_SETS    data sets (default "banking77 clinc150 smp2017 cais")
#   FEATURE_VARIANTS  "name=yaml-flow-items;..." (default below)
#
# For each data set and fold f in 0 1: every fifth training line starting
# at line f+1 is held out, a model is trained on the other four fifths
# (kefu train --seed 1, out-of-scope threshold as the intent benchmark
# sets it) and scored on the held-out lines; then a model trained on all of
# train.tsv is scored on val.tsv.  Test splits are never read.  Prints a
# Markdown table (in-scope accuracy %, out-of-scope recall % where the set
# has oos) and, for each variant, one kefu classify time, wall seconds,
# pinned to CPU 0, on build/bench/intent/SET/bench.txt when the intent
# benchmark has left it there (shown as "—" otherwise).
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DATASETS=${DATASETS:-$(cd .. && pwd)/shared/datasets}
SETS=${FEATURE_SETS:-"banking77 clinc150 smp2017 cais"}
VARIANTS=${FEATURE_VARIANTS:-"before (24 pairing words, 3-4-grams)=word_pairs: 24, subwords: [3, 4];default (12, 4-grams)=;8 pairing words=word_pairs: 8;default, frequent words do not pair (pair_max_df 0.05)=pair_max_df: 0.05"}
W=$ROOT/build/bench/intent_features
KEFU=$W/kefu

log() { echo "bench_intent_features: $*" >&2; }

make -j2 >&2 || { log "build failed"; exit 1; }
rm -rf "$W"
mkdir -p "$W"
cp build/default/bin/kefu "$KEFU"
[ -x /usr/bin/time ] || apt-get install -y time >&2 2>&1

# in-scope accuracy / oos recall of `kefu eval --json` output
score() {
    python3 -c 'import json,sys
d = json.load(sys.stdin)
o = d["oos_recall"]
print("%.2f" % (100 * d["in_scope_accuracy"]) + ("" if o is None else " / %.0f" % (100 * o)))'
}

printf '| data set | variant | held-out fifth 1 | held-out fifth 2 | val | classify s |\n'
printf '|---|---|---:|---:|---:|---:|\n'
for ds in $SETS; do
    D=$DATASETS/$ds
    [ -f "$D/train.tsv" ] || { log "$ds: no $D/train.tsv, skipped"; continue; }
    thr=
    cut -f1 "$D/train.tsv" | grep -qx oos || thr="threshold: 0, "
    for f in 0 1; do
        awk -v f=$f '(NR - 1) % 5 != f' "$D/train.tsv" > "$W/$ds.fit$f.tsv"
        awk -v f=$f '(NR - 1) % 5 == f' "$D/train.tsv" > "$W/$ds.held$f.tsv"
    done
    # a here-document, not a pipe: the loop runs in this shell, so a
    # failed training ends the script with status 1
    while IFS= read -r v; do
        name=${v%%=*}
        extra=${v#*=}
        y=$W/cfg.yaml
        printf 'kefu: 1\nclassifier: {%s%s}\n' "$thr" "$extra" > "$y"
        row="| $ds | $name"
        for f in 0 1; do
            "$KEFU" train --data "$W/$ds.fit$f.tsv" --config "$y" --seed 1 \
                -o "$W/m.kefu" --quiet 2> "$W/train.log" || { log "$ds: training failed"; cat "$W/train.log" >&2; exit 1; }
            row="$row | $("$KEFU" eval -m "$W/m.kefu" "$W/$ds.held$f.tsv" --json | score)"
        done
        "$KEFU" train --data "$D/train.tsv" --config "$y" --seed 1 -o "$W/m.kefu" \
            --quiet 2> "$W/train.log" || { log "$ds: training failed"; exit 1; }
        row="$row | $("$KEFU" eval -m "$W/m.kefu" "$D/val.tsv" --json | score)"
        B=$ROOT/build/bench/intent/$ds/bench.txt
        if [ -f "$B" ]; then
            t=$( { /usr/bin/time -f %e taskset -c 0 "$KEFU" classify --top 1 -m "$W/m.kefu" "$B" > /dev/null; } 2>&1 | tail -1)
        else
            t="—"
        fi
        echo "$row | $t |"
        log "$ds: $name done"
    done <<VARIANTS_END
$(echo "$VARIANTS" | tr ';' '\n')
VARIANTS_END
done
