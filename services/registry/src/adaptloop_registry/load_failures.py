"""Load failures: an inference replica reports that it could not load a version; kept for operators (counted
in the version's answer) and announced as `adapter.load_failed`."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import RegistryEvent
from sqlalchemy import Connection, insert

from adaptloop_registry.caller import Caller, utc_now
from adaptloop_registry.catalog import find_adapter, find_version
from adaptloop_registry.infra.tables import load_failures
from adaptloop_registry.models import LoadFailure
from adaptloop_registry.outbox import audit, enqueue


def record_load_failure(conn: Connection, adapter_name: str, number: int, report: LoadFailure, *,
                        caller: Caller) -> dict[str, Any]:
    """An inference replica could not load this version: kept for operators and announced."""
    adapter = find_adapter(conn, adapter_name)
    row = find_version(conn, adapter.id, number, adapter_name=adapter_name)
    conn.execute(insert(load_failures).values(version_id=row.id, replica=report.replica, reason=report.reason,
                                              reported_by=caller.actor, reported_at=utc_now()))
    enqueue(conn, RegistryEvent(
        event_type="adapter.load_failed", model=adapter_name, version=number, base_model=row.base_model,
        sha256=row.weights_sha256, actor=caller.actor, reason=report.reason[:1024],
        details={"replica": report.replica, "config_sha256": row.config_sha256},
    ), caller=caller)
    audit(conn, caller=caller, action="version.load_failed", target=f"{adapter_name}@{number}",
          details=report.model_dump())
    return {"adapter": adapter_name, "version": number, "recorded": True}
