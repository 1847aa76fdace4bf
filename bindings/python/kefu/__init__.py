"""kefu: contact-center triage (intent, entities, emotion, rules, routing).

A thin ctypes binding of libkefu (include/kefu.h); nothing to compile.
The library is found through $KEFU_LIBRARY, then the checkout's lib/
next to this package, then the system (ctypes.util.find_library).

    import kefu
    with kefu.Model.load("examples/default-model.yaml") as m:
        r = m.classify("我要退款，订单号 1234567890")
        print(r.intent, r.confidence, r.entities, m.emotion("太慢了!!!"))
"""
from . import _lib
from .errors import (ArgumentError, BufferTooSmallError, CorruptError,
                     EmptyError, Error, ExistsError, FileError, FormatError,
                     LimitError, ModelError, NoMemoryError, ParseError,
                     PatternError, StateError, TextError, TooLongError,
                     TypeCheckError, UnknownError, Utf8Error, VersionError,
                     strerror)
from .model import (EMOTIONS, Classification, EmotionLabels, Entity,
                    Explanation, Model,
                    Redaction, Scratch, TextProcessor, Token, normalize,
                    tokenize, utf8_check)
from .rules import Action, Facts, RuleSet, RulesOutcome, RulesSlot, TraceEntry
from .session import Session, TriageResult
from .router import (EmotionTrack, RouteEvent, Router, erlang_a,
                     erlang_agents, erlang_c, lang)

__all__ = [
    "Error", "NoMemoryError", "ArgumentError", "TextError", "Utf8Error",
    "TooLongError", "FileError", "FormatError", "ParseError", "ModelError",
    "CorruptError", "VersionError", "PatternError", "TypeCheckError",
    "UnknownError", "ExistsError", "LimitError", "StateError",
    "BufferTooSmallError", "EmptyError", "strerror",
    "Model", "Scratch", "Classification", "Entity", "Explanation",
    "Redaction", "EmotionLabels", "Token", "TextProcessor", "normalize", "tokenize",
    "utf8_check", "EMOTIONS", "RuleSet", "Facts", "RulesSlot",
    "RulesOutcome", "Action", "TraceEntry", "Session", "TriageResult", "Router", "RouteEvent",
    "EmotionTrack", "erlang_c", "erlang_a", "erlang_agents", "lang",
    "version", "version_number", "library_path",
]

#: The binding's own version.
__version__ = "0.1.0"

library_path = _lib.path


def version() -> str:
    """Version string of the loaded libkefu, e.g. "0.1.0"."""
    return _lib.kefu_version_string().decode()


def version_number() -> int:
    """MAJOR*10000 + MINOR*100 + PATCH of the loaded libkefu."""
    return int(_lib.kefu_version_number())


if version_number() // 10000 != _lib.VERSION_MAJOR:
    raise ImportError(
        "kefu: %s is libkefu %s, these bindings need major version %d"
        % (_lib.path, version(), _lib.VERSION_MAJOR))
