"""Routes: the serving plan inference replicas reconcile from, and the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from adaptloop_common.auth import Viewer
from adaptloop_contracts.registry_answers import AuditEntry
from adaptloop_contracts.serving_plan import ServingPlan
from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from adaptloop_registry.api.deps import Runtime
from adaptloop_registry.caller import iso
from adaptloop_registry.infra.tables import audit_log
from adaptloop_registry.serving_plan import serving_plan_json

router = APIRouter(prefix="/v1", tags=["serving"])


@router.get("/serving-plan", response_model=ServingPlan)
def serving_plan(runtime: Runtime, viewer: Viewer) -> Response:
    """What every replica serves; a token scoped to adapters is refused (the plan spans every tenant)."""
    if viewer is not None:
        viewer.require_unscoped("read the serving plan of every tenant")
    with runtime.db.read() as conn:
        return Response(serving_plan_json(conn), media_type="application/json")


@router.get("/audit", response_model=list[AuditEntry])
def audit_trail(runtime: Runtime, viewer: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                before_id: int | None = None) -> list[dict[str, Any]]:
    """Newest first: who changed what, when (refused to a token scoped to adapters)."""
    if viewer is not None:
        viewer.require_unscoped("read the audit trail of every tenant")
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    with runtime.db.read() as conn:
        return [{"id": r.id, "actor": r.actor, "action": r.action, "target": r.target, "details": r.details,
                 "at": iso(r.at)} for r in conn.execute(query)]
