"""Escalation rules: rule sets, facts, evaluation with traces, hot swap."""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _lib, errors
from ._handle import Handle, Owner
from .model import Model, _b, _s

FACT_TYPES = {1: "bool", 2: "number", 3: "string", 4: "duration",
              5: "string_list", 6: "number_list"}
ACTION_TYPES = {1: "escalate", 2: "priority", 3: "suggest", 4: "flag",
                5: "lock", 6: "tag", 7: "stop"}
RULE_STATES = {0: "skipped", 1: "false", 2: "fired", 3: "error"}


class RuleSet(Owner):
    """A compiled, immutable rule set (reference counted in C)."""

    def __init__(self, ptr, keep=None):
        # keep: a parent Handle the set must not outlive (none needed: a
        # compiled set is independent of the model it was compiled against)
        self._h = Handle(ptr, _lib.kefu_ruleset_free, parent=keep,
                         what="rule set")

    @classmethod
    def _from_model(cls, model: Model) -> "RuleSet":
        p = _lib.kefu_model_rules(model._h.get())
        if not p:
            raise errors.StateError(errors.E_STATE, "model has no rule set")
        # borrowed from the model: take our own reference
        return cls(_lib.kefu_ruleset_ref(p))

    @classmethod
    def compile(cls, model: Model, yaml: Union[str, bytes],
                name: Optional[str] = None) -> "RuleSet":
        """Compiles rule YAML against a model's facts.  Errors carry
        name:line:column."""
        b = _b(yaml)
        out = ctypes.c_void_p()
        with errors.Diag() as d:
            d.check(_lib.kefu_ruleset_compile(
                ctypes.byref(out), model._h.get(), b, len(b),
                name.encode() if name else None, None, d.ptr))
        return cls(out.value)

    @classmethod
    def load(cls, model: Model, path: Union[str, os.PathLike]) -> "RuleSet":
        out = ctypes.c_void_p()
        with errors.Diag() as d:
            d.check(_lib.kefu_ruleset_load(ctypes.byref(out), model._h.get(),
                                           os.fsencode(path), None, d.ptr))
        return cls(out.value)

    @property
    def rule_names(self) -> List[str]:
        p = self._h.get()
        return [_s(_lib.kefu_ruleset_rule_name(p, i))
                for i in range(_lib.kefu_ruleset_rule_count(p))]

    def rule_when(self, i: int) -> str:
        return _s(_lib.kefu_ruleset_rule_when(self._h.get(), i))

    @property
    def mode(self) -> str:
        return "first" if _lib.kefu_ruleset_mode(self._h.get()) == 1 else "all"

    def fact_type(self, name: str) -> Optional[str]:
        """The type of a fact the set knows, or None."""
        b = name.encode()
        rc = _lib.kefu_ruleset_fact_type(self._h.get(), b, len(b))
        if rc == errors.E_UNKNOWN:
            return None
        errors.check(rc)
        return FACT_TYPES.get(rc, str(rc))

    def facts(self, values: Optional[Dict[str, Any]] = None) -> "Facts":
        f = Facts(self)
        if values:
            f.update(values)
        return f

    def evaluate(self, facts: Union["Facts", Dict[str, Any]],
                 trace: bool = False) -> "RulesOutcome":
        """Evaluates the rules; `facts` may be a dict of fact values."""
        own = None
        if not isinstance(facts, Facts):
            own = facts = self.facts(facts)
        try:
            res = _Result()
            try:
                errors.check(_lib.kefu_rules_eval(res._h.get(), self._h.get(),
                                                  facts._h.get(),
                                                  1 if trace else 0))
                return res.read(self)
            finally:
                res.close()
        finally:
            if own is not None:
                own.close()


class Facts(Owner):
    """One message's fact values for a rule set's schema."""

    def __init__(self, ruleset: RuleSet):
        out = ctypes.c_void_p()
        errors.check(_lib.kefu_facts_new(ctypes.byref(out),
                                         ruleset._h.get(), None))
        # facts refer to the schema of the set: keep the set alive
        self._h = Handle(out.value, _lib.kefu_facts_free, parent=ruleset._h,
                         what="facts")
        self._rs = ruleset
        self._schema = None

    @classmethod
    def _borrowed(cls, ptr, owner: Handle, schema) -> "Facts":
        """Facts owned by another object (a session); `schema()` returns
        the kefu_ruleset pointer that knows the fact types."""
        f = cls.__new__(cls)
        f._h = Handle(ptr, lambda p: None, parent=owner, what="facts")
        f._rs = None
        f._schema = schema
        return f

    def _type_of(self, name: str) -> Optional[str]:
        if self._rs is not None:
            return self._rs.fact_type(name)
        rs = self._schema() if self._schema else None
        if not rs:
            return None
        b = name.encode()
        rc = _lib.kefu_ruleset_fact_type(rs, b, len(b))
        return FACT_TYPES.get(rc) if rc > 0 else None

    def _chk(self, rc):
        if rc < 0:
            raise errors.make(rc, _lib.kefu_facts_diag(self._h.get()))

    def set(self, name: str, value: Any, type: Optional[str] = None) -> None:
        """Sets a fact; the type comes from the rule set's schema (or
        `type`: bool, number, string, duration (ms), string_list,
        number_list)."""
        p = self._h.get()
        n = name.encode()
        t = type or self._type_of(name)
        if t is None:
            if isinstance(value, bool):
                t = "bool"
            elif isinstance(value, (int, float)):
                t = "number"
            elif isinstance(value, (str, bytes)):
                t = "string"
            else:
                t = "string_list"
        if t == "bool":
            rc = _lib.kefu_facts_set_bool(p, n, len(n), 1 if value else 0)
        elif t == "number":
            rc = _lib.kefu_facts_set_number(p, n, len(n), float(value))
        elif t == "duration":
            rc = _lib.kefu_facts_set_duration(p, n, len(n), int(value))
        elif t == "string":
            v = _b(value)
            rc = _lib.kefu_facts_set_string(p, n, len(n), v, len(v))
        elif t == "string_list":
            items = [_b(x) for x in value]
            arr = (ctypes.c_char_p * max(1, len(items)))(*items)
            lens = (ctypes.c_size_t * max(1, len(items)))(
                *[len(x) for x in items])
            rc = _lib.kefu_facts_set_strings(p, n, len(n), arr, lens,
                                             len(items))
        elif t == "number_list":
            vals = [float(x) for x in value]
            arr = (ctypes.c_double * max(1, len(vals)))(*vals)
            rc = _lib.kefu_facts_set_numbers(p, n, len(n), arr, len(vals))
        else:
            raise ValueError("unknown fact type %r" % t)
        self._chk(rc)

    def update(self, values: Dict[str, Any]) -> None:
        for k, v in values.items():
            self.set(k, v)

    def unset(self, name: str) -> None:
        n = name.encode()
        self._chk(_lib.kefu_facts_unset(self._h.get(), n, len(n)))

    def clear(self) -> None:
        _lib.kefu_facts_clear(self._h.get())

    def rebind(self, ruleset: RuleSet) -> None:
        """Re-targets the facts at another set's schema (values kept)."""
        self._chk(_lib.kefu_facts_rebind(self._h.get(), ruleset._h.get()))
        self._rs = ruleset

    __setitem__ = set


@dataclass(frozen=True)
class Action:
    type: str
    rule: str
    value: int = 0
    raise_: bool = False
    queue: str = ""
    skill: str = ""
    tier: str = ""
    arg: str = ""


@dataclass(frozen=True)
class TraceEntry:
    rule: str
    kind: str          # "fact" or "expr"
    expr: str
    type: str          # bool, number, string, duration, string_list, ...
    value: Any         # lists: None (the C trace keeps only the length)
    length: int = 0    # string bytes or list items


@dataclass
class RulesOutcome:
    """Result of :meth:`RuleSet.evaluate`."""
    fired: List[str] = field(default_factory=list)
    actions: List[Action] = field(default_factory=list)
    states: Dict[str, str] = field(default_factory=dict)
    trace: List[TraceEntry] = field(default_factory=list)
    explanations: Dict[str, str] = field(default_factory=dict)


class _Result(Owner):
    def __init__(self):
        out = ctypes.c_void_p()
        errors.check(_lib.kefu_rules_result_new(ctypes.byref(out), None))
        self._h = Handle(out.value, _lib.kefu_rules_result_free,
                         what="rules result")

    def read(self, rs: RuleSet) -> RulesOutcome:
        p = self._h.get()
        names = rs.rule_names
        o = RulesOutcome()
        for i in range(_lib.kefu_rules_result_fired_count(p)):
            o.fired.append(names[_lib.kefu_rules_result_fired(p, i)])
        a = _lib.new(_lib.RuleAction)
        for i in range(_lib.kefu_rules_result_action_count(p)):
            errors.check(_lib.kefu_rules_result_action(p, i, ctypes.byref(a)))
            o.actions.append(Action(ACTION_TYPES.get(a.type, str(a.type)),
                                    names[a.rule] if a.rule < len(names)
                                    else str(a.rule), a.value, bool(a.raise_),
                                    _s(a.queue), _s(a.skill), _s(a.tier),
                                    _s(a.arg)))
        r = _lib.new(_lib.RuleOutcome)
        for i, n in enumerate(names):
            errors.check(_lib.kefu_rules_result_rule(p, i, ctypes.byref(r)))
            o.states[n] = RULE_STATES.get(r.state, str(r.state))
        t = _lib.new(_lib.TraceEntry)
        for i in range(_lib.kefu_rules_result_trace_count(p)):
            errors.check(_lib.kefu_rules_result_trace(p, i, ctypes.byref(t)))
            o.trace.append(TraceEntry(
                names[t.rule] if t.rule < len(names) else str(t.rule),
                "fact" if t.kind == 1 else "expr",
                _s(ctypes.string_at(t.expr, t.expr_len)),
                FACT_TYPES.get(t.type, str(t.type)), _trace_value(t),
                t.length))
        for i in range(len(names)):
            n = _lib.kefu_rules_result_explain(p, i, None, 0)
            buf = ctypes.create_string_buffer(n + 1)
            _lib.kefu_rules_result_explain(p, i, buf, n + 1)
            o.explanations[names[i]] = _s(buf.value)
        return o


def _trace_value(t) -> Any:
    if t.type == 1:
        return bool(t.boolean)
    if t.type in (2, 4):
        return t.number
    if t.type == 3:
        return _s(ctypes.string_at(t.string, t.length)) if t.string else ""
    return None


class RulesSlot(Owner):
    """Holds the current rule set for hot swap."""

    def __init__(self, initial: RuleSet):
        out = ctypes.c_void_p()
        errors.check(_lib.kefu_rules_slot_new(ctypes.byref(out),
                                              initial._h.get(), None))
        self._h = Handle(out.value, _lib.kefu_rules_slot_free,
                         what="rules slot")

    def acquire(self) -> RuleSet:
        p = _lib.kefu_rules_slot_acquire(self._h.get())
        if not p:
            raise errors.StateError(errors.E_STATE, "rules slot is empty")
        return RuleSet(p)

    def swap(self, next_set: RuleSet) -> None:
        errors.check(_lib.kefu_rules_slot_swap(self._h.get(),
                                               next_set._h.get()))
