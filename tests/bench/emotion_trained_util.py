#!/usr/bin/env python3
"""Helpers for tests/bench/bench_emotion_trained.sh (standard library only).

Reuses tests/bench/intent_util.py (CJK splitting, the Markdown splice) and
works next to tests/bench/intent_tfidf.py (the TF-IDF features).

  emotion_trained_util.py paths SET DATASETS WORKDIR
      The training and scored files of a benchmark set, one a line
      (smp2020_usual: made in WORKDIR from usual_val.tsv, every 5th line
      scored; nothing printed for a set whose files are missing).
  emotion_trained_util.py split IN.tsv K REST.tsv EVERY.tsv
      Deterministic split: the non-empty lines whose 1-based number is a
      multiple of K go to EVERY.tsv, the others to REST.tsv.
  emotion_trained_util.py score GOLD.tsv PRED
      PRED has one line per gold line, the predicted labels comma-joined.
      Prints JSON {n, accuracy, macro_f1, f1}.  Definitions of `kefu eval
      --task emotion`: accuracy = predicted label set equals the gold set;
      F1 per label over all lines; macro-F1 = mean F1 over the labels that
      occur in the gold data.
  emotion_trained_util.py ftinput [cjk] TSV
      label<TAB>text -> fastText lines, one __label__ per label of a
      comma-joined set (cjk: CJK characters split by spaces).
  emotion_trained_util.py ftlabels PRED [TOP1]
      fastText `predict` output -> comma-joined labels; with TOP1 (the
      output of `predict MODEL FILE 1`) an empty line falls back to it.
  emotion_trained_util.py labelset TSV
      Prints the single labels of a (multi-label) TSV, sorted.
  emotion_trained_util.py binarize SVM VOCAB LABEL OUT.svm
      Rewrites the label column of intent_tfidf.py's SVM file (label ids
      of the comma-joined label sets listed in VOCAB) to +1 when the set
      holds LABEL, else -1.
  emotion_trained_util.py ovr SVM LABELS MODEL_PREFIX
      One-vs-rest prediction with binary LIBLINEAR models MODEL_PREFIX.<i>
      (i = index of the label in the LABELS file, one label a line): every
      label whose decision value is > 0, or the arg-max when none is.
      Prints comma-joined labels, one line per SVM row.
  emotion_trained_util.py pick GRID.tsv
      GRID lines: value<TAB>score JSON; prints the value with the highest
      macro-F1 (first one on ties).
  emotion_trained_util.py report RESULTS.tsv
      Renders the Markdown section.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import intent_util  # noqa: E402  (cjksplit, splice)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f]


def paths(ds, datasets, work):
    d = os.path.join(datasets, "smp2020_ewect")
    if ds == "smp2020_virus":
        tr, va = os.path.join(d, "virus_train.tsv"), os.path.join(d, "virus_val.tsv")
    elif ds == "smp2020_usual":
        tr, va = os.path.join(work, "usual_train.tsv"), os.path.join(work, "usual_heldout.tsv")
        if os.path.isfile(os.path.join(d, "usual_val.tsv")):
            split(os.path.join(d, "usual_val.tsv"), 5, tr, va)
    else:
        tr, va = (os.path.join(datasets, ds, f) for f in ("train.tsv", "val.tsv"))
    if all(os.path.isfile(p) and os.path.getsize(p) for p in (tr, va)):
        print(tr)
        print(va)


def split(src, k, rest, every):
    n = 0
    with open(rest, "w", encoding="utf-8") as a, open(every, "w", encoding="utf-8") as b:
        for line in read_lines(src):
            if not line.strip():
                continue
            n += 1
            (b if n % k == 0 else a).write(line + "\n")


def labset(s):
    return frozenset(x for x in s.split(",") if x)


def score_sets(gold, pred):
    tp, fp, fn = {}, {}, {}
    exact = 0
    for g, p in zip(gold, pred):
        exact += g == p
        for lab in g | p:
            if lab in g and lab in p:
                tp[lab] = tp.get(lab, 0) + 1
            elif lab in p:
                fp[lab] = fp.get(lab, 0) + 1
            else:
                fn[lab] = fn.get(lab, 0) + 1
    f1 = {}
    for lab in sorted(set().union(*gold) if gold else ()):
        t = tp.get(lab, 0)
        pr = t / (t + fp.get(lab, 0)) if t + fp.get(lab, 0) else 0.0
        rc = t / (t + fn.get(lab, 0)) if t + fn.get(lab, 0) else 0.0
        f1[lab] = 2 * pr * rc / (pr + rc) if pr + rc > 0 else 0.0
    n = len(gold)
    return {"n": n, "accuracy": exact / n if n else 0.0,
            "macro_f1": sum(f1.values()) / len(f1) if f1 else 0.0, "f1": f1}


def score(gold_path, pred_path):
    gold = [labset(l.split("\t", 1)[0]) for l in read_lines(gold_path) if l.strip()]
    pred = [labset(l) for l in read_lines(pred_path)]
    if len(pred) != len(gold):
        sys.exit("emotion_trained_util: %d predictions for %d gold lines" % (len(pred), len(gold)))
    print(json.dumps(score_sets(gold, pred)))


def ftinput(path, cjk):
    w = sys.stdout.write
    for line in read_lines(path):
        if not line.strip():
            continue
        lab, _, text = line.partition("\t")
        text = intent_util.cjksplit(text) if cjk else intent_util.SPACES.sub(" ", text).strip()
        w("%s %s\n" % (" ".join("__label__" + x for x in sorted(labset(lab))), text))


def ft_one(line):
    return sorted(t[9:] for t in line.split() if t.startswith("__label__"))


def ftlabels(pred, top1):
    multi = read_lines(pred)
    one = read_lines(top1) if top1 else None
    for i, line in enumerate(multi):
        labs = ft_one(line)
        if not labs and one is not None:
            labs = ft_one(one[i])
        print(",".join(labs))


def labelset(path):
    s = set()
    for line in read_lines(path):
        if line.strip():
            s |= labset(line.split("\t", 1)[0])
    for lab in sorted(s):
        print(lab)


def vocab_labels(path):
    with open(path, encoding="utf-8") as f:
        n = int(f.readline())
        return [f.readline().rstrip("\n") for _ in range(n)]


def binarize(svm, vocab, label, out):
    sets = vocab_labels(vocab)
    with open(out, "w", encoding="utf-8") as o:
        for line in read_lines(svm):
            lid, _, feats = line.partition(" ")
            i = int(lid)
            pos = 1 <= i <= len(sets) and label in labset(sets[i - 1])
            o.write(("+1 " if pos else "-1 ") + feats + "\n")


def load_liblinear(path):
    """Binary LIBLINEAR model -> (weights dict, bias weight, sign) where
    sign makes a positive decision value mean label +1."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    hdr = {}
    i = 0
    while lines[i] != "w":
        k, _, v = lines[i].partition(" ")
        hdr[k] = v
        i += 1
    nf = int(hdr["nr_feature"])
    bias = float(hdr.get("bias", "-1"))
    ws = [float(x.split()[0]) for x in lines[i + 1:i + 1 + nf + (1 if bias >= 0 else 0)]]
    b = ws[nf] * bias if bias >= 0 else 0.0
    first = hdr["label"].split()[0]
    sign = 1.0 if first in ("1", "+1") else -1.0
    return ws[:nf], b, sign


def ovr(svm, labels_path, prefix):
    labels = [l for l in read_lines(labels_path) if l]
    models = [load_liblinear("%s.%d" % (prefix, i)) for i in range(len(labels))]
    for line in read_lines(svm):
        parts = line.split()[1:]
        feats = []
        for p in parts:
            j, _, v = p.partition(":")
            feats.append((int(j), float(v)))
        scores = []
        for w, b, sign in models:
            nf = len(w)
            s = b
            for j, v in feats:
                if j <= nf:
                    s += w[j - 1] * v
            scores.append(sign * s)
        labs = [labels[k] for k, s in enumerate(scores) if s > 0]
        if not labs:
            labs = [labels[max(range(len(scores)), key=lambda k: scores[k])]]
        print(",".join(labs))


def pick(grid):
    best, bv = None, -1.0
    for line in read_lines(grid):
        if not line:
            continue
        v, _, j = line.partition("\t")
        f = json.loads(j)["macro_f1"]
        if f > bv:
            best, bv = v, f
    print(best)


NAMES = {
    "tweeteval_emotion": "TweetEval emotion (en, 4 labels)",
    "smp2020_virus": "SMP2020-EWECT virus (zh, 6 labels)",
    "smp2020_usual": "SMP2020-EWECT usual (zh, 6 labels)",
    "goemotions_ekman": "GoEmotions Ekman (en, 7 labels, multi-label)",
}


def report(path):
    res = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            ds, tool, key, val = line.rstrip("\n").split("\t", 3)
            d = res.setdefault(ds, {}).setdefault(tool, {})
            if key in ("metrics", "eval_json", "tune", "seed2", "seed3"):
                try:
                    d[key] = json.loads(val)
                except ValueError:
                    d[key] = {}
            elif key == "grid":
                d.setdefault("grid", []).append(val)
            else:
                d[key] = val
    g = res.get("_", {}).get("_", {})
    sets = [ds for ds in res if ds != "_"]
    P = print

    def m(ds, t, k="macro_f1"):
        v = res.get(ds, {}).get(t, {}).get("metrics", {}).get(k)
        return None if v is None else 100 * v

    def f2(v):
        return "—" if v is None else "%.2f" % v

    def sec(ds, t):
        v = res.get(ds, {}).get(t, {}).get("train_wall")
        return "—" if v in (None, "") else "%.1f" % float(v)

    P("## Emotion (trained)")
    P()
    P("Produced by `BENCH=emotion_trained make bench` (script "
      "`tests/bench/bench_emotion_trained.sh`, DATASETS=../shared/datasets) on %s; "
      "machine: %s; kefu commit %s; fastText %s (Debian), liblinear-tools %s (Debian), "
      "python %s; whole run %s s; load average %s at the start, %s at the end (the "
      "machine is shared, so times are noisy)." % (
          g.get("date"), g.get("machine"), g.get("commit"),
          g.get("fasttext") or "not installed", g.get("liblinear") or "not installed",
          g.get("python"), g.get("total_s"), g.get("load_start"), g.get("load_end")))
    P()
    P("**Protocol.** From each training file a deterministic "
      "tuning split is carved out — every %s-th line — and every tool trains on the rest "
      "(FIT). The tuning split picks LIBLINEAR's "
      "C from {0.1, 0.3, 1, 3} and fastText's epoch count from {25, 50}, both by "
      "macro-F1. kefu does not read it: it is trained on FIT without `--val`, and tunes "
      "its calibration, per-label bias offsets for macro-F1 and number of SGD passes "
      "(3, 5, 10 or 20) on FIT itself, "
      "cross-fitted (each FIT example scored by a model trained on the other four "
      "fifths, doc/intents.md), so it sees less data than the peers, not more. Everyone is then scored once on the set's `val.tsv`, which no tool saw "
      "(no test data is read). SMP2020-EWECT usual has no public training file: its "
      "`usual_val.tsv` is split by line number, lines whose number is a multiple of 5 "
      "are the held-out scoring part, the rest is the training file (from which the "
      "tuning split is carved as above). Scores: `tests/bench/emotion_trained_util.py "
      "score`, the definitions of `kefu eval --task emotion` (accuracy = predicted "
      "label set equals the gold set; macro-F1 = mean per-label F1 over the labels in "
      "the gold data); kefu's own `kefu eval --json` is shown as a cross-check."
      % g.get("tune_every", "10"))
    P()
    P("- kefu: `kefu train --task emotion --data FIT.tsv -o MODEL --quiet`, "
      "predictions from `kefu_emotion_classify`/`kefu_emotion_label` "
      "(`tests/bench/emotion_trained_pred.c`).")
    P("- fastText: `fasttext supervised -wordNgrams 2 -minn 3 -maxn 5 -epoch {25|50} "
      "-thread 1` (other options default: softmax, lr 0.1, dim 100, 2M buckets); Chinese "
      "text has its CJK characters split by spaces. GoEmotions (multi-label): one "
      "`__label__` per gold label, `-loss ova`, predicted with `predict MODEL FILE -1 0.5` "
      "(every label with probability ≥ 0.5), falling back to the top-1 label when none is.")
    P("- TF-IDF + LIBLINEAR: `tests/bench/intent_tfidf.py` features (TF-IDF word 1-2 grams "
      "+ char_wb 2-5 grams; Chinese: CJK character 1-2 grams; sublinear tf, L2) and "
      "`liblinear-train -s 1 -B 1` (L2-loss linear SVM). Single-label sets: LIBLINEAR's "
      "multi-class one-vs-rest, arg-max. GoEmotions: the standard multi-label reduction, "
      "one binary classifier per label (positive = the label is in the line's set), every "
      "label with a decision value > 0 predicted, the arg-max when none is "
      "(`emotion_trained_util.py binarize`/`ovr`).")
    P()
    P("Decision rules: kefu's per-label bias offsets are tuned for macro-F1 on its "
      "cross-fitted FIT scores as part of `kefu train`; the peers keep their standard decision rules "
      "(arg-max; GoEmotions: probability ≥ 0.5 for fastText, decision value > 0 for "
      "LIBLINEAR) and have only their epoch count / C tuned on the same split. Peers "
      "given per-label thresholds tuned for macro-F1 might score higher; that is not "
      "measured here.")
    P()
    P("### Macro-F1 and accuracy on val (%)")
    P()
    P("| data set | fit / tune / scored lines | kefu macro-F1 | fastText macro-F1 | "
      "TF-IDF + LIBLINEAR macro-F1 | kefu − best peer (points) | kefu accuracy | "
      "fastText accuracy | LIBLINEAR accuracy | `kefu eval` macro-F1 / accuracy |")
    P("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    targets = []
    for ds in sets:
        r = res[ds]
        k = m(ds, "kefu")
        peers = [(m(ds, t), n) for t, n in (("ft", "fastText"), ("ll", "LIBLINEAR"))
                 if m(ds, t) is not None]
        bp = max(peers) if peers else None
        diff = k - bp[0] if k is not None and bp else None
        ev = r.get("kefu", {}).get("eval_json", {})
        evs = "—" if not ev else "%.2f / %.2f" % (100 * ev.get("macro_f1", 0), 100 * ev.get("accuracy", 0))
        ft_note = " (epoch %s)" % r["ft"]["best_epoch"] if r.get("ft", {}).get("best_epoch") else ""
        ll_note = " (C=%s)" % r["ll"]["best_c"] if r.get("ll", {}).get("best_c") else ""
        P("| %s | %s / %s / %s | %s | %s%s | %s%s | %s | %s | %s | %s | %s |" % (
            NAMES.get(ds, ds), r.get("_", {}).get("n_fit", "?"), r.get("_", {}).get("n_tune", "?"),
            r.get("_", {}).get("n_val", "?"), f2(k), f2(m(ds, "ft")), ft_note,
            f2(m(ds, "ll")), ll_note, "—" if diff is None else "%+.2f" % diff,
            f2(m(ds, "kefu", "accuracy")), f2(m(ds, "ft", "accuracy")),
            f2(m(ds, "ll", "accuracy")), evs))
        targets.append((ds, k, bp, diff))
    P()
    seeds = []
    for ds in sets:
        r = res[ds].get("kefu", {})
        vals = [m(ds, "kefu")] + [100 * r[k]["macro_f1"] for k in ("seed2", "seed3")
                                  if r.get(k, {}).get("macro_f1") is not None]
        if vals[0] is not None and len(vals) > 1:
            seeds.append("%s: %s (mean %.2f)" % (ds, ", ".join("%.2f" % v for v in vals),
                                                 sum(vals) / len(vals)))
    if seeds:
        P("kefu's macro-F1 (%) with seeds 1, 2, 3 (the seed orders the SGD passes; "
          "the table shows seed 1, the default): " + "; ".join(seeds) + ".")
        P()
    P("Tuning-split macro-F1 (%) of the peers' grids: " + "; ".join(
        "%s: %s" % (ds, ", ".join(
            res[ds][t]["grid"][i] for t in ("ft", "ll") if res[ds].get(t, {}).get("grid")
            for i in range(len(res[ds][t]["grid"]))))
        for ds in sets if any(res[ds].get(t, {}).get("grid") for t in ("ft", "ll"))) + ".")
    P()
    P("Per-label F1 on val (%):")
    P()
    P("| data set | label | kefu | fastText | LIBLINEAR |")
    P("|---|---|---:|---:|---:|")
    for ds in sets:
        labs = sorted(res[ds].get("kefu", {}).get("metrics", {}).get("f1", {}) or
                      res[ds].get("ll", {}).get("metrics", {}).get("f1", {}))
        for lab in labs:
            cells = []
            for t in ("kefu", "ft", "ll"):
                v = res[ds].get(t, {}).get("metrics", {}).get("f1", {}).get(lab)
                cells.append(f2(None if v is None else 100 * v))
            P("| %s | %s | %s |" % (ds, lab, " | ".join(cells)))
    P()
    P("### Training time (seconds, wall; one thread each)")
    P()
    P("kefu: the whole `kefu train` process (including its cross-fitting: five extra "
      "trainings on four fifths of FIT, then calibration and bias tuning). fastText: one `supervised` run at the chosen epoch count (the "
      "grid costs the sum of both runs, in brackets). LIBLINEAR: featurising the training "
      "file (python) + `liblinear-train` at the chosen C (GoEmotions: the 7 binary "
      "problems); the whole C grid including featurisation in brackets.")
    P()
    P("| data set | kefu | fastText | TF-IDF + LIBLINEAR |")
    P("|---|---:|---:|---:|")
    for ds in sets:
        r = res[ds]
        ftg = r.get("ft", {}).get("grid_wall")
        llg = r.get("ll", {}).get("grid_wall")
        P("| %s | %s | %s%s | %s%s |" % (
            ds, sec(ds, "kefu"), sec(ds, "ft"), " [%.1f]" % float(ftg) if ftg else "",
            sec(ds, "ll"), " [%.1f]" % float(llg) if llg else ""))
    P()
    P("### Target of issue 4 (trained mode)")
    P()
    P("| target | measured (seed 1, the default) | met | seeds 1, 2, 3 − better peer |")
    P("|---|---|---|---|")
    for ds, k, bp, diff in targets:
        if k is None or bp is None:
            P("| %s: kefu macro-F1 ≥ better peer + 3 points | not measured | — | — |" % ds)
            continue
        r = res[ds].get("kefu", {})
        per_seed = [k] + [100 * r[s]["macro_f1"] for s in ("seed2", "seed3")
                          if r.get(s, {}).get("macro_f1") is not None]
        P("| %s: kefu macro-F1 ≥ better peer + 3 points | kefu %.2f, %s %.2f (%+.2f) | %s | %s |" % (
            ds, k, bp[1], bp[0], diff, "yes" if diff >= 3.0 else "**no**",
            ", ".join("%+.2f" % (v - bp[0]) for v in per_seed)))
    P()


def main(argv):
    a = argv[1:]
    if len(a) == 4 and a[0] == "paths":
        paths(a[1], a[2], a[3])
    elif len(a) == 5 and a[0] == "split":
        split(a[1], int(a[2]), a[3], a[4])
    elif len(a) == 3 and a[0] == "score":
        score(a[1], a[2])
    elif len(a) in (2, 3) and a[0] == "ftinput":
        ftinput(a[-1], len(a) == 3 and a[1] == "cjk")
    elif len(a) in (2, 3) and a[0] == "ftlabels":
        ftlabels(a[1], a[2] if len(a) == 3 else None)
    elif len(a) == 2 and a[0] == "labelset":
        labelset(a[1])
    elif len(a) == 5 and a[0] == "binarize":
        binarize(a[1], a[2], a[3], a[4])
    elif len(a) == 4 and a[0] == "ovr":
        ovr(a[1], a[2], a[3])
    elif len(a) == 2 and a[0] == "pick":
        pick(a[1])
    elif len(a) == 2 and a[0] == "report":
        report(a[1])
    elif len(a) == 4 and a[0] == "splice":
        intent_util.splice(a[1], a[2], a[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
