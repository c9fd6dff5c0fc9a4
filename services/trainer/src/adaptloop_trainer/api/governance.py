"""HTTP API: the cost ledger of an adapter, and the erasure lineage ingest asks for."""

from __future__ import annotations

from typing import Annotated, Any

from adaptloop_common.auth import Principal, require_role
from adaptloop_contracts.trainer_api import AdapterCosts, LineageAnswer, LineageQuery
from fastapi import APIRouter, Depends, HTTPException, Path, Request

from adaptloop_trainer.erasure import erasure_lineage
from adaptloop_trainer.errors import UpstreamError
from adaptloop_trainer.jobs import JobStore
from adaptloop_trainer.ledger import adapter_costs
from adaptloop_trainer.ports import Registry

AdapterPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
router = APIRouter(prefix="/v1", tags=["governance"])


def _parts(request: Request) -> tuple[JobStore, Registry]:
    return request.app.state.store, request.app.state.registry


@router.get("/adapters/{name}/costs", response_model=AdapterCosts)
def costs(name: AdapterPath, request: Request) -> dict[str, Any]:
    """Per job and version: training/evaluation seconds, examples and tokens trained, quality gained, requests
    and tokens served; totals and the last 24 hours."""
    store, registry = _parts(request)
    try:
        if registry.adapter(name) is None:
            raise HTTPException(404, f"adapter {name!r} is not registered")
        served = {v.version: (v.served_requests or 0, v.served_tokens or 0) for v in registry.versions(name)}
    except UpstreamError as exc:
        raise HTTPException(503, f"the registry is unavailable: {exc}", headers={"Retry-After": "5"}) from exc
    return adapter_costs(name, store.list_jobs(adapter=name, limit=1000), served=served)


@router.post("/erasures/lineage", response_model=LineageAnswer)
def lineage(query: LineageQuery, request: Request,
            principal: Annotated[Principal, Depends(require_role("admin"))]) -> dict[str, Any]:
    """The snapshots (with their jobs and candidate versions) holding the erased examples; pinned regression
    examples with the erased content are removed."""
    principal.require_adapters(query.adapters)
    store, registry = _parts(request)
    try:
        return erasure_lineage(query, store=store, registry=registry)
    except UpstreamError as exc:
        raise HTTPException(503, f"the registry is unavailable: {exc}", headers={"Retry-After": "5"}) from exc
