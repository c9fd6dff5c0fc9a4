"""Aliases (`production`, `canary`, any name): moved only by compare-and-swap, every move recorded and announced."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import RegistryEvent
from sqlalchemy import Connection, Row, delete, insert, select, update

from adaptloop_registry.caller import Caller, iso, utc_now
from adaptloop_registry.catalog import artifact_uri, find_adapter, find_version
from adaptloop_registry.errors import Conflict, NotFound
from adaptloop_registry.infra.tables import adapters, alias_history, aliases, versions
from adaptloop_registry.outbox import audit, enqueue

PRODUCTION = "production"
CANARY = "canary"


def current_target(conn: Connection, adapter_id: int, alias: str) -> Row[Any] | None:
    return conn.execute(select(aliases).where(aliases.c.adapter_id == adapter_id, aliases.c.alias == alias)).first()


def move_alias(
    conn: Connection,
    adapter: Row[Any],
    alias: str,
    *,
    to_version: int | None,
    expected_version: int | None,
    reason: str,
    caller: Caller,
    base_url: str,
    weight: float | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Point `alias` at `to_version` (None removes it) if it still points at `expected_version`.

    The caller holds the adapter row lock (`lock_adapter`), so the comparison and the swap are atomic.
    `details` (e.g. a rollout decision's `evidence` and the token it came `via`) go into the event's
    `details` and the audit row.
    """
    extra = dict(details or {})
    current = current_target(conn, adapter.id, alias)
    current_version = current.version if current is not None else None
    if current_version != expected_version:
        raise Conflict(f"alias {alias!r} of {adapter.name!r} points at {current_version}, not {expected_version}")
    target = None
    if to_version is not None:
        target = find_version(conn, adapter.id, to_version, adapter_name=adapter.name)
        if target.status == "retired":
            raise Conflict(f"version {to_version} of {adapter.name!r} is retired")
    now = utc_now()
    if to_version is None:
        conn.execute(delete(aliases).where(aliases.c.adapter_id == adapter.id, aliases.c.alias == alias))
    elif current is None:
        conn.execute(insert(aliases).values(adapter_id=adapter.id, alias=alias, version=to_version, weight=weight,
                                            updated_by=caller.actor, updated_at=now))
    else:
        conn.execute(update(aliases).where(aliases.c.adapter_id == adapter.id, aliases.c.alias == alias)
                     .values(version=to_version, weight=weight, updated_by=caller.actor, updated_at=now))
    if alias == PRODUCTION:
        _update_production_status(conn, adapter.id, old=current_version, new=to_version)
    event = RegistryEvent(
        event_type="adapter.alias_moved", model=adapter.name, alias=alias, version=to_version,
        previous_version=current_version, base_model=target.base_model if target is not None else adapter.base_model,
        artifact_uri=artifact_uri(base_url, target.weights_sha256) if target is not None else None,
        sha256=target.weights_sha256 if target is not None else None,
        actor=caller.actor, reason=reason[:1024], weight=weight,
        details={**extra, "config_sha256": target.config_sha256} if target is not None else extra,
    )
    event_id = enqueue(conn, event, caller=caller)
    conn.execute(insert(alias_history).values(
        adapter_id=adapter.id, alias=alias, from_version=current_version, to_version=to_version, weight=weight,
        actor=caller.actor, reason=reason, event_id=event_id, moved_at=now, details=extra,
    ))
    audit(conn, caller=caller, action="alias.move", target=f"{adapter.name}:{alias}",
          details={**extra, "from": current_version, "to": to_version, "weight": weight, "reason": reason})
    return {"adapter": adapter.name, "alias": alias, "version": to_version, "previous_version": current_version,
            "weight": weight, "event_id": event_id, "moved_at": iso(now), "moved_by": caller.actor}


def _update_production_status(conn: Connection, adapter_id: int, *, old: int | None, new: int | None) -> None:
    if old is not None and old != new:
        conn.execute(update(versions).where(versions.c.adapter_id == adapter_id, versions.c.version == old,
                                            versions.c.status == "production").values(status="candidate"))
    if new is not None:
        conn.execute(update(versions).where(versions.c.adapter_id == adapter_id, versions.c.version == new)
                     .values(status="production"))


def rollback_alias(conn: Connection, adapter: Row[Any], alias: str, *, reason: str, caller: Caller,
                   base_url: str) -> dict[str, Any]:
    """Move `alias` back to the version it pointed at before its latest move."""
    last = conn.execute(select(alias_history).where(alias_history.c.adapter_id == adapter.id,
                                                    alias_history.c.alias == alias)
                        .order_by(alias_history.c.id.desc()).limit(1)).first()
    if last is None or last.from_version is None:
        raise Conflict(f"alias {alias!r} of {adapter.name!r} has no previous version to roll back to")
    current = current_target(conn, adapter.id, alias)
    return move_alias(conn, adapter, alias, to_version=last.from_version,
                      expected_version=current.version if current is not None else None,
                      reason=f"rollback: {reason}", caller=caller, base_url=base_url,
                      weight=current.weight if current is not None else None)


def get_alias(conn: Connection, adapter_name: str, alias: str) -> dict[str, Any]:
    row = conn.execute(select(aliases).join(adapters, adapters.c.id == aliases.c.adapter_id)
                       .where(adapters.c.name == adapter_name, aliases.c.alias == alias)).first()
    if row is None:
        find_adapter(conn, adapter_name)
        raise NotFound(f"adapter {adapter_name!r} has no alias {alias!r}")
    return {"adapter": adapter_name, "alias": alias, "version": row.version, "weight": row.weight,
            "updated_by": row.updated_by, "updated_at": iso(row.updated_at)}


def alias_moves(conn: Connection, adapter_name: str, alias: str) -> list[dict[str, Any]]:
    adapter = find_adapter(conn, adapter_name)
    rows = conn.execute(select(alias_history).where(alias_history.c.adapter_id == adapter.id,
                                                    alias_history.c.alias == alias).order_by(alias_history.c.id))
    return [{"alias": r.alias, "from_version": r.from_version, "to_version": r.to_version, "weight": r.weight,
             "actor": r.actor, "reason": r.reason, "event_id": r.event_id, "moved_at": iso(r.moved_at),
             "details": r.details or {}}
            for r in rows]
