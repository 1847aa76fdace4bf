"""Skill-based router, conversation emotion tracker, staffing arithmetic."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Dict, Iterator, Mapping, Optional

from . import _lib, errors
from ._handle import Handle, Owner
from .model import EMOTIONS, Model, _need

# enums of kefu.h
STRATEGIES = {"longest_idle": 1, "least_loaded": 2, "best_proficiency": 3,
              "round_robin": 4}
AGENT_STATES = {"offline": 0, "available": 1, "away": 2, "busy": 3,
                "wrapup": 4}
TIERS = {"any": 0, "junior": 1, "senior": 2, "expert": 3}
CHANNELS = {"voice": 1, "chat": 2, "email": 3, "messaging": 4, "video": 5}
EVENT_KINDS = {1: "offer", 2: "timeout", 3: "overflow", 4: "agent_away"}
CONV_STATES = {1: "waiting", 2: "reserved", 3: "assigned"}
ROUTER_OPTIONS = {"aging_ms": 1, "offer_timeout_ms": 2, "max_misses": 3,
                  "stats_bucket_ms": 4, "stats_buckets": 5}
QUEUE_OPTIONS = {"strategy": 1, "skill": 2, "sl_target_ms": 3}


def lang(code: str) -> int:
    """KEFU_LANG: a language code such as "zh" packed into an int."""
    v = 0
    for ch in code.encode("ascii")[:4]:
        v = (v << 8) | ch
    return v


def _enum(table, v):
    return table[v] if isinstance(v, str) else int(v)


def _rev(table, v):
    for k, x in table.items():
        if x == v:
            return k
    return v


@dataclass(frozen=True)
class RouteEvent:
    kind: str
    conversation: int
    agent: int
    queue: int
    time_ms: int


def _fields(s) -> dict:
    return {n: getattr(s, n) for n, _ in s._fields_ if n != "size"}


class Router(Owner):
    """A deterministic router driven by host-timestamped events.  Every
    method that changes state takes `now_ms` (the host's clock).  Failed
    calls raise and change nothing.  One thread at a time."""

    def __init__(self, model: Optional[Model] = None):
        out = ctypes.c_void_p()
        errors.check(_lib.kefu_router_new(
            ctypes.byref(out), model._h.get() if model else None, None))
        self._h = Handle(out.value, _lib.kefu_router_free, what="router")

    def _c(self, rc: int) -> int:
        if rc < 0:
            p = self._h.ptr
            raise errors.make(rc, _lib.kefu_router_diag(p) if p else None)
        return rc

    # options
    def set(self, option, value: int) -> None:
        self._c(_lib.kefu_router_set(self._h.get(),
                                     _enum(ROUTER_OPTIONS, option), value))

    def get(self, option) -> int:
        v = ctypes.c_int64()
        self._c(_lib.kefu_router_get(self._h.get(),
                                     _enum(ROUTER_OPTIONS, option),
                                     ctypes.byref(v)))
        return v.value

    @staticmethod
    def bounds(option):
        lo, hi = ctypes.c_int64(), ctypes.c_int64()
        errors.check(_lib.kefu_router_bounds(_enum(ROUTER_OPTIONS, option),
                                             ctypes.byref(lo),
                                             ctypes.byref(hi)))
        return lo.value, hi.value

    # queues
    def queue_add(self, now_ms: int, queue: int,
                  strategy="longest_idle") -> None:
        self._c(_lib.kefu_router_queue_add(self._h.get(), now_ms, queue,
                                           _enum(STRATEGIES, strategy)))

    def queue_set(self, now_ms: int, queue: int, option, value) -> None:
        if option in ("strategy", 1):
            value = _enum(STRATEGIES, value)
        self._c(_lib.kefu_router_queue_set(self._h.get(), now_ms, queue,
                                           _enum(QUEUE_OPTIONS, option),
                                           int(value)))

    def queue_step(self, now_ms: int, queue: int, after_ms: int,
                   level_drop: int = 0, min_tier=0, any_agent: bool = False,
                   overflow_queue: int = 0) -> None:
        self._c(_lib.kefu_router_queue_step(
            self._h.get(), now_ms, queue, after_ms, level_drop,
            _enum(TIERS, min_tier), int(any_agent), overflow_queue))

    # agents
    def agent_add(self, now_ms: int, agent: int, tier="junior",
                  capacity: int = 1, skills: Mapping[int, int] = None,
                  channels: Mapping = None, languages=(), queues=(),
                  state=None) -> None:
        """Adds an agent and, for convenience, its skills {id: level},
        channel costs {channel: cost}, languages, queues and presence."""
        self._c(_lib.kefu_router_agent_add(self._h.get(), now_ms, agent,
                                           _enum(TIERS, tier), capacity))
        for s, lv in (skills or {}).items():
            self.agent_skill(now_ms, agent, s, lv)
        for ch, cost in (channels or {}).items():
            self.agent_channel(now_ms, agent, ch, cost)
        for lg in languages:
            self.agent_language(now_ms, agent, lg, True)
        for q in queues:
            self.agent_queue(now_ms, agent, q, True)
        if state is not None:
            self.agent_state(now_ms, agent, state)

    def agent_remove(self, now_ms: int, agent: int) -> None:
        self._c(_lib.kefu_router_agent_remove(self._h.get(), now_ms, agent))

    def agent_skill(self, now_ms, agent, skill, level) -> None:
        self._c(_lib.kefu_router_agent_skill(self._h.get(), now_ms, agent,
                                             skill, level))

    def agent_channel(self, now_ms, agent, channel, cost) -> None:
        self._c(_lib.kefu_router_agent_channel(
            self._h.get(), now_ms, agent, _enum(CHANNELS, channel), cost))

    def agent_language(self, now_ms, agent, language, on=True) -> None:
        lg = lang(language) if isinstance(language, str) else language
        self._c(_lib.kefu_router_agent_language(self._h.get(), now_ms, agent,
                                                lg, int(bool(on))))

    def agent_queue(self, now_ms, agent, queue, on=True) -> None:
        self._c(_lib.kefu_router_agent_queue(self._h.get(), now_ms, agent,
                                             queue, int(bool(on))))

    def agent_state(self, now_ms, agent, state) -> None:
        self._c(_lib.kefu_router_agent_state(self._h.get(), now_ms, agent,
                                             _enum(AGENT_STATES, state)))

    def agent_info(self, agent: int) -> dict:
        i = _lib.new(_lib.AgentInfo)
        self._c(_lib.kefu_router_agent_info(self._h.get(), agent,
                                            ctypes.byref(i)))
        d = _fields(i)
        d["state"] = _rev(AGENT_STATES, d["state"])
        d["presence"] = _rev(AGENT_STATES, d["presence"])
        d["tier"] = _rev(TIERS, d["tier"])
        return d

    # conversations
    def submit(self, now_ms: int, conversation: int, queue: int,
               channel="chat", priority: int = 0, language=0, tier=0,
               preferred_agent: int = 0,
               skills: Optional[Mapping[int, int]] = None) -> None:
        """A new conversation; `skills` maps skill id to minimum level."""
        sk = list((skills or {}).items())
        ids = (ctypes.c_uint32 * max(1, len(sk)))(*[s for s, _ in sk])
        lv = (ctypes.c_uint32 * max(1, len(sk)))(*[v for _, v in sk])
        r = _lib.new(_lib.RouteRequest)
        r.queue, r.channel, r.priority = queue, _enum(CHANNELS, channel), \
            priority
        r.language = lang(language) if isinstance(language, str) else language
        r.tier = _enum(TIERS, tier)
        r.preferred_agent = preferred_agent
        r.nskills = len(sk)
        r.skills, r.levels = ids, lv
        self._c(_lib.kefu_router_submit(self._h.get(), now_ms, conversation,
                                        ctypes.byref(r)))

    def accept(self, now_ms, conversation, agent) -> None:
        self._c(_lib.kefu_router_accept(self._h.get(), now_ms, conversation,
                                        agent))

    def reject(self, now_ms, conversation, agent) -> None:
        self._c(_lib.kefu_router_reject(self._h.get(), now_ms, conversation,
                                        agent))

    def complete(self, now_ms, conversation, wrapup_ms: int = 0) -> None:
        self._c(_lib.kefu_router_complete(self._h.get(), now_ms, conversation,
                                          wrapup_ms))

    def cancel(self, now_ms, conversation) -> None:
        self._c(_lib.kefu_router_cancel(self._h.get(), now_ms, conversation))

    def transfer(self, now_ms, conversation, queue) -> None:
        self._c(_lib.kefu_router_transfer(self._h.get(), now_ms, conversation,
                                          queue))

    def tick(self, now_ms) -> None:
        self._c(_lib.kefu_router_tick(self._h.get(), now_ms))

    def poll(self) -> Optional[RouteEvent]:
        """The next decision or notice, or None."""
        e = _lib.new(_lib.RouteEvent)
        rc = _lib.kefu_router_poll(self._h.get(), ctypes.byref(e))
        if rc == errors.E_EMPTY:
            return None
        self._c(rc)
        return RouteEvent(EVENT_KINDS.get(e.kind, str(e.kind)),
                          e.conversation, e.agent, e.queue, e.time_ms)

    def events(self) -> Iterator[RouteEvent]:
        """Drains the pending events."""
        while True:
            e = self.poll()
            if e is None:
                return
            yield e

    def conversation_info(self, conversation: int) -> dict:
        i = _lib.new(_lib.ConversationInfo)
        self._c(_lib.kefu_router_conversation_info(self._h.get(),
                                                   conversation,
                                                   ctypes.byref(i)))
        d = _fields(i)
        d["state"] = CONV_STATES.get(d["state"], d["state"])
        return d

    def stats(self, now_ms: int, queue: int = 0,
              window_ms: int = 3600000) -> dict:
        s = _lib.new(_lib.RouteStats)
        self._c(_lib.kefu_router_stats(self._h.get(), now_ms, queue,
                                       window_ms, ctypes.byref(s)))
        return _fields(s)

    def snapshot(self) -> bytes:
        """The whole state as bytes (versioned, CRC-checked)."""
        p = self._h.get()
        n = ctypes.c_size_t()
        rc = _lib.kefu_router_snapshot(p, None, 0, ctypes.byref(n))
        if rc not in (0, errors.E_BUFFER):
            self._c(rc)
        buf = ctypes.create_string_buffer(n.value)
        self._c(_lib.kefu_router_snapshot(p, buf, n.value, ctypes.byref(n)))
        return buf.raw[:n.value]

    def restore(self, data: bytes) -> None:
        """Replaces the state with a snapshot (CorruptError leaves it)."""
        self._c(_lib.kefu_router_restore(self._h.get(), data, len(data)))

    def reload(self, now_ms: int, model: Model) -> None:
        """Applies a model's floor (skills, queues, agents sections) to the
        live router without logging anyone out; all or nothing."""
        self._c(_need("kefu_router_reload")(self._h.get(), now_ms,
                                             model._h.get()))


# -------------------------------------------------------- emotion tracker

TRACK_OPTIONS = {"half_life_turns": 1, "half_life_ms": 2,
                 "external_weight": 3, "external_mask": 4, "trend_turns": 5,
                 "trend_threshold": 6}


class EmotionTrack(Owner):
    """A conversation's emotion trajectory (smoothed level, peak, trend)."""

    def __init__(self, **options):
        out = ctypes.c_void_p()
        errors.check(_lib.kefu_emotion_track_new(ctypes.byref(out), None))
        self._h = Handle(out.value, _lib.kefu_emotion_track_free,
                         what="emotion track")
        for k, v in options.items():
            self.set(k, v)

    def set(self, option, value: int) -> None:
        errors.check(_lib.kefu_emotion_track_set(
            self._h.get(), _enum(TRACK_OPTIONS, option), value))

    def get_option(self, option) -> int:
        v = ctypes.c_int64()
        errors.check(_lib.kefu_emotion_track_option_get(
            self._h.get(), _enum(TRACK_OPTIONS, option), ctypes.byref(v)))
        return v.value

    @staticmethod
    def bounds(option):
        lo, hi = ctypes.c_int64(), ctypes.c_int64()
        errors.check(_lib.kefu_emotion_track_bounds(
            _enum(TRACK_OPTIONS, option), ctypes.byref(lo), ctypes.byref(hi)))
        return lo.value, hi.value

    def reset(self) -> None:
        _lib.kefu_emotion_track_reset(self._h.get())

    def update(self, scores: Mapping[str, float], time_ms: int = 0,
               external: Optional[int] = None) -> None:
        """Adds one turn from a :meth:`Model.emotion` mapping."""
        e = _lib.new(_lib.Emotion)
        for i, n in enumerate(EMOTIONS):
            e.score[i] = scores.get(n, 0.0)
        e.negativity = scores.get("negativity", 0.0)
        errors.check(_lib.kefu_emotion_track_update(
            self._h.get(), ctypes.byref(e), time_ms,
            -1 if external is None else external))

    def get(self) -> dict:
        lv = _lib.new(_lib.EmotionLevel)
        errors.check(_lib.kefu_emotion_track_get(self._h.get(),
                                                 ctypes.byref(lv)))

        def cat(arr, neg):
            d = {n: float(arr[i]) for i, n in enumerate(EMOTIONS)}
            d["negativity"] = float(neg)
            return d
        return {"turns": lv.turns,
                "level": cat(lv.level, lv.level_negativity),
                "peak": cat(lv.peak, lv.peak_negativity),
                "trend": cat(lv.trend, lv.trend_negativity),
                "direction": lv.direction, "peak_turn": lv.peak_turn}


# ---------------------------------------------------------------- staffing

def _erlang(r) -> Dict[str, float]:
    return _fields(r)


def erlang_c(arrival_rate: float, aht_s: float, agents: int,
             sl_target_s: float) -> dict:
    """Erlang C (rates per second).  Overloaded queues raise LimitError."""
    r = _lib.new(_lib.ErlangResult)
    errors.check(_lib.kefu_erlang_c(ctypes.byref(r), arrival_rate, aht_s,
                                    agents, sl_target_s))
    return _erlang(r)


def erlang_a(arrival_rate: float, aht_s: float, patience_s: float,
             agents: int, sl_target_s: float) -> dict:
    """Erlang A with mean patience patience_s."""
    r = _lib.new(_lib.ErlangResult)
    errors.check(_lib.kefu_erlang_a(ctypes.byref(r), arrival_rate, aht_s,
                                    patience_s, agents, sl_target_s))
    return _erlang(r)


def erlang_agents(arrival_rate: float, aht_s: float, sl_target_s: float,
                  sl_goal: float, patience_s: float = 0.0) -> int:
    """Fewest agents reaching sl_goal (Erlang C, or A with patience)."""
    n = ctypes.c_uint32()
    errors.check(_lib.kefu_erlang_agents(ctypes.byref(n), arrival_rate, aht_s,
                                         patience_s, sl_target_s, sl_goal))
    return n.value
