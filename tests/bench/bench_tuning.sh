#!/bin/sh
# bench_tuning.sh - what the tuning data of `kefu train` changes: with no
# validation data, the training examples cross-fitted (tuning_folds), and,
# for trained emotion labels, a tuning split given as --val against
# cross-fitting on the rest.
#
#   BENCH=tuning make bench   (or: sh tests/bench/bench_tuning.sh)
#
# Environment:
#   DATASETS      shared data (default ../shared/datasets)
#   KEFU_BEFORE   optional: another kefu binary (for example one built from
#                 an earlier commit) shown as the row "before"
#   TUNING_FOLDS  fold counts compared for intents (default "2 5")
#
# Intents (CLINC150, the set with out-of-scope examples): for each fold f
# in 0..4 every fifth training line starting at line f+1 is held out, a
# model is trained on the other four fifths (kefu train --seed 1, no
# --val) and scored on the held-out lines; then a model trained on all of
# train.tsv is scored on val.tsv.  In-scope accuracy % / out-of-scope
# recall %.
#
# Trained emotion labels (the sets of bench_emotion_trained.sh, carved the
# same way: every 10th training line is the tuning split, the rest FIT):
# kefu train --task emotion on FIT with --val TUNE, against FIT alone (its
# tuning cross-fitted), seeds 1-3, macro-F1 % on val.
#
# Test splits are never read.  Prints Markdown tables.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DATASETS=${DATASETS:-$(cd .. && pwd)/shared/datasets}
FOLDS=${TUNING_FOLDS:-"2 5"}
W=$ROOT/build/bench/tuning
KEFU=$W/kefu
U="python3 $ROOT/tests/bench/emotion_trained_util.py"

log() { echo "bench_tuning: $*" >&2; }
die() { log "$*"; exit 1; }

make -j2 >&2 || die "build failed"
rm -rf "$W"
mkdir -p "$W"
cp build/default/bin/kefu "$KEFU"

# "in-scope / oos" of `kefu eval --json`; macro-F1 of `--task emotion`
score() {
    python3 -c 'import json,sys
d = json.load(sys.stdin)
print("%.2f / %.0f" % (100 * d["in_scope_accuracy"], 100 * d["oos_recall"]))'
}
mf1() {
    python3 -c 'import json,sys; print("%.2f" % (100 * json.load(sys.stdin)["macro_f1"]))'
}
# mean and range of the numbers on stdin (one "a / b" or "a" a line: field
# $col), as "mean (min-max)"
stats() {
    awk -v col="$1" '{ split($0, p, " / "); x = p[col] + 0; s += x; n++
        if (n == 1 || x < lo) lo = x; if (n == 1 || x > hi) hi = x }
        END { printf "%.2f (%.2f-%.2f)", s / n, lo, hi }'
}

echo "### Intents: CLINC150, held-out fifths of train and val"
echo
D=$DATASETS/clinc150
if [ -f "$D/train.tsv" ] && [ -f "$D/val.tsv" ]; then
    for f in 0 1 2 3 4; do
        awk -v f=$f '(NR - 1) % 5 != f' "$D/train.tsv" > "$W/fit$f.tsv"
        awk -v f=$f '(NR - 1) % 5 == f' "$D/train.tsv" > "$W/held$f.tsv"
    done
    printf '| tuning | fifth 1 | fifth 2 | fifth 3 | fifth 4 | fifth 5 | mean in-scope (range) | mean oos recall (range) | val | train s (all of train) |\n'
    printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    variants=
    [ -n "${KEFU_BEFORE:-}" ] && variants="before"
    for k in $FOLDS; do variants="$variants $k"; done
    for v in $variants; do
        if [ "$v" = before ]; then
            K=$KEFU_BEFORE; name="before ($K)"; cfg="kefu: 1"
        else
            K=$KEFU; name="$v folds"; cfg="kefu: 1
classifier: {tuning_folds: $v}"
        fi
        echo "$cfg" > "$W/cfg.yaml"
        : > "$W/held.txt"
        row="| $name"
        for f in 0 1 2 3 4; do
            "$K" train --data "$W/fit$f.tsv" --config "$W/cfg.yaml" --seed 1 \
                -o "$W/m.kefu" --quiet 2> "$W/train.log" || { cat "$W/train.log" >&2; die "training failed"; }
            s=$("$K" eval -m "$W/m.kefu" "$W/held$f.tsv" --json | score)
            echo "$s" >> "$W/held.txt"
            row="$row | $s"
        done
        t0=$(date +%s.%N)
        "$K" train --data "$D/train.tsv" --config "$W/cfg.yaml" --seed 1 -o "$W/m.kefu" \
            --quiet 2> "$W/train.log" || die "training failed"
        t1=$(date +%s.%N)
        row="$row | $(stats 1 < "$W/held.txt") | $(stats 2 < "$W/held.txt")"
        row="$row | $("$K" eval -m "$W/m.kefu" "$D/val.tsv" --json | score)"
        echo "$row | $(echo "$t1 $t0" | awk '{ printf "%.1f", $1 - $2 }') |"
        log "clinc150: $name done"
    done
else
    log "no $D/train.tsv / val.tsv: intents skipped"
fi

echo
echo "### Trained emotion labels: tuning split as --val, or cross-fitted"
echo
printf '| data set | tuning | seed 1 | seed 2 | seed 3 | mean (range) |\n'
printf '|---|---|---:|---:|---:|---:|\n'
for ds in tweeteval_emotion smp2020_virus smp2020_usual goemotions_ekman; do
    O=$W/$ds
    mkdir -p "$O"
    { IFS= read -r TRAIN; IFS= read -r VAL; } <<PATHS_END
$($U paths "$ds" "$DATASETS" "$O")
PATHS_END
    if [ -z "$TRAIN" ] || [ -z "$VAL" ]; then
        log "$ds: no training/val data, skipped"
        continue
    fi
    $U split "$TRAIN" 10 "$O/fit.tsv" "$O/tune.tsv"
    for how in val xfit; do
        row="| $ds"
        if [ $how = val ]; then row="$row | FIT, --val TUNE"; else row="$row | FIT, cross-fitted"; fi
        : > "$O/f1.txt"
        for seed in 1 2 3; do
            if [ $how = val ]; then
                set -- --val "$O/tune.tsv"
            else
                set --
            fi
            "$KEFU" train --task emotion --data "$O/fit.tsv" "$@" --seed $seed \
                -o "$O/m.kefu" --quiet 2> "$O/train.log" || { cat "$O/train.log" >&2; die "$ds: training failed"; }
            f1=$("$KEFU" eval --task emotion -m "$O/m.kefu" "$VAL" --json | mf1)
            echo "$f1" >> "$O/f1.txt"
            row="$row | $f1"
        done
        echo "$row | $(stats 1 < "$O/f1.txt") |"
    done
    log "$ds done"
done
