"""The transactional outbox: an event row written in the same transaction as the change it announces."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adaptloop_contracts import RegistryEvent
from adaptloop_contracts.registry import REGISTRY_EVENTS
from sqlalchemy import Connection, insert

from adaptloop_registry.caller import Caller, utc_now
from adaptloop_registry.infra.tables import audit_log, outbox


def outbox_row(event: RegistryEvent, *, caller: Caller, at: datetime) -> dict[str, Any]:
    """The `outbox` row staging `event`, for callers that write several rows in one statement."""
    return {
        "event_id": str(event.event_id),
        "topic": REGISTRY_EVENTS,
        "event_key": event.model,
        "payload": event.model_dump_json(),
        "traceparent": caller.trace.get("traceparent"),
        "tracestate": caller.trace.get("tracestate"),
        "created_at": at,
    }


def audit_row(*, caller: Caller, action: str, target: str, details: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The `audit_log` row of one mutation, naming the token's actor."""
    return {"actor": caller.actor, "action": action, "target": target, "details": details, "at": at}


def enqueue(conn: Connection, event: RegistryEvent, *, caller: Caller) -> str:
    """Stage `event` for the relay; it is published only if the surrounding transaction commits."""
    conn.execute(insert(outbox).values(outbox_row(event, caller=caller, at=utc_now())))
    return str(event.event_id)


def audit(conn: Connection, *, caller: Caller, action: str, target: str, details: dict[str, Any]) -> None:
    """One audit row per mutation, naming the token's actor."""
    conn.execute(insert(audit_log).values(audit_row(caller=caller, action=action, target=target, details=details,
                                                    at=utc_now())))
