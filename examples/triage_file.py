#!/usr/bin/env python3
"""Triage a CSV or JSONL file of customer messages with kefu; write JSONL.

    python3 examples/triage_file.py messages.csv -o triaged.jsonl
    python3 examples/triage_file.py chats.jsonl --model my-model.kefu \\
        --rules examples/default-rules.yaml

Input: JSON lines in the format of `kefu triage` ({"conversation", "text",
"time_ms", "channel", "customer": {"tier", "value", "risk"}, "wait_ms",
"external_emotion", "contacts_7d", "bot_failed", "facts"}; `message` is
accepted for `text`, an `id` is copied through), or CSV with a header: the
message column is `text`, `message`, `content` or --text-column; optional
columns id, conversation, channel, time_ms, wait_ms, contacts_7d,
external_emotion, customer_tier, customer_value, customer_risk (a;b).

Output: one JSON object per message, the same as an output line of
`kefu triage` (intent, confidence, entities, emotion, rules, actions,
escalated, locked, route ...), with the input's `id` when it has one.
Each conversation id gets one kefu.Session, so counters and the emotion
trajectory carry over between its messages; a message without a
conversation id is a conversation of its own.  A progress bar goes to
stderr (when it is a terminal, or with --progress).  A message kefu
rejects (invalid UTF-8, too long, clock going backwards) gets
{"error": ..., "status": ...} and the run goes on.  Exit status 0 when
every line was triaged, 1 when some failed, 2 on usage errors.
"""
import argparse
import csv
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
        self.drawn = -1

    def step(self, n=1):
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self.last >= 0.1 or self.done == self.total):
            self.last = now
            self.draw(now)

    def draw(self, now):
        self.drawn = self.done
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
            if self.drawn != self.done:
                self.draw(time.monotonic())
            sys.stderr.write("\n")


def is_jsonl(path):
    with open(path, "rb") as f:
        first = f.read(1)
    return path.endswith((".jsonl", ".json", ".ndjson")) or first == b"{"


def read_messages(path, text_column=None):
    """Yields (line number, record) from a CSV or JSONL file; a record has
    the keys of a `kefu triage` input line (text, conversation, time_ms,
    channel, customer, ...)."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        if is_jsonl(path):
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as e:
                    yield n, {"error": "line %d: %s" % (n, e)}
                    continue
                if text_column and text_column in obj:
                    obj["text"] = obj[text_column]
                elif "text" not in obj and "message" in obj:
                    obj["text"] = obj["message"]
                yield n, obj
        else:
            rows = csv.DictReader(f)
            col = text_column or next(
                (c for c in ("text", "message", "content")
                 if c in (rows.fieldnames or [])), None)
            if col is None:
                raise SystemExit("triage_file: no text column in %s (have %s);"
                                 " use --text-column" % (path, rows.fieldnames))
            for n, row in enumerate(rows, 2):
                rec = {"text": row.get(col) or ""}
                for k in ("id", "conversation", "channel"):
                    if row.get(k):
                        rec[k] = row[k]
                for k in ("time_ms", "wait_ms", "contacts_7d",
                          "external_emotion"):
                    if row.get(k):
                        rec[k] = int(float(row[k]))
                cust = {k[9:]: row[k] for k in ("customer_tier",
                                                 "customer_value",
                                                 "customer_risk")
                        if row.get(k)}
                if "value" in cust:
                    cust["value"] = float(cust["value"])
                if "risk" in cust:
                    cust["risk"] = cust["risk"].split(";")
                if cust:
                    rec["customer"] = cust
                yield n, rec


def count_lines(path):
    with open(path, "rb") as f:
        return sum(buf.count(b"\n") for buf in iter(lambda: f.read(1 << 20), b""))


class Triage:
    """One kefu.Session per conversation id (a message without one is a
    conversation of its own), as `kefu triage` keeps them."""

    def __init__(self, model, rules=None, trace=False, redact=False):
        self.model, self.trace, self.redact = model, trace, redact
        self.slot = kefu.RulesSlot(rules) if rules is not None else None
        self.sessions = {}

    def session(self, conv):
        s = self.sessions.get(conv)
        if s is None:
            s = self.sessions[conv] = self.model.session(self.slot, conv)
        return s

    def run(self, n, rec):
        conv = str(rec.get("conversation", rec.get("id", "line%d" % n)))
        out = {"id": rec["id"]} if "id" in rec else {}
        try:
            if "error" in rec:
                raise ValueError(rec["error"])
            text = rec.get("text")
            if not isinstance(text, str):
                raise ValueError('"text" (a string) is required')
            data = text.encode("utf-8", "surrogateescape")
            r = self.session(conv).turn(
                data, time_ms=rec.get("time_ms", 0), channel=rec.get("channel"),
                customer=rec.get("customer"),
                external_emotion=rec.get("external_emotion"),
                wait_ms=rec.get("wait_ms"),
                contacts_7d=rec.get("contacts_7d", 0),
                bot_failed=bool(rec.get("bot_failed")), trace=self.trace,
                facts=rec.get("facts"))
            out.update(r.as_dict())
            if self.redact:
                out["redacted"] = self.model.redact(data)[0]
            return out, True
        except (kefu.Error, ValueError, TypeError) as e:
            out.update(conversation=conv, error=str(e),
                       status=getattr(e, "status", kefu.errors.E_ARG))
            return out, False

    def close(self):
        for s in self.sessions.values():
            s.close()
        if self.slot is not None:
            self.slot.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="CSV or JSONL file of messages")
    ap.add_argument("-o", "--output", help="JSONL output (default stdout)")
    ap.add_argument("-m", "--model",
                    default=os.path.join(HERE, "default-model.yaml"),
                    help="YAML or binary model (default: the bundled one)")
    ap.add_argument("--rules", help="rule file (default: the model's rules)")
    ap.add_argument("--text-column", help="CSV column or JSON key of the text")
    ap.add_argument("--trace", action="store_true",
                    help="add each rule's explanation (like kefu triage --trace)")
    ap.add_argument("--redact", action="store_true",
                    help="add the message with personal data masked")
    ap.add_argument("--progress", action="store_true",
                    help="show the progress bar even when stderr is no tty")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)

    try:
        model = kefu.Model.load(a.model)
        rules = kefu.RuleSet.load(model, a.rules) if a.rules else None
    except kefu.Error as e:
        print("triage_file: %s" % e, file=sys.stderr)
        return 2
    total = count_lines(a.input) - (0 if is_jsonl(a.input) else 1)
    show = not a.no_progress and (a.progress or sys.stderr.isatty())
    bar = Progress(total if total > 1 else 0, show)
    out = open(a.output, "w", encoding="utf-8") if a.output else sys.stdout
    failed = 0
    tri = Triage(model, rules, a.trace, a.redact)
    try:
        for n, rec in read_messages(a.input, a.text_column):
            res, ok = tri.run(n, rec)
            failed += not ok
            out.write(json.dumps(res, ensure_ascii=False) + "\n")
            bar.step()
    finally:
        bar.close()
        if out is not sys.stdout:
            out.close()
        tri.close()
        if rules is not None:
            rules.close()
        model.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
