#!/usr/bin/env python3
"""Triage a CSV or JSONL file of customer messages with kefu; write JSONL.

    python3 examples/triage_file.py messages.csv -o triaged.jsonl
    python3 examples/triage_file.py chats.jsonl --model my-model.kefu \\
        --rules examples/default-rules.yaml

Input: CSV with a header (the message column is `text`, `message` or the
one named by --text-column; an `id` column is copied through) or JSON lines
(objects with `text`/`message` and optional `id`, `conversation`,
`channel`).  Output, one JSON object per input message: id, intent,
confidence, margin, out_of_scope, top, entities, missing_slots, emotion,
the message redacted for logging, and - when rules are given or the model
has some - the fired rules and their actions.  A progress bar goes to
stderr (when it is a terminal, or with --progress).  Messages kefu rejects
(invalid UTF-8, too long) produce {"id":..., "error": ...} and the run goes
on.  Exit status 0 when every line was triaged, 1 when some failed, 2 on
usage errors.
"""
import argparse
import csv
import io
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import kefu
except ImportError:  # used from a checkout without installing
    sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))
    import kefu


class Progress:
    """A one-line progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, total, enabled):
        self.total, self.enabled = total, enabled
        self.start = self.last = time.monotonic()
        self.done = 0

    def step(self, n=1):
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self.last >= 0.1 or self.done == self.total):
            self.last = now
            self.draw(now)

    def draw(self, now):
        rate = self.done / max(now - self.start, 1e-9)
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            eta = (self.total - self.done) / rate if rate else 0
            line = "\r[%-30s] %5.1f%% %d/%d %.0f msg/s eta %.0fs" % (
                bar, 100 * frac, self.done, self.total, rate, eta)
        else:
            line = "\r%d messages %.0f msg/s" % (self.done, rate)
        sys.stderr.write(line)
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            self.draw(time.monotonic())
            sys.stderr.write("\n")


def is_jsonl(path):
    with open(path, "rb") as f:
        first = f.read(1)
    return path.endswith((".jsonl", ".json", ".ndjson")) or first == b"{"


def read_messages(path, text_column=None):
    """Yields (id, text, extra) from a CSV or JSONL file."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        if is_jsonl(path):
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                obj = json.loads(line)
                text = obj.get(text_column or "text", obj.get("message", ""))
                yield obj.get("id", n), text, {
                    k: obj[k] for k in ("conversation", "channel") if k in obj}
        else:
            rows = csv.DictReader(f)
            col = text_column or next(
                (c for c in ("text", "message", "content")
                 if c in (rows.fieldnames or [])), None)
            if col is None:
                raise SystemExit("triage_file: no text column in %s (have %s);"
                                 " use --text-column" % (path, rows.fieldnames))
            for n, row in enumerate(rows, 1):
                yield row.get("id", n), row[col] or "", {}


def count_lines(path):
    with open(path, "rb") as f:
        return sum(buf.count(b"\n") for buf in iter(lambda: f.read(1 << 20), b""))


def triage(model, rules, text, extra):
    data = text.encode("utf-8", "surrogateescape")
    r = model.classify(data)
    out = r.as_dict()
    out["emotion"] = {k: round(v, 1) for k, v in model.emotion(data).items()}
    out["redacted"] = model.redact(data)[0]
    if rules is not None and rules.rule_names:
        facts = {"intent": r.intent, "confidence": r.confidence,
                 "out_of_scope": r.out_of_scope, "text": kefu.normalize(data),
                 "negativity": out["emotion"]["negativity"],
                 "missing_slots": r.missing_slots}
        for k, v in out["emotion"].items():
            facts["emotion." + k] = v
        if "channel" in extra:
            facts["channel"] = str(extra["channel"])
        known = {k: v for k, v in facts.items()
                 if rules.fact_type(k) is not None}
        o = rules.evaluate(known)
        out["rules"] = o.fired
        out["actions"] = [{k.rstrip("_"): v for k, v in a.__dict__.items()
                           if v not in ("", 0, False) or k == "type"}
                          for a in o.actions]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="CSV or JSONL file of messages")
    ap.add_argument("-o", "--output", help="JSONL output (default stdout)")
    ap.add_argument("-m", "--model",
                    default=os.path.join(HERE, "default-model.yaml"),
                    help="YAML or binary model (default: the bundled one)")
    ap.add_argument("--rules", help="rule file (default: the model's rules)")
    ap.add_argument("--text-column", help="CSV column or JSON key of the text")
    ap.add_argument("--progress", action="store_true",
                    help="show the progress bar even when stderr is no tty")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)

    try:
        model = kefu.Model.load(a.model)
        rules = (kefu.RuleSet.load(model, a.rules) if a.rules
                 else model.rules())
    except kefu.Error as e:
        print("triage_file: %s" % e, file=sys.stderr)
        return 2
    total = count_lines(a.input) - (0 if is_jsonl(a.input) else 1)
    show = not a.no_progress and (a.progress or sys.stderr.isatty())
    bar = Progress(total if total > 1 else 0, show)
    out = open(a.output, "w", encoding="utf-8") if a.output else sys.stdout
    failed = 0
    try:
        for mid, text, extra in read_messages(a.input, a.text_column):
            try:
                res = {"id": mid, **triage(model, rules, text, extra)}
            except kefu.Error as e:
                failed += 1
                res = {"id": mid, "error": str(e), "status": e.status_name}
            out.write(json.dumps(res, ensure_ascii=False) + "\n")
            bar.step()
    finally:
        bar.close()
        if out is not sys.stdout:
            out.close()
        rules.close()
        model.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
