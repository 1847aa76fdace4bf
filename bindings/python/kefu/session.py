"""Sessions: one conversation, one call per message (kefu_session_*)."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _lib, errors
from ._handle import Handle, Owner
from .model import EMOTIONS, Entity, Model, _b, _s
from .rules import ACTION_TYPES, Action, Facts, RuleSet, RulesSlot


@dataclass
class TriageResult:
    """What one message produced (kefu_triage and the session's reads).

    :meth:`as_dict` gives the same JSON object as one output line of
    ``kefu triage`` (plus ``margin`` and ``slots``)."""
    conversation: str
    turn: int
    intent: str
    confidence: float
    margin: float
    out_of_scope: bool
    entities: List[Entity]
    missing_slots: int
    emotion: Dict[str, float]
    negativity: float
    level: float
    trend: float
    rules: List[str]
    actions: List[Action]
    escalated: bool
    locked: bool
    route: Dict[str, Any]
    slots: Dict[str, str] = field(default_factory=dict)
    trace: Optional[List[str]] = None

    def as_dict(self) -> dict:
        d = {
            "conversation": self.conversation, "turn": self.turn,
            "intent": self.intent, "confidence": round(self.confidence, 4),
            "out_of_scope": self.out_of_scope,
            "entities": [{"name": e.name, "value": e.value,
                          "bytes": [e.byte_start, e.byte_end],
                          "chars": [e.char_start, e.char_end]}
                         for e in self.entities],
            "missing_slots": self.missing_slots,
            "emotion": {k: round(v, 1) for k, v in self.emotion.items()},
            "negativity": round(self.negativity, 1),
            "level": round(self.level, 1), "trend": round(self.trend, 2),
            "rules": list(self.rules),
            "actions": [_action_json(a) for a in self.actions],
            "escalated": self.escalated, "locked": self.locked,
            "route": dict(self.route),
        }
        if self.trace is not None:
            d["trace"] = list(self.trace)
        return d


def _action_json(a: Action) -> dict:
    """An action as `kefu triage` prints it."""
    d = {"type": a.type, "rule": a.rule}
    if a.type == "escalate":
        d.update(queue=a.queue, skill=a.skill, tier=a.tier)
    elif a.type == "priority":
        d["raise" if a.raise_ else "set"] = a.value
    elif a.type == "suggest":
        d["script"] = a.arg
    elif a.type == "flag":
        d["reason"] = a.arg
    elif a.type == "tag":
        d["tag"] = a.arg
    return d


class Session(Owner):
    """One conversation's state across messages and channels.

    ``rules`` (optional) is a :class:`RulesSlot` (hot swap: each turn uses
    the set published at that moment) or a :class:`RuleSet`; by default
    the model's own rules apply.  The session keeps its model (and slot)
    alive; closing the model closes the session first.  One thread at a
    time."""

    def __init__(self, model: Model, rules: Union[RulesSlot, RuleSet,
                                                  None] = None,
                 conversation: str = ""):
        out = ctypes.c_void_p()
        errors.check(_lib.kefu_session_new(ctypes.byref(out), model._h.get(),
                                           None))
        self._h = Handle(out.value, _lib.kefu_session_free, parent=model._h,
                         what="session")
        self._model = model
        self.conversation = conversation
        self._slot = None
        if rules is not None:
            self.use_rules(rules)

    def _c(self, rc: int) -> int:
        if rc < 0:
            p = self._h.ptr
            raise errors.make(rc, _lib.kefu_session_diag(p) if p else None)
        return rc

    def use_rules(self, rules: Union[RulesSlot, RuleSet, None]) -> None:
        """Evaluates turns with `rules` (a slot or a set); None: the
        model's rules."""
        if isinstance(rules, RuleSet):
            rules = RulesSlot(rules)
        elif rules is not None and not isinstance(rules, RulesSlot):
            raise TypeError("rules must be a RulesSlot, a RuleSet or None")
        self._c(_lib.kefu_session_use_rules(
            self._h.get(), rules._h.get() if rules is not None else None))
        if self._slot is not None:
            self._h.detach(self._slot._h)
        if rules is not None:
            self._h.attach(rules._h)   # the slot must outlive the session
        self._slot = rules

    @property
    def facts(self) -> Facts:
        """The session's host facts (set before a turn; values persist)."""
        p = _lib.kefu_session_facts(self._h.get())
        if not p:
            raise errors.StateError(errors.E_STATE, "session has no facts")
        mh = self._model._h
        sh = self._h

        def schema():
            rs = _lib.kefu_session_ruleset(sh.ptr) if sh.ptr else None
            return rs or (_lib.kefu_model_rules(mh.ptr) if mh.ptr else None)
        return Facts._borrowed(p, self._h, schema)

    def turn(self, text: Union[str, bytes], time_ms: int = 0,
             channel: Optional[str] = None,
             customer: Optional[Dict[str, Any]] = None,
             external_emotion: Optional[int] = None,
             wait_ms: Optional[int] = None, contacts_7d: int = 0,
             bot_failed: bool = False, trace: bool = False,
             facts: Optional[Dict[str, Any]] = None) -> TriageResult:
        """Runs the pipeline on one message: intent, entities, emotion,
        counters, rules, routing request.  `customer` may have ``tier``,
        ``value`` and ``risk`` (a string or a list of strings); `facts`
        sets host-declared facts first, all or none: they are tried on
        scratch facts before any is set.  On error the session is unchanged
        (facts already set by a valid `facts` stay set if the turn itself
        then fails)."""
        p = self._h.get()
        if facts:
            session_facts = self.facts
            out = ctypes.c_void_p()
            errors.check(_lib.kefu_facts_new(ctypes.byref(out),
                                             session_facts._schema(), None))
            try:
                Facts._borrowed(out.value, self._h,
                                session_facts._schema).update(facts)
            finally:
                _lib.kefu_facts_free(out.value)
            session_facts.update(facts)
        t = _lib.Turn()
        _lib.kefu_turn_init_size(ctypes.byref(t), ctypes.sizeof(t))
        t.flags = 1 if trace else 0
        t.time_ms = int(time_ms)
        keep = []
        if channel:
            t.channel = channel.encode()
        cust = customer or {}
        if cust.get("tier"):
            t.customer_tier = str(cust["tier"]).encode()
        if cust.get("value") is not None:
            t.customer_value = float(cust["value"])
        risk = cust.get("risk")
        if risk:
            if isinstance(risk, (str, bytes)):
                risk = [risk]
            arr = (ctypes.c_char_p * len(risk))(*[_b(r) for r in risk])
            keep.append(arr)
            t.customer_risk = arr
            t.customer_risk_count = len(risk)
        if external_emotion is not None:
            t.external_emotion = int(external_emotion)
        if wait_ms is not None:
            t.wait_ms = int(wait_ms)
        t.contacts_7d = int(contacts_7d)
        t.bot_failed = 1 if bot_failed else 0
        b = _b(text)
        r = _lib.new(_lib.Triage)
        self._c(_lib.kefu_session_turn(p, b, len(b), ctypes.byref(t),
                                       ctypes.byref(r)))
        return self._read(p, r, trace)

    def _read(self, p, r, trace: bool) -> TriageResult:
        sc = _lib.kefu_session_scratch(p)
        ents = []
        e = _lib.new(_lib.Entity)
        for i in range(_lib.kefu_entity_count(sc) if sc else 0):
            errors.check(_lib.kefu_entity_get(sc, i, ctypes.byref(e)))
            ents.append(Entity(_s(e.name),
                               _s(ctypes.string_at(e.value, e.value_len)),
                               e.byte_start, e.byte_end, e.char_start,
                               e.char_end))
        res = _lib.kefu_session_rules(p)
        rs = _lib.kefu_session_ruleset(p)
        fired, actions, lines = [], [], None
        if res and rs:
            name = lambda i: _s(_lib.kefu_ruleset_rule_name(rs, i))  # noqa
            for i in range(_lib.kefu_rules_result_fired_count(res)):
                fired.append(name(_lib.kefu_rules_result_fired(res, i)))
            a = _lib.new(_lib.RuleAction)
            for i in range(_lib.kefu_rules_result_action_count(res)):
                errors.check(_lib.kefu_rules_result_action(res, i,
                                                           ctypes.byref(a)))
                actions.append(Action(ACTION_TYPES.get(a.type, str(a.type)),
                                      name(a.rule), a.value, bool(a.raise_),
                                      _s(a.queue), _s(a.skill), _s(a.tier),
                                      _s(a.arg)))
            if trace:
                lines = []
                for i in range(_lib.kefu_ruleset_rule_count(rs)):
                    n = _lib.kefu_rules_result_explain(res, i, None, 0)
                    buf = ctypes.create_string_buffer(n + 1)
                    _lib.kefu_rules_result_explain(res, i, buf, n + 1)
                    lines.append(_s(buf.value))
        skills, j = [], 0
        while True:
            s = _lib.kefu_session_route_skill(p, j)
            if s is None:
                break
            skills.append(_s(s))
            j += 1
        return TriageResult(
            self.conversation, r.turn, _s(r.intent), float(r.confidence),
            float(r.margin), bool(r.out_of_scope), ents, r.missing_slots,
            {EMOTIONS[i]: float(r.emotion[i])
             for i in range(_lib.EMOTION_COUNT)},
            float(r.negativity), float(r.level), float(r.trend), fired,
            actions, bool(r.escalated), bool(r.locked),
            {"skills": skills, "queue": _s(r.route_queue),
             "tier": _s(r.route_tier), "priority": r.route_priority},
            self.slots(), lines)

    def slots(self) -> Dict[str, str]:
        """Slots gathered so far in the conversation."""
        p = self._h.get()
        out, i = {}, 0
        name, value = ctypes.c_char_p(), ctypes.c_char_p()
        while _lib.kefu_session_slot(p, i, ctypes.byref(name),
                                     ctypes.byref(value)) == 0:
            out[_s(name.value)] = _s(value.value)
            i += 1
        return out

    def dump(self) -> bytes:
        """The state as a compact, versioned, checksummed blob."""
        p = self._h.get()
        n = ctypes.c_size_t()
        rc = _lib.kefu_session_dump(p, None, 0, ctypes.byref(n))
        if rc not in (0, errors.E_BUFFER):
            self._c(rc)
        buf = ctypes.create_string_buffer(max(1, n.value))
        self._c(_lib.kefu_session_dump(p, buf, n.value, ctypes.byref(n)))
        return buf.raw[:n.value]

    def load_state(self, blob: bytes) -> None:
        """Replaces the state with a blob from :meth:`dump` (CorruptError /
        VersionError leave the session unchanged)."""
        blob = bytes(blob)
        self._c(_lib.kefu_session_restore(self._h.get(), blob, len(blob)))

    @classmethod
    def restore(cls, model: Model, blob: bytes,
                rules: Union[RulesSlot, RuleSet, None] = None,
                conversation: str = "") -> "Session":
        """A new session of `model` continuing the dumped conversation."""
        s = cls(model, rules, conversation)
        try:
            s.load_state(blob)
        except BaseException:
            s.close()
            raise
        return s
