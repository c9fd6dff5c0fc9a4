"""Who asked for a change, and the trace it belongs to: recorded on every mutation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class Caller:
    actor: str
    trace: dict[str, str] = field(default_factory=dict)
    """W3C `traceparent` / `tracestate` of the request, stored with the outbox rows it causes."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC; SQLite hands back naive datetimes, which are UTC by construction."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
