"""Fast decoding of `inference.logs` and `inference.feedback` for the hot path, full validation as the fallback.

`LogEvent` and `RatingEvent` are msgspec structs with every field of `InferenceLog` and
`InferenceFeedback` and the contract's constraints (lengths, bounds, a time zone on `occurred_at`;
the model name's pattern is checked after decoding, once per distinct name, as msgspec's pattern
check cost a third of the decoding). msgspec decodes and checks them in C, several times faster
than the pydantic models. They accept a strict subset of what the contract accepts: anything they refuse
(unknown fields, `correction_tool_calls`, an int written as a string, metadata over its limit,
...) is decoded again by the contract's own models, which either accept it (the event is
handled like any other) or give the exact reason it is dead-lettered with. So the fast path
changes how fast an event is read, never whether it is accepted.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeAlias

import msgspec
from adaptloop_contracts import InferenceFeedback, InferenceLog
from adaptloop_contracts.base import MAX_EVENT_BYTES, MAX_METADATA_BYTES, MAX_TEXT_CHARS, SCHEMA_VERSION

# `\Z`, not `$`: Python's `$` also matches before a final newline, which the contract refuses.
_MODEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*\Z")
_Model = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
"""The model's pattern is checked by `_accepted` (as msgspec would: `search`), once per distinct name."""
_MODELS: set[str] = set()
"""Model names that matched the pattern (a few per partition; cleared when it holds `_MODELS_MAX`)."""
_MODELS_MAX = 4096
_Short = Annotated[str, msgspec.Meta(max_length=1024)]
_Long = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]
_Count = Annotated[int, msgspec.Meta(ge=0)]
_Aware = Annotated[datetime, msgspec.Meta(tz=True)]


class LogEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An `InferenceLog` as the hot path reads it (same field names and meaning)."""

    model: _Model
    request_id: _Short
    base_model: _Short
    prompt: _Long
    completion: _Long
    prompt_tokens: _Count
    completion_tokens: _Count
    latency_ms: Annotated[float, msgspec.Meta(ge=0)]
    occurred_at: _Aware
    event_id: uuid.UUID
    event_type: Literal["inference.log"] = "inference.log"
    schema_version: Literal[1] = 1
    adapter_version: Annotated[int, msgspec.Meta(ge=1)] | None = None
    tenant: _Short | None = None
    mean_logprob: Annotated[float, msgspec.Meta(le=0)] | None = None
    metadata: dict[str, Any] = {}


class RatingEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An `InferenceFeedback` as the hot path reads it (same field names and meaning)."""

    model: _Model
    inference_event_id: uuid.UUID
    score: Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)]
    occurred_at: _Aware
    event_id: uuid.UUID
    event_type: Literal["inference.feedback"] = "inference.feedback"
    schema_version: Literal[1] = 1
    correction: _Long | None = None
    correction_tool_calls: None = None
    """Tool-call corrections are rewritten by the contract's model: they take the full decoding."""
    metadata: dict[str, Any] = {}


AnyLog: TypeAlias = InferenceLog | LogEvent
"""What the handlers, monitors and signals take as a log: the contract's model or the fast struct."""
AnyRating: TypeAlias = InferenceFeedback | RatingEvent

assert SCHEMA_VERSION == 1, "LogEvent and RatingEvent pin schema_version 1"

_LOGS = msgspec.json.Decoder(LogEvent)
_RATINGS = msgspec.json.Decoder(RatingEvent)


def _accepted(event: LogEvent | RatingEvent) -> bool:
    """False when the contract's models must judge the event: a model name off the pattern, metadata
    over its limit, or a time zone other than UTC (the models convert `occurred_at` to UTC)."""
    if event.occurred_at.tzinfo is not UTC:
        return False
    if event.model not in _MODELS:
        if not _MODEL_PATTERN.search(event.model):
            return False
        if len(_MODELS) >= _MODELS_MAX:
            _MODELS.clear()
        _MODELS.add(event.model)
    return not event.metadata or len(json.dumps(event.metadata, default=str)) <= MAX_METADATA_BYTES


def decode_log(raw: bytes | None) -> AnyLog:
    """A log from bytes; `InvalidEvent` (with the contract's reason) when the contract refuses it."""
    if raw is not None and len(raw) <= MAX_EVENT_BYTES:
        try:
            event = _LOGS.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        else:
            if _accepted(event):
                return event
    return InferenceLog.from_json_bytes(raw)


def decode_rating(raw: bytes | None) -> AnyRating:
    """A rating from bytes; `InvalidEvent` (with the contract's reason) when the contract refuses it."""
    if raw is not None and len(raw) <= MAX_EVENT_BYTES:
        try:
            event = _RATINGS.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        else:
            if _accepted(event):
                return event
    return InferenceFeedback.from_json_bytes(raw)
