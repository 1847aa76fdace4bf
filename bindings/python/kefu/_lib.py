"""Loading libkefu and declaring every bound C function (ctypes).

This module follows include/kefu.h line by line: one ``_fn`` call per
function with its full argtypes/restype.  A function missing from the
loaded library (an older libkefu of the same major version) is left out
and the Python call that needs it raises ``kefu.Error`` (KEFU_E_STATE)
with a clear message instead of failing at import.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double,
                    c_float, c_int, c_int32, c_int64, c_size_t, c_uint32,
                    c_uint64, c_void_p)

#: The major version these bindings were written for (KEFU_VERSION_MAJOR).
VERSION_MAJOR = 0

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("KEFU_LIBRARY")
    if env:
        yield env
        return
    # In a checkout: bindings/python/kefu -> <checkout>/lib
    for rel in (("..", "..", "..", "lib"), ("..", "..", "lib"), ("lib",)):
        d = os.path.normpath(os.path.join(_HERE, *rel))
        for name in ("libkefu.so", "libkefu.so.%d" % VERSION_MAJOR,
                     "libkefu.dylib"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                yield p
    found = ctypes.util.find_library("kefu")
    if found:
        yield found
    yield "libkefu.so.%d" % VERSION_MAJOR


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise ImportError("kefu: cannot load libkefu (set KEFU_LIBRARY to its "
                      "path, or build the checkout with `make`):\n  "
                      + "\n  ".join(errors or ["nothing found"]))


lib, path = _load()

# ---------------------------------------------------------------- structs


class Token(Structure):
    _fields_ = [("size", c_uint32), ("kind", c_uint32),
                ("text", POINTER(c_char)), ("text_len", c_uint32),
                ("byte_start", c_uint32), ("byte_end", c_uint32),
                ("char_start", c_uint32), ("char_end", c_uint32)]


class IntentResult(Structure):
    _fields_ = [("size", c_uint32), ("out_of_scope", c_uint32),
                ("intent", c_char_p), ("intent_index", c_int32),
                ("confidence", c_float), ("margin", c_float),
                ("pattern", c_int32), ("missing_slots", c_uint32)]


class ExplainItem(Structure):
    _fields_ = [("size", c_uint32), ("kind", c_uint32),
                ("text", POINTER(c_char)), ("text_len", c_uint32),
                ("weight", c_float)]


class ClassifierInfo(Structure):
    _fields_ = [("size", c_uint32), ("classes", c_uint32),
                ("features", c_uint32), ("examples", c_uint32),
                ("temperature", c_float), ("threshold", c_float),
                ("margin", c_float), ("oos_index", c_int32)]


ProgressFn = CFUNCTYPE(None, c_uint32, c_uint32, c_double, c_double, c_void_p)


class TrainOptions(Structure):
    _fields_ = [("size", c_uint32), ("task", c_uint32), ("epochs", c_uint32),
                ("learning_rate", c_float), ("seed", c_uint64),
                ("progress", ProgressFn), ("user", c_void_p)]


class Entity(Structure):
    _fields_ = [("size", c_uint32), ("index", c_uint32), ("name", c_char_p),
                ("value", POINTER(c_char)), ("value_len", c_uint32),
                ("byte_start", c_uint32), ("byte_end", c_uint32),
                ("char_start", c_uint32), ("char_end", c_uint32)]


class Redaction(Structure):
    _fields_ = [("size", c_uint32), ("kind", c_uint32), ("name", c_char_p),
                ("byte_start", c_uint32), ("byte_end", c_uint32),
                ("char_start", c_uint32), ("char_end", c_uint32)]


EMOTION_COUNT = 6


class Emotion(Structure):
    _fields_ = [("size", c_uint32), ("score", c_float * EMOTION_COUNT),
                ("negativity", c_float), ("matched", c_uint32)]


class EmotionLevel(Structure):
    _fields_ = [("size", c_uint32), ("turns", c_uint32),
                ("level", c_float * EMOTION_COUNT),
                ("level_negativity", c_float),
                ("peak", c_float * EMOTION_COUNT), ("peak_negativity", c_float),
                ("trend", c_float * EMOTION_COUNT),
                ("trend_negativity", c_float), ("direction", c_int32),
                ("peak_turn", c_uint32)]


class RuleAction(Structure):
    _fields_ = [("size", c_uint32), ("type", c_uint32), ("rule", c_uint32),
                ("value", c_int32), ("raise_", c_uint32), ("queue", c_char_p),
                ("skill", c_char_p), ("tier", c_char_p), ("arg", c_char_p)]


class RuleOutcome(Structure):
    _fields_ = [("size", c_uint32), ("state", c_uint32), ("status", c_int32),
                ("trace_first", c_uint32), ("trace_count", c_uint32)]


class TraceEntry(Structure):
    _fields_ = [("size", c_uint32), ("rule", c_uint32), ("kind", c_uint32),
                ("type", c_uint32), ("expr", POINTER(c_char)),
                ("expr_len", c_uint32), ("expr_offset", c_uint32),
                ("boolean", c_int32), ("number", c_double),
                ("string", POINTER(c_char)), ("length", c_uint32)]


class Turn(Structure):
    _fields_ = [("size", c_uint32), ("flags", c_uint32), ("time_ms", c_int64),
                ("channel", c_char_p), ("customer_tier", c_char_p),
                ("customer_value", c_double),
                ("customer_risk", POINTER(c_char_p)),
                ("customer_risk_count", c_uint32),
                ("external_emotion", c_int32), ("wait_ms", c_int64),
                ("contacts_7d", c_uint32), ("bot_failed", c_uint32)]


class Triage(Structure):
    _fields_ = [("size", c_uint32), ("intent", c_char_p),
                ("confidence", c_float), ("margin", c_float),
                ("out_of_scope", c_uint32), ("missing_slots", c_uint32),
                ("emotion", c_float * EMOTION_COUNT), ("negativity", c_float),
                ("level", c_float), ("trend", c_float),
                ("rules_fired", c_uint32), ("actions", c_uint32),
                ("escalated", c_uint32), ("locked", c_uint32),
                ("route_queue", c_char_p), ("route_tier", c_char_p),
                ("route_priority", c_int32), ("route_skills", c_uint32),
                ("turn", c_uint32)]


class RouteRequest(Structure):
    _fields_ = [("size", c_uint32), ("queue", c_uint32), ("channel", c_uint32),
                ("priority", c_int32), ("language", c_uint32),
                ("tier", c_uint32), ("preferred_agent", c_uint32),
                ("nskills", c_uint32), ("skills", POINTER(c_uint32)),
                ("levels", POINTER(c_uint32))]


class RouteEvent(Structure):
    _fields_ = [("size", c_uint32), ("kind", c_uint32),
                ("conversation", c_uint32), ("agent", c_uint32),
                ("queue", c_uint32), ("reserved_", c_uint32),
                ("time_ms", c_int64)]


class ConversationInfo(Structure):
    _fields_ = [("size", c_uint32), ("state", c_uint32), ("queue", c_uint32),
                ("agent", c_uint32), ("step", c_uint32),
                ("priority", c_int32), ("arrival_ms", c_int64)]


class AgentInfo(Structure):
    _fields_ = [("size", c_uint32), ("state", c_uint32),
                ("presence", c_uint32), ("load", c_uint32),
                ("capacity", c_uint32), ("conversations", c_uint32),
                ("misses", c_uint32), ("tier", c_uint32),
                ("idle_since_ms", c_int64), ("wrapup_until_ms", c_int64)]


class RouteStats(Structure):
    _fields_ = [("size", c_uint32), ("queue", c_uint32),
                ("offered", c_uint64), ("answered", c_uint64),
                ("answered_in_target", c_uint64), ("abandoned", c_uint64),
                ("transfers", c_uint64), ("reroutes", c_uint64),
                ("waiting", c_uint64), ("longest_wait_ms", c_int64),
                ("service_level", c_double), ("asa_ms", c_double),
                ("abandon_rate", c_double), ("occupancy", c_double),
                ("transfer_rate", c_double)]


class ErlangResult(Structure):
    _fields_ = [("size", c_uint32), ("agents", c_uint32),
                ("load_erlangs", c_double), ("occupancy", c_double),
                ("p_wait", c_double), ("asa_s", c_double),
                ("service_level", c_double), ("abandon_rate", c_double),
                ("mean_queue", c_double)]


def new(struct):
    """A zeroed struct with its `size` field set, as the ABI asks."""
    s = struct()
    s.size = ctypes.sizeof(struct)
    return s


# -------------------------------------------------------------- functions

missing = []


def _fn(name, restype, *argtypes):
    try:
        f = getattr(lib, name)
    except AttributeError:
        missing.append(name)
        return
    f.restype = restype
    f.argtypes = list(argtypes)
    globals()[name] = f


def has(name):
    return name in globals()


P = c_void_p          # opaque handle
PP = POINTER(c_void_p)  # handle out-parameter
S = c_char_p
pU32 = POINTER(c_uint32)
pI64 = POINTER(c_int64)
pSize = POINTER(c_size_t)

# version, status
_fn("kefu_version_string", S)
_fn("kefu_version_number", c_uint32)
_fn("kefu_strerror", S, c_int)
# diagnostics
_fn("kefu_diag_new", P, P)
_fn("kefu_diag_free", None, P)
_fn("kefu_diag_status", c_int, P)
_fn("kefu_diag_message", S, P)
_fn("kefu_diag_file", S, P)
_fn("kefu_diag_line", c_uint32, P)
_fn("kefu_diag_column", c_uint32, P)
_fn("kefu_diag_offset", c_uint64, P)
_fn("kefu_diag_format", c_size_t, P, c_char_p, c_size_t)
# text
_fn("kefu_text_new", c_int, PP, P)
_fn("kefu_text_free", None, P)
_fn("kefu_text_set", c_int, P, c_int, c_int64)
_fn("kefu_text_get", c_int, P, c_int, pI64)
_fn("kefu_text_bounds", c_int, c_int, pI64, pI64)
_fn("kefu_text_run", c_int, P, c_char_p, c_size_t)
_fn("kefu_text_normalized", POINTER(c_char), P, pSize)
_fn("kefu_text_token_count", c_size_t, P)
_fn("kefu_text_token", c_int, P, c_size_t, POINTER(Token))
_fn("kefu_text_diag", P, P)
_fn("kefu_utf8_check", c_int, c_char_p, c_size_t, pSize)
# models
_fn("kefu_model_load", c_int, PP, S, P, P)
_fn("kefu_model_load_buffer", c_int, PP, c_char_p, c_size_t, S, S, P, P)
_fn("kefu_model_free", None, P)
_fn("kefu_model_name", S, P)
_fn("kefu_train_options_init_size", None, POINTER(TrainOptions), c_uint32)
_fn("kefu_model_train", c_int, PP, S, S, S, POINTER(TrainOptions), P, P)
_fn("kefu_model_save", c_int, P, S, P)
_fn("kefu_model_emotion_label_count", c_size_t, P)
_fn("kefu_model_emotion_label_name", S, P, c_size_t)
_fn("kefu_emotion_classify", c_int, P, c_char_p, c_size_t, POINTER(c_float),
    c_size_t)
_fn("kefu_emotion_label_count", c_size_t, P)
_fn("kefu_emotion_label", S, P, c_size_t)
# scratch
_fn("kefu_scratch_new", c_int, PP, P, P)
_fn("kefu_scratch_free", None, P)
_fn("kefu_scratch_diag", P, P)
# intents
_fn("kefu_classify", c_int, P, c_char_p, c_size_t, POINTER(IntentResult))
_fn("kefu_classify_set_top", c_int, P, c_uint32)
_fn("kefu_classify_top_count", c_size_t, P)
_fn("kefu_classify_top", c_int, P, c_size_t, POINTER(c_char_p),
    POINTER(c_float))
_fn("kefu_classify_missing_slot", S, P, c_size_t)
_fn("kefu_classify_explain", c_size_t, P, POINTER(ExplainItem), c_size_t)
_fn("kefu_model_intent_count", c_size_t, P)
_fn("kefu_model_intent_name", S, P, c_size_t)
_fn("kefu_model_intent_skill", S, P, c_size_t, c_size_t)
_fn("kefu_model_classifier_info", c_int, P, c_uint32, POINTER(ClassifierInfo))
# entities, redaction
_fn("kefu_entities_extract", c_int, P, c_char_p, c_size_t)
_fn("kefu_entity_count", c_size_t, P)
_fn("kefu_entity_get", c_int, P, c_size_t, POINTER(Entity))
_fn("kefu_model_entity_count", c_size_t, P)
_fn("kefu_model_entity_name", S, P, c_size_t)
_fn("kefu_redact", c_int, P, c_char_p, c_size_t)
_fn("kefu_redacted", POINTER(c_char), P, pSize)
_fn("kefu_redaction_count", c_size_t, P)
_fn("kefu_redaction_get", c_int, P, c_size_t, POINTER(Redaction))
# emotion
_fn("kefu_emotion_category_name", S, c_int)
_fn("kefu_emotion_score", c_int, P, c_char_p, c_size_t, POINTER(Emotion))
_fn("kefu_emotion_track_new", c_int, PP, P)
_fn("kefu_emotion_track_free", None, P)
_fn("kefu_emotion_track_reset", None, P)
_fn("kefu_emotion_track_set", c_int, P, c_int, c_int64)
_fn("kefu_emotion_track_option_get", c_int, P, c_int, pI64)
_fn("kefu_emotion_track_bounds", c_int, c_int, pI64, pI64)
_fn("kefu_emotion_track_update", c_int, P, POINTER(Emotion), c_int64, c_int32)
_fn("kefu_emotion_track_get", c_int, P, POINTER(EmotionLevel))
# rules
_fn("kefu_model_rules", P, P)
_fn("kefu_ruleset_compile", c_int, PP, P, c_char_p, c_size_t, S, P, P)
_fn("kefu_ruleset_load", c_int, PP, P, S, P, P)
_fn("kefu_ruleset_ref", P, P)
_fn("kefu_ruleset_free", None, P)
_fn("kefu_ruleset_rule_count", c_uint32, P)
_fn("kefu_ruleset_rule_name", S, P, c_uint32)
_fn("kefu_ruleset_rule_when", S, P, c_uint32)
_fn("kefu_ruleset_mode", c_uint32, P)
_fn("kefu_ruleset_fact_type", c_int, P, c_char_p, c_size_t)
_fn("kefu_rules_slot_new", c_int, PP, P, P)
_fn("kefu_rules_slot_free", None, P)
_fn("kefu_rules_slot_acquire", P, P)
_fn("kefu_rules_slot_swap", c_int, P, P)
_fn("kefu_facts_new", c_int, PP, P, P)
_fn("kefu_facts_free", None, P)
_fn("kefu_facts_rebind", c_int, P, P)
_fn("kefu_facts_clear", None, P)
_fn("kefu_facts_set_bool", c_int, P, c_char_p, c_size_t, c_int32)
_fn("kefu_facts_set_number", c_int, P, c_char_p, c_size_t, c_double)
_fn("kefu_facts_set_duration", c_int, P, c_char_p, c_size_t, c_int64)
_fn("kefu_facts_set_string", c_int, P, c_char_p, c_size_t, c_char_p,
    c_size_t)
_fn("kefu_facts_set_strings", c_int, P, c_char_p, c_size_t,
    POINTER(c_char_p), POINTER(c_size_t), c_size_t)
_fn("kefu_facts_set_numbers", c_int, P, c_char_p, c_size_t,
    POINTER(c_double), c_size_t)
_fn("kefu_facts_unset", c_int, P, c_char_p, c_size_t)
_fn("kefu_facts_diag", P, P)
_fn("kefu_rules_result_new", c_int, PP, P)
_fn("kefu_rules_result_free", None, P)
_fn("kefu_rules_eval", c_int, P, P, P, c_uint32)
_fn("kefu_rules_result_fired_count", c_uint32, P)
_fn("kefu_rules_result_fired", c_uint32, P, c_uint32)
_fn("kefu_rules_result_action_count", c_uint32, P)
_fn("kefu_rules_result_action", c_int, P, c_uint32, POINTER(RuleAction))
_fn("kefu_rules_result_rule", c_int, P, c_uint32, POINTER(RuleOutcome))
_fn("kefu_rules_result_trace_count", c_uint32, P)
_fn("kefu_rules_result_trace", c_int, P, c_uint32, POINTER(TraceEntry))
_fn("kefu_rules_result_explain", c_size_t, P, c_uint32, c_char_p, c_size_t)
# sessions
_fn("kefu_turn_init_size", None, POINTER(Turn), c_uint32)
_fn("kefu_session_new", c_int, PP, P, P)
_fn("kefu_session_free", None, P)
_fn("kefu_session_use_rules", c_int, P, P)
_fn("kefu_session_facts", P, P)
_fn("kefu_session_turn", c_int, P, c_char_p, c_size_t, POINTER(Turn),
    POINTER(Triage))
_fn("kefu_session_rules", P, P)
_fn("kefu_session_ruleset", P, P)
_fn("kefu_session_scratch", P, P)
_fn("kefu_session_route_skill", S, P, c_size_t)
_fn("kefu_session_slot", c_int, P, c_size_t, POINTER(c_char_p),
    POINTER(c_char_p))
_fn("kefu_session_diag", P, P)
_fn("kefu_session_dump", c_int, P, c_void_p, c_size_t, pSize)
_fn("kefu_session_restore", c_int, P, c_void_p, c_size_t)
# router
_fn("kefu_router_new", c_int, PP, P, P)
_fn("kefu_router_free", None, P)
_fn("kefu_router_diag", P, P)
_fn("kefu_router_set", c_int, P, c_int, c_int64)
_fn("kefu_router_get", c_int, P, c_int, pI64)
_fn("kefu_router_bounds", c_int, c_int, pI64, pI64)
_fn("kefu_router_queue_add", c_int, P, c_int64, c_uint32, c_uint32)
_fn("kefu_router_queue_set", c_int, P, c_int64, c_uint32, c_int, c_int64)
_fn("kefu_router_queue_step", c_int, P, c_int64, c_uint32, c_int64, c_uint32,
    c_uint32, c_uint32, c_uint32)
_fn("kefu_router_agent_add", c_int, P, c_int64, c_uint32, c_uint32, c_uint32)
_fn("kefu_router_agent_remove", c_int, P, c_int64, c_uint32)
_fn("kefu_router_agent_skill", c_int, P, c_int64, c_uint32, c_uint32,
    c_uint32)
_fn("kefu_router_agent_channel", c_int, P, c_int64, c_uint32, c_uint32,
    c_uint32)
_fn("kefu_router_agent_language", c_int, P, c_int64, c_uint32, c_uint32,
    c_uint32)
_fn("kefu_router_agent_queue", c_int, P, c_int64, c_uint32, c_uint32,
    c_uint32)
_fn("kefu_router_agent_state", c_int, P, c_int64, c_uint32, c_uint32)
_fn("kefu_router_agent_info", c_int, P, c_uint32, POINTER(AgentInfo))
_fn("kefu_router_submit", c_int, P, c_int64, c_uint32, POINTER(RouteRequest))
_fn("kefu_router_accept", c_int, P, c_int64, c_uint32, c_uint32)
_fn("kefu_router_reject", c_int, P, c_int64, c_uint32, c_uint32)
_fn("kefu_router_complete", c_int, P, c_int64, c_uint32, c_int64)
_fn("kefu_router_cancel", c_int, P, c_int64, c_uint32)
_fn("kefu_router_transfer", c_int, P, c_int64, c_uint32, c_uint32)
_fn("kefu_router_tick", c_int, P, c_int64)
_fn("kefu_router_poll", c_int, P, POINTER(RouteEvent))
_fn("kefu_router_conversation_info", c_int, P, c_uint32,
    POINTER(ConversationInfo))
_fn("kefu_router_stats", c_int, P, c_int64, c_uint32, c_int64,
    POINTER(RouteStats))
_fn("kefu_router_snapshot", c_int, P, c_void_p, c_size_t, pSize)
_fn("kefu_router_restore", c_int, P, c_void_p, c_size_t)
_fn("kefu_router_reload", c_int, P, c_int64, P)
# staffing
_fn("kefu_erlang_c", c_int, POINTER(ErlangResult), c_double, c_double,
    c_uint32, c_double)
_fn("kefu_erlang_a", c_int, POINTER(ErlangResult), c_double, c_double,
    c_double, c_uint32, c_double)
_fn("kefu_erlang_agents", c_int, pU32, c_double, c_double, c_double,
    c_double, c_double)
