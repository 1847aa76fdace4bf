#!/usr/bin/env python3
"""Helpers for tests/bench/bench_intent.sh (standard library only).

  intent_util.py score GOLD.tsv PRED [ft|kefu|plain]
      Scores predictions against label<TAB>text gold, one prediction per
      line: `plain` one label a line, `ft` fastText `__label__X` lines,
      `kefu` the JSON lines of `kefu classify` (field intent; with it the
      expected calibration error of field confidence, 15 equal-width bins).
      Prints one JSON object: n, accuracy, macro_f1, in_scope_accuracy,
      oos_recall (null without `oos` gold), ece (kefu only).  The
      definitions are those of `kefu eval`: macro-F1 averages F1 over the
      labels that occur in the gold data; in-scope accuracy is accuracy on
      gold != oos; oos recall is the share of gold oos predicted oos.
  intent_util.py cjksplit [FILE|-]
      Puts spaces around every CJK character (fastText input for Chinese).
  intent_util.py fasttext [cjk] TSV
      label<TAB>text -> `__label__label text` (cjk: CJK characters split).
  intent_util.py repeat TSV N OUT
      Writes the texts of TSV repeated until at least N lines.
  intent_util.py map LABELS PRED
      LIBLINEAR numeric predictions (1-based) -> label names.
  intent_util.py hascjk TSV
      Exit status 0 when the first 200 texts contain CJK characters.
  intent_util.py report RESULTS.tsv
      Renders the Markdown section from bench_intent.sh's results file.
  intent_util.py splice DOC HEADING SECTION.md
      Replaces the `## HEADING` section of DOC (up to the next `## `
      heading) with SECTION.md, or appends it; the rest is left alone.
"""
import json
import re
import sys

CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af\u3000-\u303f\uff00-\uffef])")
SPACES = re.compile(r"\s+")


def cjksplit(s):
    return SPACES.sub(" ", CJK.sub(r" \1 ", s)).strip()


def gold_labels(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                out.append(line.split("\t", 1)[0])
    return out


def score(gold_path, pred_path, kind):
    gold = gold_labels(gold_path)
    pred, conf = [], []
    with open(pred_path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if kind == "kefu":
                o = json.loads(line)
                pred.append(o["intent"])
                conf.append(float(o["confidence"]))
            elif kind == "ft":
                lab = line.split(" ", 1)[0]
                pred.append(lab[9:] if lab.startswith("__label__") else lab)
            else:
                pred.append(line)
    if len(pred) != len(gold):
        sys.exit("intent_util: %d predictions for %d gold lines" % (len(pred), len(gold)))
    n = len(gold)
    tp, fp, fn = {}, {}, {}
    correct = ins = ins_ok = oos = oos_ok = 0
    for g, p in zip(gold, pred):
        ok = g == p
        correct += ok
        if ok:
            tp[g] = tp.get(g, 0) + 1
        else:
            fn[g] = fn.get(g, 0) + 1
            fp[p] = fp.get(p, 0) + 1
        if g == "oos":
            oos += 1
            oos_ok += ok
        else:
            ins += 1
            ins_ok += ok
    f1s = []
    for lab in set(gold):
        t = tp.get(lab, 0)
        pr = t / (t + fp.get(lab, 0)) if t + fp.get(lab, 0) else 0.0
        rc = t / (t + fn.get(lab, 0))
        f1s.append(2 * pr * rc / (pr + rc) if pr + rc > 0 else 0.0)
    res = {
        "n": n,
        "accuracy": correct / n if n else 0.0,
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "in_scope_accuracy": ins_ok / ins if ins else 0.0,
        "oos_recall": oos_ok / oos if oos else None,
    }
    if kind == "kefu":
        bins = 15
        cnt = [0] * bins
        sc = [0.0] * bins
        sa = [0] * bins
        for g, p, c in zip(gold, pred, conf):
            b = min(int(c * bins), bins - 1)
            cnt[b] += 1
            sc[b] += c
            sa[b] += g == p
        res["ece"] = sum(abs(sa[b] - sc[b]) for b in range(bins)) / n if n else 0.0
        res["mean_confidence"] = sum(conf) / n if n else 0.0
    print(json.dumps(res))


TOOLS = [("kefu", "kefu"), ("ft", "fastText"),
         ("ftws", "fastText, whitespace tokens"),
         ("ll", "TF-IDF + LIBLINEAR SVM")]
PEERS = ("ft", "ftws", "ll")


def load_results(path):
    res = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            ds, tool, key, val = line.rstrip("\n").split("\t", 3)
            d = res.setdefault(ds, {}).setdefault(tool, {})
            if key == "metrics":
                d.update(json.loads(val))
            elif key == "grid":
                d.setdefault("grid", []).append(val.split())
            else:
                d[key] = val
    return res


def num(d, k):
    try:
        v = d.get(k)
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def pct(v):
    return "—" if v is None else "%.2f" % (100 * v)


def fmt(v, spec="%.2f"):
    return "—" if v is None else spec % v


def ratio(a, b, spec="%.2f"):
    if a is None or b is None or b == 0 or a == 0:  # 0: below resolution
        return "—"
    return (spec % (a / b)) + "×"


def report(path):
    res = load_results(path)
    g = res.get("_", {}).get("_", {})
    sets = [ds for ds in res if ds != "_"]
    P = print
    P("## Intents")
    P()
    P("Produced by `BENCH=intent make bench` (script `tests/bench/bench_intent.sh`, "
      "DATASETS=../shared/datasets) on %s; machine: %s; kefu commit %s; "
      "fastText %s (Debian), liblinear-tools %s (Debian), python %s; "
      "whole run %s s." % (g.get("date"), g.get("machine"), g.get("commit"),
                           g.get("fasttext") or "not installed",
                           g.get("liblinear") or "not installed",
                           g.get("python"), g.get("total_s")))
    P()
    P("The machine is shared with other engineers' builds and tests (load average "
      "%s at the start, %s at the end of the run, on %s CPUs), so wall times "
      "are noisy; CPU times (user+sys) are shown next to them and are the steadier "
      "comparison." % (g.get("load_start"), g.get("load_end"),
                       (g.get("machine") or "?").split()[0]))
    P()
    P("Every tool trains on `train.tsv` and is scored on `val.tsv` (no test "
      "data is read; kefu reads nothing of val before it is scored). kefu: "
      "`kefu train --data train.tsv --seed 1` with its defaults (Crammer-Singer "
      "linear SVM over word 1-2 grams, word pairs and sub-words, doc/intents.md): "
      "with no validation set it scores every training example with a model "
      "trained on the other four fifths (five folds, stratified by label), "
      "calibrates its temperature and (CLINC150, which has `oos` examples) picks "
      "its out-of-scope threshold on those scores, then trains on all of train. The sets "
      "without an out-of-scope class get `classifier: {threshold: 0}` (answer "
      "every message, as the peers must); "
      "then `kefu classify --top 1` on the val texts. fastText: `fasttext supervised "
      "-wordNgrams 2 -minn 3 -maxn 5 -epoch 50 -thread 1` (default 2M buckets, dim 100); "
      "for Chinese the CJK characters are split by spaces first (the run on the raw "
      "whitespace tokens, where a Chinese sentence is one token, is shown too). "
      "TF-IDF + LIBLINEAR: `tests/bench/intent_tfidf.py` (python3, standard library) "
      "writes TF-IDF word 1-2 grams plus char_wb 2-5 grams (Chinese: CJK character "
      "1-2 grams), sublinear tf, smooth idf, L2-normalised, and `liblinear-train -s 1 "
      "-B 1` (L2-regularised L2-loss linear SVM, one-vs-rest) with **C tuned on val** "
      "over {0.1, 0.3, 1, 3} by in-scope accuracy — the tuned linear SVM. For CLINC150 "
      "the peers train with `oos` as one more label; all three are scored the same way "
      "(`tests/bench/intent_util.py`, the definitions of `kefu eval`: macro-F1 over the "
      "gold labels, in-scope accuracy on gold≠oos, oos recall = gold oos predicted oos).")
    P()
    P("### Accuracy on val (%)")
    P()
    P("| data set | metric | kefu | fastText | fastText, whitespace tokens | "
      "TF-IDF + LIBLINEAR SVM (C tuned on val) | kefu − best peer (points) |")
    P("|---|---|---:|---:|---:|---:|---:|")
    for ds in sets:
        r = res[ds]
        has_oos = r.get("kefu", {}).get("oos_recall") is not None or \
            r.get("ll", {}).get("oos_recall") is not None
        rows = ([("in_scope_accuracy", "in-scope accuracy"), ("oos_recall", "oos recall"),
                 ("accuracy", "accuracy, all val (incl. oos)"), ("macro_f1", "macro-F1")]
                if has_oos else [("accuracy", "accuracy"), ("macro_f1", "macro-F1")])
        for key, name in rows:
            cells = []
            for t, _ in TOOLS:
                cells.append(pct(num(r.get(t, {}), key)))
            peers = [num(r.get(t, {}), key) for t in PEERS]
            peers = [v for v in peers if v is not None]
            k = num(r.get("kefu", {}), key)
            diff = "%+.2f" % (100 * (k - max(peers))) if k is not None and peers else "—"
            c = r.get("ll", {}).get("best_c")
            if c and key == rows[0][0]:
                cells[3] += " (C=%s)" % c
            P("| %s | %s | %s | %s |" % (ds, name, " | ".join(cells), diff))
    P()
    P("LIBLINEAR C grid on val (in-scope accuracy %): " + "; ".join(
        "%s: %s" % (ds, ", ".join("C=%s %.2f" % (c, 100 * float(a))
                                   for c, a in res[ds].get("ll", {}).get("grid", [])))
        for ds in sets if res[ds].get("ll", {}).get("grid")) + ".")
    P()
    P("kefu calibration on val (`kefu classify --top 1`: reported intent and confidence "
      "against the gold label, 15 equal-width bins; on CLINC150 an `oos` answer counts "
      "as correct when the gold is oos, with the confidence kefu reports for it):")
    P()
    P("| data set | ECE | mean confidence | accuracy | `kefu eval` accuracy (cross-check) |")
    P("|---|---:|---:|---:|---:|")
    for ds in sets:
        k = res[ds].get("kefu", {})
        ev = {}
        try:
            ev = json.loads(k.get("eval_json", "{}"))
        except ValueError:
            pass
        P("| %s | %s | %s | %s | %s |" % (ds, fmt(num(k, "ece"), "%.4f"),
                                          fmt(num(k, "mean_confidence"), "%.4f"),
                                          pct(num(k, "accuracy")), pct(ev.get("accuracy"))))
    P()
    P("### Speed, memory, size")
    P()
    P("Throughput: whole process (load the model, read text, write labels to /dev/null) "
      "on the same file — the val texts repeated to ~100k lines — pinned to one core "
      "(`%s`), best of 3 (LIBLINEAR pipeline: 1 run). kefu: `kefu classify -m MODEL FILE`; "
      "fastText: `fasttext predict MODEL FILE` (Chinese: the same file with CJK characters "
      "pre-split, the split not timed); LIBLINEAR: `intent_tfidf.py text` piped into "
      "`liblinear-predict` (python featurisation dominates; `liblinear-predict` alone on "
      "the already featurised file is shown in brackets). Training: wall and CPU (user+sys) "
      "seconds of the whole process; fastText with one thread, kefu single-threaded; "
      "LIBLINEAR = featurise train + one liblinear-train at the chosen C (the 4-point grid "
      "costs about 4× the second part). Peak RSS from `/usr/bin/time -v` (Maximum resident "
      "set size; LIBLINEAR pipeline: featuriser + predictor, summed). Model size: files on "
      "disk (LIBLINEAR: vocabulary/idf + model). 1 line: whole-process wall time to "
      "classify a one-line file, i.e. mostly process start and model load (GNU time resolution 10 ms); \"after startup\" = "
      "(lines − 1) / (file time − 1-line time), the per-line speed once loaded. kefu load: `tests/bench/intent_load.c`, "
      "mean of 100 `kefu_model_load` calls on the binary model (warm page cache)."
      % (g.get("taskset")))
    P()
    P("| data set | tool | train wall s | train CPU s | train peak RSS MB | classify lines/s (1 core) "
      "| lines/s after startup | lines per CPU-second | classify peak RSS MB | model size MB | 1 line, whole process ms | kefu_model_load ms |")
    P("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ds in sets:
        r = res[ds]
        for t, name in TOOLS:
            d = r.get(t)
            if not d or "train_wall" not in d:
                continue
            thr = None
            if num(d, "cls_wall"):
                thr = num(d, "cls_lines") / num(d, "cls_wall")
            thr_s = fmt(thr, "%.0f")
            if t == "ll" and num(d, "pred_only_wall"):
                thr_s += " [%.0f]" % (num(d, "cls_lines") / num(d, "pred_only_wall"))
            cpu = num(d, "cls_cpu")
            cpu_s = fmt(num(d, "cls_lines") / cpu if cpu else None, "%.0f")
            if t == "ll" and num(d, "pred_only_cpu"):
                cpu_s += " [%.0f]" % (num(d, "cls_lines") / num(d, "pred_only_cpu"))
            rss = num(d, "cls_rss_kb")
            marg = None
            if num(d, "cls_wall") and num(d, "one_wall") is not None and \
                    num(d, "cls_wall") > num(d, "one_wall"):
                marg = (num(d, "cls_lines") - 1) / (num(d, "cls_wall") - num(d, "one_wall"))
            P("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                ds, name, fmt(num(d, "train_wall")), fmt(num(d, "train_cpu")),
                fmt(num(d, "train_rss_kb") and num(d, "train_rss_kb") / 1024, "%.0f"),
                thr_s, fmt(marg, "%.0f"), cpu_s, fmt(rss and rss / 1024, "%.1f"),
                fmt(num(d, "model_bytes") and num(d, "model_bytes") / 1e6, "%.2f"),
                ("<10" if num(d, "one_wall") == 0 else
                 fmt(num(d, "one_wall") and 1000 * num(d, "one_wall"), "%.0f")),
                fmt(num(d, "load_ms"), "%.2f")))
    P()
    P("Ratios kefu / peer (throughput: higher is better for kefu; time, memory, size: "
      "lower is better for kefu):")
    P()
    P("| data set | throughput ÷ fastText | per CPU-second ÷ fastText | throughput ÷ LIBLINEAR pipeline | classify RSS ÷ fastText "
      "| classify RSS ÷ LIBLINEAR | train wall ÷ fastText | train wall ÷ LIBLINEAR | "
      "train CPU ÷ fastText | train RSS ÷ fastText | model size ÷ fastText | 1-line process ÷ fastText |")
    P("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ds in sets:
        r = res[ds]
        k, f, l = r.get("kefu", {}), r.get("ft", {}), r.get("ll", {})

        def thr(d, key="cls_wall"):
            w = num(d, key)
            return num(d, "cls_lines") / w if w else None
        P("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            ds, ratio(thr(k), thr(f), "%.1f"), ratio(thr(k, "cls_cpu"), thr(f, "cls_cpu"), "%.1f"),
            ratio(thr(k), thr(l), "%.1f"),
            ratio(num(k, "cls_rss_kb"), num(f, "cls_rss_kb"), "%.3f"),
            ratio(num(k, "cls_rss_kb"), num(l, "cls_rss_kb"), "%.2f"),
            ratio(num(k, "train_wall"), num(f, "train_wall")),
            ratio(num(k, "train_wall"), num(l, "train_wall")),
            ratio(num(k, "train_cpu"), num(f, "train_cpu")),
            ratio(num(k, "train_rss_kb"), num(f, "train_rss_kb"), "%.3f"),
            ratio(num(k, "model_bytes"), num(f, "model_bytes"), "%.4f"),
            ratio(num(k, "one_wall"), num(f, "one_wall"), "%.3f")))
    P()
    P("### Targets of issue 3")
    P()
    P("| target | measured | met |")
    P("|---|---|---|")

    def yes(b):
        return "—" if b is None else ("yes" if b else "**no**")
    for ds in sets:
        r = res[ds]
        key = "in_scope_accuracy" if r.get("kefu", {}).get("oos_recall") is not None else "accuracy"
        k = num(r.get("kefu", {}), key)
        peers = [(num(r.get(t, {}), key), n) for t, n in TOOLS[1:] if num(r.get(t, {}), key) is not None]
        if k is None or not peers:
            continue
        bp, bn = max(peers)
        ok = 100 * (k - bp) >= 1.0 if ds in ("clinc150", "banking77", "smp2017") else None
        P("| %s %s ≥ best peer + 1 point%s | kefu %.2f, best peer %s %.2f (%+.2f) | %s |" % (
            ds, key.replace("_", " "), "" if ok is not None else " (not a target; shown)",
            100 * k, bn, 100 * bp, 100 * (k - bp), yes(ok)))
    c = res.get("clinc150", {}).get("kefu", {})
    if num(c, "oos_recall") is not None:
        P("| clinc150 oos recall ≥ 50%% | %.2f (in-scope accuracy %.2f) | %s |" % (
            100 * num(c, "oos_recall"), 100 * num(c, "in_scope_accuracy"),
            yes(num(c, "oos_recall") >= 0.5)))
    for ds in sets:
        k, f = res[ds].get("kefu", {}), res[ds].get("ft", {})
        if num(k, "cls_wall") and num(f, "cls_wall"):
            rt = (num(k, "cls_lines") / num(k, "cls_wall")) / (num(f, "cls_lines") / num(f, "cls_wall"))
            rc = None
            if num(k, "cls_cpu") and num(f, "cls_cpu"):
                rc = num(f, "cls_cpu") / num(k, "cls_cpu")
            P("| %s throughput ≥ 5× fastText (whole process, same file) | %.1f× wall, %s per CPU-second | %s |" % (
                ds, rt, fmt(rc, "%.1f×"), yes(rt >= 5)))
    for ds in sets:
        k, f = res[ds].get("kefu", {}), res[ds].get("ft", {})
        if num(k, "train_wall") and num(f, "train_wall"):
            P("| %s training no slower than fastText (1 thread) | kefu %.2f s wall / %s s CPU, fastText %.2f s wall / %s s CPU | %s |" % (
                ds, num(k, "train_wall"), fmt(num(k, "train_cpu")), num(f, "train_wall"),
                fmt(num(f, "train_cpu")), yes(num(k, "train_wall") <= num(f, "train_wall"))))
    for ds in sets:
        k = res[ds].get("kefu", {})
        if num(k, "load_ms") is not None:
            P("| %s model load < 20 ms | %.2f ms | %s |" % (ds, num(k, "load_ms"), yes(num(k, "load_ms") < 20)))
    for ds in sets:
        k, f = res[ds].get("kefu", {}), res[ds].get("ft", {})
        if num(k, "cls_rss_kb") and num(f, "cls_rss_kb"):
            rr = num(k, "cls_rss_kb") / num(f, "cls_rss_kb")
            P("| %s peak memory a fraction of fastText's (classify) | %.1f MB vs %.1f MB (%.3f×) | %s |" % (
                ds, num(k, "cls_rss_kb") / 1024, num(f, "cls_rss_kb") / 1024, rr, yes(rr < 1)))
    P()
    best = None
    try:
        best = json.loads(res.get("clinc150", {}).get("kefu", {}).get("best_json", ""))
    except ValueError:
        pass
    if best and num(c, "in_scope_accuracy") is not None:
        b = best.get("in_scope_accuracy")
        P("The CLINC150 condition \"in-scope accuracy within 1 point of its best\": kefu's "
          "best in-scope accuracy is that of the same training with the out-of-scope "
          "threshold off (`classifier: {threshold: 0}`, only the trained `oos` class "
          "answers out of scope): %.2f%% (oos recall %.2f%%); with its threshold "
          "%.2f%%, %.2f points below (%s)." % (
              100 * b, 100 * (best.get("oos_recall") or 0), 100 * num(c, "in_scope_accuracy"),
              100 * (b - num(c, "in_scope_accuracy")),
              "within 1 point" if b - num(c, "in_scope_accuracy") <= 0.01 else "more than 1 point"))
    P()


def splice(doc, heading, section_path):
    sec = open(section_path, encoding="utf-8").read().rstrip("\n") + "\n"
    try:
        lines = open(doc, encoding="utf-8").read().splitlines(True)
    except FileNotFoundError:
        lines = ["# Benchmarks\n", "\n"]
    head = "## " + heading
    start = next((i for i, l in enumerate(lines) if l.rstrip("\n").rstrip() == head), None)
    if start is None:
        if lines and lines[-1].strip():
            lines.append("\n")
        lines.append(sec)
    else:
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].startswith("## ")), len(lines))
        tail = lines[end:]
        lines = lines[:start] + [sec] + (["\n"] if tail else []) + tail
    with open(doc + ".tmp", "w", encoding="utf-8") as f:
        f.writelines(lines)
    import os
    os.replace(doc + ".tmp", doc)


def main(argv):
    if len(argv) >= 4 and argv[1] == "score":
        score(argv[2], argv[3], argv[4] if len(argv) > 4 else "plain")
    elif len(argv) >= 2 and argv[1] == "cjksplit":
        src = sys.stdin if len(argv) < 3 or argv[2] == "-" else open(argv[2], encoding="utf-8")
        w = sys.stdout.write
        for line in src:
            w(cjksplit(line.rstrip("\n")) + "\n")
    elif len(argv) >= 3 and argv[1] == "fasttext":
        split = argv[2] == "cjk"
        path = argv[3] if split else argv[2]
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line:
                    continue
                lab, _, text = line.partition("\t")
                text = cjksplit(text) if split else SPACES.sub(" ", text).strip()
                sys.stdout.write("__label__%s %s\n" % (lab, text))
    elif len(argv) >= 5 and argv[1] == "repeat":
        texts = [l.rstrip("\n").split("\t", 1)[-1]
                 for l in open(argv[2], encoding="utf-8") if l.strip()]
        want = int(argv[3])
        reps = -(-want // len(texts))
        with open(argv[4], "w", encoding="utf-8") as f:
            for _ in range(reps):
                for t in texts:
                    f.write(t + "\n")
    elif len(argv) >= 4 and argv[1] == "map":
        labels = [l.rstrip("\n") for l in open(argv[2], encoding="utf-8")]
        for line in open(argv[3], encoding="utf-8"):
            i = int(line.split()[0])
            print(labels[i - 1] if 1 <= i <= len(labels) else "?")
    elif len(argv) >= 3 and argv[1] == "hascjk":
        with open(argv[2], encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= 200:
                    break
                if CJK.search(line.split("\t", 1)[-1]):
                    return 0
        return 1
    elif len(argv) >= 3 and argv[1] == "report":
        report(argv[2])
    elif len(argv) >= 5 and argv[1] == "splice":
        splice(argv[2], argv[3], argv[4])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
