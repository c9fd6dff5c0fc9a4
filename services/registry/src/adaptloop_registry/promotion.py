"""Promotion policy: canary graduation by hand or by the legacy `/served` counts (automated verdicts arrive as
rollout decisions, see `rollout.py`). What a newly registered version does to the aliases is written with the
registration itself (`registration.register_version`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select, update

from adaptloop_registry.aliases import CANARY, PRODUCTION, current_target, move_alias
from adaptloop_registry.caller import Caller
from adaptloop_registry.catalog import find_version, policy_of
from adaptloop_registry.errors import Conflict
from adaptloop_registry.infra.tables import versions
from adaptloop_registry.models import ServedReport
from adaptloop_registry.version_status import mark_rejected


def promote_canary(conn: Connection, adapter: Row[Any], *, reason: str, caller: Caller,
                   base_url: str) -> list[dict[str, Any]]:
    """Production takes the canary's version; the canary alias is then removed."""
    canary = current_target(conn, adapter.id, CANARY)
    if canary is None:
        raise Conflict(f"adapter {adapter.name!r} has no canary to promote")
    production = current_target(conn, adapter.id, PRODUCTION)
    return [
        move_alias(conn, adapter, PRODUCTION, to_version=canary.version,
                   expected_version=production.version if production is not None else None,
                   reason=f"canary promoted: {reason}", caller=caller, base_url=base_url),
        move_alias(conn, adapter, CANARY, to_version=None, expected_version=canary.version,
                   reason=f"canary promoted to production: {reason}", caller=caller, base_url=base_url),
    ]


def record_served(conn: Connection, adapter: Row[Any], number: int, report: ServedReport, *, caller: Caller,
                  base_url: str) -> dict[str, Any]:
    """Count requests a version served; graduate or abandon it when it is the canary of a `canary` adapter.

    The manual/legacy path: replicas send `serving_reports` and the automated judge `rollout decisions`.
    """
    find_version(conn, adapter.id, number, adapter_name=adapter.name)
    conn.execute(update(versions).where(versions.c.adapter_id == adapter.id, versions.c.version == number)
                 .values(served_requests=versions.c.served_requests + report.requests))
    served = conn.execute(select(versions.c.served_requests).where(
        versions.c.adapter_id == adapter.id, versions.c.version == number)).scalar_one()
    result: dict[str, Any] = {"version": number, "served_requests": served, "moves": []}
    policy = policy_of(adapter)
    canary = current_target(conn, adapter.id, CANARY)
    if policy.mode != "canary" or canary is None or canary.version != number:
        return result
    if report.quality_drop:
        why = report.reason or "quality dropped"
        result["moves"] = [move_alias(conn, adapter, CANARY, to_version=None, expected_version=number,
                                      reason=f"canary abandoned: {why}", caller=caller, base_url=base_url)]
        mark_rejected(conn, adapter, number, reason=f"canary abandoned: {why}", cause="quality_drop_reported",
                      caller=caller)
    elif served >= policy.canary_min_requests:
        result["moves"] = promote_canary(conn, adapter, caller=caller, base_url=base_url,
                                         reason=f"{served} requests served without a quality drop")
    return result
