"""Turning a request body into valid events and per-item rejections (no I/O here)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from adaptloop_contracts import Event, InvalidEvent
from adaptloop_contracts.base import describe_validation_error
from pydantic import BaseModel, ValidationError

from adaptloop_ingest.errors import BatchTooLarge, MalformedBody

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "reason": self.reason}


@dataclass
class Triage(Generic[T]):
    """The valid items (with their index in the request) and the rejected ones."""

    accepted: list[tuple[int, T]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def parse_items(body: bytes, *, max_items: int) -> list[Any]:
    """One JSON object or an array of them, as a list; anything else is a `MalformedBody`."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"body is not JSON: {exc}") from exc
    items = payload if isinstance(payload, list) else [payload]
    if not isinstance(payload, list | dict):
        raise MalformedBody(f"body must be a JSON object or an array of objects, got {type(payload).__name__}")
    if not items:
        raise MalformedBody("empty array: nothing to ingest")
    if len(items) > max_items:
        raise BatchTooLarge(f"{len(items)} items; at most {max_items} per request")
    return items


def triage_events(items: list[Any], event_cls: type[Event]) -> Triage[Event]:
    """Validate each item against its contract; a repeated `event_id` within one request is rejected."""
    result: Triage[Event] = Triage()
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            result.rejected.append(Rejection(index, f"expected a JSON object, got {type(item).__name__}"))
            continue
        try:
            event = event_cls.from_payload(item)
        except InvalidEvent as exc:
            result.rejected.append(Rejection(index, exc.reason))
            continue
        key = str(event.event_id)
        if key in seen:
            result.rejected.append(Rejection(index, f"event_id {key} appears earlier in this request"))
            continue
        seen.add(key)
        result.accepted.append((index, event))
    return result


def triage_models(items: list[Any], validate: Callable[[dict[str, Any]], M]) -> Triage[M]:
    """Validate each item with `validate`, which raises `ValueError` (pydantic's included) with the reason."""
    result: Triage[M] = Triage()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            result.rejected.append(Rejection(index, f"expected a JSON object, got {type(item).__name__}"))
            continue
        try:
            result.accepted.append((index, validate(item)))
        except ValidationError as exc:
            result.rejected.append(Rejection(index, describe_validation_error(exc)))
    return result
