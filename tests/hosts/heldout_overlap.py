"""heldout_overlap.py LIMIT - fails (exit 1) when a held-out message of the
default model (examples/model/heldout/*/*.tsv) is a copy or a light edit of
one of the model's examples (examples/model/intents-*.yaml), or of a
message of another held-out batch: difflib similarity of the lower-cased
texts at LIMIT or above.  Prints the closest
pair either way.  Standard library only; the examples are read as the YAML
list items they are written as (one `- text` per line)."""
import difflib
import glob
import re
import sys


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
                out.append(("%s:%d" % (path, n), line.rstrip("\n").split("\t", 1)[1].lower().strip()))
    return out


def main():
    limit = float(sys.argv[1])
    ex, ho = examples(), heldout()
    if not ex or not ho:
        print("heldout_overlap: no examples or no held-out messages found")
        return 1
    worst, bad = (0.0, "", "", ""), 0
    for where, h in ho:
        sm = difflib.SequenceMatcher(None, "", h)
        best = (0.0, "")
        for e in ex:
            sm.set_seq1(e)
            if sm.real_quick_ratio() <= best[0] or sm.quick_ratio() <= best[0]:
                continue
            r = sm.ratio()
            if r > best[0]:
                best = (r, e)
        if best[0] >= limit:
            bad += 1
            print("%s: %.2f similar to the example %r" % (where, best[0], best[1]))
        if best[0] > worst[0]:
            worst = (best[0], where, h, best[1])
    print("closest: %.2f, %s %r and the example %r (%d messages, %d examples)"
          % (worst + (len(ho), len(ex))))
    # batches must not repeat each other either (their writers converge)
    for i, (wi, hi) in enumerate(ho):
        sm = difflib.SequenceMatcher(None, "", hi)
        for wj, hj in ho[:i]:
            if wj.split("/")[-2] == wi.split("/")[-2]:
                continue
            sm.set_seq1(hj)
            if sm.real_quick_ratio() >= limit and sm.quick_ratio() >= limit \
                    and sm.ratio() >= limit:
                bad += 1
                print("%s: %.2f similar to %s" % (wi, sm.ratio(), wj))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
