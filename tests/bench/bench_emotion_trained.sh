#!/bin/sh
# bench_emotion_trained.sh - trained emotion mode: kefu against fastText and
# TF-IDF + LIBLINEAR trained on the same data, side by side in one run.
#
#   BENCH=emotion_trained make bench   (or: sh tests/bench/bench_emotion_trained.sh)
#
# Environment:
#   DATASETS          shared data (default ../shared/datasets); test data is
#                     never read
#   EMO_SETS          data sets (default "tweeteval_emotion smp2020_virus
#                     smp2020_usual goemotions_ekman")
#   EMO_TUNE_EVERY    every N-th training line is the tuning split (default 10)
#   EMO_DOC=0         do not rewrite the "## Emotion (trained)" section of
#                     doc/benchmarks.md (default: rewrite it, only it)
#
# Protocol: every tool trains on FIT = the training file minus its every
# N-th line (TUNE); TUNE is the peers' tuning data (fastText epoch count
# {25, 50}, LIBLINEAR C {0.1, 0.3, 1, 3}, both by macro-F1); kefu does not
# read it (no --val: it tunes on FIT itself, cross-fitted, doc/intents.md);
# everyone is scored once on val.tsv.  smp2020 usual: usual_val.tsv lines
# whose number is a multiple of 5 are the scored part, the rest the
# training file.  Prints the Markdown section on stdout, progress on
# stderr; work files in build/bench/emotion_trained/.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DATASETS=${DATASETS:-$(cd .. && pwd)/shared/datasets}
SETS=${EMO_SETS:-"tweeteval_emotion smp2020_virus smp2020_usual goemotions_ekman"}
EVERY=${EMO_TUNE_EVERY:-10}
W=$ROOT/build/bench/emotion_trained
KEFU=$ROOT/build/default/bin/kefu
TFIDF="python3 $ROOT/tests/bench/intent_tfidf.py"
IU="python3 $ROOT/tests/bench/intent_util.py"
U="python3 $ROOT/tests/bench/emotion_trained_util.py"
FT_OPTS="-wordNgrams 2 -minn 3 -maxn 5 -thread 1"
EPOCHS="25 50"
CGRID="0.1 0.3 1 3"
T0=$(date +%s)

log() { echo "bench_emotion_trained: $*" >&2; }

# one run at a time (make bench and BENCH=emotion_trained may overlap): a
# second run waits for the first instead of sharing its work directory
mkdir -p "$ROOT/build/bench"
if command -v flock >/dev/null 2>&1; then
    exec 9> "$ROOT/build/bench/emotion_trained.lock"
    flock 9 || { log "cannot lock build/bench/emotion_trained.lock"; exit 1; }
fi
rm -rf "$W"
mkdir -p "$W"
R=$W/results.tsv
: > "$R"
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$R"; }

# --- build (others may be mid-edit: retry, then use what is built) ----------
tries=0
until make -j2 >&2; do
    tries=$((tries + 1))
    if [ $tries -ge 4 ]; then
        [ -x "$KEFU" ] && [ -f lib/libkefu.a ] || { log "build failed"; exit 1; }
        log "build failed; using the kefu binaries already built"
        break
    fi
    log "build failed, retrying in 30 s"; sleep 30
done
# others rebuild the tree while this runs (and a binary model written by one
# build may not load in another): snapshot the CLI and the library together
# and use only the snapshots
cp build/default/bin/kefu "$W/kefu" && cp lib/libkefu.a "$W/libkefu.a" ||
    { log "cannot copy the kefu binaries"; exit 1; }
KEFU=$W/kefu
PRED=$W/emotion_trained_pred
cc -std=c11 -O2 -Iinclude tests/bench/emotion_trained_pred.c "$W/libkefu.a" \
    $(pkg-config --libs libpcre2-8 libutf8proc yaml-0.1) -lm -lpthread \
    -o "$PRED" || { log "cannot build emotion_trained_pred"; exit 1; }

# --- peers and tools ----------------------------------------------------------
need_pkg() { # command package
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2"
    { apt-get install -y "$2" || { apt-get update && apt-get install -y "$2"; }; } >&2 2>&1
    command -v "$1" >/dev/null 2>&1
}
need_pkg python3 python3 || { log "python3 is required"; exit 1; }
[ -x /usr/bin/time ] || need_pkg /usr/bin/time time || { log "GNU time (package time) is required"; exit 1; }
HAVE_FT=1; need_pkg fasttext fasttext || { HAVE_FT=0; log "fastText unavailable: skipped"; }
HAVE_LL=1; need_pkg liblinear-train liblinear-tools || { HAVE_LL=0; log "LIBLINEAR unavailable: skipped"; }

# tm FILE CMD...: runs CMD under GNU time; FILE gets "wall user sys maxrss_kb"
tm() { f=$1; shift; /usr/bin/time -f "%e %U %S %M" -o "$f" "$@"; }
wall() { awk '{s += $1} END {printf "%.2f", s}' "$@"; }
macro() { python3 -c 'import json,sys; print(json.load(sys.stdin)["macro_f1"])'; }

rec _ _ machine "$(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
rec _ _ date "$(date -u '+%Y-%m-%d %H:%M UTC')"
rec _ _ commit "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes in src/include')"
rec _ _ fasttext "$(dpkg-query -W -f '${Version}' fasttext 2>/dev/null)"
rec _ _ liblinear "$(dpkg-query -W -f '${Version}' liblinear-tools 2>/dev/null)"
rec _ _ python "$(python3 -c 'import sys; print(sys.version.split()[0])')"
rec _ _ load_start "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
rec _ _ tune_every "$EVERY"

for ds in $SETS; do
    O=$W/$ds
    mkdir -p "$O"
    { IFS= read -r TRAIN; IFS= read -r VAL; } <<PATHS_END
$($U paths "$ds" "$DATASETS" "$O")
PATHS_END
    if [ -z "$TRAIN" ] || [ -z "$VAL" ]; then
        log "$ds: no training/val data under $DATASETS, skipped"
        continue
    fi
    log "== $ds"
    $U split "$TRAIN" "$EVERY" "$O/fit.tsv" "$O/tune.tsv"
    cut -f2- "$VAL" > "$O/val.txt"
    cut -f2- "$O/tune.tsv" > "$O/tune.txt"
    rec "$ds" _ n_fit "$(wc -l < "$O/fit.tsv")"
    rec "$ds" _ n_tune "$(wc -l < "$O/tune.tsv")"
    rec "$ds" _ n_val "$(wc -l < "$VAL")"
    zh=0; $IU hascjk "$TRAIN" && zh=1
    multi=0; cut -f1 "$TRAIN" | grep -q , && multi=1
    rec "$ds" _ zh $zh
    rec "$ds" _ multi $multi

    # --- kefu ------------------------------------------------------------------
    log "$ds: kefu train"
    tm "$O/k.train.t" "$KEFU" train --task emotion --data "$O/fit.tsv" \
        -o "$O/model.kefu" --quiet > "$O/k.train.log" 2>&1
    if [ ! -s "$O/model.kefu" ]; then
        log "$ds: kefu train failed:"; tail -5 "$O/k.train.log" >&2
    else
        rec "$ds" kefu train_wall "$(wall "$O/k.train.t")"
        "$PRED" "$O/model.kefu" "$O/val.txt" > "$O/k.val.pred" ||
            log "$ds: kefu predictions failed"
        rec "$ds" kefu metrics "$($U score "$VAL" "$O/k.val.pred")"
        rec "$ds" kefu eval_json "$("$KEFU" eval --task emotion -m "$O/model.kefu" "$VAL" --json)"
        # the learner's SGD order depends on the seed: how much the score
        # moves with it (the table above is the default seed, 1)
        for seed in 2 3; do
            "$KEFU" train --task emotion --data "$O/fit.tsv" \
                --seed $seed -o "$O/model.s$seed.kefu" --quiet > /dev/null 2>&1 &&
                rec "$ds" kefu "seed$seed" "$("$KEFU" eval --task emotion -m "$O/model.s$seed.kefu" "$VAL" --json)"
        done
    fi

    # --- fastText --------------------------------------------------------------
    if [ $HAVE_FT = 1 ]; then
        cjk=""; [ $zh = 1 ] && cjk=cjk
        # shellcheck disable=SC2086
        $U ftinput $cjk "$O/fit.tsv" > "$O/ft.fit.txt"
        if [ $zh = 1 ]; then
            $IU cjksplit "$O/tune.txt" > "$O/ft.tune.txt"
            $IU cjksplit "$O/val.txt" > "$O/ft.val.txt"
        else
            cp "$O/tune.txt" "$O/ft.tune.txt"; cp "$O/val.txt" "$O/ft.val.txt"
        fi
        loss=""; [ $multi = 1 ] && loss="-loss ova"
        # ftpred MODEL TEXT OUT: comma-joined labels per line
        ftpred() {
            if [ $multi = 1 ]; then
                fasttext predict "$1" "$2" -1 0.5 > "$3.multi"
                fasttext predict "$1" "$2" 1 > "$3.top1"
                $U ftlabels "$3.multi" "$3.top1" > "$3"
            else
                fasttext predict "$1" "$2" 1 > "$3.raw"
                $U ftlabels "$3.raw" > "$3"
            fi
        }
        : > "$O/ft.grid"
        for e in $EPOCHS; do
            log "$ds: fastText train (epoch $e)"
            # shellcheck disable=SC2086
            tm "$O/ft.$e.t" fasttext supervised -input "$O/ft.fit.txt" -output "$O/ft.$e" \
                $FT_OPTS -epoch "$e" $loss -verbose 0 > "$O/ft.$e.log" 2>&1
            if [ ! -s "$O/ft.$e.bin" ]; then
                log "$ds: fastText training failed"; tail -3 "$O/ft.$e.log" >&2; continue
            fi
            ftpred "$O/ft.$e.bin" "$O/ft.tune.txt" "$O/ft.$e.tune.pred"
            j=$($U score "$O/tune.tsv" "$O/ft.$e.tune.pred")
            printf '%s\t%s\n' "$e" "$j" >> "$O/ft.grid"
            rec "$ds" ft grid "epoch $e $(printf '%s' "$j" | macro | awk '{printf "%.2f", 100 * $1}')"
            ftpred "$O/ft.$e.bin" "$O/ft.val.txt" "$O/ft.$e.val.pred"
            rm -f "$O/ft.$e.bin" "$O/ft.$e.vec"
        done
        if [ -s "$O/ft.grid" ]; then
            be=$($U pick "$O/ft.grid")
            rec "$ds" ft best_epoch "$be"
            rec "$ds" ft train_wall "$(wall "$O/ft.$be.t")"
            rec "$ds" ft grid_wall "$(wall "$O"/ft.*.t)"
            rec "$ds" ft metrics "$($U score "$VAL" "$O/ft.$be.val.pred")"
        fi
    fi

    # --- TF-IDF + LIBLINEAR ----------------------------------------------------
    if [ $HAVE_LL = 1 ]; then
        log "$ds: TF-IDF + LIBLINEAR (C grid $CGRID)"
        tm "$O/ll.fit.t" $TFIDF fit "$O/fit.tsv" "$O/ll.vocab" "$O/ll.fit.svm"
        $TFIDF transform "$O/ll.vocab" "$O/tune.tsv" "$O/ll.tune.svm"
        $TFIDF transform "$O/ll.vocab" "$VAL" "$O/ll.val.svm"
        : > "$O/ll.grid"
        if [ $multi = 1 ]; then
            $U labelset "$O/fit.tsv" > "$O/ll.labels"
            i=0
            while read -r lab; do
                $U binarize "$O/ll.fit.svm" "$O/ll.vocab" "$lab" "$O/ll.fit.$i.svm"
                i=$((i + 1))
            done < "$O/ll.labels"
            nl=$i
        else
            $TFIDF labels "$O/ll.vocab" > "$O/ll.labels"
        fi
        for c in $CGRID; do
            if [ $multi = 1 ]; then
                i=0; : > "$O/ll.train.$c.t"
                while [ $i -lt $nl ]; do
                    tm "$O/ll.bin.$c.$i.t" liblinear-train -q -s 1 -B 1 -c "$c" \
                        "$O/ll.fit.$i.svm" "$O/ll.model.$c.$i" > /dev/null
                    cat "$O/ll.bin.$c.$i.t" >> "$O/ll.train.$c.t"
                    i=$((i + 1))
                done
                $U ovr "$O/ll.tune.svm" "$O/ll.labels" "$O/ll.model.$c" > "$O/ll.tune.$c.pred"
                $U ovr "$O/ll.val.svm" "$O/ll.labels" "$O/ll.model.$c" > "$O/ll.val.$c.pred"
            else
                tm "$O/ll.train.$c.t" liblinear-train -q -s 1 -B 1 -c "$c" \
                    "$O/ll.fit.svm" "$O/ll.model.$c" > /dev/null
                for part in tune val; do
                    liblinear-predict "$O/ll.$part.svm" "$O/ll.model.$c" "$O/ll.$part.$c.num" > /dev/null
                    $IU map "$O/ll.labels" "$O/ll.$part.$c.num" > "$O/ll.$part.$c.pred"
                done
            fi
            j=$($U score "$O/tune.tsv" "$O/ll.tune.$c.pred")
            printf '%s\t%s\n' "$c" "$j" >> "$O/ll.grid"
            rec "$ds" ll grid "C=$c $(printf '%s' "$j" | macro | awk '{printf "%.2f", 100 * $1}')"
        done
        bc=$($U pick "$O/ll.grid")
        rec "$ds" ll best_c "$bc"
        rec "$ds" ll train_wall "$(wall "$O/ll.fit.t" "$O/ll.train.$bc.t")"
        rec "$ds" ll grid_wall "$(cat "$O/ll.fit.t" "$O"/ll.train.*.t | awk '{s += $1} END {printf "%.2f", s}')"
        rec "$ds" ll metrics "$($U score "$VAL" "$O/ll.val.$bc.pred")"
        rm -f "$O"/ll.*.svm
    fi
done

rec _ _ total_s $(( $(date +%s) - T0 ))
rec _ _ load_end "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
$U report "$R" > "$W/section.md" || { log "report failed"; exit 1; }
cat "$W/section.md"
if [ "${EMO_DOC:-1}" != 0 ]; then
    $U splice "$ROOT/doc/benchmarks.md" "Emotion (trained)" "$W/section.md" &&
        log "wrote the Emotion (trained) section of doc/benchmarks.md"
fi
log "done in $(( $(date +%s) - T0 )) s"
