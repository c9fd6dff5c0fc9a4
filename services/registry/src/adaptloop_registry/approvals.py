"""Approval mode: versions waiting in `pending_approval`, approved (production moves) or rejected by an admin."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import RegistryEvent
from sqlalchemy import Connection, Row, select

from adaptloop_registry.aliases import PRODUCTION, current_target, move_alias
from adaptloop_registry.caller import Caller, iso, utc_now
from adaptloop_registry.catalog import find_version, lock_adapter
from adaptloop_registry.errors import Conflict
from adaptloop_registry.infra.tables import adapters, aliases, versions
from adaptloop_registry.outbox import audit, enqueue
from adaptloop_registry.version_reads import version_views
from adaptloop_registry.version_status import PENDING_APPROVAL, mark_rejected


def approve_version(conn: Connection, adapter_name: str, number: int, *, reason: str, caller: Caller,
                    base_url: str) -> dict[str, Any]:
    """Production moves (compare-and-swap from what it is now) to the pending version; announced and audited."""
    adapter = lock_adapter(conn, adapter_name)
    row = _pending(conn, adapter, number)
    production = current_target(conn, adapter.id, PRODUCTION)
    before = production.version if production is not None else None
    moves = [move_alias(conn, adapter, PRODUCTION, to_version=number, expected_version=before,
                        reason=f"approved: {reason}", caller=caller, base_url=base_url,
                        weight=production.weight if production is not None else None)]
    enqueue(conn, RegistryEvent(
        event_type="adapter.version_approved", model=adapter.name, version=number, previous_version=before,
        base_model=row.base_model, sha256=row.weights_sha256, actor=caller.actor, reason=reason[:1024],
        details={"config_sha256": row.config_sha256},
    ), caller=caller)
    audit(conn, caller=caller, action="version.approve", target=f"{adapter.name}@{number}",
          details={"reason": reason, "previous_production": before})
    return _answer(adapter, number, "approved", "production", reason, caller, moves)


def reject_version(conn: Connection, adapter_name: str, number: int, *, reason: str,
                   caller: Caller) -> dict[str, Any]:
    """The pending version becomes `rejected`; nothing moves."""
    adapter = lock_adapter(conn, adapter_name)
    _pending(conn, adapter, number)
    mark_rejected(conn, adapter, number, reason=f"rejected by {caller.actor}: {reason}", cause="approval_rejected",
                  caller=caller)
    return _answer(adapter, number, "rejected", "rejected", reason, caller, [])


def pending_approvals(conn: Connection, *, base_url: str) -> list[dict[str, Any]]:
    """Every version waiting for approval, oldest first, with what serves as production now."""
    rows = list(conn.execute(
        select(versions, adapters.c.name.label("adapter_name"))
        .join(adapters, adapters.c.id == versions.c.adapter_id)
        .where(versions.c.status == PENDING_APPROVAL).order_by(versions.c.registered_at, versions.c.id)))
    production = {r.adapter_id: r.version for r in conn.execute(
        select(aliases.c.adapter_id, aliases.c.version).where(aliases.c.alias == PRODUCTION))}
    out = []
    for row in rows:
        view = version_views(conn, row.adapter_name, [row], base_url)[0]
        out.append({key: view[key] for key in ("adapter", "version", "base_model", "evaluation", "metrics",
                                               "dataset_snapshot_id", "artifact_uri", "registered_by",
                                               "registered_at")}
                   | {"production_version": production.get(row.adapter_id)})
    return out


def _pending(conn: Connection, adapter: Row[Any], number: int) -> Row[Any]:
    row = find_version(conn, adapter.id, number, adapter_name=adapter.name)
    if row.status != PENDING_APPROVAL:
        raise Conflict(f"version {number} of {adapter.name!r} is {row.status}, not {PENDING_APPROVAL}")
    return row


def _answer(adapter: Row[Any], number: int, decision: str, status: str, reason: str, caller: Caller,
            moves: list[dict[str, Any]]) -> dict[str, Any]:
    return {"adapter": adapter.name, "version": number, "decision": decision, "status": status,
            "actor": caller.actor, "reason": reason, "moves": moves, "decided_at": iso(utc_now())}
