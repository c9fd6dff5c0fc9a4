"""Retiring a version: an admin takes a version no alias points at out of service, announced and audited."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import RegistryEvent
from sqlalchemy import Connection, select, update

from adaptloop_registry.caller import Caller, utc_now
from adaptloop_registry.catalog import find_version, lock_adapter
from adaptloop_registry.errors import Conflict
from adaptloop_registry.infra.tables import aliases, versions
from adaptloop_registry.outbox import audit, enqueue
from adaptloop_registry.version_reads import get_version


def retire_version(conn: Connection, adapter_name: str, number: int, *, reason: str, caller: Caller,
                   base_url: str) -> dict[str, Any]:
    """Retire a version no alias points at; retiring twice answers the same."""
    adapter = lock_adapter(conn, adapter_name)
    row = find_version(conn, adapter.id, number, adapter_name=adapter_name)
    if row.status != "retired":
        pointing = [a.alias for a in conn.execute(select(aliases.c.alias).where(
            aliases.c.adapter_id == adapter.id, aliases.c.version == number))]
        if pointing:
            raise Conflict(f"version {number} of {adapter_name!r} is the target of alias(es) {', '.join(pointing)}")
        conn.execute(update(versions).where(versions.c.id == row.id)
                     .values(status="retired", retired_by=caller.actor, retired_at=utc_now()))
        enqueue(conn, RegistryEvent(
            event_type="adapter.version_retired", model=adapter_name, version=number, base_model=row.base_model,
            sha256=row.weights_sha256, actor=caller.actor, reason=reason[:1024],
            details={"config_sha256": row.config_sha256},
        ), caller=caller)
        audit(conn, caller=caller, action="version.retire", target=f"{adapter_name}@{number}",
              details={"reason": reason})
    return get_version(conn, adapter_name, number, base_url=base_url)
