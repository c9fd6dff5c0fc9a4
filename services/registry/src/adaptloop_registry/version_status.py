"""Announced status changes of a registered version: rejected after registration (a version waiting for approval
is registered as `pending_approval`, see `registration.register_version`)."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import RegistryEvent
from sqlalchemy import Connection, Row, update

from adaptloop_registry.caller import Caller
from adaptloop_registry.catalog import find_version
from adaptloop_registry.infra.tables import versions
from adaptloop_registry.outbox import audit, enqueue

PENDING_APPROVAL = "pending_approval"
REJECTED = "rejected"


def _set_status(conn: Connection, row: Row[Any], status: str) -> None:
    conn.execute(update(versions).where(versions.c.id == row.id).values(status=status))


def mark_rejected(conn: Connection, adapter: Row[Any], number: int, *, reason: str, cause: str, caller: Caller,
                  details: dict[str, Any] | None = None) -> None:
    """Mark a registered version `rejected` and announce `adapter.version_rejected` with its cause.

    `cause` is one of `canary_abandoned`, `rolled_back`, `approval_rejected`, `quality_drop_reported`.
    """
    row = find_version(conn, adapter.id, number, adapter_name=adapter.name)
    _set_status(conn, row, REJECTED)
    extra = {**(details or {}), "cause": cause}
    enqueue(conn, RegistryEvent(
        event_type="adapter.version_rejected", model=adapter.name, version=number, base_model=row.base_model,
        sha256=row.weights_sha256, actor=caller.actor, reason=reason[:1024],
        details={**extra, "config_sha256": row.config_sha256},
    ), caller=caller)
    audit(conn, caller=caller, action="version.reject", target=f"{adapter.name}@{number}",
          details={**extra, "reason": reason})
