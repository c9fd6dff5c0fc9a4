"""Rollout decisions of the automated judge: graduate or abandon a canary, roll production back.

The judge decides; the registry applies the decision as compare-and-swap moves under the actor
`system:canary` or `system:guard` (the calling token is recorded as `via`), once per `decision_id`.
"""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import RolloutDecision
from adaptloop_contracts.registry_api import ACTOR_OF_ACTION
from sqlalchemy import Connection, Row, insert, select

from adaptloop_registry.aliases import CANARY, PRODUCTION, current_target, move_alias
from adaptloop_registry.caller import Caller, iso, utc_now
from adaptloop_registry.catalog import find_version, lock_adapter
from adaptloop_registry.errors import Conflict, Invalid
from adaptloop_registry.infra.tables import rollout_decisions
from adaptloop_registry.version_status import mark_rejected


def apply_rollout_decision(conn: Connection, adapter_name: str, decision: RolloutDecision, *, caller: Caller,
                           base_url: str) -> tuple[dict[str, Any], bool]:
    """Apply `decision`; returns (answer, created). A known `decision_id` returns its first answer, changing nothing."""
    adapter = lock_adapter(conn, adapter_name)
    decision_id = str(decision.decision_id)
    existing = conn.execute(select(rollout_decisions).where(rollout_decisions.c.decision_id == decision_id)).first()
    if existing is not None:
        same = (existing.adapter_id, existing.action, existing.version, existing.previous_version) == (
            adapter.id, decision.action, decision.version, decision.previous_version)
        if not same:
            raise Conflict(f"decision_id {decision_id} was already used for {existing.action} of version "
                           f"{existing.version}")
        return {**dict(existing.answer), "duplicate": True}, False
    find_version(conn, adapter.id, decision.version, adapter_name=adapter.name)
    system = Caller(actor=ACTOR_OF_ACTION[decision.action], trace=caller.trace)
    details = {"decision_id": decision_id, "via": caller.actor, "evidence": decision.evidence}
    apply = {"graduate_canary": _graduate, "abandon_canary": _abandon, "rollback_production": _roll_back}
    moves = apply[decision.action](conn, adapter, decision, caller=system, base_url=base_url, details=details)
    status = find_version(conn, adapter.id, decision.version, adapter_name=adapter.name).status
    now = utc_now()
    answer = {"decision_id": decision_id, "adapter": adapter.name, "action": decision.action,
              "version": decision.version, "previous_version": decision.previous_version, "actor": system.actor,
              "reason": decision.reason, "version_status": status, "moves": moves, "decided_at": iso(now),
              "duplicate": False}
    conn.execute(insert(rollout_decisions).values(
        decision_id=decision_id, adapter_id=adapter.id, action=decision.action, version=decision.version,
        previous_version=decision.previous_version, reason=decision.reason, evidence=decision.evidence,
        actor=system.actor, decided_by=caller.actor, answer=answer, decided_at=now,
    ))
    return answer, True


def _graduate(conn: Connection, adapter: Row[Any], decision: RolloutDecision, *, caller: Caller, base_url: str,
              details: dict[str, Any]) -> list[dict[str, Any]]:
    """Production: `previous_version` -> the canary's version; then the canary alias is removed."""
    _require_alias(conn, adapter, CANARY, decision.version)
    reason = f"canary graduated: {decision.reason}"
    return [
        move_alias(conn, adapter, PRODUCTION, to_version=decision.version, expected_version=decision.previous_version,
                   reason=reason, caller=caller, base_url=base_url, details=details),
        move_alias(conn, adapter, CANARY, to_version=None, expected_version=decision.version,
                   reason=reason, caller=caller, base_url=base_url, details=details),
    ]


def _abandon(conn: Connection, adapter: Row[Any], decision: RolloutDecision, *, caller: Caller, base_url: str,
             details: dict[str, Any]) -> list[dict[str, Any]]:
    """The canary alias is removed and its version marked `rejected`; production does not move."""
    reason = f"canary abandoned: {decision.reason}"
    moves = [move_alias(conn, adapter, CANARY, to_version=None, expected_version=decision.version,
                        reason=reason, caller=caller, base_url=base_url, details=details)]
    mark_rejected(conn, adapter, decision.version, reason=reason, cause="canary_abandoned", caller=caller,
                  details=details)
    return moves


def _roll_back(conn: Connection, adapter: Row[Any], decision: RolloutDecision, *, caller: Caller, base_url: str,
               details: dict[str, Any]) -> list[dict[str, Any]]:
    """Production: the regressed `version` -> `previous_version`, which must exist and not be retired."""
    if decision.previous_version is None:
        raise Invalid("rollback_production needs previous_version")
    production = current_target(conn, adapter.id, PRODUCTION)
    find_version(conn, adapter.id, decision.previous_version, adapter_name=adapter.name)
    reason = f"guard rollback: {decision.reason}"
    moves = [move_alias(conn, adapter, PRODUCTION, to_version=decision.previous_version,
                        expected_version=decision.version, reason=reason, caller=caller, base_url=base_url,
                        weight=production.weight if production is not None else None, details=details)]
    mark_rejected(conn, adapter, decision.version, reason=reason, cause="rolled_back", caller=caller,
                  details=details)
    return moves


def _require_alias(conn: Connection, adapter: Row[Any], alias: str, version: int) -> None:
    current = current_target(conn, adapter.id, alias)
    if current is None or current.version != version:
        now = "unset" if current is None else current.version
        raise Conflict(f"alias {alias!r} of {adapter.name!r} points at {now}, not {version}")
