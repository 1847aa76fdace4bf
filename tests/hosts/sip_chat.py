#!/usr/bin/env python3
"""A short SIP client for tests/hosts/run-kamailio.sh.

Sends every message of a `kefu triage` input file as a SIP MESSAGE (From
user = conversation, body = text, X-Time-Ms / X-Channel / X-Customer-*
headers from the line) to Kamailio on 127.0.0.1, plays the agents' desk
on a second UDP port (answers relayed MESSAGEs with 200 OK), and checks
every answer against `kefu triage`'s output for the same file.  Then a few
malformed requests.  Prints "ok ..." / "FAIL ..." lines.

    sip_chat.py SERVER_PORT AGENT_PORT INPUT.jsonl EXPECTED.jsonl
"""
import json
import random
import select
import socket
import sys
import time

HOST = "127.0.0.1"


def parse(data):
    """(first line, headers {lower name: [values]}, body) of a SIP message."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers, body


class Phone:
    def __init__(self, server_port, agent_port):
        self.server = (HOST, server_port)
        self.client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.client.bind((HOST, 0))
        self.port = self.client.getsockname()[1]
        self.agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.agent.bind((HOST, agent_port))
        self.cseq = 0

    def close(self):
        self.client.close()
        self.agent.close()

    def agent_answer(self, data, addr):
        first, h, body = parse(data)
        if first.endswith("SIP/2.0") and not first.startswith("SIP/"):
            lines = ["SIP/2.0 200 Accepted by agent"]
            for v in h.get("via", []):
                lines.append("Via: " + v)
            lines += ["From: " + h["from"][0], "To: " + h["to"][0] + ";tag=agent1",
                      "Call-ID: " + h["call-id"][0], "CSeq: " + h["cseq"][0],
                      "Content-Length: 0", "", ""]
            self.agent.sendto("\r\n".join(lines).encode(), addr)
            return {"ruri": first.split()[1], "headers": h, "body": body.decode("utf-8", "replace")}
        return None

    def request(self, method, user, body=b"", ctype="text/plain", extra=(), resend=None):
        """Sends one request; returns (status, reason, headers, body, relayed).
        With resend=(datagram, call_id), sends that datagram again instead
        (a retransmission).  self.last holds the datagram sent."""
        self.cseq += 1
        call_id = "%08x@kefu-test" % random.getrandbits(32)
        branch = "z9hG4bK%08x" % random.getrandbits(32)
        lines = ["%s sip:kefu@%s:%d SIP/2.0" % (method, HOST, self.server[1]),
                 "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (HOST, self.port, branch),
                 "Max-Forwards: 70",
                 "From: <sip:%s@%s:%d>;tag=%08x" % (user, HOST, self.port, random.getrandbits(32)),
                 "To: <sip:kefu@%s:%d>" % (HOST, self.server[1]),
                 "Call-ID: " + call_id, "CSeq: %d %s" % (self.cseq, method)]
        lines += list(extra)
        if body:
            lines.append("Content-Type: " + ctype)
        lines += ["Content-Length: %d" % len(body), "", ""]
        datagram = "\r\n".join(lines).encode() + body
        if resend:
            datagram, call_id = resend
        self.last = (datagram, call_id)
        self.client.sendto(datagram, self.server)
        relayed = None
        deadline = time.time() + 8
        while time.time() < deadline:
            ready, _, _ = select.select([self.client, self.agent], [], [], 0.5)
            for s in ready:
                data, addr = s.recvfrom(65535)
                if s is self.agent:
                    relayed = self.agent_answer(data, addr) or relayed
                    continue
                first, h, rbody = parse(data)
                if h.get("call-id", [""])[0] != call_id:
                    continue
                code = int(first.split()[1])
                if code < 200:
                    continue
                return code, first.split(" ", 2)[2], h, rbody, relayed
        return None, "timeout", {}, b"", relayed


def main():
    server_port, agent_port = int(sys.argv[1]), int(sys.argv[2])
    lines = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
    expected = [l.rstrip("\n") for l in open(sys.argv[4], encoding="utf-8")]
    phone = Phone(server_port, agent_port)
    results = []

    def result(ok, name):
        results.append(ok)
        print(("ok   " if ok else "FAIL ") + name)

    # Wait for Kamailio to answer OPTIONS.
    for _ in range(30):
        code, reason, h, _, _ = phone.request("OPTIONS", "probe")
        if code:
            break
    result(code == 200, "OPTIONS answered 200 (%s %s)" % (code, reason))

    bad, workers, relayed_n = [], set(), 0
    for d, exp_line in zip(lines, expected):
        exp = json.loads(exp_line)
        c = d.get("customer", {})
        extra = ["X-Time-Ms: %d" % d.get("time_ms", 0), "X-Channel: " + d.get("channel", "chat")]
        if c.get("tier"):
            extra.append("X-Customer-Tier: " + c["tier"])
        if "value" in c:
            extra.append("X-Customer-Value: %s" % c["value"])
        if isinstance(c.get("risk"), str):
            extra.append("X-Customer-Risk: " + c["risk"])
        code, reason, h, body, relayed = phone.request(
            "MESSAGE", d["conversation"], d["text"].encode("utf-8"), extra=extra)
        tag = "%s turn %d" % (d["conversation"], exp["turn"])
        get = lambda name: (h.get(name.lower()) or [None])[0]
        workers.update(h.get("x-kefu-worker", []))
        route = exp["route"]
        want_route = "queue=%s;tier=%s;priority=%d;skills=%s" % (
            route["queue"], route["tier"], route["priority"], ",".join(route["skills"]))
        if exp["escalated"]:
            # relayed to sip:QUEUE@agents with the triage headers; the
            # agent's 200 comes back to the customer
            relayed_n += 1
            queue = route["queue"] or "agents"
            rh = relayed["headers"] if relayed else {}
            rget = lambda name: (rh.get(name.lower()) or [None])[0]
            if code != 200 or reason != "Accepted by agent" or not relayed:
                bad.append("%s: escalated but answered %s %s, relayed %s" % (tag, code, reason, bool(relayed)))
            elif not relayed["ruri"].startswith("sip:%s@" % queue):
                bad.append("%s: relayed to %s, want queue %s" % (tag, relayed["ruri"], queue))
            elif rget("X-Kefu-Intent") != exp["intent"] or rget("X-Kefu-Route") != want_route:
                bad.append("%s: agent saw %s %s" % (tag, rget("X-Kefu-Intent"), rget("X-Kefu-Route")))
            elif relayed["body"] != d["text"]:
                bad.append("%s: agent got another text" % tag)
            elif rget("X-Kefu-Locked") != ("yes" if exp["locked"] else "no"):
                bad.append("%s: locked header %s" % (tag, rget("X-Kefu-Locked")))
        else:
            if code != 200 or relayed:
                bad.append("%s: answered %s %s (relayed %s)" % (tag, code, reason, bool(relayed)))
            elif body.decode("utf-8").rstrip("\n") != exp_line:
                bad.append("%s: body differs from kefu triage:\n  %s\n  %s" % (tag, body.decode("utf-8"), exp_line))
            elif get("X-Kefu-Intent") != exp["intent"] or get("X-Kefu-Route") != want_route:
                bad.append("%s: headers %s %s" % (tag, get("X-Kefu-Intent"), get("X-Kefu-Route")))
    for b in bad[:10]:
        print("  " + b)
    result(not bad, "%d MESSAGEs: answers and relays match kefu triage (%d relayed to agents)"
           % (len(lines), relayed_n))
    result(relayed_n > 0, "escalated conversations were relayed to the agents")
    result(len(workers) >= 2, "sessions carried across Kamailio processes (%d served)" % len(workers))

    code, reason, h, _, _ = phone.request("MESSAGE", "e1", b"\xff\xfe bad")
    result(code == 400 and h.get("x-kefu-error"), "invalid UTF-8: %s %s %s" % (code, reason, h.get("x-kefu-error")))
    code, reason, _, _, _ = phone.request("MESSAGE", "e2", b"")
    result(code == 400, "empty MESSAGE: %s %s" % (code, reason))
    code, reason, _, _, _ = phone.request("MESSAGE", "e3", b"<p>hi</p>", ctype="text/html")
    result(code == 415, "text/html MESSAGE: %s %s" % (code, reason))
    code, reason, h, _, _ = phone.request("MESSAGE", "e5", b"hi", extra=["X-Time-Ms: soon"])
    result(code == 400 and "X-Time-Ms" in (h.get("x-kefu-error") or [""])[0],
           "a time header that is not a number: %s %s %s" % (code, reason, h.get("x-kefu-error")))
    code, reason, h, _, _ = phone.request("MESSAGE", "e6", b"hi", extra=["X-Customer-Value: high"])
    result(code == 400 and "X-Customer-Value" in (h.get("x-kefu-error") or [""])[0],
           "a customer value header that is not a number: %s %s %s" % (code, reason, h.get("x-kefu-error")))
    code, reason, _, _, _ = phone.request("INVITE", "e4")
    result(code == 405, "INVITE: %s %s" % (code, reason))
    code, reason, h, body, _ = phone.request("MESSAGE", "e1", "我的订单到哪了".encode("utf-8"))
    result(code == 200 and (h.get("x-kefu-turn") or [""])[0] == "1",
           "a conversation goes on after a rejected message (%s, turn %s)" % (code, h.get("x-kefu-turn")))
    # A UDP retransmission is answered again, not triaged as a new turn.
    code1, _, h1, _, _ = phone.request("MESSAGE", "r1", "我的订单到哪了".encode("utf-8"))
    first = phone.last
    code2, _, h2, _, _ = phone.request("MESSAGE", "r1", resend=first)
    code3, _, h3, _, _ = phone.request("MESSAGE", "r1", "订单号是SO20240501778".encode("utf-8"))
    turns = [(h.get("x-kefu-turn") or ["?"])[0] for h in (h1, h2, h3)]
    result(code1 == code2 == code3 == 200 and turns == ["1", "1", "2"],
           "a retransmitted MESSAGE gets the same answer and is not a new turn (turns %s)" % turns)
    phone.close()
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
