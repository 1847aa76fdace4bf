#!/bin/sh
# bench_intent.sh - intent classification: kefu against fastText and a tuned
# TF-IDF + LIBLINEAR linear SVM, side by side in one run.
#
#   BENCH=intent make bench          (or: sh tests/bench/bench_intent.sh)
#
# Environment:
#   DATASETS        shared data (default ../shared/datasets); train on
#                   train.tsv, score on val.tsv (test data is never read)
#   INTENT_SETS     data sets (default "clinc150 banking77 smp2017 cais")
#   INTENT_LINES    lines of the throughput file (default 100000)
#   INTENT_DOC=0    do not rewrite the "## Intents" section of
#                   doc/benchmarks.md (default: rewrite it, only it)
#
# Prints the Markdown section on stdout; progress goes to stderr.  Work
# files go to build/bench/intent/ (fastText models, ~800 MB each, are
# deleted once measured).
#
# What is measured, per data set (see the notes printed with the tables):
#   kefu      kefu train on train.tsv only (its examples, cross-fitted in five
#             folds, calibrate it and pick the out-of-scope threshold; sets
#             with no oos label get threshold 0), then kefu classify --top 1
#             on the val texts, scored here, plus the expected calibration
#             error of its confidence (15 bins).
#   fastText  supervised, word 1-2 grams, char 3-5 grams, 50 epochs,
#             -thread 1; Chinese text has its CJK characters split by spaces
#             (and the whitespace-token run is reported too).
#   LIBLINEAR intent_tfidf.py (TF-IDF word 1-2 grams + char_wb 2-5 grams /
#             CJK char 1-2 grams, sublinear tf, L2) + liblinear-train -s 1
#             (L2-loss linear SVM, dual), C tuned on val over {0.1,0.3,1,3}.
#   speed     each tool's whole process on the same ~100k-line file (val
#             texts repeated), pinned to CPU 0 with taskset, best of 3 runs
#             (LIBLINEAR pipeline: 1 run), output to /dev/null.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DATASETS=${DATASETS:-$(cd .. && pwd)/shared/datasets}
SETS=${INTENT_SETS:-"clinc150 banking77 smp2017 cais"}
LINES=${INTENT_LINES:-100000}
W=$ROOT/build/bench/intent
# the CLI and the library are snapshotted into $W after the build, so that
# others rebuilding the shared tree during the run cannot mix versions
KEFU=$W/kefu
TFIDF="python3 $ROOT/tests/bench/intent_tfidf.py"
UTIL="python3 $ROOT/tests/bench/intent_util.py"
FT_OPTS="-wordNgrams 2 -minn 3 -maxn 5 -epoch 50 -thread 1"
CGRID="0.1 0.3 1 3"
T0=$(date +%s)

log() { echo "bench_intent: $*" >&2; }

rm -rf "$W"
mkdir -p "$W"
R=$W/results.tsv
: > "$R"
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$R"; }

# --- build -----------------------------------------------------------------
# others may be mid-edit in a shared tree: retry a failed build a few times,
# then go on with the binaries already built if there are any
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
# snapshot the CLI and libkefu.a, build intent_load from the same archive,
# and check that it loads a model the snapshotted CLI writes (a rebuild by
# someone else between the two copies shows up here: take them again)
snap_ok=0
for try in 1 2 3 4 5; do
    cp build/default/bin/kefu "$W/kefu" && cp lib/libkefu.a "$W/libkefu.a" &&
    cc -std=c11 -O2 -Iinclude tests/bench/intent_load.c "$W/libkefu.a" \
        $(pkg-config --libs libpcre2-8 libutf8proc yaml-0.1) -lm -lpthread \
        -o "$W/intent_load" || { log "cannot build intent_load"; exit 1; }
    printf 'a\thello there\nb\tgoodbye now\na\thi there\nb\tbye now\n' > "$W/probe.tsv"
    if "$KEFU" train --data "$W/probe.tsv" -o "$W/probe.kefu" --quiet > /dev/null 2>&1 &&
        "$W/intent_load" "$W/probe.kefu" 1 > /dev/null; then
        snap_ok=1; break
    fi
    log "kefu CLI and libkefu.a disagree (a rebuild in progress?); retrying"
    sleep 20; make -j2 >&2
done
[ $snap_ok = 1 ] || log "warning: intent_load cannot read models of the kefu CLI; load times will be missing"

# --- peers and tools ---------------------------------------------------------
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
TS=""
command -v taskset >/dev/null 2>&1 && TS="taskset -c 0"

# tm FILE CMD...: runs CMD under GNU time; FILE gets "wall user sys maxrss_kb"
tm() { f=$1; shift; /usr/bin/time -f "%e %U %S %M" -o "$f" "$@"; }
field() { awk -v k="$2" '{print $k}' "$1"; }
# best FILE...: the time file with the smallest wall time
best() { for f in "$@"; do printf '%s %s\n' "$(field "$f" 1)" "$f"; done | sort -n | head -1 | cut -d' ' -f2; }
# speed DS TOOL LINES TIMEFILE: records throughput and classification RSS
speed() {
    rec "$1" "$2" cls_wall "$(field "$4" 1)"
    rec "$1" "$2" cls_cpu "$(awk '{print $2 + $3}' "$4")"
    rec "$1" "$2" cls_rss_kb "$(field "$4" 4)"
    rec "$1" "$2" cls_lines "$3"
}
# metrics DS TOOL JSON: records accuracy keys from intent_util.py score
metrics() { rec "$1" "$2" metrics "$3"; }
size_of() { s=0; for f in "$@"; do s=$((s + $(stat -c %s "$f"))); done; echo $s; }

rec _ _ machine "$(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
rec _ _ date "$(date -u '+%Y-%m-%d %H:%M UTC')"
rec _ _ commit "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes in src/include')"
rec _ _ fasttext "$(dpkg-query -W -f '${Version}' fasttext 2>/dev/null)"
rec _ _ liblinear "$(dpkg-query -W -f '${Version}' liblinear-tools 2>/dev/null)"
rec _ _ python "$(python3 -c 'import sys; print(sys.version.split()[0])')"
rec _ _ taskset "${TS:-none}"
rec _ _ load_start "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
rec _ _ have_ft $HAVE_FT
rec _ _ have_ll $HAVE_LL

for ds in $SETS; do
    D=$DATASETS/$ds
    if [ ! -f "$D/train.tsv" ] || [ ! -f "$D/val.tsv" ]; then
        log "$ds: no train.tsv/val.tsv under $D, skipped"
        continue
    fi
    log "== $ds"
    O=$W/$ds
    mkdir -p "$O"
    cut -f2- "$D/val.tsv" > "$O/val.txt"
    $UTIL repeat "$D/val.tsv" "$LINES" "$O/bench.txt"
    head -1 "$O/val.txt" > "$O/one.txt"
    NB=$(wc -l < "$O/bench.txt")
    zh=0
    $UTIL hascjk "$D/train.tsv" && zh=1
    rec "$ds" _ zh $zh
    rec "$ds" _ n_train "$(wc -l < "$D/train.tsv")"

    # --- kefu ------------------------------------------------------------------
    log "$ds: kefu train"
    KCFG=
    if ! cut -f1 "$D/train.tsv" | grep -qx oos; then
        printf 'kefu: 1\nclassifier: {threshold: 0}\n' > "$O/no-oos.yaml"
        KCFG="--config $O/no-oos.yaml"
    fi
    tm "$O/k.train.t" "$KEFU" train --data "$D/train.tsv" $KCFG \
        -o "$O/model.kefu" --seed 1 2> "$O/k.train.log"
    if [ ! -s "$O/model.kefu" ]; then
        log "$ds: kefu train failed:"; tail -5 "$O/k.train.log" >&2
    else
        rec "$ds" kefu train_wall "$(field "$O/k.train.t" 1)"
        rec "$ds" kefu train_cpu "$(awk '{print $2 + $3}' "$O/k.train.t")"
        rec "$ds" kefu train_rss_kb "$(field "$O/k.train.t" 4)"
        rec "$ds" kefu train_self "$(sed -n 's/.* in \([0-9.]*\) s.*/\1/p' "$O/k.train.log" | tail -1)"
        rec "$ds" kefu model_bytes "$(size_of "$O/model.kefu")"
        "$KEFU" classify -m "$O/model.kefu" --top 1 "$O/val.txt" > "$O/k.val.jsonl"
        metrics "$ds" kefu "$($UTIL score "$D/val.tsv" "$O/k.val.jsonl" kefu)"
        rec "$ds" kefu eval_json "$("$KEFU" eval -m "$O/model.kefu" "$D/val.tsv" --json | sed 's/,"confused".*/}/')"
        if [ -z "$KCFG" ]; then
            # its best in-scope accuracy: the same training with the
            # out-of-scope threshold off (only the trained oos class left)
            printf 'kefu: 1\nclassifier: {threshold: 0}\n' > "$O/t0.yaml"
            "$KEFU" train --data "$D/train.tsv" --config "$O/t0.yaml" -o "$O/t0.kefu" \
                --seed 1 > /dev/null 2>&1 &&
                rec "$ds" kefu best_json "$("$KEFU" eval -m "$O/t0.kefu" "$D/val.tsv" --json | sed 's/,"confused".*/}/')"
        fi
        for i in 1 2 3; do
            tm "$O/k.cls.$i.t" $TS "$KEFU" classify -m "$O/model.kefu" "$O/bench.txt" > /dev/null
            tm "$O/k.one.$i.t" $TS "$KEFU" classify -m "$O/model.kefu" "$O/one.txt" > /dev/null
        done
        speed "$ds" kefu "$NB" "$(best "$O"/k.cls.*.t)"
        rec "$ds" kefu one_wall "$(field "$(best "$O"/k.one.*.t)" 1)"
        rec "$ds" kefu load_ms "$("$W/intent_load" "$O/model.kefu" 100 2>> "$O/k.load.err" | awk '{print $4}')"
    fi

    # --- fastText --------------------------------------------------------------
    if [ $HAVE_FT = 1 ]; then
        variants="ft"
        [ $zh = 1 ] && variants="ft ftws"
        for v in $variants; do
            if [ $v = ft ] && [ $zh = 1 ]; then
                $UTIL fasttext cjk "$D/train.tsv" > "$O/$v.train.txt"
                $UTIL cjksplit "$O/val.txt" > "$O/$v.val.txt"
                $UTIL cjksplit "$O/bench.txt" > "$O/$v.bench.txt"
                $UTIL cjksplit "$O/one.txt" > "$O/$v.one.txt"
            else
                $UTIL fasttext "$D/train.tsv" > "$O/$v.train.txt"
                cp "$O/val.txt" "$O/$v.val.txt"
                cp "$O/bench.txt" "$O/$v.bench.txt"
                cp "$O/one.txt" "$O/$v.one.txt"
            fi
            log "$ds: fastText train ($v)"
            # shellcheck disable=SC2086
            tm "$O/$v.train.t" fasttext supervised -input "$O/$v.train.txt" \
                -output "$O/$v" $FT_OPTS -verbose 0 > "$O/$v.train.log" 2>&1
            if [ ! -s "$O/$v.bin" ]; then
                log "$ds: fastText training failed"; tail -3 "$O/$v.train.log" >&2
                continue
            fi
            rec "$ds" $v train_wall "$(field "$O/$v.train.t" 1)"
            rec "$ds" $v train_cpu "$(awk '{print $2 + $3}' "$O/$v.train.t")"
            rec "$ds" $v train_rss_kb "$(field "$O/$v.train.t" 4)"
            rec "$ds" $v model_bytes "$(size_of "$O/$v.bin")"
            fasttext predict "$O/$v.bin" "$O/$v.val.txt" > "$O/$v.val.pred"
            metrics "$ds" $v "$($UTIL score "$D/val.tsv" "$O/$v.val.pred" ft)"
            if [ $v = ft ]; then
                for i in 1 2 3; do
                    tm "$O/$v.cls.$i.t" $TS fasttext predict "$O/$v.bin" "$O/$v.bench.txt" > /dev/null
                    tm "$O/$v.one.$i.t" $TS fasttext predict "$O/$v.bin" "$O/$v.one.txt" > /dev/null
                done
                speed "$ds" $v "$NB" "$(best "$O"/$v.cls.*.t)"
                rec "$ds" $v one_wall "$(field "$(best "$O"/$v.one.*.t)" 1)"
            fi
            rm -f "$O/$v.bin" "$O/$v.vec" "$O/$v.bench.txt"
        done
    fi

    # --- TF-IDF + LIBLINEAR ----------------------------------------------------
    if [ $HAVE_LL = 1 ]; then
        log "$ds: TF-IDF + LIBLINEAR (C grid $CGRID)"
        tm "$O/ll.fit.t" $TFIDF fit "$D/train.tsv" "$O/ll.vocab" "$O/ll.train.svm"
        $TFIDF transform "$O/ll.vocab" "$D/val.tsv" "$O/ll.val.svm"
        $TFIDF labels "$O/ll.vocab" > "$O/ll.labels"
        bestc=""; bestacc=-1
        for c in $CGRID; do
            tm "$O/ll.train.$c.t" liblinear-train -q -s 1 -B 1 -c "$c" "$O/ll.train.svm" "$O/ll.model.$c" > /dev/null
            liblinear-predict "$O/ll.val.svm" "$O/ll.model.$c" "$O/ll.val.$c.num" > /dev/null
            $UTIL map "$O/ll.labels" "$O/ll.val.$c.num" > "$O/ll.val.$c.pred"
            j=$($UTIL score "$D/val.tsv" "$O/ll.val.$c.pred")
            acc=$(printf '%s' "$j" | python3 -c 'import json,sys; print(json.load(sys.stdin)["in_scope_accuracy"])')
            rec "$ds" ll grid "$c $acc"
            if awk -v a="$acc" -v b="$bestacc" 'BEGIN{exit !(a > b)}'; then
                bestc=$c; bestacc=$acc; bestj=$j
            fi
        done
        rec "$ds" ll best_c "$bestc"
        metrics "$ds" ll "$bestj"
        M=$O/ll.model.$bestc
        rec "$ds" ll train_wall "$(awk '{s += $1} END {print s}' "$O/ll.fit.t" "$O/ll.train.$bestc.t")"
        rec "$ds" ll train_cpu "$(awk '{s += $2 + $3} END {print s}' "$O/ll.fit.t" "$O/ll.train.$bestc.t")"
        rec "$ds" ll train_rss_kb "$(awk '$4 > m {m = $4} END {print m}' "$O/ll.fit.t" "$O/ll.train.$bestc.t")"
        rec "$ds" ll grid_wall "$(cat "$O"/ll.train.*.t | awk '{s += $1} END {print s}')"
        rec "$ds" ll model_bytes "$(size_of "$O/ll.vocab" "$M")"
        # whole pipeline, text in, numeric labels out; the inner time files
        # give each process's peak RSS (they run at the same time: summed)
        log "$ds: LIBLINEAR pipeline throughput"
        tm "$O/ll.cls.t" $TS sh -c '/usr/bin/time -f %M -o "$1.a" '"$TFIDF"' text "$2" "$3" | tee "$1.svm" | /usr/bin/time -f %M -o "$1.b" liblinear-predict /dev/stdin "$4" /dev/stdout > /dev/null' \
            sh "$O/ll.cls" "$O/ll.vocab" "$O/bench.txt" "$M"
        rec "$ds" ll cls_wall "$(field "$O/ll.cls.t" 1)"
        rec "$ds" ll cls_cpu "$(awk '{print $2 + $3}' "$O/ll.cls.t")"
        rec "$ds" ll cls_lines "$NB"
        rec "$ds" ll cls_rss_kb "$(cat "$O/ll.cls.a" "$O/ll.cls.b" | awk '{s += $1} END {print s}')"
        rec "$ds" ll cls_rss_feat_kb "$(cat "$O/ll.cls.a")"
        rec "$ds" ll cls_rss_pred_kb "$(cat "$O/ll.cls.b")"
        for i in 1 2 3; do
            tm "$O/ll.pred.$i.t" $TS liblinear-predict "$O/ll.cls.svm" "$M" /dev/null > /dev/null
        done
        rec "$ds" ll pred_only_wall "$(field "$(best "$O"/ll.pred.*.t)" 1)"
        rec "$ds" ll pred_only_cpu "$(awk '{print $2 + $3}' "$(best "$O"/ll.pred.*.t)")"
        for i in 1 2 3; do
            tm "$O/ll.one.$i.t" $TS sh -c "$TFIDF"' text "$1" "$2" | liblinear-predict /dev/stdin "$3" /dev/stdout > /dev/null' \
                sh "$O/ll.vocab" "$O/one.txt" "$M"
        done
        rec "$ds" ll one_wall "$(field "$(best "$O"/ll.one.*.t)" 1)"
        rm -f "$O/ll.cls.svm"
    fi
done

rec _ _ total_s $(( $(date +%s) - T0 ))
rec _ _ load_end "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
$UTIL report "$R" > "$W/section.md" || { log "report failed"; exit 1; }
cat "$W/section.md"
if [ "${INTENT_DOC:-1}" != 0 ]; then
    $UTIL splice "$ROOT/doc/benchmarks.md" "Intents" "$W/section.md" &&
        log "wrote the Intents section of doc/benchmarks.md"
fi
log "done in $(( $(date +%s) - T0 )) s"
