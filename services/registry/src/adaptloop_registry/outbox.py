"""The transactional outbox: an event row written in the same transaction as the change it announces."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import RegistryEvent
from adaptloop_contracts.registry import REGISTRY_EVENTS
from sqlalchemy import Connection, insert

from adaptloop_registry.caller import Caller, utc_now
from adaptloop_registry.infra.tables import audit_log, outbox


def enqueue(conn: Connection, event: RegistryEvent, *, caller: Caller) -> str:
    """Stage `event` for the relay; it is published only if the surrounding transaction commits."""
    conn.execute(insert(outbox).values(
        event_id=str(event.event_id),
        topic=REGISTRY_EVENTS,
        event_key=event.model,
        payload=event.model_dump_json(),
        traceparent=caller.trace.get("traceparent"),
        tracestate=caller.trace.get("tracestate"),
        created_at=utc_now(),
    ))
    return str(event.event_id)


def audit(conn: Connection, *, caller: Caller, action: str, target: str, details: dict[str, Any]) -> None:
    """One audit row per mutation, naming the token's actor."""
    conn.execute(insert(audit_log).values(
        actor=caller.actor, action=action, target=target, details=details, at=utc_now(),
    ))
