#!/usr/bin/env python3
"""TF-IDF featuriser for the LIBLINEAR peer of tests/bench/bench_intent.sh.

Standard library only.  Writes svmlight/LIBLINEAR files.

Features (in the spirit of scikit-learn's TfidfVectorizer, sublinear_tf=True,
smooth idf, L2 norm), two blocks, each L2-normalised and weighted 1/sqrt(2)
so the whole row has unit length:
  w: word 1-2 grams.  Text is lower-cased; a "word" is a run of letters or
     digits (\\w+), except that every CJK character is a word by itself, so on
     Chinese text this block is CJK character 1-2 grams.
  c: character 2-5 grams inside word boundaries (char_wb style: " word "),
     for non-CJK words only (CJK is covered by the character 1-2 grams).
Vocabulary and idf come from the training file only (min_df 1).

usage:
  intent_tfidf.py fit TRAIN.tsv VOCAB OUT.svm    label<TAB>text -> vocab + svm
  intent_tfidf.py transform VOCAB IN.tsv OUT.svm label<TAB>text, known labels
  intent_tfidf.py text VOCAB [FILE|-]            raw text lines -> svm on
                                                 stdout (label 0)
  intent_tfidf.py labels VOCAB                   print label names by index
"""
import math
import re
import sys

WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]|[^\W_]+|_+")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
INV_SQRT2 = 1.0 / math.sqrt(2.0)


def grams(text):
    """Returns (word_grams, char_grams) as dicts gram -> count."""
    toks = WORD.findall(text.lower())
    w = {}
    for t in toks:
        w[t] = w.get(t, 0) + 1
    for a, b in zip(toks, toks[1:]):
        g = a + " " + b
        w[g] = w.get(g, 0) + 1
    c = {}
    for t in toks:
        if CJK.match(t):
            continue
        s = " " + t + " "
        n = len(s)
        for k in range(2, 6):
            if k > n:
                break
            for i in range(n - k + 1):
                g = s[i:i + k]
                c[g] = c.get(g, 0) + 1
    return w, c


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            lab, _, text = line.partition("\t")
            yield lab, text


def load_vocab(path):
    labels = []
    vocab = {}
    idf = []
    with open(path, encoding="utf-8") as f:
        nl = int(f.readline())
        for _ in range(nl):
            labels.append(f.readline().rstrip("\n"))
        nf = int(f.readline())
        for i in range(nf):
            line = f.readline().rstrip("\n")
            v, _, g = line.partition("\t")
            vocab[g] = i + 1
            idf.append(float(v))
    return labels, vocab, idf


def row(text, vocab, idf):
    w, c = grams(text)
    out = []
    for prefix, block in (("w", w), ("c", c)):
        feats = []
        ss = 0.0
        for g, n in block.items():
            j = vocab.get(prefix + g)
            if j is None:
                continue
            v = (1.0 + math.log(n)) * idf[j - 1]
            feats.append((j, v))
            ss += v * v
        if ss > 0:
            s = INV_SQRT2 / math.sqrt(ss)
            out.extend((j, v * s) for j, v in feats)
    out.sort()
    return " ".join("%d:%.6g" % jv for jv in out)


def fit(train, vocab_path, out_path):
    data = list(read_tsv(train))
    labels = sorted({lab for lab, _ in data})
    lid = {lab: i + 1 for i, lab in enumerate(labels)}
    df = {}
    for _, text in data:
        w, c = grams(text)
        for g in w:
            k = "w" + g
            df[k] = df.get(k, 0) + 1
        for g in c:
            k = "c" + g
            df[k] = df.get(k, 0) + 1
    n = len(data)
    keys = sorted(df)
    vocab = {g: i + 1 for i, g in enumerate(keys)}
    idf = [math.log((1.0 + n) / (1.0 + df[g])) + 1.0 for g in keys]
    with open(vocab_path, "w", encoding="utf-8") as f:
        f.write("%d\n" % len(labels))
        for lab in labels:
            f.write(lab + "\n")
        f.write("%d\n" % len(keys))
        for g, v in zip(keys, idf):
            f.write("%.9g\t%s\n" % (v, g))
    with open(out_path, "w", encoding="utf-8") as f:
        for lab, text in data:
            f.write("%d %s\n" % (lid[lab], row(text, vocab, idf)))


def transform(vocab_path, tsv, out_path):
    labels, vocab, idf = load_vocab(vocab_path)
    lid = {lab: i + 1 for i, lab in enumerate(labels)}
    with open(out_path, "w", encoding="utf-8") as f:
        for lab, text in read_tsv(tsv):
            # an unseen gold label gets 0: always counted wrong
            f.write("%d %s\n" % (lid.get(lab, 0), row(text, vocab, idf)))


def text_mode(vocab_path, path):
    _, vocab, idf = load_vocab(vocab_path)
    src = sys.stdin if path == "-" else open(path, encoding="utf-8")
    out = sys.stdout
    w = out.write
    for line in src:
        w("0 " + row(line.rstrip("\n"), vocab, idf) + "\n")
    out.flush()


def main(argv):
    if len(argv) >= 5 and argv[1] == "fit":
        fit(argv[2], argv[3], argv[4])
    elif len(argv) >= 5 and argv[1] == "transform":
        transform(argv[2], argv[3], argv[4])
    elif len(argv) >= 3 and argv[1] == "text":
        text_mode(argv[2], argv[3] if len(argv) > 3 else "-")
    elif len(argv) >= 3 and argv[1] == "labels":
        for lab in load_vocab(argv[2])[0]:
            print(lab)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
