"""heldout_overlap.py LIMIT - fails (exit 1) when a held-out message of the
default model (examples/model/heldout/*/*.tsv) is a copy or a light edit of
one of the model's examples (examples/model/intents-*.yaml), or of a
message of another held-out batch: difflib similarity of the lower-cased
texts at LIMIT or above.  Prints the closest pair either way.  Standard
library only; the examples are read as the YAML list items they are
written as (one `- text` per line).  Only pairs that share at least a
quarter of the held-out text's runs of three characters are compared (a
copy or a light edit shares most of them; texts shorter than three
characters are compared with everything)."""
import difflib
import glob
import re
import sys
from collections import defaultdict


def examples():
    out = []
    for path in sorted(glob.glob("examples/model/intents-*.yaml")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"^\s+- (.*?)\s*$", line)
                if m and not m.group(1).startswith("{"):
                    out.append(m.group(1).strip("'\"").lower())
    return out


def heldout():
    out = []
    for path in sorted(glob.glob("examples/model/heldout/*/*.tsv")):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                out.append(("%s:%d" % (path, n),
                            line.rstrip("\n").split("\t", 1)[1].lower().strip()))
    return out


def grams(s):
    return {s[i:i + 3] for i in range(len(s) - 2)}


class Index:
    """Texts by the three-character runs they contain."""

    def __init__(self, texts):
        self.texts, self.by_gram, self.short = texts, defaultdict(set), []
        for i, t in enumerate(texts):
            g = grams(t)
            if not g:
                self.short.append(i)
            for x in g:
                self.by_gram[x].add(i)

    def candidates(self, s):
        """Texts that share at least a quarter of s's runs of three."""
        g = grams(s)
        if not g:
            return range(len(self.texts))
        count = defaultdict(int)
        for x in g:
            for i in self.by_gram.get(x, ()):
                count[i] += 1
        need = max(1, len(g) // 4)
        return self.short + [i for i, c in count.items() if c >= need]


def closest(s, texts, candidates, skip=lambda i: False):
    """(ratio, index) of the most similar text among candidates."""
    sm = difflib.SequenceMatcher(None, "", s)
    best = (0.0, -1)
    for i in candidates:
        if skip(i):
            continue
        sm.set_seq1(texts[i])
        if sm.real_quick_ratio() <= best[0] or sm.quick_ratio() <= best[0]:
            continue
        r = sm.ratio()
        if r > best[0]:
            best = (r, i)
    return best


def main():
    limit = float(sys.argv[1])
    ex, ho = examples(), heldout()
    if not ex or not ho:
        print("heldout_overlap: no examples or no held-out messages found")
        return 1
    exi = Index(ex)
    worst, bad = (0.0, "", "", ""), 0
    for where, h in ho:
        r, i = closest(h, ex, exi.candidates(h))
        if r >= limit:
            bad += 1
            print("%s: %.2f similar to the example %r" % (where, r, ex[i]))
        if r > worst[0]:
            worst = (r, where, h, ex[i])
    print("closest: %.2f, %s %r and the example %r (%d messages, %d examples)"
          % (worst + (len(ho), len(ex))))
    # batches must not repeat each other either (their writers converge)
    texts = [h for _, h in ho]
    batch = [w.split("/")[-2] for w, _ in ho]
    hoi = Index(texts)
    for j, (wj, hj) in enumerate(ho):
        r, i = closest(hj, texts, hoi.candidates(hj),
                       lambda i: i >= j or batch[i] == batch[j])
        if r >= limit:
            bad += 1
            print("%s: %.2f similar to %s" % (wj, r, ho[i][0]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
