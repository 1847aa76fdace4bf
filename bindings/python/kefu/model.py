"""Models, per-thread scratch, classification, entities, emotion, text."""
from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

from . import _lib, errors
from ._handle import Handle, Owner

Text = Union[str, bytes]


def _b(text: Text) -> bytes:
    if isinstance(text, str):
        return text.encode("utf-8", "surrogatepass")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError("text must be str or bytes, not %s" % type(text).__name__)


def _path(p) -> bytes:
    return os.fsencode(p)


def _s(b) -> str:
    return b.decode("utf-8", "replace") if b else ""


def _task(task: str) -> int:
    """kefu_task of "intent" or "emotion"."""
    tasks = {"intent": 0, "emotion": 1}
    if task not in tasks:
        raise ValueError('task must be "intent" or "emotion", not %r' % (task,))
    return tasks[task]


def _need(name):
    if not _lib.has(name):
        raise errors.StateError(errors.E_STATE,
                                "%s is not in the loaded libkefu (%s)" %
                                (name, _lib.path))
    return getattr(_lib, name)


# ----------------------------------------------------------------- text

TOKEN_KINDS = {1: "word", 2: "cjk", 3: "number", 4: "emoji", 5: "punct",
               6: "symbol"}


@dataclass(frozen=True)
class Token:
    """One token: normalised text, kind and span in the original text
    (bytes and characters, end exclusive)."""
    text: str
    kind: str
    byte_start: int
    byte_end: int
    char_start: int
    char_end: int


class TextProcessor(Owner):
    """A kefu_text: validation, normalisation, tokenisation.  One per
    thread (``kefu.normalize``/``kefu.tokenize`` keep one per thread)."""

    MAX_BYTES, T2S, CASEFOLD = 1, 2, 3

    def __init__(self, max_bytes: Optional[int] = None, t2s: bool = True,
                 casefold: bool = True):
        out = ctypes.c_void_p()
        errors.check(_lib.kefu_text_new(ctypes.byref(out), None))
        self._h = Handle(out.value, _lib.kefu_text_free, what="text")
        if max_bytes is not None:
            self.set(self.MAX_BYTES, max_bytes)
        self.set(self.T2S, int(bool(t2s)))
        self.set(self.CASEFOLD, int(bool(casefold)))

    def set(self, option: int, value: int) -> None:
        p = self._h.get()
        errors.check(_lib.kefu_text_set(p, option, value),
                     _lib.kefu_text_diag(p))

    def get(self, option: int) -> int:
        v = ctypes.c_int64()
        errors.check(_lib.kefu_text_get(self._h.get(), option,
                                        ctypes.byref(v)))
        return v.value

    @staticmethod
    def bounds(option: int) -> Tuple[int, int]:
        lo, hi = ctypes.c_int64(), ctypes.c_int64()
        errors.check(_lib.kefu_text_bounds(option, ctypes.byref(lo),
                                           ctypes.byref(hi)))
        return lo.value, hi.value

    def _run(self, text: Text):
        p = self._h.get()
        b = _b(text)
        errors.check(_lib.kefu_text_run(p, b, len(b)), _lib.kefu_text_diag(p))
        return p

    def normalize(self, text: Text) -> str:
        p = self._run(text)
        n = ctypes.c_size_t()
        s = _lib.kefu_text_normalized(p, ctypes.byref(n))
        return _s(ctypes.string_at(s, n.value)) if s else ""

    def tokenize(self, text: Text) -> List[Token]:
        p = self._run(text)
        out = []
        t = _lib.new(_lib.Token)
        for i in range(_lib.kefu_text_token_count(p)):
            errors.check(_lib.kefu_text_token(p, i, ctypes.byref(t)))
            out.append(Token(_s(ctypes.string_at(t.text, t.text_len)),
                             TOKEN_KINDS.get(t.kind, str(t.kind)),
                             t.byte_start, t.byte_end, t.char_start,
                             t.char_end))
        return out


_tls = threading.local()


def _text_proc() -> TextProcessor:
    tp = getattr(_tls, "text", None)
    if tp is None:
        tp = _tls.text = TextProcessor()
    return tp


def normalize(text: Text) -> str:
    """NFKC, case folding, full-width to half-width, Traditional to
    Simplified, spaces folded: the text the classifier sees."""
    return _text_proc().normalize(text)


def tokenize(text: Text) -> List[Token]:
    """Tokens of the normalised text with spans in the original."""
    return _text_proc().tokenize(text)


def utf8_check(data: bytes) -> Optional[int]:
    """None when `data` is valid UTF-8, else the offset of the first bad
    byte."""
    off = ctypes.c_size_t()
    rc = _lib.kefu_utf8_check(data, len(data), ctypes.byref(off))
    if rc == errors.E_UTF8:
        return off.value
    errors.check(rc)
    return None


# -------------------------------------------------------------- results

@dataclass(frozen=True)
class Entity:
    """An entity found in a message; spans refer to the text passed in
    (``char_*`` index the Python str, ``byte_*`` its UTF-8 bytes)."""
    name: str
    value: str
    byte_start: int
    byte_end: int
    char_start: int
    char_end: int

    @property
    def span(self) -> Tuple[int, int]:
        return self.char_start, self.char_end


@dataclass(frozen=True)
class Explanation:
    """One contribution to a decision: ``kind`` is "feature" or
    "pattern"; ``weight`` is inf for a pattern that forced the intent."""
    kind: str
    text: str
    weight: float


@dataclass
class Classification:
    """Result of :meth:`Model.classify`."""
    intent: str
    confidence: float
    margin: float
    out_of_scope: bool
    intent_index: int
    pattern: int
    top: List[Tuple[str, float]] = field(default_factory=list)
    entities: List[Entity] = field(default_factory=list)
    missing_slots: List[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "intent": self.intent, "confidence": self.confidence,
            "margin": self.margin, "out_of_scope": self.out_of_scope,
            "top": [{"intent": i, "confidence": c} for i, c in self.top],
            "entities": [{"name": e.name, "value": e.value,
                          "bytes": [e.byte_start, e.byte_end],
                          "chars": [e.char_start, e.char_end]}
                         for e in self.entities],
            "missing_slots": list(self.missing_slots),
        }


@dataclass(frozen=True)
class EmotionLabels:
    """Prediction of a model trained on emotion data (task="emotion"):
    the predicted labels and every label's probability."""
    labels: List[str]
    probs: Dict[str, float]


@dataclass(frozen=True)
class Redaction:
    """A masked span of the original text."""
    kind: str
    name: str
    byte_start: int
    byte_end: int
    char_start: int
    char_end: int


REDACT_KINDS = {1: "email", 2: "id_card", 3: "bank_card", 4: "phone",
                5: "custom"}

EMOTIONS = tuple(_s(_lib.kefu_emotion_category_name(i))
                 for i in range(_lib.EMOTION_COUNT))


def emotion_dict(e: "_lib.Emotion") -> Dict[str, float]:
    d = {EMOTIONS[i]: float(e.score[i]) for i in range(_lib.EMOTION_COUNT)}
    d["negativity"] = float(e.negativity)
    return d


# -------------------------------------------------------------- scratch


class Scratch(Owner):
    """Per-thread working memory bound to a model (kefu_scratch).  The
    Model makes one per thread on its own; make one explicitly to control
    its lifetime.  One thread at a time."""

    def __init__(self, model: "Model"):
        mh = model._h
        out = ctypes.c_void_p()
        errors.check(_lib.kefu_scratch_new(ctypes.byref(out), mh.get(), None))
        self._h = Handle(out.value, _lib.kefu_scratch_free, parent=mh,
                         what="scratch")
        self.model_name = model.name
        self._label_names = model.emotion_label_names
        self._top_k = 5

    def _p(self):
        return self._h.get()

    def _fail(self, rc):
        p = self._h.ptr
        raise errors.make(rc, _lib.kefu_scratch_diag(p) if p else None)

    def set_top(self, k: int) -> None:
        p = self._p()
        rc = _lib.kefu_classify_set_top(p, k)
        if rc < 0:
            self._fail(rc)
        self._top_k = k

    def _entities(self, p) -> List[Entity]:
        out = []
        e = _lib.new(_lib.Entity)
        for i in range(_lib.kefu_entity_count(p)):
            errors.check(_lib.kefu_entity_get(p, i, ctypes.byref(e)))
            out.append(Entity(_s(e.name),
                              _s(ctypes.string_at(e.value, e.value_len)),
                              e.byte_start, e.byte_end, e.char_start,
                              e.char_end))
        return out

    def classify(self, text: Text, top: Optional[int] = None,
                 entities: bool = True) -> Classification:
        p = self._p()
        k = 5 if top is None else top   # the library's default
        if k != self._top_k:
            self.set_top(k)
        b = _b(text)
        r = _lib.new(_lib.IntentResult)
        rc = _lib.kefu_classify(p, b, len(b), ctypes.byref(r))
        if rc < 0:
            self._fail(rc)
        toplist = []
        name, conf = ctypes.c_char_p(), ctypes.c_float()
        for i in range(_lib.kefu_classify_top_count(p)):
            errors.check(_lib.kefu_classify_top(p, i, ctypes.byref(name),
                                                ctypes.byref(conf)))
            toplist.append((_s(name.value), float(conf.value)))
        missing = []
        i = 0
        while True:
            s = _lib.kefu_classify_missing_slot(p, i)
            if s is None:
                break
            missing.append(_s(s))
            i += 1
        res = Classification(_s(r.intent), float(r.confidence),
                             float(r.margin), bool(r.out_of_scope),
                             r.intent_index, r.pattern, toplist, [], missing)
        if entities:
            res.entities = self.entities(b)
        return res

    def explain(self, text: Text, limit: int = 20) -> List[Explanation]:
        p = self._p()
        b = _b(text)
        r = _lib.new(_lib.IntentResult)
        rc = _lib.kefu_classify(p, b, len(b), ctypes.byref(r))
        if rc < 0:
            self._fail(rc)
        items = (_lib.ExplainItem * max(1, limit))()
        for it in items:
            it.size = ctypes.sizeof(_lib.ExplainItem)
        n = _lib.kefu_classify_explain(p, items, limit)
        kinds = {1: "feature", 2: "pattern"}
        return [Explanation(kinds.get(items[i].kind, str(items[i].kind)),
                            _s(ctypes.string_at(items[i].text,
                                                items[i].text_len)),
                            float(items[i].weight)) for i in range(n)]

    def entities(self, text: Text) -> List[Entity]:
        p = self._p()
        b = _b(text)
        rc = _lib.kefu_entities_extract(p, b, len(b))
        if rc < 0:
            self._fail(rc)
        return self._entities(p)

    def emotion_raw(self, text: Text) -> "_lib.Emotion":
        p = self._p()
        b = _b(text)
        e = _lib.new(_lib.Emotion)
        rc = _lib.kefu_emotion_score(p, b, len(b), ctypes.byref(e))
        if rc < 0:
            self._fail(rc)
        return e

    def emotion(self, text: Text) -> Dict[str, float]:
        return emotion_dict(self.emotion_raw(text))

    def emotion_labels(self, text: Text) -> "EmotionLabels":
        p = self._p()
        b = _b(text)
        names = self._label_names
        probs = (ctypes.c_float * max(1, len(names)))()
        rc = _need("kefu_emotion_classify")(p, b, len(b), probs, len(names))
        if rc < 0:
            self._fail(rc)
        labels = [_s(_lib.kefu_emotion_label(p, i))
                  for i in range(_lib.kefu_emotion_label_count(p))]
        return EmotionLabels(labels, {n: float(probs[i])
                                      for i, n in enumerate(names)})

    def redact(self, text: Text) -> Tuple[str, List[Redaction]]:
        p = self._p()
        b = _b(text)
        rc = _lib.kefu_redact(p, b, len(b))
        if rc < 0:
            self._fail(rc)
        n = ctypes.c_size_t()
        s = _lib.kefu_redacted(p, ctypes.byref(n))
        red = _s(ctypes.string_at(s, n.value)) if s else ""
        spans = []
        r = _lib.new(_lib.Redaction)
        for i in range(_lib.kefu_redaction_count(p)):
            errors.check(_lib.kefu_redaction_get(p, i, ctypes.byref(r)))
            spans.append(Redaction(REDACT_KINDS.get(r.kind, str(r.kind)),
                                   _s(r.name), r.byte_start, r.byte_end,
                                   r.char_start, r.char_end))
        return red, spans


# ---------------------------------------------------------------- model

ProgressCallback = Callable[[int, int, float, Optional[float]], None]


class Model(Owner):
    """A compiled model (kefu_model): immutable, shared by threads.

    Use :meth:`load`, :meth:`load_buffer` or :meth:`train`.  The analysis
    methods use a per-thread :class:`Scratch`, so one Model can be used
    from several Python threads at once (ctypes releases the GIL during
    the C calls).  Do not :meth:`close` it while another thread is inside
    one of its methods.
    """

    def __init__(self, _ptr, _what="model"):
        self._h = Handle(_ptr, _lib.kefu_model_free, what=_what)
        self._tls = threading.local()

    # -- construction
    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Model":
        """Loads a YAML or binary model file.  Errors carry file:line:column."""
        out = ctypes.c_void_p()
        with errors.Diag() as d:
            d.check(_lib.kefu_model_load(ctypes.byref(out), _path(path), None,
                                         d.ptr))
        return cls(out.value)

    @classmethod
    def load_buffer(cls, data: Text, name: Optional[str] = None,
                    base_dir: Optional[str] = None) -> "Model":
        """Loads a model from memory (YAML text or binary model bytes).
        `name` appears in diagnostics; `base_dir` resolves includes."""
        b = _b(data)
        out = ctypes.c_void_p()
        with errors.Diag() as d:
            d.check(_lib.kefu_model_load_buffer(
                ctypes.byref(out), b, len(b),
                name.encode() if name else None,
                _path(base_dir) if base_dir else None, None, d.ptr))
        return cls(out.value)

    @classmethod
    def train(cls, train_tsv: Union[str, os.PathLike],
              val: Optional[Union[str, os.PathLike]] = None,
              config: Optional[Union[str, os.PathLike]] = None,
              epochs: int = 0, learning_rate: float = 0.0, seed: int = 0,
              task: str = "intent",
              progress: Optional[ProgressCallback] = None) -> "Model":
        """Trains a model from a ``label<TAB>text`` TSV (or a YAML model with
        examples), an optional validation TSV and an optional YAML config.
        Zero values mean the config's or the library's defaults.
        `progress(epoch, epochs, loss, val_accuracy_or_None)` is called after
        each epoch; an exception it raises is re-raised after training."""
        o = _lib.TrainOptions()
        _lib.kefu_train_options_init_size(ctypes.byref(o), ctypes.sizeof(o))
        o.task = _task(task)
        o.epochs = epochs
        o.learning_rate = learning_rate
        o.seed = seed
        raised = []
        if progress is not None:
            def cb(epoch, total, loss, acc, user):
                if raised:
                    return
                try:
                    progress(epoch, total, loss, acc if acc >= 0 else None)
                except BaseException as e:  # noqa: B902 - re-raised below
                    raised.append(e)
            o.progress = _lib.ProgressFn(cb)
        out = ctypes.c_void_p()
        with errors.Diag() as d:
            rc = _lib.kefu_model_train(
                ctypes.byref(out), _path(config) if config else None,
                _path(train_tsv), _path(val) if val else None,
                ctypes.byref(o), None, d.ptr)
            if rc >= 0 and raised:
                _lib.kefu_model_free(out.value)
                raise raised[0]
            d.check(rc)
        return cls(out.value)

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes a binary model file (loads in milliseconds)."""
        with errors.Diag() as d:
            d.check(_lib.kefu_model_save(self._h.get(), _path(path), d.ptr))

    # -- description
    @property
    def name(self) -> str:
        return _s(_lib.kefu_model_name(self._h.get()))

    @property
    def intents(self) -> List[str]:
        p = self._h.get()
        return [_s(_lib.kefu_model_intent_name(p, i))
                for i in range(_lib.kefu_model_intent_count(p))]

    def intent_skills(self, intent: Union[str, int]) -> List[str]:
        p = self._h.get()
        i = self.intents.index(intent) if isinstance(intent, str) else intent
        out, j = [], 0
        while True:
            s = _lib.kefu_model_intent_skill(p, i, j)
            if s is None:
                return out
            out.append(_s(s))
            j += 1

    def classifier_info(self, task: str = "intent") -> dict:
        """What training chose for the intents (task="intent") or the
        trained emotion labels (task="emotion"): classes, features,
        examples, temperature, and for intents the out-of-scope threshold,
        margin and the index of `oos` (None when not trained).  StateError
        when the model has no such classifier."""
        t = _task(task)
        _need("kefu_model_classifier_info")
        i = _lib.new(_lib.ClassifierInfo)
        errors.check(_lib.kefu_model_classifier_info(self._h.get(), t,
                                                     ctypes.byref(i)))
        return {"classes": i.classes, "features": i.features,
                "examples": i.examples, "temperature": i.temperature,
                "threshold": i.threshold, "margin": i.margin,
                "oos_index": i.oos_index if i.oos_index >= 0 else None}

    @property
    def emotion_label_names(self) -> List[str]:
        """Labels of a model trained with task="emotion" ([] otherwise)."""
        if not _lib.has("kefu_model_emotion_label_count"):
            return []
        p = self._h.get()
        return [_s(_lib.kefu_model_emotion_label_name(p, i))
                for i in range(_lib.kefu_model_emotion_label_count(p))]

    @property
    def entity_names(self) -> List[str]:
        p = self._h.get()
        return [_s(_lib.kefu_model_entity_name(p, i))
                for i in range(_lib.kefu_model_entity_count(p))]

    # -- analysis through this thread's scratch
    def scratch(self) -> Scratch:
        """A new scratch for this model (the caller owns it)."""
        return Scratch(self)

    def _scratch(self) -> Scratch:
        s = getattr(self._tls, "s", None)
        if s is None or s.closed:
            s = self._tls.s = Scratch(self)
        return s

    def classify(self, text: Text, top: Optional[int] = None,
                 entities: bool = True) -> Classification:
        """Intent (or "oos" when out of scope), confidence, margin, top
        list, missing required slots and the message's entities."""
        return self._scratch().classify(text, top, entities)

    def explain(self, text: Text, limit: int = 20) -> List[Explanation]:
        """What drove the decision for `text`: patterns, then features."""
        return self._scratch().explain(text, limit)

    def entities(self, text: Text) -> List[Entity]:
        return self._scratch().entities(text)

    def emotion(self, text: Text) -> Dict[str, float]:
        """Scores 0..100 per category plus 'negativity'."""
        return self._scratch().emotion(text)

    def emotion_labels(self, text: Text) -> EmotionLabels:
        """The trained emotion labels of `text` (a model trained with
        task="emotion"; StateError otherwise)."""
        return self._scratch().emotion_labels(text)

    def redact(self, text: Text) -> Tuple[str, List[Redaction]]:
        """The text with personal data masked, and the masked spans."""
        return self._scratch().redact(text)

    def session(self, rules=None, conversation: str = ""):
        """A new :class:`kefu.Session` (one conversation) of this model."""
        from .session import Session
        return Session(self, rules, conversation)

    def rules(self):
        """The rule set compiled from the model's rules: section."""
        from .rules import RuleSet
        return RuleSet._from_model(self)

    def __repr__(self):
        if self.closed:
            return "<kefu.Model closed>"
        return "<kefu.Model %r intents=%d>" % (self.name, len(self.intents))
